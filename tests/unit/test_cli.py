"""`dpiaas replay`: its output contract and its errors."""
import csv
import io
import json
import subprocess
import sys

import pytest

SAMPLE = 'dpiaas/dpi/samples/sample.pcap'
SERVICES = ['--service', 'udp/5060=sip', '--service', 'tcp/80=http',
            '--service', 'udp/53=dns']


def dpiaas(*args):
    return subprocess.run([sys.executable, '-m', 'dpiaas.cmd.cli'] +
                          list(args), capture_output=True, text=True)


def test_jsonl_is_one_object_per_interval():
    res = dpiaas('replay', SAMPLE, *SERVICES, '--vm-ip', '198.18.0.10')
    assert res.returncode == 0, res.stderr
    lines = [json.loads(x) for x in res.stdout.splitlines()]
    assert len(lines) > 10
    for a, b in zip(lines, lines[1:]):
        assert b['ts'] - a['ts'] == pytest.approx(0.5)
    first = lines[0]
    assert set(first) == {'ts', 'interval_ms', 'metrics'}
    assert first['interval_ms'] == 500
    total = sum(x['metrics']['sip.5060.requests.register'] for x in lines)
    assert total == 16
    assert sum(x['metrics']['http.80.responses.5xx'] for x in lines) == 1
    assert sum(x['metrics']['dns.53.responses.nxdomain'] for x in lines) == 1


def test_csv_has_the_contract_header():
    res = dpiaas('replay', SAMPLE, *SERVICES, '--format', 'csv')
    assert res.returncode == 0, res.stderr
    rows = list(csv.reader(io.StringIO(res.stdout)))
    assert rows[0] == ['ts', 'metric', 'value']
    names = {r[1] for r in rows[1:]}
    assert 'sip.5060.responses.2xx' in names
    assert all(float(r[0]) > 1e9 for r in rows[1:])


def test_flows_adds_flow_records_and_heavy_hitters():
    res = dpiaas('replay', SAMPLE, *SERVICES, '--flows')
    assert res.returncode == 0, res.stderr
    lines = [json.loads(x) for x in res.stdout.splitlines()]
    assert all('heavy_hitters' in x and 'flows' in x for x in lines)
    assert sum(len(x['flows']) for x in lines) >= 3


def test_inventory_gives_services_and_identity(tmp_path):
    inv = tmp_path / 'inv.yaml'
    inv.write_text('''
ports:
  - id: 6f1c2b9e-5d4a-4c3b-9a8f-1e2d3c4b5a69
    device_id: s1
    project_id: p1
    binding:host_id: compute-1
    security_groups: [sg1]
    mac_address: fa:16:3e:00:00:10
    fixed_ips: [{ip_address: 198.18.0.10}]
security_groups:
  - id: sg1
    project_id: p1
    security_group_rules:
      - {direction: ingress, ethertype: IPv4, protocol: udp,
         port_range_min: 5060, port_range_max: 5060}
      - {direction: ingress, ethertype: IPv4, protocol: tcp,
         port_range_min: 80, port_range_max: 80}
''')
    res = dpiaas('replay', SAMPLE, '--inventory', str(inv))
    assert res.returncode == 0, res.stderr
    lines = [json.loads(x) for x in res.stdout.splitlines()]
    names = set(lines[0]['metrics'])
    assert 'sip.5060.requests.register' in names
    assert 'http.80.requests.get' in names
    assert not any(n.startswith('dns.') for n in names)


@pytest.mark.parametrize('args,needle', [
    (['replay', '/nonexistent.pcap', '--service', 'udp/5060=sip'],
     'no such file'),
    (['replay', SAMPLE, '--service', 'udp/99999=sip'], 'bad port range'),
    (['replay', SAMPLE, '--service', 'sctp/5060'], 'bad service'),
    (['replay', SAMPLE, '--service', 'udp/5060=smtp'], 'unknown application'),
    (['replay', SAMPLE], 'no services'),
    (['replay', SAMPLE, '--service', 'udp/53', '--vm-ip', 'nope'],
     'bad VM address'),
    (['replay', SAMPLE, '--service', 'udp/53', '--interval-ms', 'x'],
     'invalid int'),
    (['replay', 'setup.cfg', '--service', 'udp/53'], 'not a pcap'),
    (['replay', SAMPLE, '--inventory', '/nonexistent.yaml'],
     'cannot read inventory'),
])
def test_bad_input_is_one_line_and_exit_code_2(args, needle):
    res = dpiaas(*args)
    assert res.returncode == 2
    assert res.stdout == ''
    err = res.stderr.strip().splitlines()
    assert len(err) == 1 or err[0].startswith('usage:'), res.stderr
    assert needle in res.stderr
    assert 'Traceback' not in res.stderr
