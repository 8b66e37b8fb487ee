"""One collector keeps running whatever its tap does."""
import pytest

from dpiaas.agent import reporter as reporter_mod
from dpiaas.agent import runner as runner_mod
from dpiaas.dpi import settings as settings_mod
from tests.unit.agent import fakes
from tests.unit.agent.waiting import wait_for


@pytest.fixture
def reporter(engine):
    return reporter_mod.Reporter(engine, 'h1')


def make(reporter, taps, collector=None):
    return runner_mod.CollectorRunner(
        collector or fakes.collector(), reporter,
        lambda spec: settings_mod.DpiSettings(interval_ms=spec.interval_ms),
        tapfinder=taps, retry_interval=0.02, live_factory=fakes.FakeLive)


def statuses(reporter):
    return dict(reporter.statuses)


def test_reports_are_tagged_and_status_turns_running(reporter):
    r = make(reporter, fakes.FakeTapFinder({'tapport-1'}))
    r.start()
    try:
        wait_for(lambda: len(reporter.samples.items) >= 2, what='samples')
        assert r.status == 'running'
        assert r.interface == 'tapport-1'
        sample = reporter.samples.items[0]
        assert (sample['collector_id'], sample['monitor_id']) == \
            ('c1', 'm-c1')
        assert statuses(reporter) == {'c1': ('running', None)}
        assert r.state()['capture_packets'] >= 4
    finally:
        r.stop()
    assert not r.alive()
    assert r.status == 'stopped'


def test_missing_tap_is_an_error_until_it_appears(reporter):
    taps = fakes.FakeTapFinder()
    r = make(reporter, taps)
    r.start()
    try:
        wait_for(lambda: r.status == 'error', what='error status')
        assert 'tapport-1' in r.reason
        assert statuses(reporter)['c1'][0] == 'error'
        taps.present.add('tapport-1')
        wait_for(lambda: r.status == 'running', what='running again')
        assert statuses(reporter)['c1'] == ('running', None)
    finally:
        r.stop()


def test_vanished_tap_stops_capture_and_resumes_when_back(reporter):
    taps = fakes.FakeTapFinder({'tapport-1'})
    r = make(reporter, taps)
    r.start()
    try:
        wait_for(lambda: r.status == 'running', what='running')
        taps.present.clear()
        fakes.FakeLive.instances[0].vanish.set()
        wait_for(lambda: r.status == 'error', what='error status')
        assert 'vanished' in r.reason
        assert len(fakes.FakeLive.instances) == 1
        taps.present.add('tapport-1')
        wait_for(lambda: r.status == 'running', what='resumed')
        assert len(fakes.FakeLive.instances) == 2
        n = len(reporter.samples.items)
        wait_for(lambda: len(reporter.samples.items) > n, what='samples')
    finally:
        r.stop()


def test_unusable_spec_is_an_error_with_reason_and_no_capture(reporter):
    bad = fakes.collector(spec={'services': []})
    r = make(reporter, fakes.FakeTapFinder({'tapport-1'}), bad)
    r.start()
    wait_for(lambda: not r.alive(), what='thread end')
    assert r.status == 'error'
    assert 'spec' in r.reason
    assert fakes.FakeLive.instances == []


def test_an_unexpected_exception_does_not_end_the_collector(reporter):
    class Exploding(fakes.FakeLive):
        calls = 0

        def run(self, emit):
            Exploding.calls += 1
            if Exploding.calls == 1:
                raise RuntimeError('boom')
            return super().run(emit)

    r = make(reporter, fakes.FakeTapFinder({'tapport-1'}))
    r.live_factory = Exploding
    r.start()
    try:
        wait_for(lambda: r.status == 'running', what='running after a bug')
        assert Exploding.calls == 2
    finally:
        r.stop()
