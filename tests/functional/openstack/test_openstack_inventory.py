"""The openstack inventory driver against real Keystone and Neutron.

tenant-a builds a network, a Security Group (SIP, HTTP, SSH offered, MySQL
consumed, a port reachable from a peer group) and a port; admin binds the
port to compute-1 as Nova would. The driver, with the dpiaas service
credential, must see it as the engine needs it.
"""
import uuid

from oslo_config import cfg
import pytest

from dpiaas import conf as dpiaas_conf
from dpiaas import inventory
from dpiaas.inventory import base

pytestmark = pytest.mark.slow


def _conf(tmp_path, stack, **extra):
    path = tmp_path / ('dpiaas-%s.conf' % uuid.uuid4().hex[:6])
    defaults = dict({'inventory_driver': 'openstack',
                     'inventory_cache_ttl': '0'}, **extra.pop('default', {}))
    text = '[DEFAULT]\n' + ''.join('%s = %s\n' % kv
                                   for kv in defaults.items())
    creds = stack.service_credentials_ini()
    for key, value in extra.items():
        creds = '\n'.join(line for line in creds.splitlines()
                          if not line.startswith(key + ' ='))
        creds += '\n%s = %s\n' % (key, value)
    path.write_text(text + creds)
    conf = cfg.ConfigOpts()
    dpiaas_conf.register_opts(conf)
    conf(['--config-file', str(path)], project='dpiaas')
    return conf


@pytest.fixture(scope='module')
def cloud(openstack_stack, tmp_path_factory):
    """tenant-a's network, groups and ports; removed afterwards."""
    tenant = openstack_stack.connect('tenant-a')
    admin = openstack_stack.connect('admin')
    tag = 'dpiaas-inv-' + uuid.uuid4().hex[:8]
    made = {'ports': [], 'sgs': [], 'nets': []}
    try:
        net = tenant.network.create_network(name=tag)
        made['nets'].append(net)
        tenant.network.create_subnet(network_id=net.id, ip_version=4,
                                     cidr='192.0.2.0/24', name=tag)
        tenant.network.create_subnet(network_id=net.id, ip_version=6,
                                     cidr='2001:db8::/64', name=tag + '-6')
        peer_sg = tenant.network.create_security_group(name=tag + '-peer')
        made['sgs'].append(peer_sg)
        sg = tenant.network.create_security_group(name=tag)
        made['sgs'].append(sg)
        rules = {}
        for name, rule in (
                ('sip', dict(direction='ingress', ethertype='IPv4',
                             protocol='udp', port_range_min=5060,
                             port_range_max=5060)),
                ('http', dict(direction='ingress', ethertype='IPv4',
                              protocol='tcp', port_range_min=80,
                              port_range_max=80)),
                ('http6', dict(direction='ingress', ethertype='IPv6',
                               protocol='tcp', port_range_min=80,
                               port_range_max=80)),
                ('ssh', dict(direction='ingress', ethertype='IPv4',
                             protocol='tcp', port_range_min=22,
                             port_range_max=22,
                             remote_ip_prefix='198.51.100.0/24')),
                ('mysql', dict(direction='egress', ethertype='IPv4',
                               protocol='tcp', port_range_min=3306,
                               port_range_max=3306)),
                ('peer', dict(direction='ingress', ethertype='IPv4',
                              protocol='tcp', port_range_min=9000,
                              port_range_max=9000,
                              remote_group_id=peer_sg.id)),
                ('icmp', dict(direction='ingress', ethertype='IPv4',
                              protocol='icmp'))):
            rules[name] = tenant.network.create_security_group_rule(
                security_group_id=sg.id, **rule).id
        peer = tenant.network.create_port(network_id=net.id, name=tag,
                                          security_group_ids=[peer_sg.id])
        made['ports'].append(peer)
        port = tenant.network.create_port(network_id=net.id, name=tag,
                                          security_group_ids=[sg.id])
        made['ports'].append(port)
        server_id = str(uuid.uuid4())
        port = admin.network.update_port(
            port, binding_host_id='compute-1', device_id=server_id,
            device_owner='compute:nova')
        conf = _conf(tmp_path_factory.mktemp('inv'), openstack_stack)
        yield {'port': port, 'peer': peer, 'server_id': server_id,
               'rules': rules, 'sg': sg, 'net': net, 'tag': tag,
               'project_id': tenant.current_project_id,
               'other_project_id': admin.current_project_id,
               'tenant': tenant, 'admin': admin,
               'driver': inventory.get_inventory(conf), 'conf': conf}
    finally:
        for p in made['ports']:
            admin.network.delete_port(p, ignore_missing=True)
        for s in made['sgs']:
            admin.network.delete_security_group(s, ignore_missing=True)
        for n in made['nets']:
            for sub in admin.network.subnets(network_id=n.id):
                admin.network.delete_subnet(sub, ignore_missing=True)
            admin.network.delete_network(n, ignore_missing=True)


def test_driver_is_the_openstack_one(cloud):
    assert type(cloud['driver']).__name__ == 'OpenStackInventory'


def test_ports_of_server_give_host_mac_ips_and_groups(cloud):
    port = cloud['port']
    got = cloud['driver'].ports_of(server_id=cloud['server_id'])
    assert [p.id for p in got] == [port.id]
    p = got[0]
    assert p.host == 'compute-1'
    assert p.device_id == cloud['server_id']
    assert p.project_id == cloud['project_id']
    assert p.mac == port.mac_address
    assert sorted(p.ips) == sorted(ip['ip_address']
                                   for ip in port.fixed_ips)
    assert any(ip.startswith('192.0.2.') for ip in p.ips)
    assert p.security_groups == [cloud['sg'].id]
    assert p.vnic_type == 'normal'
    assert p.tap_device == 'tap' + port.id[:11]
    assert base.Port.nova_tap_name.fget(p) == p.tap_device


def test_ports_of_port_id_and_of_another_server(cloud):
    driver, port = cloud['driver'], cloud['port']
    assert [p.id for p in driver.ports_of(port_id=port.id)] == [port.id]
    assert driver.ports_of(server_id=cloud['server_id'],
                           port_id=cloud['peer'].id) == []


def test_rules_are_neutron_dicts_with_remote_group_addresses(cloud):
    driver = cloud['driver']
    port = driver.ports_of(port_id=cloud['port'].id)[0]
    rules = {r['id']: r for r in driver.rules_of(port)}
    peer_rule = rules[cloud['rules']['peer']]
    assert peer_rule['remote_group_id']
    peer_ips = [ip['ip_address'] for ip in cloud['peer'].fixed_ips
                if ':' not in ip['ip_address']]
    assert peer_rule['remote_ips'] == peer_ips
    ssh = rules[cloud['rules']['ssh']]
    assert (ssh['direction'], ssh['protocol'], ssh['port_range_min'],
            ssh['remote_ip_prefix']) == ('ingress', 'tcp', 22,
                                         '198.51.100.0/24')
    # Neutron's two egress allow-all rules come along, and give nothing
    assert sum(1 for r in rules.values() if r['direction'] == 'egress'
               and r['protocol'] is None) == 2


def test_services_are_derived_from_the_rules(cloud):
    driver = cloud['driver']
    port = driver.ports_of(port_id=cloud['port'].id)[0]
    ids = cloud['rules']
    got = {(d.service.role, d.service.l4, d.service.port_label,
            d.service.app, d.source) for d in driver.services_of(port)}
    assert got == {
        ('offered', 'udp', '5060', 'sip', 'rule %s' % ids['sip']),
        ('offered', 'tcp', '80', 'http', 'rule %s' % ids['http']),
        ('offered', 'tcp', '22', 'generic', 'rule %s' % ids['ssh']),
        ('offered', 'tcp', '9000', 'generic', 'rule %s' % ids['peer']),
        ('consumed', 'tcp', '3306', 'generic', 'rule %s' % ids['mysql']),
    } or got == {  # the IPv6 duplicate of tcp/80 may come first
        ('offered', 'udp', '5060', 'sip', 'rule %s' % ids['sip']),
        ('offered', 'tcp', '80', 'http', 'rule %s' % ids['http6']),
        ('offered', 'tcp', '22', 'generic', 'rule %s' % ids['ssh']),
        ('offered', 'tcp', '9000', 'generic', 'rule %s' % ids['peer']),
        ('consumed', 'tcp', '3306', 'generic', 'rule %s' % ids['mysql']),
    }
    skipped = dict(driver.derivation_of(port).skipped)
    assert 'icmp' in skipped[ids['icmp']]


def test_overrides_change_the_decoder(cloud):
    driver = cloud['driver']
    port = driver.ports_of(port_id=cloud['port'].id)[0]
    svcs = driver.services_of(port, overrides={'tcp/9000': 'http'})
    mine = [d for d in svcs if d.service.port_label == '9000']
    assert [(d.service.app, d.source) for d in mine] == [('http',
                                                          'override')]


def test_owner_check_passes_for_the_tenant_and_fails_for_another(cloud):
    driver = cloud['driver']
    driver.check_owner(cloud['project_id'], server_id=cloud['server_id'])
    driver.check_owner(cloud['project_id'], port_id=cloud['port'].id)
    with pytest.raises(base.NotOwned):
        driver.check_owner(cloud['other_project_id'],
                           server_id=cloud['server_id'])
    with pytest.raises(base.NotOwned):
        driver.check_owner(cloud['other_project_id'],
                           port_id=cloud['port'].id)
    with pytest.raises(base.NotFound):
        driver.check_owner(cloud['project_id'],
                           server_id=str(uuid.uuid4()))


def test_a_deleted_port_gives_nothing(cloud):
    tenant, admin, driver = cloud['tenant'], cloud['admin'], cloud['driver']
    port = tenant.network.create_port(network_id=cloud['net'].id,
                                      name=cloud['tag'] + '-gone')
    server_id = str(uuid.uuid4())
    admin.network.update_port(port, binding_host_id='compute-1',
                              device_id=server_id,
                              device_owner='compute:nova')
    assert len(driver.ports_of(server_id=server_id)) == 1
    admin.network.delete_port(port)
    assert driver.ports_of(port_id=port.id) == []
    assert driver.ports_of(server_id=server_id) == []
    with pytest.raises(base.NotFound):
        driver.check_owner(cloud['project_id'], port_id=port.id)


def test_rules_are_cached_for_the_ttl(cloud, openstack_stack, tmp_path):
    conf = _conf(tmp_path, openstack_stack,
                 default={'inventory_cache_ttl': '600'})
    driver = inventory.get_inventory(conf)
    port = driver.ports_of(port_id=cloud['port'].id)[0]
    before = len(driver.rules_of(port))
    rule = cloud['tenant'].network.create_security_group_rule(
        security_group_id=cloud['sg'].id, direction='ingress',
        ethertype='IPv4', protocol='udp', port_range_min=53,
        port_range_max=53)
    try:
        assert len(driver.rules_of(port)) == before
        assert len(cloud['driver'].rules_of(port)) == before + 1  # ttl 0
    finally:
        cloud['tenant'].network.delete_security_group_rule(rule)


def test_a_wrong_password_is_one_clear_error(cloud, openstack_stack,
                                             tmp_path):
    driver = inventory.get_inventory(
        _conf(tmp_path, openstack_stack, password='wrong'))
    with pytest.raises(base.InventoryError) as err:
        driver.ports_of(port_id=cloud['port'].id)
    msg = str(err.value)
    assert '\n' not in msg
    assert 'reading port %s failed' % cloud['port'].id in msg
    assert '401' in msg or 'authenticat' in msg.lower()


def test_an_unreachable_keystone_is_one_clear_error(openstack_stack,
                                                    tmp_path):
    driver = inventory.get_inventory(
        _conf(tmp_path, openstack_stack,
              auth_url='http://127.0.0.1:9/v3', timeout='5'))
    with pytest.raises(base.InventoryError) as err:
        driver.ports_of(server_id=str(uuid.uuid4()))
    assert 'listing the ports of server' in str(err.value)
    assert '\n' not in str(err.value)


def test_missing_credentials_are_one_clear_error(tmp_path):
    conf = cfg.ConfigOpts()
    dpiaas_conf.register_opts(conf)
    conf([], project='dpiaas')
    conf.set_override('inventory_driver', 'openstack')
    with pytest.raises(base.InventoryError, match='auth_type'):
        inventory.get_inventory(conf)
