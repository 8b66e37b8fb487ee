"""The static inventory: a Neutron-shaped YAML/JSON file (DESIGN 4.3).

For standalone use (``dpiaas-all-in-one``, ``dpiaas replay --inventory``)
and tests. A dump of a real cloud's ``ports`` and ``security_groups`` works
as is.

Lookups are indexed (ports by id, by server, by security group): the
reconciler asks once per monitor every pass, so a scan of every port per
lookup made a pass quadratic in monitors (10,000 ports: seconds).
"""
import collections
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
        # indexes, in file order (a duplicate id is listed twice, as the
        # scan it replaces did)
        self._by_id = collections.defaultdict(list)
        self._by_server = collections.defaultdict(list)
        self._by_group = collections.defaultdict(list)
        for port in self.ports:
            self._by_id[port.id].append(port)
            if port.device_id:
                self._by_server[port.device_id].append(port)
            for sg_id in port.security_groups:
                self._by_group[sg_id].append(port)
        self._member_ips = {}   # group id -> addresses, built once
        self._rules = {}        # security group ids -> resolved rules
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
                    vif_type=p.get('binding:vif_type') or '',
                    name=p.get('name') or '')

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
        if port_id:
            found = self._by_id.get(port_id, ())
            return [p for p in found
                    if not server_id or p.device_id == server_id]
        return list(self._by_server.get(server_id, ()))

    def rules_of(self, port):
        """The port's ingress/egress rules, remote groups resolved; the
        same groups give the same rules, resolved once (a group every
        port is in would otherwise be resolved once per port)."""
        key = tuple(port.security_groups)
        rules = self._rules.get(key)
        if rules is None:
            rules = self._rules[key] = self._resolve(port)
        return [dict(r) for r in rules]

    def _resolve(self, port):
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
        ips = self._member_ips.get(group_id)
        if ips is None:
            ips = []
            for port in self._by_group.get(group_id, ()):
                ips.extend(port.ips)
                ips.extend(self.pairs[port.id])
            self._member_ips[group_id] = ips
        return iter(ips)

    def ports_of_project(self, project_id, server_id=None):
        """The project's ports that belong to a server (a ``device_id``)."""
        if not project_id:
            raise InventoryError('ports_of_project needs a project_id')
        return sorted((p for p in self.ports
                       if p.project_id == project_id and p.device_id
                       and (not server_id or p.device_id == server_id)),
                      key=lambda p: (p.device_id, p.id))


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
