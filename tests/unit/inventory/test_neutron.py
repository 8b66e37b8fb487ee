"""The openstack driver's logic against a fake openstacksdk network proxy
(tests/functional/openstack runs it against real Neutron)."""
import types

from keystoneauth1 import exceptions as ka_exc
from openstack import exceptions as os_exc
import pytest

from dpiaas.inventory import base
from dpiaas.inventory import neutron


def sdk_port(pid, device='vm1', project='p1', sgs=('sg1',), ips=(),
             pairs=(), vnic='normal'):
    return types.SimpleNamespace(
        id=pid, device_id=device, project_id=project,
        binding_host_id='compute-1', mac_address='fa:16:3e:00:00:01',
        fixed_ips=[{'subnet_id': 's', 'ip_address': ip} for ip in ips],
        allowed_address_pairs=[{'ip_address': ip} for ip in pairs],
        security_group_ids=list(sgs), binding_vnic_type=vnic,
        binding_vif_type='ovs')


class FakeNetwork:
    def __init__(self):
        self.ports_by_id = {}
        self.groups = {}
        self.calls = []
        self.fail = None

    def _maybe_fail(self):
        if self.fail:
            raise self.fail

    def get_port(self, pid):
        self.calls.append(('get_port', pid))
        self._maybe_fail()
        if pid not in self.ports_by_id:
            raise os_exc.NotFoundException('Port %s could not be found'
                                           % pid)
        return self.ports_by_id[pid]

    def ports(self, device_id=None, security_groups=None):
        self.calls.append(('ports', device_id, security_groups))
        self._maybe_fail()
        for p in self.ports_by_id.values():
            if device_id and p.device_id != device_id:
                continue
            if security_groups and not (set(security_groups)
                                        & set(p.security_group_ids)):
                continue
            yield p

    def get_security_group(self, sg_id):
        self.calls.append(('get_security_group', sg_id))
        self._maybe_fail()
        if sg_id not in self.groups:
            raise os_exc.NotFoundException('no group %s' % sg_id)
        return types.SimpleNamespace(id=sg_id,
                                     security_group_rules=self.groups[sg_id])


class Clock:
    now = 100.0

    def __call__(self):
        return self.now


@pytest.fixture
def net():
    n = FakeNetwork()
    n.ports_by_id['a'] = sdk_port('a', ips=['10.0.0.5'])
    n.ports_by_id['b'] = sdk_port('b', device='vm2', sgs=['sg-peer'],
                                  ips=['10.0.0.7', 'fd00::7'],
                                  pairs=['10.1.0.0/24'])
    n.groups['sg1'] = [
        {'id': 'r1', 'direction': 'ingress', 'ethertype': 'IPv4',
         'protocol': 'tcp', 'port_range_min': 80, 'port_range_max': 80,
         'remote_ip_prefix': None, 'remote_group_id': None,
         'security_group_id': 'sg1', 'normalized_cidr': None,
         'tenant_id': 'p1'},
        {'id': 'r2', 'direction': 'ingress', 'ethertype': 'IPv4',
         'protocol': 'udp', 'port_range_min': 5060, 'port_range_max': 5060,
         'remote_ip_prefix': None, 'remote_group_id': 'sg-peer'},
        {'id': 'e4', 'direction': 'egress', 'ethertype': 'IPv4',
         'protocol': None, 'port_range_min': None, 'port_range_max': None}]
    n.groups['sg-peer'] = []
    return n


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def inv(net, clock):
    return neutron.OpenStackInventory(types.SimpleNamespace(network=net),
                                      cache_ttl=10, clock=clock)


def test_port_from_neutron(inv):
    (p,) = inv.ports_of(port_id='a')
    assert (p.id, p.device_id, p.project_id, p.host, p.ips,
            p.security_groups, p.vnic_type, p.vif_type, p.tap_device) == (
        'a', 'vm1', 'p1', 'compute-1', ['10.0.0.5'], ['sg1'], 'normal',
        'ovs', 'tapa')


def test_ports_of_a_server_by_device_id(inv, net):
    assert [p.id for p in inv.ports_of(server_id='vm2')] == ['b']
    assert ('ports', 'vm2', None) in net.calls


def test_a_missing_port_or_server_is_empty(inv):
    assert inv.ports_of(port_id='gone') == []
    assert inv.ports_of(server_id='gone') == []
    assert inv.ports_of(server_id='vm2', port_id='a') == []


def test_rules_keep_the_documented_keys_and_resolve_remote_groups(inv):
    (p,) = inv.ports_of(port_id='a')
    rules = {r['id']: r for r in inv.rules_of(p)}
    assert 'normalized_cidr' not in rules['r1']
    assert set(neutron.RULE_KEYS) <= set(rules['r1'])
    assert rules['r2']['remote_ips'] == ['10.0.0.7', '10.1.0.0/24']


def test_rules_and_members_are_cached_for_the_ttl(inv, net, clock):
    (p,) = inv.ports_of(port_id='a')
    inv.rules_of(p)
    n = len(net.calls)
    net.groups['sg1'] = net.groups['sg1'][:1]
    assert len(inv.rules_of(p)) == 3
    assert len(net.calls) == n          # no Neutron call
    clock.now += 11
    assert len(inv.rules_of(p)) == 1
    assert len(net.calls) == n + 1


def test_ports_are_never_cached(inv, net):
    inv.ports_of(port_id='a')
    net.ports_by_id['a'].binding_host_id = 'compute-2'
    assert inv.ports_of(port_id='a')[0].host == 'compute-2'


def test_a_group_deleted_meanwhile_gives_no_rules(inv):
    p = base.Port(id='x', device_id='', project_id='p1', host='', mac='',
                  ips=[], security_groups=['gone'])
    assert inv.rules_of(p) == []


def test_services_of_and_ownership_use_the_shared_derivation(inv):
    (p,) = inv.ports_of(port_id='a')
    got = {(d.service.port_label, d.service.app, d.source)
           for d in inv.services_of(p)}
    assert got == {('80', 'http', 'rule r1'), ('5060', 'sip', 'rule r2')}
    inv.check_owner('p1', server_id='vm1')
    with pytest.raises(base.NotOwned):
        inv.check_owner('p9', port_id='a')


@pytest.mark.parametrize('exc', [
    os_exc.HttpException('Internal Server Error\nsecond line',
                         response=None),
    ka_exc.ConnectFailure('Unable to establish connection'),
    ka_exc.Unauthorized('The request you have made requires '
                        'authentication.'),
    os_exc.SDKException('catalog has no network service')])
def test_cloud_errors_become_one_line_inventory_errors(inv, net, exc):
    net.fail = exc
    for call in (lambda: inv.ports_of(port_id='a'),
                 lambda: inv.ports_of(server_id='vm1'),
                 lambda: inv.rules_of(base.Port(
                     id='x', device_id='', project_id='', host='', mac='',
                     ips=[], security_groups=['sg1']))):
        with pytest.raises(base.InventoryError) as err:
            call()
        msg = str(err.value)
        assert msg.startswith('openstack inventory: ')
        assert 'failed' in msg and '\n' not in msg


def test_cache_can_be_disabled(net, clock):
    inv = neutron.OpenStackInventory(types.SimpleNamespace(network=net),
                                     cache_ttl=0, clock=clock)
    (p,) = inv.ports_of(port_id='a')
    inv.rules_of(p)
    n = len(net.calls)
    inv.rules_of(p)
    assert len(net.calls) == n + 2      # the group and its remote group
