"""The control plane on real services: Neutron, RabbitMQ, PostgreSQL.

tenant-a creates a network, a Security Group (udp/5060, tcp/80, tcp/22)
and a port in real Neutron; admin binds the port to ``compute-1`` as Nova
would. A real veth named like the port's tap carries the "VM". The engine
(``dpiaas-engine``, openstack inventory with the dpiaas service
credential, PostgreSQL) and two agents (``dpiaas-agent`` as ``compute-1``
and ``compute-2``) run as processes talking over RabbitMQ. Then, in order,
the cloud changes and dpiaas must follow:

1. monitor created -> collector running on compute-1, real SIP traffic
   lands in the database as samples;
2. a rule is added (tcp/8080) -> the collector is updated (new generation,
   the service in its spec);
3. the port's host changes -> the collector moves to compute-2, compute-1
   runs nothing;
4. compute-2's agent is SIGKILLed and restarted -> its collector comes
   back (it asks for its desired set at start);
5. the port is deleted -> the collector stops, the monitor says why.
"""
import os
import signal
import subprocess
import sys
import time
import uuid

from oslo_config import cfg
import pytest

from dpiaas.db import api as db_api
from dpiaas.rpc import agent_api
from dpiaas.rpc import engine_api
from dpiaas.rpc import transport as rpc_transport
from tests.functional import netns
from tests.functional import service_process
from tests.functional.rabbitmq import unavailable
from tests.functional.sip_probe import RESPONDER, send_options, wait_for

pytestmark = [pytest.mark.root, pytest.mark.slow]
Proc = service_process.Proc


def common_config(url, exchange):
    return ('[DEFAULT]\ntransport_url = %s\ncontrol_exchange = %s\n'
            'debug = false\n' % (url, exchange))


def agent_config(url, exchange, host):
    return common_config(url, exchange) + (
        'host = %s\n[agent]\nreport_interval = 1\n'
        'report_batch_interval = 0.3\ntap_retry_interval = 0.5\n'
        'engine_retry_interval = 0.5\n' % host)


def engine_config(url, exchange, db_url, stack):
    return common_config(url, exchange) + (
        'host = engine-1\ninventory_driver = openstack\n'
        'inventory_cache_ttl = 0\n'
        '[database]\nconnection = %s\n'
        '[engine]\nreconcile_interval = 1\nagent_down_time = 8\n'
        'liveness_interval = 1\n' % db_url) + \
        stack.service_credentials_ini()


@pytest.fixture
def cloud(openstack_stack):
    """tenant-a's network, group and port on a free 198.18.x.0/24."""
    from tests.functional.dpi import peers
    octet = peers.free_subnet_octet(lo=150, hi=199)
    tenant = openstack_stack.connect('tenant-a')
    admin = openstack_stack.connect('admin')
    tag = 'dpiaas-cp-' + uuid.uuid4().hex[:8]
    made = {}
    try:
        net = made['net'] = tenant.network.create_network(name=tag)
        tenant.network.create_subnet(
            network_id=net.id, ip_version=4, name=tag,
            cidr='198.18.%d.0/24' % octet,
            gateway_ip='198.18.%d.1' % octet)
        sg = made['sg'] = tenant.network.create_security_group(name=tag)
        for proto, port in (('udp', 5060), ('tcp', 80), ('tcp', 22)):
            tenant.network.create_security_group_rule(
                security_group_id=sg.id, direction='ingress',
                ethertype='IPv4', protocol=proto, port_range_min=port,
                port_range_max=port)
        port = made['port'] = tenant.network.create_port(
            network_id=net.id, name=tag, security_group_ids=[sg.id])
        server_id = str(uuid.uuid4())
        admin.network.update_port(port, binding_host_id='compute-1',
                                  device_id=server_id,
                                  device_owner='compute:nova')
        yield {'tenant': tenant, 'admin': admin, 'net': net, 'sg': sg,
               'port': admin.network.get_port(port.id),
               'server_id': server_id, 'octet': octet,
               'project_id': port.project_id}
    finally:
        if 'port' in made:
            admin.network.delete_port(made['port'], ignore_missing=True)
        if 'sg' in made:
            tenant.network.delete_security_group(made['sg'],
                                                 ignore_missing=True)
        if 'net' in made:
            for sub in tenant.network.subnets(network_id=made['net'].id):
                tenant.network.delete_subnet(sub)
            tenant.network.delete_network(made['net'])


@pytest.fixture
def vm(cloud):
    """The port's "VM": a namespace whose eth0 has the port's IP and MAC,
    behind a veth named like the port's Nova tap."""
    port = cloud['port']
    ip = port.fixed_ips[0]['ip_address']
    with netns.veth_host(cloud['octet'], tap='tap' + port.id[:11]) as host:
        host.run('ip', 'link', 'set', 'dev', 'eth0', 'address',
                 port.mac_address)
        if ip != host.ip:
            host.run('ip', 'addr', 'add', ip + '/24', 'dev', 'eth0')
        responder = host.popen(sys.executable, '-c', RESPONDER,
                               stdout=subprocess.PIPE)
        assert responder.stdout.readline().strip() == b'ready'
        host.port_ip = ip
        try:
            yield host
        finally:
            responder.kill()
            responder.wait()


def test_collectors_follow_the_cloud(tmp_path, openstack_stack, rabbitmq_url,
                                     postgresql_server, cloud, vm):
    if os.geteuid() != 0:
        unavailable('needs root (namespaces, AF_PACKET)')
    exchange = 'dpiaas-cp-' + uuid.uuid4().hex[:8]
    db_name = 'dpiaas_cp_' + uuid.uuid4().hex[:8]
    postgresql_server.create_database(db_name)
    db_url = postgresql_server.url(db_name)
    service_process.db_sync(db_url)
    storage = db_api.Storage(db_url)

    client_conf = tmp_path / 'client.conf'
    client_conf.write_text('[DEFAULT]\ncontrol_exchange = %s\n' % exchange)
    conf = cfg.ConfigOpts()
    conf(['--config-file', str(client_conf)], project='dpiaas')
    transport = rpc_transport.get_rpc_transport(conf, url=rabbitmq_url)
    agents = agent_api.AgentAPI(transport)

    engine = Proc(tmp_path, 'engine',
                  engine_config(rabbitmq_url, exchange, db_url,
                                openstack_stack))
    c1 = Proc(tmp_path, 'agent-1',
              agent_config(rabbitmq_url, exchange, 'compute-1'))
    c2 = Proc(tmp_path, 'agent-2',
              agent_config(rabbitmq_url, exchange, 'compute-2'))
    procs = (engine, c1, c2)
    port = cloud['port']

    def logs():
        return '\n'.join('--- %s\n%s' % (p.name, p.log()) for p in procs)

    def collector(status=None, host=None, min_generation=0):
        found = storage.list_collectors(monitor_id=monitor['id'])
        for c in found:
            if ((status is None or c['status'] == status) and
                    (host is None or c['host'] == host) and
                    c['generation'] >= min_generation):
                return c
        return None

    def running_on(host):
        try:
            state = agents.get_state(None, host, timeout=10)
        except Exception:
            return None
        return [c for c in state['collectors'] if c['status'] == 'running']

    try:
        engine.start('dpiaas-engine')
        c1.start('dpiaas-agent')
        c2.start('dpiaas-agent')
        wait_for(lambda: len(storage.list_agents()) >= 2 or
                 not all(p.alive() for p in procs), 90,
                 'both agents to report')
        assert all(p.alive() for p in procs), logs()

        # 1. the tenant's monitor
        monitor = storage.create_monitor({
            'project_id': cloud['project_id'], 'port_id': port.id,
            'name': 'cp-test', 'interval_ms': 500})
        engine_api.EngineControlAPI(transport).monitor_changed(
            None, monitor['id'])
        first = wait_for(lambda: collector('running', 'compute-1'), 60,
                         'a running collector on compute-1\n' + logs())
        services = {(s['l4'], s['port_min'], s['app'])
                    for s in first['spec']['services']}
        assert services == {('udp', 5060, 'sip'), ('tcp', 80, 'http'),
                            ('tcp', 22, 'generic')}
        assert first['spec']['vm_macs'] == [port.mac_address]
        derived = storage.list_services(monitor['id'])
        assert {(s['l4'], s['port_min']) for s in derived} == \
            {('udp', 5060), ('tcp', 80), ('tcp', 22)}
        assert all(s.get('source') for s in derived)

        assert send_options(vm.port_ip, 10) == 10

        def options_stored():
            series = storage.get_series(
                monitor['id'], 'sip.5060.requests.options',
                time.time() - 300, time.time() + 5)
            return sum(v for _, v in series) >= 10
        wait_for(options_stored, 30, 'the OPTIONS in the database')
        assert storage.get_monitor(monitor['id'])['status'] in (
            'learning', 'active')

        # 2. a rule is added -> the collector is updated
        cloud['tenant'].network.create_security_group_rule(
            security_group_id=cloud['sg'].id, direction='ingress',
            ethertype='IPv4', protocol='tcp', port_range_min=8080,
            port_range_max=8080)
        updated = wait_for(
            lambda: collector('running', 'compute-1',
                              first['generation'] + 1), 30,
            'the collector updated with tcp/8080')
        assert ('tcp', 8080, 'http') in {
            (s['l4'], s['port_min'], s['app'])
            for s in updated['spec']['services']}
        assert updated['id'] == first['id']

        # 3. live migration: the port's host changes
        cloud['admin'].network.update_port(port,
                                           binding_host_id='compute-2')
        moved = wait_for(lambda: collector('running', 'compute-2'), 30,
                         'the collector running on compute-2\n' + logs())
        assert moved['id'] == first['id']
        wait_for(lambda: running_on('compute-1') == [], 30,
                 'compute-1 to stop the collector')
        assert [c['id'] for c in running_on('compute-2')] == [first['id']]

        # 4. the agent of compute-2 dies hard and comes back
        c2.stop(signal.SIGKILL)
        c2.start('dpiaas-agent')
        wait_for(lambda: [c['id'] for c in running_on('compute-2') or []]
                 == [first['id']], 30,
                 'the restarted agent to run its collector again\n' + logs())

        # 5. the port is deleted
        cloud['admin'].network.delete_port(port)

        def gone():
            mon = storage.get_monitor(monitor['id'])
            return mon if mon['status'] == 'error' else None
        mon = wait_for(gone, 30, 'the monitor to say its port is gone')
        assert port.id in mon['status_reason'] or \
            'no longer' in mon['status_reason'], mon
        wait_for(lambda: running_on('compute-2') == [], 30,
                 'compute-2 to stop the collector')
        assert all(p.alive() for p in procs), logs()
        for p in procs:
            assert 'Traceback' not in p.log(), logs()
    finally:
        for p in procs:
            p.stop()
        transport.cleanup()
