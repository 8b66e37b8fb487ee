"""``dpiaas-all-in-one --demo``: README command 1, as a newcomer runs it.

The process builds its namespace "VM" (nginx, dnsmasq, Kamailio, steady
clients), monitors it through its own REST API and must show live metrics
of real traffic within a minute; SIGTERM stops everything and removes the
namespace. Bad flags give one line and exit code 2.
"""
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from tests.functional.rabbitmq import unavailable

pytestmark = [pytest.mark.root, pytest.mark.slow]

AIO = os.path.join(os.path.dirname(sys.executable), 'dpiaas-all-in-one')
DEMO_NS = 'dpiaas-demo-vm'


def _free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def _get(url, path):
    req = urllib.request.Request(url + path,
                                 headers={'X-Project-Id': 'demo'})
    with urllib.request.urlopen(req, timeout=5) as resp:
        return json.loads(resp.read())


def _namespaces():
    out = subprocess.run(['ip', 'netns', 'list'], capture_output=True,
                         text=True).stdout
    return [line.split()[0] for line in out.splitlines() if line.strip()]


def test_demo_shows_live_metrics_within_a_minute(tmp_path):
    if os.geteuid() != 0:
        unavailable('needs root (network namespaces)')
    port = _free_port()
    url = 'http://127.0.0.1:%d' % port
    log = open(tmp_path / 'aio.log', 'wb')
    t0 = time.monotonic()
    proc = subprocess.Popen([AIO, '--demo', '--state-dir',
                             str(tmp_path / 'state'), '--bind',
                             '127.0.0.1:%d' % port],
                            stdout=log, stderr=subprocess.STDOUT)

    def output():
        return (tmp_path / 'aio.log').read_text(errors='replace')[-4000:]

    try:
        seen = None
        while time.monotonic() - t0 < 60 and proc.poll() is None:
            try:
                monitors = _get(url, '/v1/monitors')['monitors']
                if monitors:
                    mid = monitors[0]['id']
                    latest = {m['name']: m['value'] for m in
                              _get(url, '/v1/monitors/%s/metrics'
                                   % mid)['metrics']}
                    if latest.get('http.80.requests.get', 0) > 0:
                        seen = (mid, latest)
                        break
            except OSError:
                pass
            time.sleep(0.5)
        assert seen, 'no live metrics after 60 s:\n' + output()
        mid, latest = seen
        assert latest['http.80.responses.2xx'] > 0
        assert 'sip.5060.requests.register' in latest
        assert 'dns.53.queries' in latest
        mon = _get(url, '/v1/monitors/%s' % mid)['monitor']
        assert mon['status'] in ('learning', 'active'), mon
        assert {(s['l4'], s['port_min'], s['app']) for s in
                mon['services']} >= {('tcp', 80, 'http'),
                                     ('udp', 53, 'dns'),
                                     ('udp', 5060, 'sip')}
        series = _get(url, '/v1/monitors/%s/metrics/http.80.requests.get'
                      % mid)
        assert series['interval_ms'] == 500
        assert sum(m['value'] for m in series['measures']) > 0
        assert DEMO_NS in _namespaces()
    finally:
        proc.send_signal(signal.SIGTERM)
        rc = proc.wait(60)
    assert rc == 0, output()
    assert 'Traceback' not in output()
    assert DEMO_NS not in _namespaces()


@pytest.mark.parametrize('argv, message', [
    (['--bind', 'nowhere'], '--bind wants HOST:PORT'),
    (['--inventory', '/nonexistent.yaml'], 'does not exist'),
])
def test_bad_flags_give_one_line(tmp_path, argv, message):
    res = subprocess.run([AIO, '--state-dir', str(tmp_path)] + argv,
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 2
    assert message in res.stderr
    assert 'Traceback' not in res.stderr
