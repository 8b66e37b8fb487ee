"""[dpi] options: the packet path's tunables (see DpiSettings)."""
from oslo_config import cfg

from dpiaas.dpi import settings

GROUP = 'dpi'

_D = settings.DpiSettings()

OPTS = [
    cfg.IntOpt('interval_ms', default=_D.interval_ms, min=10, max=3600000,
               help='Length of a metrics interval in milliseconds. '
                    'Intervals are aligned to the clock.'),
    cfg.IntOpt('batch_size', default=_D.batch_size, min=64,
               help='Packets decoded per batch when reading captures.'),
    cfg.IntOpt('stream_table_size', default=_D.stream_table_size, min=8,
               help='TCP connections of decoded services (SIP/HTTP/DNS '
                    'over TCP) tracked at once per collector; the least '
                    'recently used is evicted when full (832 bytes '
                    'each).'),
    cfg.IntOpt('pending_table_size', default=_D.pending_table_size, min=4,
               help='SIP and DNS requests awaiting a response (for '
                    'latency) per collector.'),
    cfg.FloatOpt('pending_timeout_s', default=_D.pending_timeout_s, min=0.1,
                 help='A response later than this after its request gives '
                      'no latency sample (SIP timer B is 32 s).'),
    cfg.IntOpt('latency_samples', default=_D.latency_samples, min=16,
               help='Latency samples kept per service and interval for '
                    'p50/p95 (reservoir sampling beyond).'),
    cfg.IntOpt('flow_table_size', default=_D.flow_table_size, min=0,
               help='Flows (5-tuples) tracked per collector (144 bytes '
                    'each); 0 disables the flow table and heavy hitters. '
                    'The flow idle longest is evicted when full, and '
                    'counted.'),
    cfg.FloatOpt('flow_idle_timeout_s', default=_D.flow_idle_timeout_s,
                 min=1,
                 help='A flow idle this long expires and its record is '
                      'reported.'),
    cfg.IntOpt('heavy_hitters', default=_D.heavy_hitters, min=0,
               help='Top flows by packets and by bytes reported per '
                    'interval.'),
    cfg.BoolOpt('flow_regulator', default=_D.flow_regulator,
                help='Count flows through a FlowRegulator sketch, so that '
                     'only a small share of packets update the flow table '
                     '(counts are estimates, about 6 % error at 1,000 '
                     'packets); off: every packet updates the table, exact '
                     'counts.'),
    cfg.IntOpt('regulator_bytes', default=_D.regulator_bytes, min=1024,
               help='Memory of the FlowRegulator sketch in front of the flow '
                    'table, in bytes.'),
    cfg.IntOpt('fragment_max_datagrams', default=_D.fragment_max_datagrams,
               min=1,
               help='IP datagrams awaiting reassembly at once.'),
    cfg.FloatOpt('fragment_timeout_s', default=_D.fragment_timeout_s, min=1,
                 help='Fragments of a datagram not complete after this are '
                      'dropped (and counted).'),
    cfg.FloatOpt('max_gap_s', default=_D.max_gap_s, min=1,
                 help='Offline only: a jump in capture time longer than '
                      'this restarts the interval clock instead of '
                      'reporting every empty interval in between.'),
]


def register_opts(conf):
    conf.register_opts(OPTS, group=GROUP)


def list_opts():
    return [(GROUP, OPTS)]


def settings_from_conf(conf):
    """The DpiSettings a collector uses, from the [dpi] group."""
    group = conf[GROUP]
    return settings.DpiSettings(**{opt.dest: group[opt.dest] for opt in OPTS})
