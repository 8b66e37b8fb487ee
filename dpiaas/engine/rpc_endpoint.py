"""What the engine answers on ``dpiaas-engine`` and ``dpiaas-engine-control``.

Agents report to any engine (storage is shared): samples go to ingest,
heartbeats to storage, collector statuses to the collector and its
monitor. A heartbeat is also where an agent's drift is repaired: if it
restarted or runs another set of collectors than the stored desired one,
it is sent a ``sync`` with its full desired set.

A handler that fails (database down) fails that one message only:
oslo.messaging logs it and the server goes on; the agent's next heartbeat
repairs what was missed.
"""
import functools
import threading
import time

import oslo_messaging as messaging
from oslo_log import log as logging
import sqlalchemy.exc

from dpiaas.db import exceptions as db_exc
from dpiaas.engine import ingest as ingest_mod
from dpiaas.engine import liveness
from dpiaas.engine import status as st

LOG = logging.getLogger(__name__)


def database_guarded(method):
    """A cast whose database work fails is logged in one line and dropped.

    Heartbeats and status reports come again within seconds; a database
    outage must not fill the log with a traceback per agent per interval
    (samples are not handled here: ingest keeps its own backlog).
    """
    @functools.wraps(method)
    def guarded(self, ctxt, host, *args, **kwargs):
        try:
            return method(self, ctxt, host, *args, **kwargs)
        except sqlalchemy.exc.SQLAlchemyError as exc:
            LOG.warning('%s from %s not recorded, the database failed: %s',
                        method.__name__, host,
                        str(exc).splitlines()[0][:200])
    return guarded


# collector statuses an agent may report
AGENT_STATUSES = (st.C_RUNNING, st.C_ERROR, st.C_STOPPED, st.C_SCHEDULED)


class EngineEndpoint:
    """Server side of ``dpiaas.rpc.engine_api.EngineAPI`` and
    ``EnginePeerAPI`` (1.3)."""

    target = messaging.Target(version='1.4')

    def __init__(self, storage, ingest, agent_api, agent_down_time=60,
                 lock=None, clock=time.time, score=None):
        self.storage = storage
        self.ingest = ingest
        self.score = score
        self.agents = agent_api
        self.agent_down_time = agent_down_time
        self.lock = lock or threading.RLock()
        self.clock = clock

    @staticmethod
    def _rows(host, samples, compact, packed=None):
        """Sample rows of a 1.3 (``packed``), 1.2 (``compact``) or 1.0
        (``samples``) message; a malformed message is dropped in one
        line, not a traceback."""
        try:
            rows = ingest_mod.samples_of_compact(compact)
            if packed:
                rows.extend(ingest_mod.samples_of_packed(packed))
            if samples:
                rows.extend(ingest_mod.as_samples(samples))
            return rows
        except ValueError as exc:
            LOG.warning('samples from %s dropped: %s', host, exc)
            return []

    def report_samples(self, ctxt, host, samples=None, compact=None,
                       packed=None):
        """``packed`` (1.3), ``compact`` (1.2) or ``samples`` (1.0,
        dicts)."""
        rows = self._rows(host, samples, compact, packed)
        if rows:
            self.ingest.add(rows)

    def score_samples(self, ctxt, samples=None, compact=None,
                      packed=None):
        """Samples another engine stored and forwarded because this one
        owns their monitors: scored only (1.1; ``compact`` 1.2,
        ``packed`` 1.4)."""
        if self.score is None:
            return
        rows = self._rows('a peer engine', samples, compact, packed)
        if rows:
            self.score(rows)

    def report_flows(self, ctxt, host, reports):
        if not reports:
            return
        try:
            self.storage.add_flow_reports(list(reports))
        except Exception as exc:
            # flow records are a detail: not worth a backlog of their own
            LOG.warning('dropped %d flow reports from %s: %s',
                        len(reports), host, exc)

    @database_guarded
    def report_state(self, ctxt, host, state):
        state = state or {}
        try:
            previous = self.storage.get_agent(host)
        except db_exc.NotFound:
            previous = None
        now = self.clock()
        self.storage.agent_heartbeat(host, state, now=now)
        with self.lock:
            desired = self._desired(host)
            reported = {c.get('id'): c for c in state.get('collectors') or []}
            restarted = (previous is None or previous.get('started_at')
                         != state.get('started_at'))
            differs = ({c['id']: c['generation'] for c in desired}
                       != {cid: c.get('generation')
                           for cid, c in reported.items()})
            if restarted or differs:
                LOG.info('agent on %s %s: sending it its %d collectors',
                         host, 'started' if restarted
                         else 'runs another set of collectors',
                         len(desired))
                try:
                    self.agents.sync(None, host, desired)
                except Exception as exc:
                    LOG.warning('sync to %s failed: %s', host, exc)
            touched = set()
            for c in desired:
                new = self._reported_status(c, reported.get(c['id']))
                if not st.same(new, (c.get('status'),
                                     c.get('status_reason'))):
                    self.storage.upsert_collector(
                        {'id': c['id'], 'status': new[0],
                         'status_reason': new[1] or ''})
                    touched.add(c['monitor_id'])
            self._refresh(touched)

    @staticmethod
    def _reported_status(c, r):
        if r and r.get('generation') == c['generation'] \
                and r.get('status') in AGENT_STATUSES:
            return r['status'], r.get('reason')
        if c.get('status') == st.C_HOST_DOWN:
            # the agent is back and was just synced
            return st.C_SCHEDULED, None
        return c.get('status'), c.get('status_reason')

    @database_guarded
    def collector_status(self, ctxt, host, collector_id, status,
                         reason=None):
        with self.lock:
            try:
                c = self.storage.get_collector(collector_id)
            except db_exc.NotFound:
                LOG.debug('status %s of unknown collector %s from %s',
                          status, collector_id, host)
                return
            if c.get('host') != host:
                # late news from the host a port moved away from
                LOG.debug('status %s of collector %s from %s ignored: it '
                          'runs on %s', status, collector_id, host,
                          c.get('host'))
                return
            if st.same((c.get('status'), c.get('status_reason')),
                       (status, reason)):
                return
            LOG.info('collector %s on %s: %s%s', collector_id, host, status,
                     ' (%s)' % reason if reason else '')
            self.storage.upsert_collector({'id': collector_id,
                                           'status': status,
                                           'status_reason': reason or ''})
            self._refresh({c['monitor_id']})

    def get_desired(self, ctxt, host):
        return self._desired(host)

    def _desired(self, host):
        # the reconciler deletes what is no longer wanted: every stored
        # collector of the host is desired, whatever its last status
        return self.storage.list_collectors(host=host)

    def _refresh(self, monitor_ids):
        if not monitor_ids:
            return
        down = liveness.down_hosts(self.storage, self.agent_down_time,
                                   self.clock())
        for monitor_id in sorted(monitor_ids):
            st.refresh(self.storage, monitor_id, down)


class EngineControlEndpoint:
    """Server side of ``EngineControlAPI``: the API's nudges."""

    target = messaging.Target(version='1.1')

    def __init__(self, reconciler):
        self.reconciler = reconciler

    def monitor_changed(self, ctxt, monitor_id):
        self.reconciler.monitor_changed(monitor_id)
