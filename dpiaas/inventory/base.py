"""What every inventory driver offers, and the derivation they share.

A driver answers five questions for the engine and the API: which ports a
server (or a port id) has, which ports a project has (what a tenant may
pick to monitor), which Security Group rules apply to a port, whether a
project owns what it asks to monitor, and which services follow from the
rules. Only the first three differ between a cloud and a file; the last
two are built on them here.
"""
import abc
import dataclasses
import ipaddress

from dpiaas.inventory import derive


class InventoryError(Exception):
    """The inventory cannot answer; the message says why (one line)."""


class NotFound(InventoryError):
    """The server or port does not exist (or no longer does)."""


class NotOwned(InventoryError):
    """The server or port exists but belongs to another project."""


@dataclasses.dataclass
class Port:
    """One VM port, the fields of Neutron's port the control plane uses."""

    id: str
    device_id: str
    project_id: str
    host: str
    mac: str
    ips: list
    security_groups: list
    tap_device: str = ''
    vnic_type: str = 'normal'
    vif_type: str = ''
    name: str = ''

    def __post_init__(self):
        if not self.tap_device:
            self.tap_device = self.nova_tap_name

    @property
    def nova_tap_name(self):
        """The tap device Nova's libvirt driver creates for this port."""
        return 'tap' + self.id[:11]


class InventoryDriver(metaclass=abc.ABCMeta):
    """Ports and Security Group rules from somewhere (a cloud, a file)."""

    def __init__(self, well_known=None):
        self.well_known = (derive.WELL_KNOWN if well_known is None
                           else well_known)

    @classmethod
    @abc.abstractmethod
    def from_conf(cls, conf):
        """The driver configured by ``conf`` (see dpiaas.conf.inventory)."""

    @abc.abstractmethod
    def ports_of(self, server_id=None, port_id=None):
        """Ports of a server, or the port with that id; ``[]`` when gone.

        With both, the port only if it belongs to that server.
        """

    def ports_of_project(self, project_id, server_id=None):
        """The project's server ports (of one server with ``server_id``).

        What a tenant may pick to monitor: only ports whose ``project_id``
        is ``project_id``, sorted by server then port id (a stable order
        for pagination); ``[]`` when there are none. Part of the contract
        of every driver; not abstract only so that a driver written before
        it (or a test fake) still loads and says clearly what it lacks.
        """
        raise InventoryError('the %s inventory cannot list the ports of a '
                             'project' % type(self).__name__)

    @abc.abstractmethod
    def rules_of(self, port):
        """Neutron rule dicts of the port's groups, with ``remote_ips``."""

    def check_owner(self, project_id, server_id=None, port_id=None):
        """Raise NotFound or NotOwned unless ``project_id`` owns it.

        A server is owned when all its ports are (Nova creates them in the
        server's project). The API may answer both errors the same way so
        as not to tell a tenant what exists in other projects.
        """
        what = ('server %s' % server_id if server_id
                else 'port %s' % port_id)
        ports = self.ports_of(server_id=server_id, port_id=port_id)
        if not ports:
            raise NotFound('%s not found' % what)
        others = sorted({p.project_id for p in ports
                         if p.project_id != project_id})
        if others:
            raise NotOwned('%s is not owned by project %s'
                           % (what, project_id))
        return ports

    def derivation_of(self, port, overrides=None):
        """The full derivation: services and the rules that gave none."""
        return derive.derive(self.rules_of(port), well_known=self.well_known,
                             overrides=overrides)

    def services_of(self, port, overrides=None):
        """Derived services (:class:`derive.Derived`) of one port."""
        return self.derivation_of(port, overrides).services


def resolve_remote_groups(rules, members_of):
    """Copy ``rules``, adding ``remote_ips`` for rules with a remote group.

    ``members_of(group_id)`` gives the addresses (fixed and allowed
    address pairs) of the ports in that group; those of the rule's
    ethertype are the remote addresses Neutron's firewall admits.
    """
    out = []
    for rule in rules:
        rule = dict(rule)
        gid = rule.get('remote_group_id')
        if gid:
            version = 6 if rule.get('ethertype') == 'IPv6' else 4
            rule['remote_ips'] = sorted(
                {ip for ip in members_of(gid)
                 if _version(ip) == version},
                key=_sort_key)
        out.append(rule)
    return out


def _version(text):
    try:
        return ipaddress.ip_network(text, strict=False).version
    except ValueError:
        return None


def _sort_key(text):
    net = ipaddress.ip_network(text, strict=False)
    return (net.version, int(net.network_address), net.prefixlen)
