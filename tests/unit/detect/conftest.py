import pytest

from dpiaas.detect import monitor as monitor_mod
from dpiaas.detect import params as params_mod
from dpiaas.detect import synthetic


def make_monitor(mid='m1', project='p1', seed=0, baseline_s=30.0,
                 **overrides):
    values = {'baseline_s': baseline_s}
    values.update(overrides)
    p = params_mod.DetectorParams.build(values)
    return monitor_mod.Monitor(mid, project, p), synthetic.Trace(seed)


class Feeder(object):
    """Feeds a monitor synthetic intervals on a 500 ms clock."""

    def __init__(self, mon, trace, ts=1.0e9):
        self.mon, self.trace, self.ts = mon, trace, ts
        self.events = []

    def feed(self, n=1, fault=None, skip=0, reset=False):
        out = None
        for _ in range(n):
            self.ts += 0.5 * (1 + skip)
            out = self.mon.process(self.ts, self.trace.interval(fault), 500,
                                   reset=reset)
            if out[1]:
                self.events.append(out[1])
            skip = 0
            reset = False
        return out

    def learn(self):
        while self.mon.status == 'learning':
            self.feed()


@pytest.fixture
def feeder():
    mon, trace = make_monitor()
    return Feeder(mon, trace)


@pytest.fixture
def active(feeder):
    feeder.learn()
    feeder.feed(10)
    return feeder
