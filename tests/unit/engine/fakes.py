"""Small in-memory stand-ins for Storage, the inventory and AgentAPI.

They follow the shapes of doc/source/contributor/control-plane.rst: plain
dicts in and out, ``NotFound`` for a missing id.
"""
import copy
import threading
import time
import uuid

from dpiaas.db import exceptions as db_exc
from dpiaas.inventory import base


class FakeStorage:
    def __init__(self):
        self.monitors = {}
        self.services = {}
        self.collectors = {}
        self.agents = {}
        self.samples = []
        self.flows = []
        self.fail_writes = False
        self.add_samples_calls = 0
        self.expired = 0
        self._lock = threading.Lock()

    # monitors
    def create_monitor(self, values):
        m = {'id': str(uuid.uuid4()), 'project_id': 'p1', 'name': '',
             'server_id': None, 'port_id': None, 'protocols': {},
             'interval_ms': 500, 'detector': {}, 'status': 'pending',
             'status_reason': None, 'alarm_id': None}
        m.update(values)
        self.monitors[m['id']] = m
        return copy.deepcopy(m)

    def get_monitor(self, id, project_id=None):
        if id not in self.monitors:
            raise db_exc.NotFound('monitor %s' % id)
        return copy.deepcopy(self.monitors[id])

    def list_monitors(self, project_id=None, status=None, limit=None,
                      marker=None, ids=None):
        return [copy.deepcopy(m) for m in self.monitors.values()]

    def update_monitor(self, id, values):
        self.get_monitor(id)
        self.monitors[id].update(values)
        return copy.deepcopy(self.monitors[id])

    def delete_monitor(self, id):
        self.monitors.pop(id)
        self.services.pop(id, None)
        for cid in [c for c, v in self.collectors.items()
                    if v['monitor_id'] == id]:
            del self.collectors[cid]

    def set_services(self, monitor_id, services):
        self.services[monitor_id] = copy.deepcopy(list(services))

    def list_services(self, monitor_id):
        return copy.deepcopy(self.services.get(monitor_id, []))

    # collectors
    def upsert_collector(self, values):
        c = dict(self.collectors.get(values['id'], {}))
        c.update(copy.deepcopy(values))
        c['updated_at'] = time.time()
        self.collectors[c['id']] = c
        return copy.deepcopy(c)

    def get_collector(self, id):
        if id not in self.collectors:
            raise db_exc.NotFound('collector %s' % id)
        return copy.deepcopy(self.collectors[id])

    def list_collectors(self, host=None, monitor_id=None):
        return [copy.deepcopy(c) for c in self.collectors.values()
                if (host is None or c['host'] == host)
                and (monitor_id is None or c['monitor_id'] == monitor_id)]

    def delete_collector(self, id):
        if self.collectors.pop(id, None) is None:
            raise db_exc.NotFound('collector %s' % id)

    # agents
    def agent_heartbeat(self, host, state, now=None):
        now = time.time() if now is None else now
        self.agents[host] = {'host': host, 'last_heartbeat': now,
                             'started_at': state.get('started_at'),
                             'version': state.get('version'),
                             'state': copy.deepcopy(state)}

    def get_agent(self, host):
        if host not in self.agents:
            raise db_exc.NotFound('agent %s' % host)
        return copy.deepcopy(self.agents[host])

    def list_agents(self):
        return [copy.deepcopy(a) for a in self.agents.values()]

    # samples
    def add_samples(self, samples):
        with self._lock:
            self.add_samples_calls += 1
            if self.fail_writes:
                raise ConnectionError('database is down')
            self.samples.extend(samples)

    def add_flow_reports(self, reports):
        self.flows.extend(reports)

    def expire(self, now=None):
        self.expired += 1
        return {}


class FakeInventory(base.InventoryDriver):
    """Ports and rules held in dicts the test changes at will."""

    def __init__(self):
        super().__init__()
        self.ports = {}       # port id -> Port
        self.rules = {}       # port id -> [rule dict]
        self.fail = None      # an exception to raise from ports_of

    @classmethod
    def from_conf(cls, conf):
        return cls()

    def add_port(self, port_id, host='compute-1', device_id='server-1',
                 rules=None, **kw):
        kw.setdefault('mac', 'fa:16:3e:00:00:01')
        kw.setdefault('ips', ['10.0.0.5'])
        port = base.Port(id=port_id, device_id=device_id,
                         project_id='p1', host=host,
                         security_groups=['sg'], **kw)
        self.ports[port_id] = port
        self.rules[port_id] = list(rules or [])
        return port

    def ports_of(self, server_id=None, port_id=None):
        if self.fail:
            raise self.fail
        return [p for p in self.ports.values()
                if (port_id is None or p.id == port_id)
                and (server_id is None or p.device_id == server_id)]

    def rules_of(self, port):
        return [dict(r) for r in self.rules[port.id]]


def rule(proto, lo=None, hi=None, direction='ingress', id=None):
    return {'id': id or '%s-%s-%s-%s' % (direction, proto, lo, hi),
            'direction': direction, 'ethertype': 'IPv4',
            'protocol': proto, 'port_range_min': lo,
            'port_range_max': hi if hi is not None else lo,
            'remote_ip_prefix': None, 'remote_group_id': None}


class FakeAgentAPI:
    """Records every cast as (method, host, payload)."""

    def __init__(self):
        self.casts = []

    def start_collector(self, ctxt, host, collector):
        self.casts.append(('start_collector', host, copy.deepcopy(collector)))

    def update_collector(self, ctxt, host, collector):
        self.casts.append(('update_collector', host,
                           copy.deepcopy(collector)))

    def stop_collector(self, ctxt, host, collector_id, reason=None):
        self.casts.append(('stop_collector', host, collector_id))

    def sync(self, ctxt, host, collectors):
        self.casts.append(('sync', host, copy.deepcopy(list(collectors))))

    def of(self, method):
        return [c for c in self.casts if c[0] == method]

    def clear(self):
        self.casts = []
