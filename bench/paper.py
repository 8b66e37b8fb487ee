"""The 2017 paper's evaluation protocol, in full (issue 4's acceptance).

    sudo .venv/bin/python -m bench.paper [--repetitions 10] [--normal-s 30]
                                         [--baseline-s 300] [--json OUT]

Builds the IMS testbed (tests/e2e/testbed: SIPp with digest auth ->
Kamailio edge proxy -> Kamailio registrar on PostgreSQL, nginx under
load), runs dpiaas-all-in-one on it, lets every monitor learn for
``--baseline-s``, then ``--repetitions`` rounds of: for each anomaly kind
a normal period of ``--normal-s`` seconds, the injection, the restore and
the wait for every alarm to clear, then ``--settle-s`` seconds during
which alarms count as after-effects of the restore (reported apart, not
as false alarms). Prints recall, precision, median and p95 detection
delay in intervals, false alarms per hour of normal traffic, and how often
the injected cause is in the alarm's top-3 explanation.

The defaults (10 x 6 kinds x 30 s) give 30 minutes of normal periods and
take about 55 minutes.
"""
import argparse
import dataclasses
import json
import sys
import tempfile
import time

from tests.e2e.testbed import anomalies
from tests.e2e.testbed import experiment as experiment_mod
from tests.e2e.testbed import Testbed


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--repetitions', type=int, default=10)
    p.add_argument('--normal-s', type=float, default=30.0)
    p.add_argument('--settle-s', type=float, default=10.0)
    p.add_argument('--baseline-s', type=float, default=300.0)
    p.add_argument('--kinds', default=','.join(anomalies.ANOMALIES))
    p.add_argument('--json', help='write every outcome here')
    args = p.parse_args(argv)
    kinds = [k for k in args.kinds.split(',') if k]
    outcomes, periods, after = [], [], []
    t0 = time.monotonic()
    with tempfile.TemporaryDirectory(prefix='dpiaas-paper-') as work:
        with Testbed(work) as tb:
            tb.start_load()
            with experiment_mod.Experiment(tb, work,
                                           baseline_s=args.baseline_s) as ex:
                ex.wait_baseline()
                print('baseline learned after %.0f s'
                      % (time.monotonic() - t0), file=sys.stderr)
                for rep in range(args.repetitions):
                    for name in kinds:
                        periods.append(ex.normal(args.normal_s))
                        o = ex.inject(name)
                        outcomes.append(o)
                        settle = ex.normal(args.settle_s)
                        after.extend(settle.false_alarms)
                        print('round %d %-15s detected=%s delay=%s role=%s '
                              'top3=%s cleared=%s' % (
                                  rep + 1, name, o.detected,
                                  o.delay_intervals, o.role, o.explanation,
                                  o.cleared), file=sys.stderr)
                periods.append(ex.normal(args.normal_s))
    summary = experiment_mod.summarize(outcomes, periods)
    summary['alarms_in_settle_periods'] = len(after)
    summary['wall_s'] = round(time.monotonic() - t0)
    per_kind = {}
    for name in kinds:
        mine = [o for o in outcomes if o.anomaly == name]
        per_kind[name] = experiment_mod.summarize(mine, [])
    print('%-16s %8s %8s %8s %8s' % ('anomaly', 'recall', 'med.dly',
                                     'p95.dly', 'top-3'))
    for name, s in per_kind.items():
        print('%-16s %8.2f %8s %8s %8.2f' % (
            name, s['recall'], s['median_delay_intervals'],
            s['p95_delay_intervals'], s['cause_in_top3'] or 0))
    print(json.dumps(summary, indent=1))
    if args.json:
        with open(args.json, 'w') as f:
            json.dump({'summary': summary, 'per_kind': per_kind,
                       'outcomes': [dataclasses.asdict(o) for o in outcomes],
                       'false_alarms': [fa for pd in periods
                                        for fa in pd.false_alarms],
                       'settle_alarms': after}, f, indent=1, default=str)
    ok = (summary['recall'] == 1.0 and summary['false_alarms'] == 0 and
          (summary['median_delay_intervals'] or 99) <= 3 and
          (summary['cause_in_top3'] or 0) >= 0.9)
    return 0 if ok else 1


if __name__ == '__main__':
    sys.exit(main())
