"""[agent] options (dpiaas-agent, one per hypervisor) and ``[DEFAULT] host``.

``host`` is the name the engine addresses this agent by
(``Target(topic='dpiaas-agent', server=host)``): it must match the ports'
``binding:host_id``, which Nova sets to the hypervisor's hostname.
"""
import socket

from oslo_config import cfg

GROUP = 'agent'

DEFAULT_OPTS = [
    cfg.StrOpt('host', default=socket.gethostname(),
               sample_default='<hostname>',
               help='Name of this host as the control plane knows it: for '
                    'an agent, the binding:host_id of the ports it '
                    'monitors (Nova uses the hypervisor hostname).'),
]

OPTS = [
    cfg.FloatOpt('report_interval', default=10.0, min=0.01,
                 help='Seconds between two heartbeats (report_state) of '
                      'the agent; keep it well below the engine\'s '
                      'agent_down_time.'),
    cfg.FloatOpt('report_batch_interval', default=1.0, min=0.01,
                 help='Seconds between two batches of samples and flow '
                      'reports sent to the engine.'),
    cfg.IntOpt('buffer_samples', default=100000, min=1,
               help='Samples and flow reports kept while the engine or the '
                    'broker cannot be reached; the oldest are dropped '
                    'beyond this, and counted.'),
    cfg.IntOpt('batch_max_samples', default=1000, min=1,
               help='Most samples (or flow reports) sent in one RPC '
                    'message.'),
    cfg.BoolOpt('report_flows', default=True,
                help='Send flow records and heavy hitters to the engine '
                     '(report_flows) besides the samples.'),
    cfg.IntOpt('capture_workers', default=1, min=1,
               help='Capture processes per collector (PACKET_FANOUT); one '
                    'handles a few hundred thousand packets per second.'),
    cfg.IntOpt('capture_ring_mb', default=32, min=1, max=1024,
               help='Size in MiB of each capture socket\'s TPACKET_V3 ring '
                    '(one per tap and capture worker): unswappable kernel '
                    'memory mapped by the agent. 32 MiB rides out a '
                    'second-long burst at the highest tcpreplay rate with no '
                    'kernel drop; with hundreds of quiet taps a few MiB '
                    'each is plenty (watch capture.drops).'),
    cfg.FloatOpt('tap_retry_interval', default=3.0, min=0.01,
                 help='Seconds between two attempts to find and capture a '
                      'missing or vanished tap device (a rebooting VM gets '
                      'its tap back).'),
    cfg.FloatOpt('engine_retry_interval', default=5.0, min=0.01,
                 help='Seconds between two attempts to ask an engine for '
                      'the collectors of this host at start.'),
    cfg.FloatOpt('rpc_call_timeout', default=30.0, min=1,
                 help='Seconds to wait for an engine to answer a call '
                      '(get_desired).'),
    cfg.IntOpt('rpc_cast_retry', default=1, min=0,
               help='Connection retries of one cast before it counts as '
                    'failed and its batch waits for the next attempt '
                    '(0: none). Casts never block indefinitely.'),
    cfg.StrOpt('ovs_vsctl', default='ovs-vsctl',
               help='ovs-vsctl command used to find a port\'s tap device '
                    'by external_ids:iface-id; skipped when absent.'),
    cfg.FloatOpt('ovs_timeout', default=5.0, min=0.1,
                 help='Seconds to wait for ovs-vsctl.'),
    cfg.FloatOpt('broker_check_timeout', default=10.0, min=0,
                 help='At start, seconds to wait for the message broker '
                      'before giving up with an error (0: no check).'),
]


def register_opts(conf):
    for opt in DEFAULT_OPTS:
        # the engine may declare the same [DEFAULT] host
        if opt.dest not in conf:
            conf.register_opt(opt)
    conf.register_opts(OPTS, group=GROUP)


def list_opts():
    return [('DEFAULT', DEFAULT_OPTS), (GROUP, OPTS)]
