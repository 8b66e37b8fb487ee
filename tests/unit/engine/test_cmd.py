"""``dpiaas-engine``: one clear line and an exit code for what is wrong,
a clean stop on SIGTERM."""
import os
import signal
import subprocess
import sys
import time

import pytest

from dpiaas.cmd import engine as engine_cmd
from dpiaas.db import migration


@pytest.fixture
def config(tmp_path):
    inv = tmp_path / 'inv.yaml'
    inv.write_text('ports: []\nsecurity_groups: []\n')

    def write(database='sqlite:///%s' % (tmp_path / 'db.sqlite'),
              transport='fake://', sync=True, extra=''):
        if sync and database.startswith('sqlite:///'):
            migration.upgrade(database)
        path = tmp_path / 'engine.conf'
        path.write_text(
            '[DEFAULT]\ntransport_url = %s\ninventory_file = %s\n'
            '%s\n[database]\nconnection = %s\n'
            % (transport, inv, extra, database))
        return str(path)
    return write


def run_main(capsys, path):
    code = engine_cmd.main(['--config-file', path])
    err = capsys.readouterr().err.strip().splitlines()
    return code, [line for line in err if 'dpiaas-engine: error' in line]


def test_bad_database_url_is_one_line_and_exit_4(config, capsys):
    code, errors = run_main(capsys, config(database='nosuchdb://x/y'))
    assert code == engine_cmd.EXIT_DATABASE
    assert len(errors) == 1
    assert 'cannot use the database' in errors[0]


def test_unsynced_database_says_to_run_db_sync(config, capsys):
    code, errors = run_main(capsys, config(sync=False))
    assert code == engine_cmd.EXIT_DATABASE
    assert 'dpiaas-manage db sync' in errors[0]


def test_unreachable_broker_is_one_line_and_exit_3(config, capsys):
    path = config(transport='rabbit://guest:guest@127.0.0.1:1/',
                  extra='[engine]\nbroker_check_timeout = 2\n')
    code, errors = run_main(capsys, path)
    assert code == engine_cmd.EXIT_BROKER
    assert 'cannot reach the message broker' in errors[0]


def test_unknown_option_file_is_exit_2(tmp_path, capsys):
    code = engine_cmd.main(['--config-file', str(tmp_path / 'missing')])
    assert code == engine_cmd.EXIT_CONFIG
    assert capsys.readouterr().err.count('\n') == 1


@pytest.mark.slow
def test_sigterm_stops_the_engine_cleanly(config, tmp_path):
    path = config()
    log = tmp_path / 'engine.log'
    with open(log, 'w') as out:
        proc = subprocess.Popen(
            [sys.executable, '-m', 'dpiaas.cmd.engine', '--config-file',
             path], stdout=out, stderr=subprocess.STDOUT,
            env=dict(os.environ, PYTHONWARNINGS='ignore'))
    try:
        deadline = time.monotonic() + 60
        while 'started' not in log.read_text():
            assert proc.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
        assert 'stopped' in log.read_text()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_workers_without_a_ring_directory_is_one_line_and_exit_2(
        config, capsys, monkeypatch, tmp_path):
    """[engine] workers > 1 and no backend: the file ring's directory
    must be creatable, else one line says what to do."""
    from dpiaas.engine import workers
    blocker = tmp_path / 'a-file'
    blocker.write_text('')
    monkeypatch.setattr(workers, 'default_ring_url',
                        lambda path: 'file://%s/coordination' % blocker)
    code, errors = run_main(capsys, config(extra='[engine]\nworkers = 2'))
    assert code == 2
    assert len(errors) == 1 and 'coordination directory' in errors[0] \
        and 'backend_url' in errors[0]
