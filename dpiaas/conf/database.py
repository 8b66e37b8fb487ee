"""[database] options: oslo.db's connection options plus retention.

Retention is on by default and bounds every table that grows with
traffic (Ceilometer kept samples forever and filled its operators'
disks). At 2 samples/s per collector and ~30 metrics a raw sample row is
~0.3 KB, so the defaults keep, per monitored port: 2 h raw (~4 MB),
10 s rollups for 2 days (~5 MB) and 5 min rollups for 30 days (~2.5 MB).
"""
from oslo_config import cfg
from oslo_db import options as db_options

GROUP = 'database'
DEFAULT_ROLLUPS = ['10:172800', '300:2592000']

OPTS = [
    cfg.IntOpt('raw_retention', default=7200, min=60,
               help='Seconds raw samples (one per collector interval) are '
                    'kept before only their rollups remain. Default 2 '
                    'hours, ~4 MB per monitored port at 2 samples/s.'),
    cfg.ListOpt('rollups', default=DEFAULT_ROLLUPS,
                item_type=cfg.types.String(regex=r'^\s*\d+\s*:\s*\d+\s*$'),
                help='Downsampled copies of the samples, as '
                     'RESOLUTION_S:RETENTION_S pairs, finest first; each '
                     'resolution must be a multiple of the previous one. '
                     'Counters are summed over a bucket, latency_ms.* '
                     'metrics take the maximum. Default: 10 s buckets for '
                     '2 days, 5 min buckets for 30 days. Empty: raw '
                     'samples only.'),
    cfg.IntOpt('flow_retention', default=86400, min=60,
               help='Seconds flow records (expired flows) are kept. The '
                    'heavy hitters keep only the latest interval of each '
                    'collector.'),
    cfg.IntOpt('alarm_history_retention', default=7776000, min=3600,
               help='Seconds alarm state changes are kept (default 90 '
                    'days).'),
]


def register_opts(conf):
    # connection defaults to None: dpiaas.db.api.connection_url() then
    # uses a SQLite file dpiaas.sqlite in [DEFAULT] state_path
    db_options.set_defaults(conf)
    conf.register_opts(OPTS, group=GROUP)


def list_opts():
    return [(GROUP, list(db_options.database_opts) + OPTS)]


def parse_rollups(items):
    """``['10:172800', ...]`` -> ``[(10, 172800), ...]``, checked."""
    out = []
    for item in items or ():
        res, _, keep = str(item).partition(':')
        try:
            res, keep = int(res), int(keep)
        except ValueError:
            raise ValueError('[database] rollups: %r is not '
                             'RESOLUTION_S:RETENTION_S' % item)
        if res <= 0 or keep < res:
            raise ValueError('[database] rollups: %r needs a positive '
                             'resolution and a retention of at least one '
                             'bucket' % item)
        if out and (res <= out[-1][0] or res % out[-1][0]):
            raise ValueError('[database] rollups: %r must be a multiple of '
                             'the previous resolution (%d s), finest first'
                             % (item, out[-1][0]))
        out.append((res, keep))
    return out
