"""What a collector watches: the services of one VM port and its identity.

A :class:`CollectorSpec` is what the engine sends to an agent (as a dict, see
:meth:`CollectorSpec.to_dict`) and what ``dpiaas replay`` builds from its
flags or a static inventory. It is plain data: no numpy, no OpenStack.
"""
import dataclasses
import ipaddress
import re

APPS = ('generic', 'sip', 'http', 'dns')
ROLE_OFFERED = 'offered'    # ingress rule: the port is the VM's own
ROLE_CONSUMED = 'consumed'  # egress rule: the port is the remote's
L4_PROTOS = {'tcp': 6, 'udp': 17}

_SERVICE_RE = re.compile(
    r'^(?:(?P<role>offered|consumed|in|out):)?(?P<l4>tcp|udp)/'
    r'(?P<lo>\d{1,5})(?:-(?P<hi>\d{1,5}))?(?:=(?P<app>[a-z]+))?$')


class SpecError(ValueError):
    """A collector spec, service or address that cannot be used."""


@dataclasses.dataclass(frozen=True)
class Service:
    """One service of a VM port: ``l4/port_min-port_max`` decoded as ``app``.

    Ranges wider than one port are always counted as ``generic``: a wide
    Security Group rule must never make the collector decode everything.
    """

    l4: str
    port_min: int
    port_max: int
    app: str = 'generic'
    role: str = ROLE_OFFERED

    def __post_init__(self):
        if self.l4 not in L4_PROTOS:
            raise SpecError('l4 protocol must be tcp or udp, not %r'
                            % (self.l4,))
        if not (0 < self.port_min <= self.port_max <= 65535):
            raise SpecError('bad port range %s-%s'
                            % (self.port_min, self.port_max))
        if self.app not in APPS:
            raise SpecError('unknown application %r (known: %s)'
                            % (self.app, ', '.join(APPS)))
        if self.role not in (ROLE_OFFERED, ROLE_CONSUMED):
            raise SpecError('role must be offered or consumed')
        if self.port_min != self.port_max and self.app != 'generic':
            object.__setattr__(self, 'app', 'generic')

    @property
    def port_label(self):
        """The ``<port>`` of metric names (``5060`` or ``10000-20000``)."""
        if self.port_min == self.port_max:
            return str(self.port_min)
        return '%d-%d' % (self.port_min, self.port_max)

    @property
    def key(self):
        """Services with the same key share one row of metrics."""
        return (self.app, self.port_label)

    @classmethod
    def parse(cls, text):
        """Parse ``[offered:|consumed:]udp/5060[=sip]``, ``tcp/1000-2000``."""
        m = _SERVICE_RE.match(text.strip().lower())
        if not m:
            raise SpecError(
                'bad service %r: expected [offered:|consumed:]PROTO/PORT'
                '[-PORT][=APP], e.g. udp/5060=sip' % (text,))
        lo = int(m.group('lo'))
        hi = int(m.group('hi') or lo)
        role = m.group('role') or ROLE_OFFERED
        role = {'in': ROLE_OFFERED, 'out': ROLE_CONSUMED}.get(role, role)
        app = m.group('app') or 'generic'
        return cls(m.group('l4'), lo, hi, app, role)

    def to_dict(self):
        # written out: dataclasses.asdict deep-copies field by field, and
        # was 40 % of planning a collector (the engine plans every
        # monitor every [engine] reconcile_interval)
        return {'l4': self.l4, 'port_min': self.port_min,
                'port_max': self.port_max, 'app': self.app,
                'role': self.role}


@dataclasses.dataclass
class CollectorSpec:
    """Everything one collector needs, independent of where packets come from.

    ``vm_ips``/``vm_macs`` tell which end of a packet is the VM (direction
    ``in`` is towards the VM). Without them, the tap's packet type decides
    live, and offline the service ports do (the VM is the end whose port is
    an offered service, or whose peer's port is a consumed one).
    """

    services: list
    vm_ips: list = dataclasses.field(default_factory=list)
    vm_macs: list = dataclasses.field(default_factory=list)
    interval_ms: int = 500
    name: str = ''

    def __post_init__(self):
        if not self.services:
            raise SpecError('a collector needs at least one service')
        if not (10 <= int(self.interval_ms) <= 3600000):
            raise SpecError('interval_ms must be between 10 and 3600000')
        self.interval_ms = int(self.interval_ms)
        self.services = [s if isinstance(s, Service) else Service(**s)
                         for s in self.services]
        try:
            self.vm_ips = [str(ipaddress.ip_address(a)) for a in self.vm_ips]
        except ValueError as exc:
            raise SpecError('bad VM address: %s' % exc)
        macs = []
        for mac in self.vm_macs:
            norm = mac.strip().lower().replace('-', ':')
            if not re.fullmatch(r'([0-9a-f]{2}:){5}[0-9a-f]{2}', norm):
                raise SpecError('bad VM MAC address %r' % (mac,))
            macs.append(norm)
        self.vm_macs = macs

    def to_dict(self):
        return {'services': [s.to_dict() for s in self.services],
                'vm_ips': list(self.vm_ips), 'vm_macs': list(self.vm_macs),
                'interval_ms': self.interval_ms, 'name': self.name}

    @classmethod
    def from_dict(cls, data):
        return cls(**data)
