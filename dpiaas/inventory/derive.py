"""Services of a port, derived from its Security Group rules (DESIGN 4.1).

An ingress rule is a service the VM offers (the port is its own), an egress
rule one it consumes (the port is the remote's). The decoder comes from a
well-known port map or the monitor's own override; rules without ports or
with wide ranges give generic counters and never make the collector decode
everything. Rules that give nothing (ICMP, any protocol, SCTP, the two
egress allow-all rules Neutron adds to every group) are listed with the
reason, so that a monitor can say why a rule is not watched.
"""
import dataclasses
import re

from dpiaas.dpi import spec as spec_mod

# (l4, port) -> application, the default well-known map; the operator's
# comes from [DEFAULT] well_known_ports.
WELL_KNOWN = {
    ('udp', 5060): 'sip', ('tcp', 5060): 'sip',
    ('tcp', 80): 'http', ('tcp', 8080): 'http', ('tcp', 8000): 'http',
    ('udp', 53): 'dns', ('tcp', 53): 'dns',
}
# Ranges up to this many ports are decoded port by port (each may be a
# well-known service); wider ones become one generic service.
MAX_DECODED_RANGE = 16
SOURCE_OVERRIDE = 'override'

_L4_NAMES = {'tcp': 'tcp', '6': 'tcp', 'udp': 'udp', '17': 'udp'}
_ANY = ('', 'any', 'none', '0')
_ICMP = ('icmp', '1', 'ipv6-icmp', 'icmpv6', '58')
_KEY_RE = re.compile(r'^(?:(?P<role>offered|consumed):)?'
                     r'(?P<l4>tcp|udp)/(?P<port>\d{1,5})$')


@dataclasses.dataclass(frozen=True)
class Derived:
    """A service and why it is there: ``rule <id>`` or ``override``."""

    service: spec_mod.Service
    source: str

    def to_dict(self):
        """The control plane's ``service`` dict (without monitor/port)."""
        out = self.service.to_dict()
        out['source'] = self.source
        return out


@dataclasses.dataclass
class Derivation:
    """Services (single ports first, then ranges) and skipped rules."""

    services: list
    skipped: list    # [(rule id, reason)]

    @property
    def plain_services(self):
        """The :class:`Service` list a CollectorSpec takes."""
        return [d.service for d in self.services]


def _key_text(key):
    if isinstance(key, tuple):
        return '%s/%s' % key
    return str(key)


def parse_overrides(overrides):
    """``{"[offered:|consumed:]tcp/8080": "http"}`` -> {(role, l4, port): app}.

    ``role`` is None when the key names none. Tuple keys ``(l4, port)``
    are accepted too. Raises SpecError with the offending entry.
    """
    out = {}
    for key, app in (overrides or {}).items():
        if isinstance(key, tuple) and len(key) == 2:
            role, l4, port = None, str(key[0]).lower(), key[1]
        else:
            m = _KEY_RE.match(str(key).strip().lower())
            if not m:
                raise spec_mod.SpecError(
                    'bad protocol override %r: expected '
                    '[offered:|consumed:]tcp|udp/PORT, e.g. "tcp/8080"'
                    % (_key_text(key),))
            role, l4, port = m.group('role'), m.group('l4'), m.group('port')
        # Service() checks the port and the application name
        svc = spec_mod.Service(l4, int(port), int(port), str(app).lower())
        out[(role, svc.l4, svc.port_min)] = svc.app
    return out


def parse_well_known(mapping):
    """``{"udp/5060": "sip", ...}`` (a DictOpt) -> {(l4, port): app}."""
    out = {}
    for (role, l4, port), app in parse_overrides(mapping).items():
        if role:
            raise spec_mod.SpecError('well-known port %s/%s: no role '
                                     'prefix here' % (l4, port))
        out[(l4, port)] = app
    return out


def _l4_of(rule):
    """('tcp'|'udp', None) or (None, why the rule gives no service)."""
    proto = rule.get('protocol')
    proto = '' if proto is None else str(proto).strip().lower()
    if proto in _L4_NAMES:
        return _L4_NAMES[proto], None
    if proto in _ANY:
        return None, ('any protocol: nothing to decode (only tcp/udp '
                      'rules with ports become services)')
    if proto in _ICMP:
        return None, 'icmp: no ports, nothing to decode'
    if proto in ('sctp', '132'):
        return None, 'sctp: not decoded (tcp and udp only)'
    return None, 'protocol %s: not decoded (tcp and udp only)' % proto


def _range_of(rule):
    """(lo, hi, None) or (None, None, why)."""
    lo, hi = rule.get('port_range_min'), rule.get('port_range_max')
    try:
        lo = None if lo in (None, '') else int(lo)
        hi = None if hi in (None, '') else int(hi)
    except (TypeError, ValueError):
        return None, None, 'bad port range %r-%r' % (lo, hi)
    if lo is None and hi is None:
        lo, hi = 1, 65535           # every port of the protocol
    elif lo is None:
        lo = hi
    elif hi is None:
        hi = lo
    lo = max(lo, 1)                 # Neutron accepts 0; it is no port
    if not (1 <= lo <= hi <= 65535):
        return None, None, 'bad port range %s-%s' % (lo, hi)
    return lo, hi, None


def derive(rules, well_known=None, overrides=None):
    """Derive the services of a port from its rules (Neutron dicts)."""
    well_known = WELL_KNOWN if well_known is None else well_known
    wanted = parse_overrides(overrides)
    singles = {}     # (role, l4, port) -> Derived
    ranges = {}      # (role, l4) -> [[lo, hi, sources]]
    skipped = []
    for rule in rules:
        rid = rule.get('id') or '?'
        l4, why = _l4_of(rule)
        lo = hi = None
        if l4:
            lo, hi, why = _range_of(rule)
        if why:
            skipped.append((rid, why))
            continue
        role = (spec_mod.ROLE_CONSUMED if rule.get('direction') == 'egress'
                else spec_mod.ROLE_OFFERED)
        if hi - lo + 1 <= MAX_DECODED_RANGE:
            for port in range(lo, hi + 1):
                if (role, l4, port) not in singles:
                    app = well_known.get((l4, port), 'generic')
                    singles[(role, l4, port)] = Derived(
                        spec_mod.Service(l4, port, port, app, role),
                        'rule %s' % rid)
        else:
            ranges.setdefault((role, l4), []).append([lo, hi, [rid]])
    merged = {k: _merge(v) for k, v in ranges.items()}
    _apply_overrides(wanted, singles, merged)
    services = list(singles.values())
    wide = [Derived(spec_mod.Service(l4, lo, hi, 'generic', role),
                    ', '.join('rule %s' % r for r in rids))
            for (role, l4), spans in merged.items()
            for lo, hi, rids in spans]
    # the pipeline gives shared ports to the earlier service: single ports
    # (decoded) before the ranges around them, narrow ranges before wide
    wide.sort(key=lambda d: d.service.port_max - d.service.port_min)
    return Derivation(services + wide, skipped)


def _merge(spans):
    """Overlapping generic ranges of one role and protocol become one."""
    spans = sorted(spans)
    out = [spans[0]]
    for lo, hi, rids in spans[1:]:
        last = out[-1]
        if lo <= last[1]:
            last[1] = max(last[1], hi)
            last[2] = last[2] + [r for r in rids if r not in last[2]]
        else:
            out.append([lo, hi, rids])
    return out


def _apply_overrides(wanted, singles, ranges):
    """A monitor's ``protocols`` win over the well-known map.

    An override names a port already derived (its decoder changes), a port
    inside a wide range (it gets its own decoded service) or no derived
    port at all (a service the tenant asks for anyway, offered unless the
    key says ``consumed:``; e.g. a port only the egress allow-all admits).
    """
    for (role, l4, port), app in wanted.items():
        roles = [role] if role else [spec_mod.ROLE_OFFERED,
                                     spec_mod.ROLE_CONSUMED]
        hit = False
        for r in roles:
            covered = (r, l4, port) in singles or any(
                lo <= port <= hi for lo, hi, _ in ranges.get((r, l4), ()))
            if covered:
                hit = True
                singles[(r, l4, port)] = Derived(
                    spec_mod.Service(l4, port, port, app, r),
                    SOURCE_OVERRIDE)
        if not hit:
            r = role or spec_mod.ROLE_OFFERED
            singles[(r, l4, port)] = Derived(
                spec_mod.Service(l4, port, port, app, r), SOURCE_OVERRIDE)


def services_from_rules(rules, well_known=None, overrides=None):
    """The plain :class:`Service` list of :func:`derive`."""
    return derive(rules, well_known, overrides).plain_services


# vnic types whose packets never cross a kernel tap on the hypervisor
_NO_TAP_VNIC = {
    'direct': 'SR-IOV virtual function',
    'direct-physical': 'PCI passthrough of a physical NIC',
    'macvtap': 'macvtap on a physical NIC',
    'baremetal': 'a bare metal server',
    'virtio-forwarder': 'a virtio-forwarder (vhost-user) port',
    'vdpa': 'a vDPA device',
    'smart-nic': 'a SmartNIC port',
    'remote-managed': 'a remote-managed (SmartNIC DPU) port',
    'accelerator-direct': 'an accelerator device',
    'accelerator-direct-physical': 'an accelerator device',
    'vhost-user': 'a vhost-user (DPDK) port',
    'vhostuser': 'a vhost-user (DPDK) port',
}


def monitorable(port):
    """(True, '') or (False, why): can a kernel tap see this port's packets?

    Only ports plugged through a kernel tap (vnic_type ``normal``) can be
    captured by the local_tap collector; SR-IOV, passthrough and
    vhost-user (DPDK) ports bypass the host kernel.
    """
    vnic = (getattr(port, 'vnic_type', '') or 'normal').lower()
    vif = (getattr(port, 'vif_type', '') or '').lower()
    if vnic in _NO_TAP_VNIC:
        return False, ('port %s is %s (vnic_type %s): its packets bypass '
                       'the host kernel, there is no tap device to capture '
                       'from' % (port.id, _NO_TAP_VNIC[vnic], vnic))
    if vif in ('vhostuser', 'vhost-user'):
        return False, ('port %s is a vhost-user (DPDK) port (vif_type %s): '
                       'its packets never reach a kernel tap device'
                       % (port.id, vif))
    if vnic != 'normal':
        return False, ('port %s has vnic_type %s: only normal ports have '
                       'a kernel tap device' % (port.id, vnic))
    return True, ''
