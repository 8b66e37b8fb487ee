"""Can one engine core keep up with 5,000 monitors at 2 Hz?

Builds N monitors on synthetic SIP + HTTP traffic (each its own detector
object and state; to keep set-up short, the models of ``--distinct``
trained monitors are loaded into the others through the state bytes, the
way the engine loads them from storage: scoring cost does not depend on
the values), then times, over a few ticks:

* ``batch score``: :class:`BatchScorer` on the tick's feature vectors;
* ``full tick``: :func:`process_tick`, i.e. feature building batched per
  schema (:class:`FeatureBank`), one batch score, and alarm evaluation;
* ``old full tick``: the same with features built one monitor at a time
  (:func:`old_process_tick`, the path before feature banks), on a twin
  fleet in the same run, so the ratio is not the machine's mood;
* ``per-monitor loop``: ``Monitor.process`` one monitor at a time,

and prints monitors/s for each against the 10,000/s that 5,000 monitors
at 2 Hz need. Runs on one core (``OMP/OPENBLAS`` threads set to 1);
times are the process's CPU time, so other load on the machine does not
count against it.
"""
import argparse
import os
import sys
import time

for _v in ('OMP_NUM_THREADS', 'OPENBLAS_NUM_THREADS', 'MKL_NUM_THREADS'):
    os.environ.setdefault(_v, '1')

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(
    __file__))))

from dpiaas.detect import batch  # noqa: E402
from dpiaas.detect import monitor as monitor_mod  # noqa: E402
from dpiaas.detect import params as params_mod  # noqa: E402
from dpiaas.detect import synthetic  # noqa: E402

NEED = 10000.0


def old_process_tick(monitors, samples, scorer):
    """process_tick as it was before feature banks: per-monitor
    feature building, one batch score."""
    done, todo = {}, []
    for key, ts, metrics, interval_ms in samples:
        mon = monitors[key]
        finished, pending = mon.prepare(ts, metrics, interval_ms)
        if finished is not None:
            done[key] = finished
            continue
        if key not in scorer._rows:
            scorer.set(key, mon.detector)
        todo.append((key, pending))
    if todo:
        scores = scorer.score([(k, p[1][0]) for k, p in todo])
        for (key, pending), s in zip(todo, scores):
            done[key] = monitors[key].complete(pending, float(s))
    return done


def build(n, distinct, models, stats=None):
    values = {'baseline_s': 30, 'models': models}
    if stats:
        values['window_stats'] = stats
    p = params_mod.DetectorParams.build(values)
    trained = []
    for i in range(distinct):
        mon = monitor_mod.Monitor('m%d' % i, 'p%d' % (i % 7), p)
        tr = synthetic.Trace(i)
        ts = 1.0e9
        while mon.status != 'active':
            ts += 0.5
            mon.process(ts, tr.interval(), 500)
        trained.append((mon.to_bytes(), tr, ts))
    mons, twins, traces = {}, {}, {}
    for i in range(n):
        blob, _, ts = trained[i % distinct]
        mons[i] = monitor_mod.Monitor.from_bytes(blob)
        twins[i] = monitor_mod.Monitor.from_bytes(blob)
        traces[i] = synthetic.Trace(1000 + i)
    return mons, twins, traces, ts


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--monitors', type=int, default=5000)
    ap.add_argument('--distinct', type=int, default=20)
    ap.add_argument('--ticks', type=int, default=5)
    ap.add_argument('--models', default='kmeans')
    ap.add_argument('--stats', default=None,
                    help='window statistics, e.g. mean or mean,max '
                         '(default: the detector\'s)')
    a = ap.parse_args(argv)
    models = tuple(a.models.split(','))
    stats = tuple(a.stats.split(',')) if a.stats else None
    t0 = time.time()
    mons, twins, traces, ts = build(a.monitors, a.distinct, models, stats)
    print('%d monitors (%s; window %s), %d features each, set up in '
          '%.1f s' % (a.monitors, a.models,
                      ','.join(mons[0].params.window_stats),
                      mons[0].detector.schema.size, time.time() - t0))
    # Pre-generate the metric dicts: the bench times the detector, not
    # the synthetic traffic generator.
    ticks = []
    for _ in range(2 * a.ticks + 1):
        ts += 0.5
        ticks.append([(k, ts, traces[k].interval(), 500) for k in mons])
    scorer = batch.BatchScorer()
    batch.process_tick(mons, ticks[0], scorer)    # warm-up, stacks rows
    old_scorer = batch.BatchScorer()
    old_process_tick(twins, ticks[0], old_scorer)

    t_score = t_full = t_old = 0.0
    for tick in ticks[1:a.ticks + 1]:
        # old and new path alternate tick by tick: same machine load
        t = time.process_time()
        old_process_tick(twins, tick, old_scorer)
        t_old += time.process_time() - t
        t = time.process_time()
        out = batch.process_tick(mons, tick, scorer)
        t_full += time.process_time() - t
        items = [(k, r.vector) for k, (r, _) in out.items()]
        t = time.process_time()
        scorer.score(items)
        t_score += time.process_time() - t
    t_loop = 0.0
    for tick in ticks[a.ticks + 1:]:
        t = time.process_time()
        for k, ts_, metrics, ims in tick:
            mons[k].process(ts_, metrics, ims)
        t_loop += time.process_time() - t
    n = a.monitors * a.ticks
    rates = {'batch score': n / t_score, 'full tick': n / t_full,
             'old full tick': n / t_old, 'per-monitor loop': n / t_loop}
    for name, r in rates.items():
        print('%-17s %9.0f monitors/s  (%.2fx the %.0f/s of 5,000 '
              'monitors at 2 Hz)' % (name, r, r / NEED, NEED))
    print('batch vs per-monitor loop: full tick %.1fx faster, scoring '
          'alone %.1fx' % (rates['full tick'] / rates['per-monitor loop'],
                           rates['batch score'] /
                           rates['per-monitor loop']))
    print('full tick, batched features vs one monitor at a time: %.2fx '
          '(same run)' % (rates['full tick'] / rates['old full tick']))
    return 0 if rates['full tick'] >= NEED else 1


if __name__ == '__main__':
    sys.exit(main())
