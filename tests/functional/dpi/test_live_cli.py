"""`dpiaas capture` on a real interface equals `dpiaas replay` offline.

tcpreplay sends the sample capture into one end of a veth pair while
``dpiaas capture`` (one process, then two PACKET_FANOUT workers) counts on
the other end; the totals of every counter must equal the offline replay
of the same file (latency percentiles and capture statistics aside: they
depend on replay timing).
"""
import json
import shutil
import subprocess
import sys
import time

import pytest

from tests.functional import netns

SAMPLE = 'dpiaas/dpi/samples/sample.pcap'
ARGS = ['--service', 'udp/5060=sip', '--service', 'tcp/80=http',
        '--service', 'udp/53=dns', '--vm-ip', '198.18.0.10']


def _totals(lines):
    out = {}
    for line in lines:
        for name, value in json.loads(line)['metrics'].items():
            if '.latency_ms.' in name or name.startswith('capture.'):
                continue
            out[name] = out.get(name, 0) + value
    return {k: v for k, v in out.items() if v}


def _dpiaas(*args, **kw):
    return [sys.executable, '-m', 'dpiaas.cmd.cli'] + list(args)


@pytest.mark.parametrize('workers', [1, 2])
def test_live_capture_counts_what_replay_counts(workers):
    if not shutil.which('tcpreplay'):
        pytest.skip('needs tcpreplay (Debian package tcpreplay)')
    offline = subprocess.run(_dpiaas('replay', SAMPLE, *ARGS),
                             capture_output=True, text=True, check=True)
    want = _totals(offline.stdout.splitlines())
    assert want['sip.5060.requests.register'] == 16
    with netns.veth_pair() as (a, b):
        proc = subprocess.Popen(
            _dpiaas('capture', '-i', b, '--duration', '20', '--workers',
                    str(workers), *ARGS),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            # the first interval line says the capture is running
            first = proc.stdout.readline()
            assert first, proc.stderr.read()
            lines = [first]
            netns.run('tcpreplay', '-i', a, '--pps', '500', SAMPLE)
            got = {}
            deadline = time.monotonic() + 15
            while got != want and time.monotonic() < deadline:
                line = proc.stdout.readline()
                if not line:
                    break
                lines.append(line)
                got = _totals(lines)
        finally:
            proc.terminate()
            _, err = proc.communicate(timeout=30)
        assert got == want
        assert proc.returncode == 0, err
        assert 'Traceback' not in err
        # every interval is reported, also those without packets
        ts = [json.loads(x)['ts'] for x in lines]
        assert all(round(b - a, 3) == 0.5 for a, b in zip(ts, ts[1:]))
