"""Synthetic SIP and HTTP metric traces with injected faults.

Metric dicts shaped like a collector's (DESIGN.md 4.2), with Poisson
arrivals, so that the detector's sensitivity and false-alarm rate can be
measured without namespaces and real servers:

* SIP registration with digest auth: every registration is two REGISTERs,
  the first answered 401, the second 200; latency log-normal.
* ``latency``: +150 ms on the registrar's link: p50/p95 jump, and with
  SIPp-like pacing fewer registrations complete per second.
* ``db_down``: the subscriber database stops; ``db_5xx`` variant: REGISTER
  answered 504, no 2xx; ``db_silent``: no answer at all (retransmissions).
* HTTP: GETs answered 2xx; ``http_5xx``: half of them fail.

``python -m dpiaas.detect.synthetic`` runs the detection experiment and
prints detection delays and false alarms.
"""
import argparse
import sys

import numpy as np

FAR = 1e-5
KINDS = ('latency', 'db_5xx', 'db_silent', 'http_5xx')


class Trace(object):
    def __init__(self, seed=0, reg_rate=20.0, http_rate=30.0, dt=0.5,
                 sip_port=5060, http_port=80):
        self.rng = np.random.default_rng(seed)
        self.reg_rate, self.http_rate, self.dt = reg_rate, http_rate, dt
        self.sip = 'sip.%d.' % sip_port
        self.http = 'http.%d.' % http_port

    def interval(self, fault=None):
        r, dt = self.rng, self.dt
        m = {}
        rate = self.reg_rate
        if fault == 'latency':
            rate *= 0.7
        n = r.poisson(rate * dt)
        s = self.sip
        if fault == 'db_5xx':
            reg, c4, c2, c5 = n, 0, 0, n
        elif fault == 'db_silent':
            reg, c4, c2, c5 = n + r.poisson(n), 0, 0, 0
        else:
            # responses straddle interval edges: +-1 jitter
            reg = 2 * n
            c4 = max(n + r.integers(-1, 2), 0)
            c2 = max(n + r.integers(-1, 2), 0)
            c5 = 0
        m[s + 'requests.register'] = int(reg)
        m[s + 'responses.1xx'] = 0
        m[s + 'responses.2xx'] = int(c2)
        m[s + 'responses.4xx'] = int(c4)
        m[s + 'responses.5xx'] = int(c5)
        m[s + 'packets_in'] = int(reg + r.poisson(0.5))
        m[s + 'packets_out'] = int(c2 + c4 + c5 + r.poisson(0.5))
        m[s + 'bytes_in'] = int(m[s + 'packets_in'] * r.normal(540, 20))
        m[s + 'bytes_out'] = int(m[s + 'packets_out'] * r.normal(420, 20))
        answered = c2 + c4 + c5
        if answered:
            base = 150.0 if fault == 'latency' else 0.0
            lat = base + r.lognormal(np.log(4.0), 0.4, size=answered)
            if fault == 'db_5xx':
                lat = lat + 30.0
            m[s + 'latency_ms.p50'] = float(np.percentile(lat, 50))
            m[s + 'latency_ms.p95'] = float(np.percentile(lat, 95))
        h = self.http
        g = r.poisson(self.http_rate * dt)
        bad = r.binomial(g, 0.5) if fault == 'http_5xx' else 0
        m[h + 'requests.get'] = int(g)
        m[h + 'responses.2xx'] = int(g - bad)
        m[h + 'responses.5xx'] = int(bad)
        m[h + 'packets_in'] = int(3 * g + r.poisson(1))
        m[h + 'packets_out'] = int(3 * g + r.poisson(1))
        m[h + 'bytes_in'] = int(g * r.normal(300, 10))
        m[h + 'bytes_out'] = int(g * r.normal(2000, 50))
        if g:
            lat = r.lognormal(np.log(2.0), 0.3, size=g)
            m[h + 'latency_ms.p50'] = float(np.percentile(lat, 50))
            m[h + 'latency_ms.p95'] = float(np.percentile(lat, 95))
        m['capture.packets'] = int(sum(v for k, v in m.items()
                                       if k.endswith('packets_in') or
                                       k.endswith('packets_out')))
        m['capture.drops'] = 0
        return m


def run(models=('kmeans',), seed=0, baseline_s=120.0,
        normal_s=1800.0, injections=10, fault_s=30.0, gap_s=30.0,
        kinds=KINDS, sensitivity=0.5):
    """Learn, then ``normal_s`` of normal traffic, then ``injections`` of
    each fault kind with ``gap_s`` of normal traffic around each.

    Returns a dict: false alarms in normal time, and per kind the
    detection delays (intervals from fault start to alarm; None if
    missed) and whether the top-3 explanation named a plausible metric.
    """
    from dpiaas.detect import monitor as monitor_mod
    from dpiaas.detect import params as params_mod
    p = params_mod.DetectorParams.build({
        'models': list(models), 'baseline_s': baseline_s,
        'sensitivity': sensitivity, 'false_alarm_rate': FAR})
    mon = monitor_mod.Monitor('m-synthetic', 'p-synthetic', p)
    trace = Trace(seed)
    ts = 1.0e9
    out = {'false_alarms': 0, 'normal_s': 0.0, 'kinds': {}}

    def feed(fault):
        nonlocal ts
        ts += trace.dt
        return mon.process(ts, trace.interval(fault), 500)

    while mon.status == 'learning':
        feed(None)
    for _ in range(int(normal_s / trace.dt)):
        _, ev = feed(None)
        out['false_alarms'] += bool(ev and ev['state'] == 'alarm')
    out['normal_s'] += normal_s
    for kind in kinds:
        delays, named = [], []
        for _ in range(injections):
            for _ in range(int(gap_s / trace.dt)):
                _, ev = feed(None)
                if ev and ev['state'] == 'alarm':
                    out['false_alarms'] += 1
            out['normal_s'] += gap_s
            delay, expl = None, []
            for i in range(int(fault_s / trace.dt)):
                _, ev = feed(kind)
                if ev and ev['state'] == 'alarm' and delay is None:
                    delay, expl = i + 1, ev['explanation']
            if delay is None and mon.alarm.state == 'alarm':
                delay = 0
            delays.append(delay)
            named.append(_plausible(kind, expl))
            for _ in range(int(4 * gap_s / trace.dt)):
                feed(None)
                if mon.alarm.state != 'alarm':
                    break
        out['kinds'][kind] = {'delays': delays, 'named': named}
    return out


_CAUSES = {
    'latency': ('latency_ms', 'responses.2xx', 'success_ratio',
                'unanswered', 'register'),
    'db_5xx': ('responses.5xx', 'responses.2xx', 'error_share',
               'success_ratio', 'register_2xx', 'responses.4xx'),
    'db_silent': ('unanswered', 'responses.2xx', 'success_ratio',
                  'register_2xx', 'responses.4xx', 'packets_out'),
    'http_5xx': ('http.80.responses', 'http.80.error_share',
                 'http.80.success_ratio'),
}


def _plausible(kind, explanation):
    return any(c in e['metric'] for e in explanation[:3]
               for c in _CAUSES[kind])


def summary(out):
    lines = ['normal traffic: %.0f s, false alarms: %d'
             % (out['normal_s'], out['false_alarms'])]
    for kind, r in out['kinds'].items():
        d = [x for x in r['delays'] if x is not None]
        lines.append('%-10s detected %d/%d, delay median %s p95 %s '
                     'intervals, cause in top-3 %d/%d' % (
                         kind, len(d), len(r['delays']),
                         np.median(d) if d else '-',
                         np.percentile(d, 95) if d else '-',
                         sum(r['named']), len(r['named'])))
    return '\n'.join(lines)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--models', default='kmeans')
    ap.add_argument('--normal-s', type=float, default=1800.0)
    ap.add_argument('--injections', type=int, default=10)
    ap.add_argument('--seed', type=int, default=0)
    ap.add_argument('--sensitivity', type=float, default=0.5)
    a = ap.parse_args(argv)
    out = run(tuple(a.models.split(',')), a.seed, normal_s=a.normal_s,
              injections=a.injections, sensitivity=a.sensitivity)
    print('models %s, seed %d' % (a.models, a.seed))
    print(summary(out))
    return 0


if __name__ == '__main__':
    sys.exit(main())
