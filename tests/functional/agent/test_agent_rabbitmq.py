"""dpiaas-agent as a process, a real RabbitMQ, a real tap, real traffic.

The test plays the engine: an RPC server on ``dpiaas-engine`` answers
``get_desired`` with one collector for a veth named like a Nova tap, then
counts what the agent reports. SIP OPTIONS sent to a responder in the
namespace must come back as exactly that many requests and 2xx responses;
deleting the tap must turn the collector to ``error`` with a reason while
the agent lives on; recreating it must bring samples back.
"""
import collections
import os
import signal
import subprocess
import sys
import threading
import uuid

import oslo_messaging as messaging
import pytest
from oslo_config import cfg

from dpiaas.rpc import transport as rpc_transport
from tests.functional import netns
from tests.functional.sip_probe import RESPONDER, send_options, wait_for
from tests.functional.rabbitmq import unavailable

pytestmark = [pytest.mark.root, pytest.mark.slow]


class Engine:
    """What the test engine received, in order."""

    target = messaging.Target(version='1.0')

    def __init__(self, host, collectors):
        self.host = host
        self.collectors = collectors
        self.lock = threading.Lock()
        self.events = []

    def _add(self, kind, **kw):
        with self.lock:
            self.events.append((kind, kw))

    def of(self, kind):
        with self.lock:
            return [kw for k, kw in self.events if k == kind]

    def mark(self):
        with self.lock:
            return len(self.events)

    def since(self, mark, kind):
        with self.lock:
            return [kw for k, kw in self.events[mark:] if k == kind]

    def get_desired(self, ctxt, host):
        self._add('get_desired', host=host)
        return self.collectors if host == self.host else []

    def report_samples(self, ctxt, host, samples):
        for s in samples:
            self._add('sample', host=host, **s)

    def report_flows(self, ctxt, host, reports):
        self._add('flows', host=host, reports=reports)

    def report_state(self, ctxt, host, state):
        self._add('state', host=host, state=state)

    def collector_status(self, ctxt, host, collector_id, status, reason):
        self._add('status', host=host, collector_id=collector_id,
                  status=status, reason=reason)


def totals(samples):
    out = collections.Counter()
    for s in samples:
        out.update({k: v for k, v in s['metrics'].items()
                    if 'latency' not in k})
    return out


def agent_command():
    script = os.path.join(os.path.dirname(sys.executable), 'dpiaas-agent')
    if os.access(script, os.X_OK):
        return [script]
    return [sys.executable, '-m', 'dpiaas.cmd.agent']


@pytest.fixture
def exchange():
    return 'dpiaas-test-' + uuid.uuid4().hex[:12]


@pytest.fixture
def engine_transport(tmp_path, rabbitmq_url, exchange):
    path = tmp_path / 'engine.conf'
    path.write_text('[DEFAULT]\ncontrol_exchange = %s\n' % exchange)
    conf = cfg.ConfigOpts()
    conf(['--config-file', str(path)], project='dpiaas')
    transport = rpc_transport.get_rpc_transport(conf, url=rabbitmq_url)
    assert conf.control_exchange == exchange
    yield transport
    transport.cleanup()


def serve_engine(transport, engine):
    server = rpc_transport.get_rpc_server(
        transport, messaging.Target(topic='dpiaas-engine',
                                    server='test-engine'), [engine])
    server.start()
    return server


def start_agent(tmp_path, url, exchange, host):
    conf = tmp_path / 'agent.conf'
    conf.write_text(
        '[DEFAULT]\nhost = %s\ntransport_url = %s\ncontrol_exchange = %s\n'
        'debug = false\n'
        '[agent]\nreport_interval = 1\nreport_batch_interval = 0.3\n'
        'tap_retry_interval = 0.5\nengine_retry_interval = 0.5\n'
        % (host, url, exchange))
    log = open(tmp_path / 'agent.log', 'wb')
    proc = subprocess.Popen(agent_command() + ['--config-file', str(conf)],
                            stdout=log, stderr=subprocess.STDOUT)
    return proc


def agent_log(tmp_path):
    return (tmp_path / 'agent.log').read_text()[-3000:]


def require_root():
    if os.geteuid() != 0:
        unavailable('needs root (network namespaces, AF_PACKET)')
    if not os.path.exists('/usr/sbin/ip') and not os.path.exists(
            '/sbin/ip') and not os.path.exists('/usr/bin/ip'):
        unavailable('needs iproute2')


def free_octet():
    from tests.functional.dpi import peers
    return peers.free_subnet_octet(lo=200, hi=250)


def test_agent_reports_real_traffic_and_survives_its_tap_vanishing(
        tmp_path, rabbitmq_url, exchange, engine_transport):
    require_root()
    host = 'fn-' + uuid.uuid4().hex[:8]
    port_id = str(uuid.uuid4())
    tap = 'tap' + port_id[:11]
    octet = free_octet()
    vm_ip = '198.18.%d.2' % octet
    collector = {
        'id': str(uuid.uuid4()), 'monitor_id': str(uuid.uuid4()),
        'project_id': 'p1', 'port_id': port_id, 'host': host,
        'tap_device': None, 'generation': 1, 'status': 'scheduled',
        'spec': {'services': [{'l4': 'udp', 'port_min': 5060,
                               'port_max': 5060, 'app': 'sip',
                               'role': 'offered'}],
                 'vm_ips': [vm_ip], 'vm_macs': [], 'interval_ms': 500,
                 'name': 'fn'}}
    cid = collector['id']
    engine = Engine(host, [collector])
    server = serve_engine(engine_transport, engine)
    proc = None
    try:
        with netns.veth_host(octet, tap=tap) as vm:
            responder = vm.popen(sys.executable, '-c', RESPONDER,
                                 stdout=subprocess.PIPE)
            assert responder.stdout.readline().strip() == b'ready'
            proc = start_agent(tmp_path, rabbitmq_url, exchange, host)
            try:
                wait_for(lambda: engine.of('get_desired'), 60,
                         'the agent to ask get_desired')
                wait_for(lambda: {'collector_id': cid, 'status': 'running',
                                  'reason': None, 'host': host}
                         in engine.of('status'), 60,
                         'collector running')
                assert send_options(vm.ip, 20) == 20
                got = wait_for(
                    lambda: (lambda t: t if t['sip.5060.responses.2xx'] >= 20
                             else None)(totals(engine.of('sample'))),
                    30, '20 responses in the samples')
                assert got['sip.5060.requests.options'] == 20
                assert got['sip.5060.responses.2xx'] == 20
                assert got['sip.5060.packets_in'] == 20
                assert got['sip.5060.packets_out'] == 20
                sample = engine.of('sample')[-1]
                assert sample['collector_id'] == cid
                assert sample['monitor_id'] == collector['monitor_id']
                assert sample['interval_ms'] == 500

                state = wait_for(
                    lambda: [s['state'] for s in engine.of('state')
                             if s['state']['collectors'] and
                             s['state']['collectors'][0]['capture_packets']
                             >= 40], 10, 'a heartbeat with the capture')[-1]
                assert set(state) >= {'started_at', 'version', 'collectors',
                                      'buffer'}
                col = state['collectors'][0]
                assert (col['id'], col['status'], col['interface'],
                        col['generation']) == (cid, 'running', tap, 1)

                # the VM goes away: its tap with it
                mark = engine.mark()
                netns.run('ip', 'link', 'del', tap)
                err = wait_for(
                    lambda: [s for s in engine.since(mark, 'status')
                             if s['status'] == 'error'], 30,
                    'collector error')[0]
                assert err['collector_id'] == cid
                assert tap in err['reason'], err
                wait_for(lambda: [s for s in engine.since(mark, 'state')
                                  if s['state']['collectors'][0]['status']
                                  == 'error'], 10, 'error in the heartbeat')
                assert proc.poll() is None, agent_log(tmp_path)
            finally:
                responder.kill()
                responder.wait()

        # the VM boots again: same tap name
        with netns.veth_host(octet, tap=tap) as vm:
            responder = vm.popen(sys.executable, '-c', RESPONDER,
                                 stdout=subprocess.PIPE)
            try:
                assert responder.stdout.readline().strip() == b'ready'
                mark = engine.mark()
                wait_for(lambda: [s for s in engine.since(mark, 'status')
                                  if s['status'] == 'running'], 30,
                         'collector running again')
                mark = engine.mark()
                assert send_options(vm.ip, 10) == 10
                got = wait_for(
                    lambda: (lambda t: t if t['sip.5060.responses.2xx'] >= 10
                             else None)(
                        totals(engine.since(mark, 'sample'))),
                    30, 'samples after the tap came back')
                assert got['sip.5060.requests.options'] == 10
                assert got['sip.5060.responses.2xx'] == 10
            finally:
                responder.kill()
                responder.wait()
        assert proc.poll() is None, agent_log(tmp_path)

        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0, agent_log(tmp_path)
        assert 'Traceback' not in agent_log(tmp_path)
    finally:
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait()
        server.stop()
        server.wait()
