"""The agent wired to a transport: RPC server, manager, reporter.

``dpiaas-agent`` runs one per hypervisor; ``dpiaas-all-in-one`` builds one
in-process on the ``fake://`` transport with :func:`build_agent`.
"""
import logging

import oslo_messaging as messaging

from dpiaas.agent import manager as manager_mod
from dpiaas.rpc import agent_api
from dpiaas.rpc import engine_api
from dpiaas.rpc import transport as rpc_transport

LOG = logging.getLogger(__name__)


class AgentService:
    """Serves ``Target(topic='dpiaas-agent', server=conf.host)``."""

    def __init__(self, conf, transport, manager=None):
        self.conf = conf
        self.transport = transport
        self.engine = engine_api.EngineAPI(
            transport, timeout=conf.agent.rpc_call_timeout,
            retry=conf.agent.rpc_cast_retry)
        self.manager = manager or manager_mod.AgentManager(conf, self.engine)
        target = messaging.Target(topic=agent_api.TOPIC, server=conf.host)
        self.server = rpc_transport.get_rpc_server(transport, target,
                                                   [self.manager])
        self.started = False

    def start(self):
        self.server.start()
        self.manager.start()
        self.started = True
        LOG.info('dpiaas-agent %s serving host %s', self.manager.version,
                 self.conf.host)

    def stop(self):
        """Stop serving, stop every collector, flush the reports."""
        if not self.started:
            return
        self.started = False
        try:
            self.server.stop()
            self.server.wait()
        except Exception as exc:  # a dead broker must not block exit
            LOG.warning('RPC server did not stop cleanly: %s', exc)
        self.manager.stop()


def build_agent(conf, transport):
    """An :class:`AgentService` for ``conf`` (agent and dpi options
    registered, ``host`` set) on ``transport``; call ``start()``."""
    return AgentService(conf, transport)
