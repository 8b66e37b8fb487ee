"""Make what runs on the agents match what the monitors ask for.

One pass compares, for every monitor this engine owns, the scheduler's plan
(from the inventory: rule changed, port moved, port or server deleted)
with the stored collectors, casts the difference to the agents concerned
(a cast reaches exactly one agent), stores the new collectors and services
and says in the monitor's status why it is where it is. Passes run every
``[engine] reconcile_interval`` and at once on ``monitor_changed``.

The inventory is a remote cloud that can fail: a failed lookup keeps the
last state of that monitor and never stops the loop.

A pass reads every collector once, not once per monitor, and a monitor
whose plan matches what is stored is done without another query (its
services are compared with what this engine last stored for it): with
thousands of monitors per engine, three queries per monitor every pass
were seconds of a 10 s interval. Anything to write is decided again on a
fresh read of the monitor's collectors under the lock, as before.
"""
import collections
import threading
import time

from oslo_log import log as logging

from dpiaas.db import exceptions as db_exc
from dpiaas.engine import liveness
from dpiaas.engine import scheduler as sched
from dpiaas.engine import status as st

LOG = logging.getLogger(__name__)


def _service_key(sd):
    return (sd.get('port_id'), sd.get('role'), sd.get('l4'),
            int(sd.get('port_min')), int(sd.get('port_max')),
            sd.get('app'), sd.get('source'))


class Reconciler:
    """Desired (scheduler) vs stored (storage) vs running (agents)."""

    def __init__(self, storage, scheduler, agent_api, owns=None,
                 interval=10.0, agent_down_time=60, lock=None,
                 clock=time.time):
        self.storage = storage
        self.scheduler = scheduler
        self.agents = agent_api
        self.owns = owns or (lambda monitor_id: True)
        self.interval = interval
        self.agent_down_time = agent_down_time
        # shared with the RPC endpoint: statuses reported by agents and
        # collectors written here do not overwrite each other
        self.lock = lock or threading.RLock()
        self.clock = clock
        # monitor id -> {collector id: host} as last cast, so that a
        # monitor deleted with its collectors still gets them stopped
        self._known = {}
        # monitor id -> its services' keys as last stored or seen stored
        self._services = {}
        self._pending = set()
        self._pending_lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = None
        self.passes = 0

    # -- one pass ---------------------------------------------------------

    def reconcile_all(self):
        """Reconcile every owned monitor; returns how many were looked at."""
        now = self.clock()
        monitors = self.storage.list_monitors()
        down = liveness.down_hosts(self.storage, self.agent_down_time, now)
        by_monitor = collections.defaultdict(dict)
        for c in self.storage.list_collectors():
            by_monitor[c['monitor_id']][c['id']] = c
        seen = set()
        count = 0
        for monitor in monitors:
            seen.add(monitor['id'])
            if not self.owns(monitor['id']):
                self._known.pop(monitor['id'], None)
                self._services.pop(monitor['id'], None)
                continue
            self._reconcile_one(monitor, down,
                                by_monitor.get(monitor['id'], {}))
            count += 1
        for monitor_id in set(self._known) - seen:
            self._forget(monitor_id)
        self.passes += 1
        return count

    def reconcile(self, monitor_id):
        """Reconcile one monitor now (owned or not: the API's nudge
        reaches one engine only, and the plan is deterministic)."""
        try:
            monitor = self.storage.get_monitor(monitor_id)
        except db_exc.NotFound:
            self._forget(monitor_id)
            return
        down = liveness.down_hosts(self.storage, self.agent_down_time,
                                   self.clock())
        self._reconcile_one(monitor, down)

    def _forget(self, monitor_id):
        """A deleted monitor: stop whatever still runs for it."""
        self._services.pop(monitor_id, None)
        known = dict(self._known.pop(monitor_id, {}))
        for c in self.storage.list_collectors(monitor_id=monitor_id):
            known[c['id']] = c['host']
            self.storage.delete_collector(c['id'])
        for cid, host in sorted(known.items()):
            self._stop_cast(host, cid, 'monitor %s was deleted' % monitor_id)

    def _reconcile_one(self, monitor, down, stored=None):
        """``stored``: the monitor's collectors read at the start of the
        pass (``{id: collector}``), or None to read them now."""
        mid = monitor['id']
        prefetched = stored is not None
        if not prefetched:
            stored = {c['id']: c
                      for c in self.storage.list_collectors(monitor_id=mid)}
        try:
            plan = self.scheduler.plan(monitor, stored)
        except Exception as exc:
            LOG.warning('monitor %s: inventory lookup failed, keeping its '
                        'last state: %s', mid, exc)
            return
        if prefetched and self._settled(monitor, plan, stored, down):
            self._known[mid] = {c['id']: c['host'] for c in plan.collectors}
            self._store_services(mid, plan.services)
            return
        with self.lock:
            # statuses may have moved (agent reports) while we asked the
            # inventory: renumber against a fresh read
            stored = {c['id']: c
                      for c in self.storage.list_collectors(monitor_id=mid)}
            desired = {}
            for c in plan.collectors:
                c = sched.renumber(c, stored.get(c['id']))
                self._apply_liveness(c, down)
                desired[c['id']] = c
            problems = dict(plan.problems)
            for cid, c in desired.items():
                self._converge(c, stored.get(cid))
            for cid, old in stored.items():
                if cid not in desired:
                    reason = problems.get(old.get('port_id')) or (
                        'port %s is no longer part of monitor %s'
                        % (old.get('port_id'), mid))
                    self._stop_cast(old['host'], cid, reason)
                    self.storage.delete_collector(cid)
            self._known[mid] = {cid: c['host'] for cid, c in desired.items()}
            self._store_services(mid, plan.services)
            status, reason = st.summarize(
                monitor, list(desired.values()),
                [r for _p, r in plan.problems], down)
            if not st.same((status, reason),
                           (monitor.get('status'),
                            monitor.get('status_reason'))):
                LOG.info('monitor %s: %s (%s)', mid, status, reason)
                self.storage.update_monitor(mid, {
                    'status': status, 'status_reason': reason or ''})

    def _settled(self, monitor, plan, stored, down):
        """True if ``plan`` asks for no write against ``stored``: no
        collector to start, move, update, store or stop, and the same
        monitor status (what the locked path below would find to do)."""
        desired = []
        for c in plan.collectors:
            old = stored.get(c['id'])
            if old is None or old.get('status') == st.C_STOPPED:
                return False
            c = sched.renumber(dict(c), old)
            self._apply_liveness(c, down)
            if old['host'] != c['host'] or \
                    c['generation'] != old.get('generation') or \
                    any((old.get(k) or None) != (v or None)
                        for k, v in c.items()):
                return False
            desired.append(c)
        if len(desired) != len(stored):
            return False
        status = st.summarize(monitor, desired,
                              [r for _p, r in plan.problems], down)
        return st.same(status, (monitor.get('status'),
                                monitor.get('status_reason')))

    def _apply_liveness(self, c, down):
        if c['host'] in down:
            c['status'] = st.C_HOST_DOWN
            c['status_reason'] = down[c['host']]
        elif c['status'] == st.C_HOST_DOWN:
            # back: the agent's next report says running or not
            c['status'] = st.C_SCHEDULED
            c['status_reason'] = ''

    def _converge(self, c, old):
        host = c['host']
        if old is None or old.get('status') == st.C_STOPPED:
            # new, or stopped by its agent on its own: (re)start it
            LOG.info('collector %s (monitor %s, port %s): start on %s',
                     c['id'], c['monitor_id'], c['port_id'], host)
            self._start(host, c)
        elif old['host'] != host:
            LOG.info('collector %s: port %s moved from %s to %s',
                     c['id'], c['port_id'], old['host'], host)
            self._stop_cast(old['host'], c['id'],
                            'port %s moved to %s' % (c['port_id'], host))
            self._start(host, c)
        elif c['generation'] != old.get('generation'):
            LOG.info('collector %s on %s: generation %s', c['id'], host,
                     c['generation'])
            self._cast('update_collector', host, c)
        if old is None or any((old.get(k) or None) != (v or None)
                              for k, v in c.items()):
            self.storage.upsert_collector(c)

    def _start(self, host, c):
        if c['status'] != st.C_HOST_DOWN:
            c['status'], c['status_reason'] = st.C_SCHEDULED, ''
        self._cast('start_collector', host, c)

    def _store_services(self, monitor_id, services):
        wanted = sorted(map(_service_key, services))
        if self._services.get(monitor_id) == wanted:
            return
        current = self.storage.list_services(monitor_id)
        if sorted(map(_service_key, current)) != wanted:
            self.storage.set_services(monitor_id, services)
        self._services[monitor_id] = wanted

    def _cast(self, method, host, collector):
        try:
            getattr(self.agents, method)(None, host, collector)
        except Exception as exc:
            # the agent's sync on its next report repairs a lost cast
            LOG.warning('%s of collector %s to %s failed: %s', method,
                        collector['id'], host, exc)

    def _stop_cast(self, host, collector_id, reason):
        LOG.info('collector %s: stop on %s (%s)', collector_id, host,
                 reason)
        try:
            self.agents.stop_collector(None, host, collector_id,
                                       reason=reason)
        except Exception as exc:
            LOG.warning('stop_collector of %s to %s failed: %s',
                        collector_id, host, exc)

    # -- the loop ---------------------------------------------------------

    def monitor_changed(self, monitor_id):
        """Queue ``monitor_id`` for reconciliation at once."""
        with self._pending_lock:
            self._pending.add(monitor_id)
        self._wake.set()

    def start(self):
        self._stop.clear()
        self._thread = threading.Thread(target=self._run,
                                        name='dpiaas-engine-reconciler',
                                        daemon=True)
        self._thread.start()

    def stop(self, timeout=30):
        self._stop.set()
        self._wake.set()
        if self._thread:
            self._thread.join(timeout)
            self._thread = None

    def _run(self):
        next_full = 0.0
        while not self._stop.is_set():
            if time.monotonic() >= next_full:
                self._guarded(self.reconcile_all)
                next_full = time.monotonic() + self.interval
            self._wake.wait(max(0.0, next_full - time.monotonic()))
            self._wake.clear()
            with self._pending_lock:
                pending, self._pending = self._pending, set()
            for monitor_id in sorted(pending):
                if self._stop.is_set():
                    break
                self._guarded(self.reconcile, monitor_id)

    def _guarded(self, func, *args):
        try:
            func(*args)
        except Exception:
            # a database hiccup must not end reconciliation for good
            LOG.exception('reconciliation failed; retrying at the next '
                          'pass')
