"""Client side of the engine -> agent RPC API.

Every message is addressed to one agent, ``Target(topic='dpiaas-agent',
server=host)``: an agent never sees another host's collectors.

API version history:

* 1.0 - start_collector, update_collector, stop_collector, sync (casts);
  get_state (call).
"""
import oslo_messaging as messaging

from dpiaas.rpc import transport as rpc_transport

TOPIC = 'dpiaas-agent'
RPC_API_VERSION = '1.0'


class AgentAPI:
    """What the engine asks of the agent of ``host``.

    Casts are work (the agent reports the outcome through
    ``collector_status``); ``get_state`` is the one question.
    """

    def __init__(self, transport, topic=TOPIC, version_cap=None,
                 timeout=None):
        self.topic = topic
        target = messaging.Target(topic=topic, version=RPC_API_VERSION)
        self.client = rpc_transport.get_rpc_client(
            transport, target, version_cap=version_cap, timeout=timeout)

    def _prepare(self, host, version='1.0', **kwargs):
        return self.client.prepare(server=host, version=version, **kwargs)

    def can_send_version(self, version):
        return self.client.can_send_version(version)

    def start_collector(self, ctxt, host, collector):
        """Start (or replace) one collector on ``host``."""
        self._prepare(host).cast(ctxt, 'start_collector',
                                 collector=collector)

    def update_collector(self, ctxt, host, collector):
        """A new spec, tap or generation of a running collector."""
        self._prepare(host).cast(ctxt, 'update_collector',
                                 collector=collector)

    def stop_collector(self, ctxt, host, collector_id, reason=None):
        self._prepare(host).cast(ctxt, 'stop_collector',
                                 collector_id=collector_id, reason=reason)

    def sync(self, ctxt, host, collectors):
        """The full desired set of ``host``: the agent converges to it."""
        self._prepare(host).cast(ctxt, 'sync', collectors=list(collectors))

    def get_state(self, ctxt, host, timeout=None):
        """What the agent's heartbeat sends (raises MessagingTimeout)."""
        kwargs = {} if timeout is None else {'timeout': timeout}
        return self._prepare(host, **kwargs).call(ctxt, 'get_state')
