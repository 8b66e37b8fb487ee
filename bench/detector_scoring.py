"""Can one engine core keep up with 5,000 monitors at 2 Hz?

Builds N monitors on synthetic SIP + HTTP traffic (each its own detector
object and state; to keep set-up short, the models of ``--distinct``
trained monitors are loaded into the others through the state bytes, the
way the engine loads them from storage: scoring cost does not depend on
the values), then times, over a few ticks:

* ``batch score``: :class:`BatchScorer` on the tick's feature vectors;
* ``full tick``: :func:`process_tick`, i.e. per-monitor feature
  extraction, one batch score, and alarm evaluation;
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


def build(n, distinct, models):
    p = params_mod.DetectorParams.build({'baseline_s': 30,
                                         'models': models})
    trained = []
    for i in range(distinct):
        mon = monitor_mod.Monitor('m%d' % i, 'p%d' % (i % 7), p)
        tr = synthetic.Trace(i)
        ts = 1.0e9
        while mon.status != 'active':
            ts += 0.5
            mon.process(ts, tr.interval(), 500)
        trained.append((mon.to_bytes(), tr, ts))
    mons, traces = {}, {}
    for i in range(n):
        blob, _, ts = trained[i % distinct]
        mons[i] = monitor_mod.Monitor.from_bytes(blob)
        traces[i] = synthetic.Trace(1000 + i)
    return mons, traces, ts


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--monitors', type=int, default=5000)
    ap.add_argument('--distinct', type=int, default=20)
    ap.add_argument('--ticks', type=int, default=5)
    ap.add_argument('--models', default='kmeans')
    a = ap.parse_args(argv)
    models = tuple(a.models.split(','))
    t0 = time.time()
    mons, traces, ts = build(a.monitors, a.distinct, models)
    print('%d monitors (%s), %d features each, set up in %.1f s'
          % (a.monitors, a.models, mons[0].detector.schema.size,
             time.time() - t0))
    # Pre-generate the metric dicts: the bench times the detector, not
    # the synthetic traffic generator.
    ticks = []
    for _ in range(2 * a.ticks + 1):
        ts += 0.5
        ticks.append([(k, ts, traces[k].interval(), 500) for k in mons])
    scorer = batch.BatchScorer()
    batch.process_tick(mons, ticks[0], scorer)    # warm-up, stacks rows

    t_score = t_full = 0.0
    for tick in ticks[1:a.ticks + 1]:
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
             'per-monitor loop': n / t_loop}
    for name, r in rates.items():
        print('%-17s %9.0f monitors/s  (%.2fx the %.0f/s of 5,000 '
              'monitors at 2 Hz)' % (name, r, r / NEED, NEED))
    print('batch vs per-monitor loop: full tick %.1fx faster, scoring '
          'alone %.1fx' % (rates['full tick'] / rates['per-monitor loop'],
                           rates['batch score'] /
                           rates['per-monitor loop']))
    return 0 if rates['full tick'] >= NEED else 1


if __name__ == '__main__':
    sys.exit(main())
