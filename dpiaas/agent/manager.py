"""The agent's RPC endpoint: which collectors run on this host.

The engine says what it wants (``start_collector``, ``update_collector``,
``stop_collector``, or the whole set with ``sync``); every message is
idempotent by the collector's ``generation``, so a repeated or late cast
changes nothing. At start the agent asks an engine for its set
(``get_desired``) in a thread that retries until one answers, so that the
RPC server serves meanwhile; a heartbeat (``report_state``) goes out every
``[agent] report_interval`` seconds.
"""
import dataclasses
import logging
import threading
import time

import oslo_messaging as messaging

from dpiaas.agent import reporter as reporter_mod
from dpiaas.agent import runner as runner_mod
from dpiaas.agent import tapfinder as tapfinder_mod
from dpiaas.conf import dpi as dpi_conf

LOG = logging.getLogger(__name__)


def package_version():
    try:
        from importlib import metadata
        return metadata.version('dpiaas')
    except Exception:
        return 'unknown'


def diff(running, desired):
    """What ``sync`` does: ``(start, update, stop)``.

    ``running`` maps collector id -> generation, ``desired`` is the list of
    collector dicts the engine wants. ``start`` and ``update`` are
    collector dicts, ``stop`` ids; a collector whose generation differs
    from the running one is updated (the engine is the authority, even for
    a lower generation after its database was restored).
    """
    wanted = {c['id']: c for c in desired}
    start = [c for cid, c in wanted.items() if cid not in running]
    update = [c for cid, c in wanted.items() if cid in running and
              c.get('generation', 0) != running[cid]]
    stop = [cid for cid in running if cid not in wanted]
    return start, update, stop


# How long a collector started by an explicit cast wins over a sync.
SYNC_GRACE_S = 5.0
# one ring block: [agent] capture_ring_mb counts them
RING_BLOCK = 1 << 20


class AgentManager:
    """Endpoint of ``Target(topic='dpiaas-agent', server=host)``."""

    target = messaging.Target(version='1.0')
    rpc_methods = ('start_collector', 'update_collector', 'stop_collector',
                   'sync', 'get_state')

    def __init__(self, conf, engine_api, reporter=None, tapfinder=None,
                 live_factory=None):
        self.conf = conf
        self.host = conf.host
        self.engine_api = engine_api
        self.reporter = reporter or reporter_mod.Reporter(
            engine_api, self.host,
            batch_interval=conf.agent.report_batch_interval,
            buffer_samples=conf.agent.buffer_samples,
            batch_max=conf.agent.batch_max_samples,
            send_flows=conf.agent.report_flows)
        self.tapfinder = tapfinder or tapfinder_mod.TapFinder(
            conf.agent.ovs_vsctl, conf.agent.ovs_timeout)
        self.live_factory = live_factory
        self.started_at = time.time()
        self.version = package_version()
        self.runners = {}
        self.cast_at = {}       # collector id -> when a cast started it
        self.lock = threading.RLock()
        self.synced = threading.Event()
        self._stop = threading.Event()
        self._threads = []

    # --- RPC endpoint (version 1.0) --------------------------------------

    def start_collector(self, ctxt, collector):
        """Start (or replace) one collector; an older generation than the
        one running is ignored."""
        with self.lock:
            current = self.runners.get(collector['id'])
            if current is not None and \
                    collector.get('generation', 0) <= current.generation:
                LOG.debug('Collector %s generation %s already runs',
                          collector['id'], current.generation)
                return
            self._replace(collector)
            self.cast_at[collector['id']] = time.monotonic()

    def update_collector(self, ctxt, collector):
        """A newer spec, tap or generation (starts it if unknown)."""
        self.start_collector(ctxt, collector)

    def stop_collector(self, ctxt, collector_id, reason=None):
        with self.lock:
            runner = self.runners.pop(collector_id, None)
            self.cast_at.pop(collector_id, None)
        if runner is None:
            return
        LOG.info('Stopping collector %s: %s', collector_id,
                 reason or 'asked by the engine')
        runner.stop()
        self.reporter.add_status(collector_id, runner_mod.STOPPED, reason)

    def sync(self, ctxt, collectors):
        """Converge to ``collectors``, the full desired set of this host."""
        collectors = [c for c in collectors
                      if c.get('host') in (None, self.host)]
        with self.lock:
            running = {cid: r.generation for cid, r in self.runners.items()}
            start, update, stop = diff(running, collectors)
            # A sync and a start cast sent by different engine threads may
            # arrive in either order: a collector started or updated by a
            # cast moments ago is newer than this sync. Keep it; if it
            # really is unwanted, the engine sees it in the next heartbeat
            # and syncs again.
            recent = {cid for cid, at in self.cast_at.items()
                      if time.monotonic() - at < SYNC_GRACE_S}
            update = [c for c in update if c['id'] not in recent]
            stop = [cid for cid in stop if cid not in recent]
            for collector in start + update:
                self._replace(collector)
        for cid in stop:
            self.stop_collector(ctxt, cid, 'not in the engine\'s set')
        self.synced.set()
        LOG.info('Synced with the engine: %d collectors (%d started, %d '
                 'updated, %d stopped)', len(collectors), len(start),
                 len(update), len(stop))

    def get_state(self, ctxt=None):
        with self.lock:
            runners = list(self.runners.values())
        return {'started_at': self.started_at, 'version': self.version,
                'collectors': [r.state() for r in runners],
                'buffer': self.reporter.state()}

    # --- collectors ------------------------------------------------------

    def _settings(self, spec):
        settings = dpi_conf.settings_from_conf(self.conf)
        return dataclasses.replace(settings, interval_ms=spec.interval_ms)

    def _replace(self, collector):
        """Stop the runner of ``collector['id']`` if any, start a new one
        (caller holds the lock)."""
        old = self.runners.pop(collector['id'], None)
        if old is not None:
            old.stop()
        kwargs = {}
        if self.live_factory is not None:
            kwargs['live_factory'] = self.live_factory
        runner = runner_mod.CollectorRunner(
            collector, self.reporter, self._settings,
            tapfinder=self.tapfinder,
            workers=self.conf.agent.capture_workers,
            capture_opts={'block_size': RING_BLOCK,
                          'block_count': self.conf.agent.capture_ring_mb},
            retry_interval=self.conf.agent.tap_retry_interval, **kwargs)
        self.runners[collector['id']] = runner
        LOG.info('Starting collector %s (port %s, generation %s)',
                 runner.id, collector.get('port_id'), runner.generation)
        runner.start()

    # --- background work -------------------------------------------------

    def start(self):
        """Start reporting, heartbeats and the first sync with an engine."""
        self._stop.clear()
        self.reporter.start()
        for target, name in ((self._heartbeat_loop, 'dpiaas-heartbeat'),
                             (self._initial_sync, 'dpiaas-initial-sync')):
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self):
        """Stop every collector, send what is left, end the threads."""
        self._stop.set()
        with self.lock:
            runners = list(self.runners.values())
            self.runners.clear()
        for runner in runners:
            runner.stop()
        # the initial sync may sit in a call for rpc_call_timeout: it is a
        # daemon thread and stops at its next look at _stop
        for thread in self._threads:
            if thread.name != 'dpiaas-initial-sync':
                thread.join(timeout=2)
        self.reporter.stop(flush=True)

    def report_state(self):
        """One heartbeat; False when it could not be sent."""
        try:
            self.engine_api.report_state(None, self.host, self.get_state())
            return True
        except Exception as exc:
            LOG.warning('Cannot send the heartbeat: %s: %s',
                        type(exc).__name__, exc)
            return False

    def _heartbeat_loop(self):
        interval = self.conf.agent.report_interval
        while not self._stop.is_set():
            self.report_state()
            self._stop.wait(interval)

    def _initial_sync(self):
        """Ask engines for this host's collectors until one answers."""
        retry = self.conf.agent.engine_retry_interval
        while not self._stop.is_set() and not self.synced.is_set():
            try:
                desired = self.engine_api.get_desired(
                    None, self.host, timeout=self.conf.agent.rpc_call_timeout)
            except Exception as exc:
                LOG.warning('No engine answered get_desired (%s: %s); '
                            'asking again in %.0f s', type(exc).__name__,
                            exc, retry)
                self._stop.wait(retry)
                continue
            if not self.synced.is_set():
                self.sync(None, desired or [])
