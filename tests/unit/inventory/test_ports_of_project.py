"""ports_of_project: what a tenant may pick to monitor, in both drivers."""
import types

from openstack import exceptions as os_exc
import pytest

from dpiaas.inventory import base
from dpiaas.inventory import neutron
from dpiaas.inventory import static

SG = {'id': 'sg1', 'project_id': 'p1', 'security_group_rules': []}


def _static_port(pid, device, project, **extra):
    return dict({'id': pid, 'device_id': device, 'project_id': project,
                 'binding:host_id': 'compute-1', 'security_groups': ['sg1'],
                 'mac_address': 'fa:16:3e:00:00:01',
                 'fixed_ips': [{'ip_address': '10.0.0.5'}]}, **extra)


@pytest.fixture
def inv():
    return static.StaticInventory({'ports': [
        _static_port('p-b', 'vm2', 'p1'),
        _static_port('p-a', 'vm1', 'p1'),
        _static_port('p-c', 'vm1', 'p1', **{'binding:vnic_type': 'direct'}),
        _static_port('p-other', 'vm9', 'p2'),
        _static_port('p-free', '', 'p1'),
    ], 'security_groups': [SG]})


def test_static_lists_only_the_projects_server_ports_sorted(inv):
    ports = inv.ports_of_project('p1')
    assert [(p.device_id, p.id) for p in ports] == [
        ('vm1', 'p-a'), ('vm1', 'p-c'), ('vm2', 'p-b')]
    assert ports[0].ips == ['10.0.0.5']
    assert ports[1].vnic_type == 'direct'


def test_static_filters_by_server(inv):
    assert [p.id for p in inv.ports_of_project('p1', server_id='vm2')] == [
        'p-b']


def test_static_never_lists_another_projects_server(inv):
    assert inv.ports_of_project('p1', server_id='vm9') == []
    assert [p.id for p in inv.ports_of_project('p2')] == ['p-other']
    assert inv.ports_of_project('nobody') == []


def test_static_needs_a_project(inv):
    with pytest.raises(base.InventoryError):
        inv.ports_of_project('')


def sdk_port(pid, device='vm1', project='p1', owner='compute:nova',
             name='eth0'):
    return types.SimpleNamespace(
        id=pid, device_id=device, project_id=project, device_owner=owner,
        name=name, binding_host_id='compute-1',
        mac_address='fa:16:3e:00:00:01',
        fixed_ips=[{'subnet_id': 's', 'ip_address': '10.0.0.7'}],
        security_group_ids=['sg1'], binding_vnic_type='normal',
        binding_vif_type='ovs')


class FakeNetwork:
    def __init__(self, ports):
        self.all = ports
        self.calls = []
        self.fail = None

    def ports(self, **filters):
        self.calls.append(filters)
        if self.fail:
            raise self.fail
        return iter([p for p in self.all
                     if all(getattr(p, k) == v for k, v in filters.items())])


def _driver(ports):
    net = FakeNetwork(ports)
    return neutron.OpenStackInventory(types.SimpleNamespace(network=net),
                                      cache_ttl=0), net


def test_neutron_asks_neutron_for_the_project_and_keeps_server_ports():
    inv, net = _driver([
        sdk_port('b', device='vm2'), sdk_port('a', name='sip'),
        sdk_port('router', device='r1', owner='network:router_interface'),
        sdk_port('dhcp', device='dhcp1', owner='network:dhcp'),
        sdk_port('free', device='', owner=''),
        sdk_port('x', project='p2')])
    ports = inv.ports_of_project('p1')
    assert net.calls == [{'project_id': 'p1'}]
    assert [(p.device_id, p.id) for p in ports] == [('vm1', 'a'),
                                                    ('vm2', 'b')]
    assert ports[0].name == 'sip'
    assert ports[0].host == 'compute-1'
    assert ports[0].security_groups == ['sg1']


def test_neutron_filters_by_server_in_the_query():
    inv, net = _driver([sdk_port('a'), sdk_port('b', device='vm2')])
    assert [p.id for p in inv.ports_of_project('p1', server_id='vm2')] == [
        'b']
    assert net.calls == [{'project_id': 'p1', 'device_id': 'vm2'}]


def test_neutron_errors_are_one_line_inventory_errors():
    inv, net = _driver([])
    net.fail = os_exc.HttpException('Neutron\nis down')
    with pytest.raises(base.InventoryError) as err:
        inv.ports_of_project('p1')
    assert 'listing the ports of project p1' in str(err.value)
    assert '\n' not in str(err.value)


def test_a_driver_without_the_method_says_so():
    class Old(base.InventoryDriver):
        from_conf = ports_of = rules_of = None

    with pytest.raises(base.InventoryError, match='cannot list'):
        Old().ports_of_project('p1')
