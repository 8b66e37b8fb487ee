"""Nudge the engine from a background thread, never from the request.

``monitor_changed`` is a cast to the engine's control topic; with a
broker down oslo.messaging may retry for a long time, and a tenant's
request must not wait for that. The nudge is an optimisation (the engine
reconciles every monitor periodically anyway), so when the queue is full
it is dropped and logged.
"""
import queue
import threading

from oslo_log import log as logging

LOG = logging.getLogger(__name__)


class BackgroundControl:
    """``monitor_changed(ctxt, monitor_id)`` queued for a worker thread."""

    def __init__(self, control, maxsize=1000):
        self.control = control
        self.queue = queue.Queue(maxsize=maxsize)
        self.thread = threading.Thread(target=self._run, daemon=True,
                                       name='dpiaas-api-engine-control')
        self.thread.start()

    def monitor_changed(self, ctxt, monitor_id):
        try:
            self.queue.put_nowait((ctxt, monitor_id))
        except queue.Full:
            LOG.warning('Engine nudges are backing up; monitor %s will be '
                        'reconciled at the next periodic pass.', monitor_id)

    def _run(self):
        while True:
            ctxt, monitor_id = self.queue.get()
            try:
                self.control.monitor_changed(ctxt, monitor_id)
            except Exception as exc:
                LOG.warning('Could not notify the engine of monitor %s '
                            '(%s); it will be reconciled at the next '
                            'periodic pass.', monitor_id, exc)
