"""[detector] options: operator defaults of every monitor's detector.

A monitor's own ``detector`` dict (``baseline_s``, ``sensitivity``, ...)
overrides these; see :class:`dpiaas.detect.params.DetectorParams`.
"""
from oslo_config import cfg

from dpiaas.detect import params

GROUP = 'detector'

_D = params.DetectorParams()

OPTS = [
    cfg.FloatOpt('baseline_s', default=_D.baseline_s, min=1,
                 help='Seconds of data a new monitor learns from before '
                      'it raises alarms (gaps do not count).'),
    cfg.FloatOpt('sensitivity', default=_D.sensitivity, min=0, max=1,
                 help='0 (quiet) .. 1 (eager): scales the target false '
                      'alarm rate by up to 100x either way.'),
    cfg.ListOpt('models', default=list(_D.models),
                help='Models (dpiaas.detectors) whose calibrated scores '
                     'are combined (maximum).'),
    cfg.IntOpt('window', default=_D.window, min=1,
               help='Intervals in the rolling window features.'),
    cfg.ListOpt('window_stats', default=list(_D.window_stats),
                help='Rolling statistics of rates and latencies: mean, '
                     'max, spread.'),
    cfg.FloatOpt('latency_floor_ms', default=_D.latency_floor_ms, min=0.1,
                 help='Smallest latency deviation (ms) the detector '
                      'scales by: per-interval percentiles jump by tens '
                      'of ms on a busy host. Lower it for latency-'
                      'critical services.'),
    cfg.FloatOpt('false_alarm_rate', default=_D.false_alarm_rate,
                 min=1e-9, max=0.4,
                 help='Target share of normal intervals scored anomalous '
                      'at sensitivity 0.5 (threshold calibration on '
                      'held-out baseline data).'),
    cfg.FloatOpt('holdout_fraction', default=_D.holdout_fraction,
                 min=0.05, max=0.5,
                 help='Share of the baseline held out for calibration.'),
    cfg.FloatOpt('retrain_interval_s', default=_D.retrain_interval_s,
                 min=1,
                 help='Seconds between refits on recent normal data.'),
    cfg.FloatOpt('history_s', default=_D.history_s, min=1,
                 help='Seconds of recent normal data kept for refits.'),
    cfg.IntOpt('raise_k', default=_D.raise_k, min=1,
               help='Anomalous intervals among the last raise_n that '
                    'raise the alarm.'),
    cfg.IntOpt('raise_n', default=_D.raise_n, min=1,
               help='Length of the raising window.'),
    cfg.IntOpt('clear_intervals', default=_D.clear_intervals, min=1,
               help='Consecutive normal intervals that clear an alarm '
                    '(at least raise_n).'),
    cfg.FloatOpt('new_normal_s', default=_D.new_normal_s, min=1,
                 help='An alarm lasting this long is flagged "new '
                      'normal?" (rebaseline if expected).'),
    cfg.FloatOpt('no_data_s', default=_D.no_data_s, min=1,
                 help='No metrics this long: state insufficient_data.'),
]


# how the engine runs the detector (not per-monitor parameters)
ENGINE_OPTS = [
    cfg.FloatOpt('save_interval', default=60.0, min=1,
                 help='Seconds between saves of a monitor\'s detector '
                      'state to the database (also saved at engine stop); '
                      'a restarted engine resumes from it instead of '
                      'learning again.'),
]


def register_opts(conf):
    conf.register_opts(OPTS + ENGINE_OPTS, group=GROUP)


def list_opts():
    return [(GROUP, OPTS + ENGINE_OPTS)]


def defaults_from_conf(conf):
    """A dict for :meth:`DetectorParams.build` from the [detector] group."""
    group = conf[GROUP]
    return {opt.dest: group[opt.dest] for opt in OPTS}


def params_for(conf, monitor_detector=None):
    """The DetectorParams of one monitor (its dict over the defaults)."""
    return params.DetectorParams.build(defaults_from_conf(conf),
                                       monitor_detector)
