"""The CLI walk-through (doc/source/user/cli.rst) runs as written.

Every ``$ openstack dpi ...`` line of the page's ``.. code-block:: console``
blocks is run, in the page's order, against a ``dpiaas-all-in-one --demo``
started by the test, exactly as a reader would type it (only the
``--start``/``--end`` times of a series are moved to the last seconds, and
list commands get ``--print-empty`` so that an empty table still shows its
columns). Each must exit 0 and show the column headers the page shows
under it; a command the page shows without output must print nothing.
A doc edit that changes a command, an option or a column fails here.
"""
import json
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from tests.functional.rabbitmq import unavailable

BIN = os.path.dirname(sys.executable)
AIO = os.path.join(BIN, 'dpiaas-all-in-one')
OPENSTACK = os.path.join(BIN, 'openstack')
DEMO_NS = 'dpiaas-demo-vm'
PAGE = os.path.join(os.path.dirname(__file__), '..', '..', '..', 'doc',
                    'source', 'user', 'cli.rst')
ISO = re.compile(r'^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$')


def guide_commands(text):
    """[(argv, expected headers or None, shown output lines)] of the
    ``$ openstack dpi`` lines of the console blocks of ``text``."""
    out = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        if lines[i].strip() != '.. code-block:: console':
            i += 1
            continue
        i += 1
        block = []
        while i < len(lines) and (not lines[i].strip() or
                                  lines[i].startswith(' ')):
            block.append(lines[i].strip())
            i += 1
        out.extend(_block_commands(block))
    return out


def _block_commands(block):
    cmds = []
    j = 0
    while j < len(block):
        line = block[j]
        if not line.startswith('$ openstack dpi'):
            j += 1
            continue
        cmd = line[2:]
        while cmd.endswith('\\'):
            j += 1
            cmd = cmd[:-1] + ' ' + block[j]
        j += 1
        shown = []
        while j < len(block) and not block[j].startswith(('$', '#')):
            if block[j]:
                shown.append(block[j])
            j += 1
        headers = None
        for row in shown:
            if row.startswith('|'):
                headers = [h.strip() for h in row.strip('|').split('|')]
                break
        cmds.append((shlex.split(cmd), headers, shown))
    return cmds


def test_the_page_has_the_walk_through():
    """The parser finds the commands (an edit of the page that breaks the
    format must not make the functional test below pass vacuously)."""
    with open(PAGE) as f:
        cmds = guide_commands(f.read())
    verbs = {' '.join(argv[1:4]) for argv, _, _ in cmds}
    assert {'dpi monitor list', 'dpi monitor show', 'dpi monitor create',
            'dpi monitor set', 'dpi monitor delete', 'dpi metric list',
            'dpi metric show', 'dpi alarm list', 'dpi alarm show',
            'dpi alarm history', 'dpi agent list',
            'dpi collector list'} <= verbs, verbs
    assert all(headers for argv, headers, shown in cmds if shown)


def _free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def _has_metrics(url):
    req = urllib.request.Request(url + '/v1/monitors',
                                 headers={'X-Project-Id': 'demo'})
    with urllib.request.urlopen(req, timeout=5) as resp:
        monitors = json.loads(resp.read())['monitors']
    if not monitors:
        return False
    req = urllib.request.Request(
        url + '/v1/monitors/%s/metrics' % monitors[0]['id'],
        headers={'X-Project-Id': 'demo'})
    with urllib.request.urlopen(req, timeout=5) as resp:
        return bool(json.loads(resp.read())['metrics'])


def _as_run(argv, headers):
    """What the test runs for the documented ``argv``."""
    argv = list(argv)
    now = time.time()
    for flag, ago in (('--start', 6), ('--end', 2)):
        if flag in argv:
            k = argv.index(flag) + 1
            if ISO.match(argv[k]):
                argv[k] = time.strftime('%Y-%m-%dT%H:%M:%SZ',
                                        time.gmtime(now - ago))
    if headers and headers[0] != 'Field':
        argv.append('--print-empty')
    return [OPENSTACK] + argv[1:]


def _env(url):
    env = {k: v for k, v in os.environ.items()
           if not k.startswith('OS_')}
    env.update(OS_DPI_URL=url, OS_PROJECT_ID='demo')
    return env


@pytest.mark.root
@pytest.mark.slow
def test_walk_through_commands_run_as_documented(tmp_path):
    if os.geteuid() != 0:
        unavailable('needs root (the demo creates a network namespace)')
    with open(PAGE) as f:
        cmds = guide_commands(f.read())
    port = _free_port()
    url = 'http://127.0.0.1:%d' % port
    log_path = tmp_path / 'aio.log'
    proc = subprocess.Popen([AIO, '--demo', '--state-dir',
                             str(tmp_path / 'state'), '--bind',
                             '127.0.0.1:%d' % port],
                            stdout=open(log_path, 'wb'),
                            stderr=subprocess.STDOUT)

    def aio_log():
        return log_path.read_text(errors='replace')[-3000:]

    try:
        deadline = time.monotonic() + 90
        while True:
            assert proc.poll() is None, 'all-in-one exited:\n' + aio_log()
            try:
                if _has_metrics(url):
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, \
                'no metrics after 90 s:\n' + aio_log()
            time.sleep(0.5)
        for argv, headers, shown in cmds:
            run = _as_run(argv, headers)
            res = subprocess.run(run, env=_env(url), capture_output=True,
                                 text=True, timeout=60)
            where = '%s\n--- stdout\n%s--- stderr\n%s' % (
                ' '.join(run), res.stdout, res.stderr[-2000:])
            assert res.returncode == 0, where
            if headers is None:
                assert res.stdout.strip() == '', where
                continue
            got = next((line for line in res.stdout.splitlines()
                        if line.startswith('|')), '')
            got = [h.strip() for h in got.strip('|').split('|')]
            assert got == headers, where
            if headers == ['Field', 'Value']:
                # every documented field is still there
                fields = {line.split('|')[1].strip()
                          for line in res.stdout.splitlines()[3:]
                          if line.startswith('|')}
                doc_fields = {row.split('|')[1].strip()
                              for row in shown[3:] if row.startswith('|')}
                assert doc_fields - {''} <= fields, where
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            rc = proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
            rc = proc.wait(10)
    assert rc == 0, aio_log()
    ns = subprocess.run(['ip', 'netns', 'list'], capture_output=True,
                        text=True).stdout.split()
    assert DEMO_NS not in ns
