"""Where ports, hosts, tap devices and Security Group rules come from.

Drivers are stevedore plugins of the ``dpiaas.inventory`` namespace
(``static``, ``openstack``), chosen by ``[DEFAULT] inventory_driver``.
"""
from stevedore import driver as sd_driver
from stevedore import exception as sd_exc

from dpiaas.inventory import base

NAMESPACE = 'dpiaas.inventory'


def _load_failed(manager, entrypoint, exc):
    raise base.InventoryError('inventory driver %s cannot be loaded: %s'
                              % (entrypoint.name, exc))


def get_inventory(conf):
    """The inventory driver ``conf`` names, built from its options.

    Raises InventoryError (one line) for an unknown driver or a driver
    that cannot start (missing file, bad credentials options, ...).
    """
    name = conf.inventory_driver
    try:
        mgr = sd_driver.DriverManager(
            NAMESPACE, name, invoke_on_load=False,
            on_load_failure_callback=_load_failed)
    except sd_exc.NoMatches:
        raise base.InventoryError(
            'unknown inventory_driver %r (expected static or openstack)'
            % name)
    return mgr.driver.from_conf(conf)
