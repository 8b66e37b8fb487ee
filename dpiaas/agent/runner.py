"""One collector: a thread that keeps a LiveCollector running on its tap.

A tap comes and goes with its VM (stop, reboot, migration): a missing or
vanished device stops the capture, the collector is reported ``error``
with the reason, and the thread looks for the tap again every
``[agent] tap_retry_interval`` seconds; when it is back the capture
resumes and the collector is ``running`` again. A spec that cannot be used
is an error until the engine sends another one. Nothing here may take the
agent down.
"""
import logging
import threading

from dpiaas.agent import tapfinder as tapfinder_mod
from dpiaas.dpi import spec as spec_mod
from dpiaas.dpi.capture import CaptureError

LOG = logging.getLogger(__name__)

RUNNING = 'running'
ERROR = 'error'
STOPPED = 'stopped'
STARTING = 'scheduled'


def _live_collector(*args, **kwargs):
    # imported late: numpy/numba are heavy and tests replace this
    from dpiaas.dpi import live
    return live.LiveCollector(*args, **kwargs)


class CollectorRunner:
    """Runs ``collector`` (the control-plane dict) until :meth:`stop`.

    ``reporter`` receives every interval (``add``) and every status change
    (``add_status``).
    """

    def __init__(self, collector, reporter, settings_factory,
                 tapfinder=None, workers=1, retry_interval=3.0,
                 live_factory=_live_collector, capture_opts=None):
        self.collector = dict(collector)
        self.id = collector['id']
        self.monitor_id = collector.get('monitor_id')
        self.generation = collector.get('generation', 0)
        self.reporter = reporter
        self.settings_factory = settings_factory
        self.tapfinder = tapfinder or tapfinder_mod.TapFinder()
        self.workers = workers
        # AF_PACKET ring geometry (block_size, block_count)
        self.capture_opts = dict(capture_opts or {})
        self.retry_interval = retry_interval
        self.live_factory = live_factory
        self.status = STARTING
        self.reason = None
        self.interface = None
        self.capture_packets = 0
        self.capture_drops = 0
        self._stop = threading.Event()
        self._live = None
        self._lock = threading.Lock()
        self._thread = None

    # --- control ---------------------------------------------------------

    def start(self):
        self._thread = threading.Thread(
            target=self._run, name='collector-%s' % self.id[:8], daemon=True)
        self._thread.start()

    def stop(self, timeout=10.0):
        """Stop capturing; returns once the thread ended (or timed out)."""
        self._stop.set()
        with self._lock:
            live = self._live
        if live is not None:
            live.stop()
        if self._thread is not None and \
                self._thread is not threading.current_thread():
            self._thread.join(timeout)
        self._set_status(STOPPED, None, report=False)

    def alive(self):
        return self._thread is not None and self._thread.is_alive()

    def state(self):
        return {'id': self.id, 'generation': self.generation,
                'status': self.status, 'reason': self.reason,
                'interface': self.interface,
                'capture_packets': self.capture_packets,
                'capture_drops': self.capture_drops}

    # --- the thread ------------------------------------------------------

    def _set_status(self, status, reason, report=True):
        if (status, reason) == (self.status, self.reason):
            return
        if status == ERROR:
            LOG.warning('Collector %s: %s', self.id, reason)
        else:
            LOG.info('Collector %s is %s%s', self.id, status,
                     ' on %s' % self.interface if self.interface else '')
        if report:
            self.reporter.add_status(self.id, status, reason)
        self.status, self.reason = status, reason

    def _emit(self, report):
        metrics = report.metrics
        self.capture_packets += int(metrics.get('capture.packets', 0))
        self.capture_drops += int(metrics.get('capture.drops', 0))
        if self.status != RUNNING and not self._stop.is_set():
            self._set_status(RUNNING, None)
        self.reporter.add(self.id, self.monitor_id, report)

    def _run(self):
        try:
            spec = spec_mod.CollectorSpec.from_dict(self.collector['spec'])
            settings = self.settings_factory(spec)
        except (spec_mod.SpecError, KeyError, TypeError, ValueError) as exc:
            self._set_status(ERROR, 'unusable collector spec: %s' % exc)
            return
        while not self._stop.is_set():
            reason = None
            try:
                self._capture_once(spec, settings)
            except (tapfinder_mod.TapNotFound, CaptureError) as exc:
                reason = str(exc)
            except Exception as exc:  # a bug must not kill the agent
                LOG.exception('Collector %s failed', self.id)
                reason = 'internal error: %s' % exc
            if reason is not None:
                # outside the except: the reason says it all
                self._set_status(ERROR, reason)
            self._stop.wait(self.retry_interval)

    def _capture_once(self, spec, settings):
        self.interface = self.tapfinder.find(
            self.collector.get('port_id'), self.collector.get('tap_device'))
        live = self.live_factory(self.interface, spec, settings,
                                 workers=self.workers,
                                 capture_opts=self.capture_opts)
        with self._lock:
            if self._stop.is_set():
                return
            self._live = live
        try:
            live.run(self._emit)
        finally:
            with self._lock:
                self._live = None
        if not self._stop.is_set():
            # fanout workers gone without an error: try again
            raise CaptureError('capture on %s ended unexpectedly'
                               % self.interface)
