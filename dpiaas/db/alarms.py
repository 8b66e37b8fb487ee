"""Alarms and their history: one row per state change, never per score."""
import uuid

from dpiaas.db import base
from dpiaas.db import exceptions
from dpiaas.db import models

ALARMS = models.Alarm.__table__
HISTORY = models.AlarmHistory.__table__
STATES = ('insufficient_data', 'ok', 'alarm')
INITIAL_REASON = 'Not evaluated yet: the detector is still learning'


class AlarmsMixin:
    def create_alarm(self, values):
        unknown = set(values) - set(ALARMS.c.keys())
        if unknown:
            raise ValueError('unknown alarm field(s): %s'
                             % ', '.join(sorted(unknown)))
        if not values.get('project_id'):
            raise ValueError('an alarm needs a project_id')
        now = base.now_or(None)
        row = {'id': str(uuid.uuid4()), 'monitor_id': None, 'name': '',
               'state': 'insufficient_data', 'state_reason': INITIAL_REASON,
               'score': None, 'severity': None, 'explanation': None,
               'state_timestamp': now, 'created_at': now, 'updated_at': now}
        row.update(values)
        _check_state(row['state'])
        with self._write() as conn:
            conn.execute(ALARMS.insert(), row)
        return self.get_alarm(row['id'])

    def get_alarm(self, id, project_id=None):
        query = ALARMS.select().where(ALARMS.c.id == id)
        if project_id is not None:
            query = query.where(ALARMS.c.project_id == project_id)
        with self._read() as conn:
            row = conn.execute(query).first()
        if row is None:
            raise exceptions.NotFound('alarm %s not found' % id)
        return base.as_dict(row)

    def list_alarms(self, project_id=None, state=None, monitor_id=None,
                    severity=None, limit=None, marker=None):
        query = ALARMS.select()
        for key, value in (('project_id', project_id), ('state', state),
                           ('monitor_id', monitor_id),
                           ('severity', severity)):
            if value is not None:
                query = query.where(ALARMS.c[key] == value)
        with self._read() as conn:
            query = self._page(conn, ALARMS, query, limit, marker,
                               ('created_at', 'id'))
            return [base.as_dict(r) for r in conn.execute(query)]

    def set_alarm_state(self, id, state, reason, score=None, severity=None,
                        explanation=None, now=None):
        """Set the alarm's evaluation; a history entry only on a change.

        Returns the new history entry, or None when ``state`` is the
        current one (score, severity, reason and explanation are still
        updated).
        """
        _check_state(state)
        with self._write() as conn:
            entry = self._set_alarm_state(conn, id, state, reason, score,
                                          severity, explanation, now)
        if entry is False:
            raise exceptions.NotFound('alarm %s not found' % id)
        return entry

    def set_alarm_states(self, updates):
        """``set_alarm_state`` of each update (a dict of its arguments:
        ``id``, ``state``, ``reason``, optional ``score``, ``severity``,
        ``explanation``, ``now``) in one transaction: a detector
        refreshing thousands of alarms' scores must not take the write
        lock once each. Returns ``{id: history entry or None}``, without
        the alarms not found."""
        for u in updates:
            _check_state(u['state'])
        out = {}
        with self._write() as conn:
            for u in updates:
                entry = self._set_alarm_state(
                    conn, u['id'], u['state'], u['reason'], u.get('score'),
                    u.get('severity'), u.get('explanation'), u.get('now'))
                if entry is not False:
                    out[u['id']] = entry
        return out

    def _set_alarm_state(self, conn, id, state, reason, score, severity,
                         explanation, now):
        """The history entry, None (no change) or False (no alarm)."""
        now = base.now_or(now)
        values = {'state': state, 'state_reason': reason, 'score': score,
                  'severity': severity, 'explanation': explanation,
                  'updated_at': now}
        alarm = conn.execute(self._for_update(
            ALARMS.select().where(ALARMS.c.id == id))).first()
        if alarm is None:
            return False
        changed = alarm.state != state
        if changed:
            values['state_timestamp'] = now
        conn.execute(ALARMS.update().where(ALARMS.c.id == id)
                     .values(**values))
        if not changed:
            return None
        entry = {'alarm_id': id, 'project_id': alarm.project_id,
                 'monitor_id': alarm.monitor_id, 'timestamp': now,
                 'previous': alarm.state, 'state': state,
                 'reason': reason, 'score': score, 'severity': severity,
                 'explanation': explanation}
        result = conn.execute(HISTORY.insert(), entry)
        entry['id'] = result.inserted_primary_key[0]
        return entry

    def list_alarm_history(self, id, limit=None, marker=None):
        """State changes of alarm ``id``, newest first."""
        query = HISTORY.select().where(HISTORY.c.alarm_id == id)
        with self._read() as conn:
            query = self._page(conn, HISTORY, query, limit, marker,
                               ('timestamp', 'id'), descending=True)
            return [base.as_dict(r) for r in conn.execute(query)]


def _check_state(state):
    if state not in STATES:
        raise ValueError('alarm state must be one of %s, not %r'
                         % (', '.join(STATES), state))
