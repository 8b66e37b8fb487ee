from oslo_config import cfg
import pytest

from dpiaas import conf as dpiaas_conf
from dpiaas import inventory
from dpiaas import opts
from dpiaas.inventory import base
from dpiaas.inventory import neutron
from dpiaas.inventory import static


@pytest.fixture
def conf():
    c = cfg.ConfigOpts()
    dpiaas_conf.register_opts(c)
    c([], project='dpiaas')
    return c


def test_default_driver_is_static_and_needs_a_file(conf):
    assert conf.inventory_driver == 'static'
    with pytest.raises(base.InventoryError, match='inventory_file'):
        inventory.get_inventory(conf)


def test_static_driver_from_its_file(conf, tmp_path):
    path = tmp_path / 'inv.yaml'
    path.write_text('ports: [{id: p1, device_id: s1}]\n')
    conf.set_override('inventory_file', str(path))
    conf.set_override('well_known_ports', {'tcp/8443': 'http'})
    inv = inventory.get_inventory(conf)
    assert isinstance(inv, static.StaticInventory)
    assert inv.well_known == {('tcp', 8443): 'http'}
    assert inv.ports_of(server_id='s1')[0].id == 'p1'


def test_unknown_driver_is_a_clear_error(conf):
    conf.set_override('inventory_driver', 'nova')
    with pytest.raises(base.InventoryError, match="unknown inventory_driver"):
        inventory.get_inventory(conf)


def test_openstack_driver_needs_service_credentials(conf):
    conf.set_override('inventory_driver', 'openstack')
    with pytest.raises(base.InventoryError, match='auth_type'):
        inventory.get_inventory(conf)


def test_openstack_driver_builds_without_contacting_the_cloud(tmp_path):
    path = tmp_path / 'dpiaas.conf'
    path.write_text('[DEFAULT]\ninventory_driver = openstack\n'
                    'inventory_cache_ttl = 3\n'
                    '[service_credentials]\nauth_type = password\n'
                    'auth_url = http://192.0.2.1:5000/v3\n'
                    'username = dpiaas\npassword = x\n'
                    'project_name = service\nuser_domain_id = default\n'
                    'project_domain_id = default\ninterface = internal\n')
    c = cfg.ConfigOpts()
    dpiaas_conf.register_opts(c)
    c(['--config-file', str(path)], project='dpiaas')
    inv = inventory.get_inventory(c)
    assert isinstance(inv, neutron.OpenStackInventory)
    assert inv._rules.ttl == 3


def test_bad_well_known_map_is_a_clear_error(conf, tmp_path):
    path = tmp_path / 'inv.yaml'
    path.write_text('ports: []\n')
    conf.set_override('inventory_file', str(path))
    conf.set_override('well_known_ports', {'tcp/80': 'gopher'})
    with pytest.raises(base.InventoryError, match='well_known_ports'):
        inventory.get_inventory(conf)


def test_options_are_listed_for_the_generator():
    groups = dict(opts.list_opts())
    assert {'inventory_driver', 'inventory_file', 'well_known_ports',
            'inventory_cache_ttl'} <= {o.name for o in groups['DEFAULT']}
    creds = {o.name for o in groups['service_credentials']}
    assert {'auth_type', 'auth-url', 'username', 'password', 'region_name',
            'interface', 'cafile', 'timeout'} <= creds
