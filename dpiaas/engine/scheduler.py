"""From a monitor to the collectors that should run for it, and where.

The scheduler only decides: monitor -> inventory ports -> for each port its
host (``binding:host_id``), tap device hint and services derived from its
Security Group rules -> one desired collector dict per monitorable port.
It never casts nor writes; the reconciler compares its plan with what is
stored and running. A port that cannot be monitored is a *problem* with a
reason a tenant can act on, never an exception.
"""
import dataclasses
import uuid

from dpiaas.dpi import spec as spec_mod
from dpiaas.inventory import derive

# Collector ids are uuid5(NAMESPACE, "<monitor id>/<port id>"): stable for
# the (monitor, port) pair, so a port that moves keeps its collector id and
# any engine computes the same id.
NAMESPACE = uuid.UUID('3a1d4f0c-6b7e-5c2d-9e8f-0a1b2c3d4e5f')

STATUS_SCHEDULED = 'scheduled'


def collector_id(monitor_id, port_id):
    return str(uuid.uuid5(NAMESPACE, '%s/%s' % (monitor_id, port_id)))


@dataclasses.dataclass
class Plan:
    """What one monitor should look like.

    ``collectors``: desired collector dicts (control-plane.rst shapes),
    ``services``: service dicts for ``Storage.set_services``,
    ``problems``: ``[(port_id or None, reason)]`` for what cannot be
    monitored. A plan without collectors and with problems is an error.
    """

    collectors: list = dataclasses.field(default_factory=list)
    services: list = dataclasses.field(default_factory=list)
    problems: list = dataclasses.field(default_factory=list)

    @property
    def reason(self):
        return '; '.join(reason for _port, reason in self.problems)


def service_dict(item):
    """One derived service as a dict with ``source``.

    ``services_of`` returns the ``service`` object of control-plane.rst;
    accept its dict form, a :class:`~dpiaas.dpi.spec.Service` or an object
    carrying ``service`` and ``source`` so that the drivers' choice of shape
    does not matter here.
    """
    if isinstance(item, dict):
        out = dict(item)
    elif isinstance(item, spec_mod.Service):
        out = item.to_dict()
    elif isinstance(item, tuple) and len(item) == 2:
        out = service_dict(item[0])
        out['source'] = item[1]
    elif hasattr(item, 'to_dict'):
        out = item.to_dict()
    else:
        out = service_dict(item.service)
        out['source'] = getattr(item, 'source', None)
    out.setdefault('source', None)
    return out


def _service(sd):
    return spec_mod.Service(sd['l4'], int(sd['port_min']),
                            int(sd['port_max']), sd.get('app', 'generic'),
                            sd.get('role', spec_mod.ROLE_OFFERED))


def port_problem(port):
    """Why a port cannot be monitored, or None."""
    ok, why = derive.monitorable(port)
    if not ok:
        return why
    if not port.host:
        return ('port %s is not bound to a host (binding:host_id is '
                'empty): is its server running?' % port.id)
    return None


def changed(desired, stored):
    """True when host, tap or spec differ, i.e. a new generation."""
    return (stored is None
            or stored.get('host') != desired['host']
            or stored.get('tap_device') != desired['tap_device']
            or stored.get('spec') != desired['spec'])


def renumber(desired, stored):
    """Give ``desired`` its generation and status versus ``stored``.

    The generation is bumped only when host, tap or spec changed; an
    unchanged collector keeps its stored status (``running`` stays).
    """
    if changed(desired, stored):
        desired['generation'] = (stored or {}).get('generation', 0) + 1
        desired['status'] = STATUS_SCHEDULED
        desired['status_reason'] = ''
    else:
        desired['generation'] = stored['generation']
        desired['status'] = stored.get('status', STATUS_SCHEDULED)
        desired['status_reason'] = stored.get('status_reason') or ''
    return desired


class Scheduler:
    """Plans monitors against an inventory driver."""

    def __init__(self, inventory):
        self.inventory = inventory

    def ports(self, monitor):
        return self.inventory.ports_of(server_id=monitor.get('server_id'),
                                       port_id=monitor.get('port_id'))

    def plan(self, monitor, stored=None):
        """The :class:`Plan` of ``monitor``.

        ``stored`` maps collector id -> stored collector dict; generations
        continue from it. Inventory errors (cloud unreachable) propagate:
        the caller keeps its last state.
        """
        stored = stored or {}
        plan = Plan()
        ports = self.ports(monitor)
        if not ports:
            if monitor.get('port_id'):
                what = 'port %s' % monitor['port_id']
            else:
                what = 'server %s' % monitor.get('server_id')
            plan.problems.append(
                (monitor.get('port_id'),
                 '%s no longer exists (or has no port): delete this '
                 'monitor or recreate it for a live one' % what))
            return plan
        for port in ports:
            problem = port_problem(port)
            if problem:
                plan.problems.append((port.id, problem))
                continue
            try:
                services = [service_dict(s) for s in
                            self.inventory.services_of(
                                port,
                                overrides=monitor.get('protocols') or None)]
            except spec_mod.SpecError as exc:
                plan.problems.append((port.id, 'port %s: %s' % (port.id,
                                                                exc)))
                continue
            if not services:
                plan.problems.append(
                    (port.id, 'port %s: no TCP/UDP rule to monitor (its '
                     'security groups allow no TCP or UDP port); add a rule '
                     'or give the monitor protocols' % port.id))
                continue
            for sd in services:
                sd['monitor_id'] = monitor['id']
                sd['port_id'] = port.id
            try:
                collector = self._collector(monitor, port, services, stored)
            except spec_mod.SpecError as exc:
                plan.problems.append((port.id, 'port %s: %s' % (port.id,
                                                                exc)))
                continue
            plan.services.extend(services)
            plan.collectors.append(collector)
        return plan

    def _collector(self, monitor, port, services, stored):
        cid = collector_id(monitor['id'], port.id)
        spec = spec_mod.CollectorSpec(
            services=[_service(sd) for sd in services],
            vm_ips=list(port.ips or []),
            vm_macs=[port.mac] if port.mac else [],
            interval_ms=monitor.get('interval_ms') or 500,
            name=monitor.get('name') or '')
        desired = {
            'id': cid,
            'monitor_id': monitor['id'],
            'project_id': monitor.get('project_id'),
            'port_id': port.id,
            'host': port.host,
            'tap_device': getattr(port, 'tap_device', None)
            or 'tap' + port.id[:11],
            'spec': spec.to_dict(),
        }
        return renumber(desired, stored.get(cid))
