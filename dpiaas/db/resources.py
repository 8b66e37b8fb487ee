"""Monitors, their services and collectors, agents."""
import uuid

import sqlalchemy as sa

from dpiaas.db import base
from dpiaas.db import exceptions
from dpiaas.db import models

MONITORS = models.Monitor.__table__
SERVICES = models.Service.__table__
COLLECTORS = models.Collector.__table__
AGENTS = models.Agent.__table__

MONITOR_DEFAULTS = {
    'name': '', 'server_id': None, 'port_id': None, 'protocols': {},
    'interval_ms': 500, 'detector': {}, 'alarm_actions': [],
    'ok_actions': [], 'status': 'pending', 'status_reason': '',
    'alarm_id': None, 'rebaseline_requested_at': None,
}
SERVICE_KEYS = ('port_id', 'role', 'l4', 'port_min', 'port_max', 'app',
                'source')
COLLECTOR_DEFAULTS = {
    'project_id': None, 'port_id': None, 'host': None, 'tap_device': None,
    'spec': {}, 'generation': 0, 'status': 'scheduled',
    'status_reason': '',
}


def _check_keys(table, values, what):
    unknown = set(values) - set(table.c.keys())
    if unknown:
        raise ValueError('unknown %s field(s): %s'
                         % (what, ', '.join(sorted(unknown))))


class ResourcesMixin:
    # monitors

    def create_monitor(self, values):
        _check_keys(MONITORS, values, 'monitor')
        if not values.get('project_id'):
            raise ValueError('a monitor needs a project_id')
        now = base.now_or(None)
        row = dict(MONITOR_DEFAULTS, id=str(uuid.uuid4()), created_at=now,
                   updated_at=now)
        row.update(values)
        with self._write() as conn:
            conn.execute(MONITORS.insert(), row)
        return self.get_monitor(row['id'])

    def get_monitor(self, id, project_id=None):
        query = MONITORS.select().where(MONITORS.c.id == id)
        if project_id is not None:
            query = query.where(MONITORS.c.project_id == project_id)
        with self._read() as conn:
            row = conn.execute(query).first()
        if row is None:
            raise exceptions.NotFound('monitor %s not found' % id)
        return base.as_dict(row)

    def list_monitors(self, project_id=None, status=None, limit=None,
                      marker=None, ids=None):
        query = MONITORS.select()
        if project_id is not None:
            query = query.where(MONITORS.c.project_id == project_id)
        if status is not None:
            query = query.where(MONITORS.c.status == status)
        if ids is not None:
            query = query.where(MONITORS.c.id.in_(list(ids)))
        with self._read() as conn:
            query = self._page(conn, MONITORS, query, limit, marker,
                               ('created_at', 'id'))
            return [base.as_dict(r) for r in conn.execute(query)]

    def update_monitor(self, id, values):
        _check_keys(MONITORS, values, 'monitor')
        values = dict(values)
        values.pop('id', None)
        values.setdefault('updated_at', base.now_or(None))
        with self._write() as conn:
            done = conn.execute(MONITORS.update().where(
                MONITORS.c.id == id).values(**values)).rowcount
        if not done:
            raise exceptions.NotFound('monitor %s not found' % id)
        return self.get_monitor(id)

    def delete_monitor(self, id):
        """Delete a monitor and everything recorded for it."""
        with self._write() as conn:
            done = conn.execute(MONITORS.delete().where(
                MONITORS.c.id == id)).rowcount
            if not done:
                raise exceptions.NotFound('monitor %s not found' % id)
            alarms = models.Alarm.__table__
            alarm_ids = [r.id for r in conn.execute(
                sa.select(alarms.c.id).where(alarms.c.monitor_id == id))]
            if alarm_ids:
                hist = models.AlarmHistory.__table__
                conn.execute(hist.delete().where(
                    hist.c.alarm_id.in_(alarm_ids)))
            for model in (models.Service, models.Collector,
                          models.MetricLayout, models.Sample,
                          models.SampleRollup, models.FlowRecord,
                          models.HeavyHitters, models.DetectorState,
                          models.Alarm):
                table = model.__table__
                conn.execute(table.delete().where(
                    table.c.monitor_id == id))
        self._forget_monitor(id)

    # services

    def set_services(self, monitor_id, services):
        rows = []
        for svc in services:
            row = {k: svc.get(k) for k in SERVICE_KEYS}
            row['monitor_id'] = monitor_id
            rows.append(row)
        with self._write() as conn:
            conn.execute(SERVICES.delete().where(
                SERVICES.c.monitor_id == monitor_id))
            if rows:
                conn.execute(SERVICES.insert(), rows)
        return self.list_services(monitor_id)

    def list_services(self, monitor_id):
        query = (sa.select(SERVICES.c.monitor_id,
                           *[SERVICES.c[k] for k in SERVICE_KEYS])
                 .where(SERVICES.c.monitor_id == monitor_id)
                 .order_by(SERVICES.c.id))
        with self._read() as conn:
            return [base.as_dict(r) for r in conn.execute(query)]

    # collectors

    def upsert_collector(self, values):
        """Create or update the collector ``values['id']``."""
        _check_keys(COLLECTORS, values, 'collector')
        if not values.get('id'):
            raise ValueError('a collector needs an id')
        values = dict(values)
        values.setdefault('updated_at', base.now_or(None))
        with self._write() as conn:
            found = conn.execute(self._for_update(
                sa.select(COLLECTORS.c.id).where(
                    COLLECTORS.c.id == values['id']))).first()
            if found:
                conn.execute(COLLECTORS.update().where(
                    COLLECTORS.c.id == values['id']).values(**values))
            else:
                if not values.get('monitor_id'):
                    raise ValueError('a new collector needs a monitor_id')
                conn.execute(COLLECTORS.insert(),
                             dict(COLLECTOR_DEFAULTS, **values))
        return self.get_collector(values['id'])

    def get_collector(self, id):
        with self._read() as conn:
            row = conn.execute(COLLECTORS.select().where(
                COLLECTORS.c.id == id)).first()
        if row is None:
            raise exceptions.NotFound('collector %s not found' % id)
        return base.as_dict(row)

    def list_collectors(self, host=None, monitor_id=None):
        query = COLLECTORS.select().order_by(COLLECTORS.c.id)
        if host is not None:
            query = query.where(COLLECTORS.c.host == host)
        if monitor_id is not None:
            query = query.where(COLLECTORS.c.monitor_id == monitor_id)
        with self._read() as conn:
            return [base.as_dict(r) for r in conn.execute(query)]

    def delete_collector(self, id):
        with self._write() as conn:
            done = conn.execute(COLLECTORS.delete().where(
                COLLECTORS.c.id == id)).rowcount
            hh = models.HeavyHitters.__table__
            conn.execute(hh.delete().where(hh.c.collector_id == id))
        if not done:
            raise exceptions.NotFound('collector %s not found' % id)

    # agents

    def agent_heartbeat(self, host, state, now=None):
        """Record a ``report_state`` of ``host``; returns the agent."""
        now = base.now_or(now)
        state = state or {}
        values = {'last_heartbeat': now, 'state': state,
                  'version': state.get('version'),
                  'started_at': state.get('started_at')}
        with self._write() as conn:
            found = conn.execute(self._for_update(
                sa.select(AGENTS.c.host).where(
                    AGENTS.c.host == host))).first()
            if found:
                conn.execute(AGENTS.update().where(
                    AGENTS.c.host == host).values(**values))
            else:
                conn.execute(AGENTS.insert(), dict(values, host=host))
        return self.get_agent(host)

    def get_agent(self, host):
        with self._read() as conn:
            row = conn.execute(AGENTS.select().where(
                AGENTS.c.host == host)).first()
        if row is None:
            raise exceptions.NotFound('agent %s not found' % host)
        return self._agent(row)

    def list_agents(self):
        with self._read() as conn:
            rows = conn.execute(AGENTS.select().order_by(AGENTS.c.host))
            return [self._agent(r) for r in rows]

    def _agent(self, row):
        agent = base.as_dict(row)
        age = base.now_or(None) - agent['last_heartbeat']
        agent['alive'] = age < self.agent_down_time
        return agent
