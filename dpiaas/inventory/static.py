"""The static inventory: a Neutron-shaped YAML/JSON file (DESIGN 4.3).

For standalone use (``dpiaas-all-in-one``, ``dpiaas replay --inventory``)
and tests. A dump of a real cloud's ``ports`` and ``security_groups`` works
as is.
"""
import dataclasses
import json

import yaml

from dpiaas.inventory import derive


class InventoryError(ValueError):
    """An inventory file that cannot be used; the message says why."""


@dataclasses.dataclass
class Port:
    id: str
    device_id: str
    project_id: str
    host: str
    mac: str
    ips: list
    security_groups: list
    tap_device: str

    @property
    def nova_tap_name(self):
        return 'tap' + self.id[:11]


class StaticInventory:
    def __init__(self, data, source='inventory'):
        if not isinstance(data, dict):
            raise InventoryError('%s: expected a mapping with "ports" and '
                                 '"security_groups"' % source)
        self.source = source
        self.ports = [self._port(p) for p in data.get('ports') or []]
        self.groups = {}
        for sg in data.get('security_groups') or []:
            if not isinstance(sg, dict) or 'id' not in sg:
                raise InventoryError('%s: a security group without id'
                                     % source)
            self.groups[sg['id']] = sg

    def _port(self, p):
        if not isinstance(p, dict) or not p.get('id'):
            raise InventoryError('%s: a port without id' % self.source)
        ips = [ip.get('ip_address') for ip in p.get('fixed_ips') or []
               if isinstance(ip, dict) and ip.get('ip_address')]
        return Port(id=p['id'], device_id=p.get('device_id', ''),
                    project_id=p.get('project_id') or p.get('tenant_id', ''),
                    host=p.get('binding:host_id', ''),
                    mac=p.get('mac_address', ''), ips=ips,
                    security_groups=list(p.get('security_groups') or []),
                    tap_device=p.get('tap_device') or 'tap' + p['id'][:11])

    def select_ports(self, port_id=None):
        if port_id is None:
            return list(self.ports)
        found = [p for p in self.ports if p.id == port_id]
        if not found:
            raise InventoryError('%s: no port %s' % (self.source, port_id))
        return found

    def rules_of(self, port):
        rules = []
        for sg_id in port.security_groups:
            sg = self.groups.get(sg_id)
            if sg is None:
                raise InventoryError('%s: port %s names unknown security '
                                     'group %s' % (self.source, port.id,
                                                   sg_id))
            rules.extend(sg.get('security_group_rules') or [])
        return rules

    def services_of(self, port, overrides=None):
        return derive.services_from_rules(self.rules_of(port),
                                          overrides=overrides)


def load(path):
    """Load a static inventory file (YAML or JSON)."""
    try:
        with open(path) as f:
            text = f.read()
    except OSError as exc:
        raise InventoryError('cannot read inventory %s: %s'
                             % (path, exc.strerror))
    try:
        data = (json.loads(text) if text.lstrip().startswith('{')
                else yaml.safe_load(text))
    except (ValueError, yaml.YAMLError) as exc:
        raise InventoryError('inventory %s is not valid YAML/JSON: %s'
                             % (path, str(exc).splitlines()[0]))
    return StaticInventory(data, source=str(path))
