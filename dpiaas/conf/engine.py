"""[engine] and [coordination] options: the control plane's engine.

The engine schedules collectors onto agents, ingests what they report and
watches that they stay alive; several engines share the monitors through a
tooz hash ring when ``[coordination] backend_url`` is set. An engine's
member id in that ring is ``[DEFAULT] host`` (see ``dpiaas.conf.agent``),
or ``<host>.<n>`` for each of ``[engine] workers`` processes.
"""
from oslo_config import cfg

GROUP = 'engine'
COORDINATION_GROUP = 'coordination'

OPTS = [
    cfg.FloatOpt('reconcile_interval', default=10.0, min=0.1,
                 help='Seconds between two reconciliations of every '
                      'monitor this engine owns against the inventory '
                      '(rules changed, ports moved or deleted). A monitor '
                      'changed through the API is reconciled at once.'),
    cfg.IntOpt('agent_down_time', default=60, min=1,
               help='Seconds without a report_state from an agent after '
                    'which it is considered down and its collectors are '
                    'flagged host_down. Keep it at least twice the '
                    'agents\' [agent] report_interval.'),
    cfg.FloatOpt('liveness_interval', default=5.0, min=0.1,
                 help='Seconds between two checks for agents that stopped '
                      'reporting.'),
    cfg.FloatOpt('expire_interval', default=300.0, min=1,
                 help='Seconds between two passes of retention and '
                      'downsampling over stored samples.'),
    cfg.IntOpt('ingest_batch_size', default=5000, min=1,
               help='Samples written to the database in one transaction; '
                    'a batch is also written when its oldest sample has '
                    'waited ingest_flush_interval. Large batches matter: '
                    'a commit rewrites about one index page per monitor '
                    'in the batch, so thousands of monitors written 500 '
                    'samples at a time cost twice the disk writes of '
                    '5,000 at a time.'),
    cfg.FloatOpt('ingest_flush_interval', default=0.5, min=0.01,
                 help='Longest time in seconds a received sample waits '
                      'before it is written.'),
    cfg.IntOpt('ingest_max_backlog', default=200000, min=1,
               help='Samples kept in memory while the database cannot be '
                    'written (outage). Beyond it the oldest are dropped '
                    'and counted. About 1 KiB each.'),
    cfg.FloatOpt('ingest_retry_interval', default=1.0, min=0.01,
                 help='Seconds between two attempts to write samples '
                      'while the database fails.'),
    cfg.IntOpt('workers', default=1, min=1,
               help='Engine processes on this host. Each is a member of '
                    'the coordination hash ring (member id '
                    '"<host>.<n>"), owns its share of the monitors and '
                    'scores them on its own CPU: one process holds about '
                    '5,000 monitors (Python runs its threads on one core '
                    'at a time). With more than one and no '
                    '[coordination] backend_url, the workers share a ring '
                    'in files under /var/lib/dpiaas/coordination. '
                    'dpiaas-all-in-one ignores it.'),
    cfg.FloatOpt('broker_check_timeout', default=10.0, min=0,
                 help='At start, seconds to wait for the message broker '
                      'before giving up with an error (0: no check).'),
]

COORDINATION_OPTS = [
    cfg.StrOpt('backend_url', secret=True,
               help='tooz backend URL (e.g. redis://, etcd3+http://, '
                    'memcached://, file:///path for engines on one host) '
                    'through which engines share the monitors on a hash '
                    'ring. Unset: this engine owns every monitor, so run '
                    'only one.'),
    cfg.FloatOpt('heartbeat_interval', default=1.0, min=0.1,
                 help='Seconds between two heartbeats to the coordination '
                      'backend and two refreshes of the group membership.'),
    cfg.StrOpt('group', default='dpiaas-engines',
               help='Coordination group the engines join.'),
]


def register_opts(conf):
    conf.register_opts(OPTS, group=GROUP)
    conf.register_opts(COORDINATION_OPTS, group=COORDINATION_GROUP)


def list_opts():
    return [(GROUP, OPTS), (COORDINATION_GROUP, COORDINATION_OPTS)]
