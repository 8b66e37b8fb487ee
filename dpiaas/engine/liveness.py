"""Agents that stopped reporting, and what that means for their collectors.

An agent is down when its last ``report_state`` is older than ``[engine]
agent_down_time`` (neutron's rule). Its collectors are flagged
``host_down`` and their monitors say which agent and for how long; when
the agent reports again the RPC endpoint sets them back from what it
reports. Every engine may run this check: it only writes when something
changes, and only for the monitors it owns.
"""
import threading
import time

from oslo_log import log as logging

from dpiaas.engine import periodic
from dpiaas.engine import status as st

LOG = logging.getLogger(__name__)


def is_alive(agent, down_time, now):
    last = (agent or {}).get('last_heartbeat')
    return last is not None and now - last < down_time


def down_hosts(storage, down_time, now, hosts=None):
    """``{host: reason}`` of the agents that are down.

    With ``hosts``, also a host whose agent never reported is down.
    """
    agents = {a['host']: a for a in storage.list_agents()}
    out = {}
    for host, agent in agents.items():
        if not is_alive(agent, down_time, now):
            out[host] = st.agent_down_reason(host, agent, now)
    for host in hosts or ():
        if host and host not in agents:
            out[host] = st.agent_down_reason(host, None, now)
    return out


class Liveness(periodic.PeriodicTask):
    """Periodic check of agents' heartbeats."""

    name = 'agent liveness check'

    def __init__(self, storage, down_time, owns=lambda monitor_id: True,
                 interval=5.0, lock=None, clock=time.time):
        super().__init__(interval)
        self.storage = storage
        self.down_time = down_time
        self.owns = owns
        self.lock = lock or threading.RLock()
        self.clock = clock

    def check(self, now=None):
        """Flag the collectors of down agents; returns the down hosts."""
        now = self.clock() if now is None else now
        down = down_hosts(self.storage, self.down_time, now)
        touched = set()
        with self.lock:
            for host, reason in down.items():
                for c in self.storage.list_collectors(host=host):
                    if not self.owns(c['monitor_id']):
                        continue
                    if (c.get('status') != st.C_HOST_DOWN
                            or c.get('status_reason') != reason):
                        if c.get('status') != st.C_HOST_DOWN:
                            LOG.warning('%s: collector %s of monitor %s '
                                        'flagged host_down', reason,
                                        c['id'], c['monitor_id'])
                        self.storage.upsert_collector(
                            {'id': c['id'], 'status': st.C_HOST_DOWN,
                             'status_reason': reason})
                        touched.add(c['monitor_id'])
            for monitor_id in sorted(touched):
                st.refresh(self.storage, monitor_id, down)
        return down

    def tick(self):
        self.check()
