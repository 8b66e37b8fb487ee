"""Fixtures: a fake dpi API server and the real ``openstack`` shell.

Commands run through ``openstackclient.shell.main`` in this process (the
same code path as the ``openstack`` script, plugin discovered through its
entry points) with output captured; ``test_entry_point.py`` also runs the
installed script as a subprocess.
"""
import contextlib
import dataclasses
import io
import json
import logging
import os

import pytest

from tests.unit.osc import fake_api


@dataclasses.dataclass
class Result:
    rc: int
    out: str
    err: str

    def json(self):
        return json.loads(self.out)


@pytest.fixture(autouse=True)
def clean_os_env(monkeypatch, tmp_path):
    """No OS_* from the developer's shell, no clouds.yaml from $HOME."""
    for key in list(os.environ):
        if key.startswith('OS_'):
            monkeypatch.delenv(key)
    monkeypatch.setenv('HOME', str(tmp_path))
    monkeypatch.setenv('XDG_CONFIG_HOME', str(tmp_path / '.config'))


@pytest.fixture
def api():
    server = fake_api.FakeDpiApi().start()
    yield server
    server.stop()


def run_osc(*argv):
    """``openstack *argv`` in this process: (rc, stdout, stderr)."""
    from openstackclient.common import clientmanager
    from openstackclient import shell

    # The plugin's client is cached on the ClientManager class for the
    # life of the process: one command per process for the real script,
    # many here, so start each run without it.
    for cls in clientmanager.ClientManager.__mro__:
        cache = vars(cls).get('dpi')
        if cache is not None:
            cache._handle = None
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    out, err = io.StringIO(), io.StringIO()
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                rc = shell.main(list(argv))
            except SystemExit as e:     # argparse's usage errors
                rc = e.code
    finally:
        root.handlers[:], level = saved
        root.setLevel(level)
    return Result(rc, out.getvalue(), err.getvalue())


@pytest.fixture
def osc(api):
    """Run ``openstack`` against the fake API as project p1 (noauth)."""
    def run(*args, project='p1', roles=None):
        argv = ['--os-dpi-url', api.url]
        if project:
            argv += ['--os-project-id', project]
        if roles:
            argv += ['--os-dpi-roles', roles]
        return run_osc(*argv, *args)
    return run


@contextlib.contextmanager
def serve_api(storage, inventory, page_size=2):
    """The real dpiaas API app (noauth, ``page_size`` per page) on a real
    socket over ``storage``; yields its URL, stops it and closes the
    storage on exit."""
    import threading

    from oslo_config import cfg
    from werkzeug import serving

    from dpiaas.api import app as app_mod
    from dpiaas import conf as dpiaas_conf

    conf = cfg.ConfigOpts()
    dpiaas_conf.register_opts(conf)
    conf([], project='dpiaas', default_config_files=[])
    conf.set_override('auth_strategy', 'noauth', group='api')
    conf.set_override('default_limit', page_size, group='api')
    app = app_mod.create_app(conf, storage=storage, inventory=inventory)
    server = serving.make_server('127.0.0.1', 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield 'http://127.0.0.1:%d' % server.server_port
    finally:
        server.shutdown()
        thread.join(5)
        storage.close()
