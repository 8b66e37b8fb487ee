"""The ``openstack`` inventory: ports and rules from Neutron (openstacksdk).

It authenticates with the service's own ``[service_credentials]``: reading
``binding:host_id`` and other projects' remote group members is
admin-or-service in Neutron's policy, and ownership is checked here against
the project the tenant's token named. Nova is not needed: a server's ports
are the ports whose ``device_id`` is the server's id.

The engine reconciles often; a Security Group's rules and a remote group's
member addresses are kept ``[DEFAULT] inventory_cache_ttl`` seconds. Ports
are always read fresh (a live migration changes ``binding:host_id``).
"""
import contextlib
import threading
import time

from keystoneauth1 import exceptions as ka_exc
from keystoneauth1 import loading as ka_loading
import openstack
from openstack import exceptions as os_exc
from oslo_log import log as logging

from dpiaas.conf import inventory as inv_conf
from dpiaas.dpi import spec as spec_mod
from dpiaas.inventory import base
from dpiaas.inventory import derive

LOG = logging.getLogger(__name__)

# the fields of a Neutron rule the control plane uses (control-plane.rst)
RULE_KEYS = ('id', 'direction', 'ethertype', 'protocol', 'port_range_min',
             'port_range_max', 'remote_ip_prefix', 'remote_group_id',
             'remote_address_group_id', 'security_group_id')
_CACHE_MAX = 4096


class _TTLCache:
    """A small thread-safe cache; entries live ``ttl`` seconds."""

    def __init__(self, ttl, clock=time.monotonic):
        self.ttl = ttl
        self.clock = clock
        self._data = {}
        self._lock = threading.Lock()

    def get(self, key, load):
        if self.ttl <= 0:
            return load()
        now = self.clock()
        with self._lock:
            hit = self._data.get(key)
        if hit and hit[0] > now:
            return hit[1]
        value = load()
        with self._lock:
            if len(self._data) >= _CACHE_MAX:
                self._data = {k: v for k, v in self._data.items()
                              if v[0] > now}
            self._data[key] = (now + self.ttl, value)
        return value

    def clear(self):
        with self._lock:
            self._data.clear()


def _one_line(exc):
    text = ' '.join(line.strip() for line in str(exc).splitlines()
                    if line.strip())
    text = text or type(exc).__name__
    return text if len(text) <= 300 else text[:297] + '...'


@contextlib.contextmanager
def _cloud_errors(what):
    """Errors of Keystone or Neutron -> InventoryError saying what failed."""
    try:
        yield
    except (os_exc.SDKException, ka_exc.ClientException) as exc:
        raise base.InventoryError('openstack inventory: %s failed: %s'
                                  % (what, _one_line(exc)))


def connection_from_conf(conf):
    """An openstacksdk Connection with the ``[service_credentials]``."""
    group = inv_conf.CREDENTIALS_GROUP
    try:
        auth = ka_loading.load_auth_from_conf_options(conf, group)
        if auth is None:
            raise base.InventoryError(
                'inventory_driver = openstack needs [%s] auth_type (e.g. '
                'password, with auth_url, username, password, '
                'project_name, user_domain_name, project_domain_name)'
                % group)
        timeout = conf[group].timeout or 30
        session = ka_loading.load_session_from_conf_options(
            conf, group, auth=auth, timeout=timeout)
    except (ka_exc.ClientException, ValueError) as exc:
        raise base.InventoryError('[%s]: %s' % (group, _one_line(exc)))
    return openstack.connection.Connection(
        session=session, region_name=conf[group].region_name,
        interface=conf[group].interface, app_name='dpiaas')


class OpenStackInventory(base.InventoryDriver):
    def __init__(self, conn, well_known=None, cache_ttl=10.0,
                 clock=time.monotonic):
        super().__init__(well_known=well_known)
        self.conn = conn
        self._rules = _TTLCache(cache_ttl, clock)
        self._members_cache = _TTLCache(cache_ttl, clock)

    @classmethod
    def from_conf(cls, conf):
        try:
            well_known = derive.parse_well_known(conf.well_known_ports)
        except spec_mod.SpecError as exc:
            raise base.InventoryError('[DEFAULT] well_known_ports: %s' % exc)
        return cls(connection_from_conf(conf), well_known=well_known,
                   cache_ttl=conf.inventory_cache_ttl)

    def ports_of(self, server_id=None, port_id=None):
        if not (server_id or port_id):
            raise base.InventoryError('ports_of needs a server_id or a '
                                      'port_id')
        if port_id:
            with _cloud_errors('reading port %s' % port_id):
                try:
                    raw = [self.conn.network.get_port(port_id)]
                except os_exc.NotFoundException:
                    return []
            if server_id and raw[0].device_id != server_id:
                return []
        else:
            with _cloud_errors('listing the ports of server %s'
                               % server_id):
                raw = list(self.conn.network.ports(device_id=server_id))
        return [self._port(p) for p in raw]

    def ports_of_project(self, project_id, server_id=None):
        """The project's server ports: Neutron ports whose device_owner is
        ``compute:<zone>`` (routers', DHCP and unattached ports are no
        server's and carry no VM traffic to watch)."""
        if not project_id:
            raise base.InventoryError('ports_of_project needs a project_id')
        filters = {'project_id': project_id}
        if server_id:
            filters['device_id'] = server_id
        with _cloud_errors('listing the ports of project %s' % project_id):
            raw = list(self.conn.network.ports(**filters))
        ports = [self._port(p) for p in raw
                 if (getattr(p, 'device_owner', None) or '').startswith(
                     'compute:')
                 and p.device_id and p.project_id == project_id]
        return sorted(ports, key=lambda p: (p.device_id, p.id))

    @staticmethod
    def _port(p):
        return base.Port(
            id=p.id, device_id=p.device_id or '',
            project_id=p.project_id or '', host=p.binding_host_id or '',
            mac=p.mac_address or '',
            ips=[ip['ip_address'] for ip in p.fixed_ips or []
                 if ip.get('ip_address')],
            security_groups=list(p.security_group_ids or []),
            vnic_type=p.binding_vnic_type or 'normal',
            vif_type=p.binding_vif_type or '',
            name=getattr(p, 'name', None) or '')

    def rules_of(self, port):
        rules = []
        for sg_id in port.security_groups:
            rules.extend(self._rules.get(sg_id,
                                         lambda: self._group_rules(sg_id)))
        return base.resolve_remote_groups(rules, self._members)

    def _group_rules(self, sg_id):
        with _cloud_errors('reading security group %s' % sg_id):
            try:
                sg = self.conn.network.get_security_group(sg_id)
            except os_exc.NotFoundException:
                # deleted since the port was read: the next pass sees it
                LOG.warning('security group %s is gone', sg_id)
                return []
        return [{k: r.get(k) for k in RULE_KEYS}
                for r in sg.security_group_rules or []]

    def _members(self, group_id):
        return self._members_cache.get(
            group_id, lambda: self._member_addresses(group_id))

    def _member_addresses(self, group_id):
        with _cloud_errors('listing the ports of security group %s'
                           % group_id):
            ports = list(self.conn.network.ports(security_groups=[group_id]))
        out = []
        for p in ports:
            out.extend(ip['ip_address'] for ip in p.fixed_ips or []
                       if ip.get('ip_address'))
            out.extend(pair['ip_address']
                       for pair in p.allowed_address_pairs or []
                       if pair.get('ip_address'))
        return out
