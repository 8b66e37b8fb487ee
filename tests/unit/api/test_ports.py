"""GET /v1/ports: the project's server ports, monitorable or not, and the
monitor already watching each (the static driver as the inventory)."""
import pytest

from dpiaas.inventory import base as inv_base
from dpiaas.inventory import static
from tests.unit.api import conftest
from tests.unit.api.conftest import (ADMIN, PORT_A, PORT_B, PROJECT_A,
                                     PROJECT_B, READER_A, SERVER_A,
                                     SERVER_B, TENANT_A, TENANT_B)

PORT_A_SRIOV = '0a0a0a0a-0000-4000-8000-0000000000a2'
SERVER_A2 = '0a0a0a0a-0000-4000-8000-0000000000aa'
PORT_A2 = '0a0a0a0a-0000-4000-8000-0000000000a3'
PORT_A_FREE = '0a0a0a0a-0000-4000-8000-0000000000a4'


def _port(pid, server, project, **extra):
    return dict({'id': pid, 'device_id': server, 'project_id': project,
                 'name': 'eth', 'binding:host_id': 'compute-1',
                 'security_groups': ['sg-%s' % project],
                 'mac_address': 'fa:16:3e:00:00:01',
                 'fixed_ips': [{'ip_address': '10.0.0.5'}]}, **extra)


class Inventory(static.StaticInventory):
    fail = None

    def ports_of_project(self, project_id, server_id=None):
        if self.fail:
            raise self.fail
        return super().ports_of_project(project_id, server_id=server_id)


@pytest.fixture
def inventory():
    return Inventory({'ports': [
        _port(PORT_A, SERVER_A, PROJECT_A),
        _port(PORT_A_SRIOV, SERVER_A, PROJECT_A,
              **{'binding:vnic_type': 'direct'}),
        _port(PORT_A2, SERVER_A2, PROJECT_A),
        _port(PORT_A_FREE, '', PROJECT_A),
        _port(PORT_B, SERVER_B, PROJECT_B),
    ], 'security_groups': []})


def _ids(resp):
    assert resp.status_code == 200, resp.get_json()
    return [p['id'] for p in resp.get_json()['ports']]


def test_lists_the_projects_server_ports_with_their_fields(client):
    resp = client.get('/v1/ports', headers=TENANT_A)
    assert _ids(resp) == [PORT_A, PORT_A_SRIOV, PORT_A2]
    first = resp.get_json()['ports'][0]
    assert first == {
        'id': PORT_A, 'server_id': SERVER_A, 'name': 'eth',
        'fixed_ips': ['10.0.0.5'], 'mac_address': 'fa:16:3e:00:00:01',
        'host': None, 'security_groups': ['sg-%s' % PROJECT_A],
        'vnic_type': 'normal', 'monitorable': True,
        'unmonitorable_reason': None, 'monitor_id': None}
    assert 'next' not in resp.get_json()


def test_an_sriov_port_is_listed_as_unmonitorable_with_the_reason(client):
    ports = client.get('/v1/ports', headers=TENANT_A).get_json()['ports']
    sriov = [p for p in ports if p['id'] == PORT_A_SRIOV][0]
    assert sriov['monitorable'] is False
    assert sriov['vnic_type'] == 'direct'
    assert 'no tap device' in sriov['unmonitorable_reason']


def test_tenant_b_never_sees_tenant_a_ports(client):
    assert _ids(client.get('/v1/ports', headers=TENANT_B)) == [PORT_B]
    # not even by naming A's server
    assert _ids(client.get('/v1/ports?server_id=' + SERVER_A,
                           headers=TENANT_B)) == []
    # nor by paging from A's port
    conftest.assert_error(client.get('/v1/ports?marker=' + PORT_A,
                                     headers=TENANT_B), 400)


def test_server_id_filters(client):
    assert _ids(client.get('/v1/ports?server_id=' + SERVER_A2,
                           headers=TENANT_A)) == [PORT_A2]


def test_a_monitor_of_the_port_or_its_server_is_shown(client):
    mon = conftest.create_monitor(client, server_id=SERVER_A)
    ports = client.get('/v1/ports', headers=TENANT_A).get_json()['ports']
    by_id = {p['id']: p['monitor_id'] for p in ports}
    assert by_id == {PORT_A: mon['id'], PORT_A_SRIOV: mon['id'],
                     PORT_A2: None}
    mon2 = conftest.create_monitor(client, port_id=PORT_A2)
    ports = client.get('/v1/ports', headers=TENANT_A).get_json()['ports']
    assert ports[2]['monitor_id'] == mon2['id']
    # B's listing says nothing of A's monitors
    ports = client.get('/v1/ports', headers=TENANT_B).get_json()['ports']
    assert ports[0]['monitor_id'] is None


def test_pages_follow_next_links(client):
    resp = client.get('/v1/ports?limit=2', headers=TENANT_A)
    assert _ids(resp) == [PORT_A, PORT_A_SRIOV]
    nxt = resp.get_json()['next']
    assert 'marker=' + PORT_A_SRIOV in nxt
    resp = client.get(nxt, headers=TENANT_A)
    assert _ids(resp) == [PORT_A2]
    assert 'next' not in resp.get_json()


def test_a_reader_may_list(client):
    assert _ids(client.get('/v1/ports', headers=READER_A)) == [
        PORT_A, PORT_A_SRIOV, PORT_A2]


def test_no_role_is_403(client):
    conftest.assert_error(client.get(
        '/v1/ports', headers=conftest.headers(PROJECT_A, 'observer')), 403)


def test_only_admins_see_the_host(client, inventory):
    inventory.ports.append(inv_base.Port(
        id=conftest.new_id(), device_id=SERVER_A, project_id='admin-project',
        host='compute-7', mac='', ips=[], security_groups=[]))
    [port] = client.get('/v1/ports', headers=ADMIN).get_json()['ports']
    assert port['host'] == 'compute-7'


@pytest.mark.parametrize('query', [
    'server_id=not-a-uuid', 'limit=0', 'limit=x', 'marker=nope',
    'limit=100000', 'color=red', 'server_id=%s&server_id=%s'
    % (SERVER_A, SERVER_A2), 'marker=' + conftest.MISSING])
def test_bad_query_is_400_in_the_error_form(client, query):
    conftest.assert_error(client.get('/v1/ports?' + query,
                                     headers=TENANT_A), 400)


def test_an_inventory_failure_is_503_without_details(client, inventory):
    inventory.fail = inv_base.InventoryError('neutron: secret-host:9696 '
                                             'refused')
    err = conftest.assert_error(client.get('/v1/ports', headers=TENANT_A),
                                503, 'dpiaas.inventory_unavailable')
    assert 'secret-host' not in err['detail']


def test_openapi_documents_the_listing(client):
    doc = client.get('/v1/openapi.json').get_json()
    op = doc['paths']['/v1/ports']['get']
    assert {p['name'] for p in op['parameters']} == {
        'server_id', 'limit', 'marker'}
