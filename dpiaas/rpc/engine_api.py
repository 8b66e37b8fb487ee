"""Client side of the agent -> engine and API -> engine RPC APIs.

``EngineAPI`` reaches any engine on ``Target(topic='dpiaas-engine')``
(storage is shared, so whichever answers is right); the agent uses it for
its samples, flow reports, heartbeats and collector statuses.
``EngineControlAPI`` is what the API sends on ``dpiaas-engine-control``
after a monitor changes.

API version history:

* 1.0 - report_samples, report_flows, report_state, collector_status
  (casts); get_desired (call). Control: monitor_changed (cast).
"""
import oslo_messaging as messaging

from dpiaas.rpc import transport as rpc_transport

TOPIC = 'dpiaas-engine'
CONTROL_TOPIC = 'dpiaas-engine-control'
RPC_API_VERSION = '1.0'


class EngineAPI:
    """The agent's voice: every method takes the agent's ``host`` first.

    ``retry`` bounds how often one cast retries a lost connection (None:
    forever, as oslo.messaging does by default). The agent passes a small
    number so that a dead broker raises MessageDeliveryFailure instead of
    blocking its reporter, and keeps the batch for later.
    """

    def __init__(self, transport, topic=TOPIC, version_cap=None,
                 timeout=None, retry=None):
        target = messaging.Target(topic=topic, version=RPC_API_VERSION)
        self.client = rpc_transport.get_rpc_client(
            transport, target, version_cap=version_cap, timeout=timeout,
            retry=retry)

    def can_send_version(self, version):
        return self.client.can_send_version(version)

    def _cast(self, ctxt, method, **kwargs):
        self.client.prepare(version='1.0').cast(ctxt, method, **kwargs)

    def report_samples(self, ctxt, host, samples):
        self._cast(ctxt, 'report_samples', host=host, samples=samples)

    def report_flows(self, ctxt, host, reports):
        self._cast(ctxt, 'report_flows', host=host, reports=reports)

    def report_state(self, ctxt, host, state):
        self._cast(ctxt, 'report_state', host=host, state=state)

    def collector_status(self, ctxt, host, collector_id, status,
                         reason=None):
        self._cast(ctxt, 'collector_status', host=host,
                   collector_id=collector_id, status=status, reason=reason)

    def get_desired(self, ctxt, host, timeout=None):
        """The collectors ``host`` should run (raises MessagingTimeout
        when no engine answers)."""
        kwargs = {} if timeout is None else {'timeout': timeout}
        return self.client.prepare(version='1.0', **kwargs).call(
            ctxt, 'get_desired', host=host)


class EngineControlAPI:
    """The API's nudge: reconcile this monitor now, not at the next pass."""

    def __init__(self, transport, topic=CONTROL_TOPIC, version_cap=None):
        target = messaging.Target(topic=topic, version=RPC_API_VERSION)
        self.client = rpc_transport.get_rpc_client(
            transport, target, version_cap=version_cap)

    def can_send_version(self, version):
        return self.client.can_send_version(version)

    def monitor_changed(self, ctxt, monitor_id):
        self.client.prepare(version='1.0').cast(ctxt, 'monitor_changed',
                                                monitor_id=monitor_id)
