"""A task the engine runs every few seconds in its own thread.

oslo.service's looping calls need eventlet, which dpiaas does not use; this
is the threading equivalent the engine's periodic jobs share (retention,
agent liveness). A failing pass is logged and tried again at the next
interval: a database or broker outage must never end the loop.
"""
import threading

from oslo_log import log as logging

LOG = logging.getLogger(__name__)


class PeriodicTask:
    """Calls :meth:`tick` every ``interval`` seconds until stopped."""

    name = 'periodic task'

    def __init__(self, interval):
        self.interval = interval
        self._stop = threading.Event()
        self._thread = None

    def tick(self):
        raise NotImplementedError

    def start(self):
        self._stop.clear()
        self._thread = threading.Thread(
            target=self._run, daemon=True,
            name='dpiaas-engine-' + self.name.replace(' ', '-'))
        self._thread.start()

    def stop(self, timeout=10):
        self._stop.set()
        if self._thread:
            self._thread.join(timeout)
            self._thread = None

    def _run(self):
        while not self._stop.wait(self.interval):
            try:
                self.tick()
            except Exception as exc:
                LOG.warning('%s failed, trying again in %s s: %s',
                            self.name, self.interval, exc)
                LOG.debug('%s failure', self.name, exc_info=True)
