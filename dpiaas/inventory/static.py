"""The static inventory: a Neutron-shaped YAML/JSON file (DESIGN 4.3).

For standalone use (``dpiaas-all-in-one``, ``dpiaas replay --inventory``)
and tests. A dump of a real cloud's ``ports`` and ``security_groups`` works
as is.
"""
import json

import yaml

from dpiaas.dpi import spec as spec_mod
from dpiaas.inventory import base
from dpiaas.inventory import derive

# Kept here for callers that catch static.InventoryError / use static.Port.
InventoryError = base.InventoryError
Port = base.Port


class StaticInventory(base.InventoryDriver):
    def __init__(self, data, source='inventory', well_known=None):
        super().__init__(well_known=well_known)
        if not isinstance(data, dict):
            raise InventoryError('%s: expected a mapping with "ports" and '
                                 '"security_groups"' % source)
        self.source = source
        self.pairs = {}     # port id -> allowed address pair addresses
        self.ports = [self._port(p) for p in data.get('ports') or []]
        self.groups = {}
        for sg in data.get('security_groups') or []:
            if not isinstance(sg, dict) or 'id' not in sg:
                raise InventoryError('%s: a security group without id'
                                     % source)
            self.groups[sg['id']] = sg

    @classmethod
    def from_conf(cls, conf):
        path = conf.inventory_file
        if not path:
            raise InventoryError('inventory_driver = static needs '
                                 '[DEFAULT] inventory_file (a YAML/JSON '
                                 'file, DESIGN.md 4.3)')
        try:
            well_known = derive.parse_well_known(conf.well_known_ports)
        except spec_mod.SpecError as exc:
            raise InventoryError('[DEFAULT] well_known_ports: %s' % exc)
        return load(path, well_known=well_known)

    def _port(self, p):
        if not isinstance(p, dict) or not p.get('id'):
            raise InventoryError('%s: a port without id' % self.source)
        self.pairs[p['id']] = [
            pair['ip_address'] for pair in p.get('allowed_address_pairs') or []
            if isinstance(pair, dict) and pair.get('ip_address')]
        return Port(id=p['id'], device_id=p.get('device_id', ''),
                    project_id=p.get('project_id') or p.get('tenant_id', ''),
                    host=p.get('binding:host_id', ''),
                    mac=p.get('mac_address', ''), ips=_ips(p),
                    security_groups=list(p.get('security_groups') or []),
                    tap_device=p.get('tap_device') or '',
                    vnic_type=p.get('binding:vnic_type') or 'normal',
                    vif_type=p.get('binding:vif_type') or '')

    def select_ports(self, port_id=None):
        """All ports, or the one with ``port_id`` (an error if absent)."""
        if port_id is None:
            return list(self.ports)
        found = self.ports_of(port_id=port_id)
        if not found:
            raise InventoryError('%s: no port %s' % (self.source, port_id))
        return found

    def ports_of(self, server_id=None, port_id=None):
        if not (server_id or port_id):
            raise InventoryError('ports_of needs a server_id or a port_id')
        return [p for p in self.ports
                if (not port_id or p.id == port_id)
                and (not server_id or p.device_id == server_id)]

    def rules_of(self, port):
        rules = []
        for sg_id in port.security_groups:
            sg = self.groups.get(sg_id)
            if sg is None:
                raise InventoryError('%s: port %s names unknown security '
                                     'group %s' % (self.source, port.id,
                                                   sg_id))
            rules.extend(sg.get('security_group_rules') or [])
        return base.resolve_remote_groups(rules, self._members)

    def _members(self, group_id):
        for port in self.ports:
            if group_id in port.security_groups:
                yield from port.ips
                yield from self.pairs[port.id]


def _ips(p):
    return [ip.get('ip_address') for ip in p.get('fixed_ips') or []
            if isinstance(ip, dict) and ip.get('ip_address')]


def load(path, well_known=None):
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
    return StaticInventory(data, source=str(path), well_known=well_known)
