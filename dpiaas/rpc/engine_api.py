"""Client side of the agent -> engine and API -> engine RPC APIs.

``EngineAPI`` reaches any engine on ``Target(topic='dpiaas-engine')``
(storage is shared, so whichever answers is right); the agent uses it for
its samples, flow reports, heartbeats and collector statuses.
``EngineControlAPI`` is what the API sends on ``dpiaas-engine-control``
after a monitor changes (a fanout: every engine hears it, the monitor's
owner acts). ``EnginePeerAPI`` is one engine handing another the samples
of a monitor that the other owns.

The reports the agent buffers (samples, flow reports, collector statuses)
are published *mandatory* (``at_least_once``): a cast that the broker
cannot route to any queue -- the engines' queue not declared yet after a
broker restart -- raises ``MessageUndeliverable`` instead of vanishing,
and the agent keeps the batch and sends it again.

API version history:

* 1.0 - report_samples, report_flows, report_state, collector_status
  (casts); get_desired (call). Control: monitor_changed (cast).
* 1.1 - score_samples (cast, engine to engine, ``server=`` the owner);
  monitor_changed is sent as a fanout.
"""
import oslo_messaging as messaging

from dpiaas.rpc import transport as rpc_transport

TOPIC = 'dpiaas-engine'
CONTROL_TOPIC = 'dpiaas-engine-control'
RPC_API_VERSION = '1.1'


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
        # what the agent buffers goes mandatory (see the module docstring)
        self.reports = rpc_transport.get_rpc_client(
            transport, target, version_cap=version_cap, timeout=timeout,
            retry=retry,
            transport_options=messaging.TransportOptions(at_least_once=True))

    def can_send_version(self, version):
        return self.client.can_send_version(version)

    def _cast(self, ctxt, method, client=None, **kwargs):
        (client or self.client).prepare(version='1.0').cast(ctxt, method,
                                                            **kwargs)

    def report_samples(self, ctxt, host, samples):
        self._cast(ctxt, 'report_samples', self.reports, host=host,
                   samples=samples)

    def report_flows(self, ctxt, host, reports):
        self._cast(ctxt, 'report_flows', self.reports, host=host,
                   reports=reports)

    def report_state(self, ctxt, host, state):
        # a lost heartbeat is repaired by the next one
        self._cast(ctxt, 'report_state', host=host, state=state)

    def collector_status(self, ctxt, host, collector_id, status,
                         reason=None):
        self._cast(ctxt, 'collector_status', self.reports, host=host,
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
        """Every engine hears it (fanout); the monitor's owner acts. An
        engine older than 1.1 is reached the 1.0 way (one of them)."""
        if self.client.can_send_version('1.1'):
            cctxt = self.client.prepare(version='1.1', fanout=True)
        else:
            cctxt = self.client.prepare(version='1.0')
        cctxt.cast(ctxt, 'monitor_changed', monitor_id=monitor_id)


class EnginePeerAPI:
    """One engine to another, on ``dpiaas-engine`` with ``server=`` the
    other engine's host.

    ``retry`` is small: forwarding runs in the ingest thread, which must
    not hang on a dead broker (the samples are stored anyway; only their
    scoring is lost).
    """

    def __init__(self, transport, topic=TOPIC, version_cap=None, retry=1):
        target = messaging.Target(topic=topic, version=RPC_API_VERSION)
        self.client = rpc_transport.get_rpc_client(
            transport, target, version_cap=version_cap, retry=retry)

    def can_send_version(self, version):
        return self.client.can_send_version(version)

    def score_samples(self, ctxt, owner, samples):
        """Hand ``samples`` (already stored) to the engine ``owner`` for
        scoring."""
        self.client.prepare(version='1.1', server=owner).cast(
            ctxt, 'score_samples', samples=samples)
