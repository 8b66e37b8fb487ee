"""The engine's detector loop on a real SQLite Storage.

A monitor learns on synthetic SIP/HTTP intervals, becomes active, goes to
alarm when its registrar's database dies (every REGISTER answered 5xx),
recovers, goes to insufficient_data on a gap (never alarm), and starts
learning again on rebaseline; transitions are stored with history and
notified once each.
"""
import logging
import time

import pytest
from oslo_config import cfg

from dpiaas import conf as dpiaas_conf
from dpiaas.db import api as db_api
from dpiaas.db import migration
from dpiaas.detect import synthetic
from dpiaas.engine import detection as detection_mod
from dpiaas.engine import ingest as ingest_mod

T0 = 1_700_000_000.0


class Notifiers:
    def __init__(self):
        self.events = []

    def notify(self, alarm, monitor, event):
        self.events.append((alarm['id'], monitor['id'], event['state']))


@pytest.fixture
def storage(tmp_path):
    url = 'sqlite:///%s' % (tmp_path / 'dpiaas.sqlite')
    migration.upgrade(url)
    return db_api.Storage(url)


@pytest.fixture
def conf():
    c = cfg.ConfigOpts()
    dpiaas_conf.register_opts(c)
    c([], project='dpiaas')
    return c


@pytest.fixture
def world(storage, conf):
    monitor = storage.create_monitor(
        {'project_id': 'p1', 'port_id': 'port-1', 'status': 'learning',
         'detector': {'baseline_s': 60, 'sensitivity': 0.5}})
    notifiers = Notifiers()
    det = detection_mod.Detection(conf, storage, notifiers)
    return det, monitor, notifiers


def feed(det, monitor, trace, n, t, fault=None, collectors=1):
    """``n`` intervals from ``t``; returns the next interval start."""
    for _ in range(n):
        metrics = trace.interval(fault)
        samples = []
        for c in range(collectors):
            part = {k: (v / collectors if 'latency' not in k else v)
                    for k, v in metrics.items()}
            samples.append({'collector_id': 'c%d' % c,
                            'monitor_id': monitor['id'], 'ts': t,
                            'interval_ms': 500, 'metrics': part})
        det.run_once(samples, now=t + 0.5)
        t += 0.5
    return t


def alarm_of(storage, monitor):
    mon = storage.get_monitor(monitor['id'])
    return mon, storage.get_alarm(mon['alarm_id'])


def test_learns_alarms_explains_recovers(world, storage):
    det, monitor, notifiers = world
    trace = synthetic.Trace(seed=3)
    t = feed(det, monitor, trace, 60, T0)
    mon, alarm = alarm_of(storage, monitor)
    assert alarm['state'] == 'insufficient_data'
    assert mon['status'] == 'learning'
    assert 'learn' in alarm['state_reason']

    t = feed(det, monitor, trace, 200, t)
    mon, alarm = alarm_of(storage, monitor)
    assert mon['status'] == 'active', mon
    assert alarm['state'] == 'ok', alarm

    start = t
    t = feed(det, monitor, trace, 6, t, fault='db_5xx')
    mon, alarm = alarm_of(storage, monitor)
    assert alarm['state'] == 'alarm', alarm
    assert alarm['severity'] in ('low', 'moderate', 'critical')
    assert alarm['score'] >= 1.0
    top = [e['metric'] for e in alarm['explanation']]
    assert any('sip.5060' in m for m in top), top
    history = storage.list_alarm_history(alarm['id'])
    fired = [h for h in history if h['state'] == 'alarm']
    assert fired and fired[0]['timestamp'] - start <= 3 * 0.5

    t = feed(det, monitor, trace, 40, t)
    _, alarm = alarm_of(storage, monitor)
    assert alarm['state'] == 'ok', alarm
    states = [s for _, _, s in notifiers.events]
    assert states == ['ok', 'alarm', 'ok'], states


def test_a_gap_is_insufficient_data_never_alarm(world, storage):
    det, monitor, _ = world
    trace = synthetic.Trace(seed=4)
    t = feed(det, monitor, trace, 260, T0)
    _, alarm = alarm_of(storage, monitor)
    assert alarm['state'] == 'ok'
    # nothing for two minutes
    det.run_once([], now=t + 120)
    det._last_no_data = 0
    det.run_once([], now=t + 121)
    _, alarm = alarm_of(storage, monitor)
    assert alarm['state'] == 'insufficient_data', alarm
    assert 'no metrics' in alarm['state_reason']
    states = [h['state'] for h in storage.list_alarm_history(alarm['id'])]
    assert 'alarm' not in states


def test_collectors_of_one_monitor_are_merged(world, storage):
    det, monitor, _ = world
    trace = synthetic.Trace(seed=5)
    feed(det, monitor, trace, 260, T0, collectors=2)
    mon, alarm = alarm_of(storage, monitor)
    assert alarm['state'] == 'ok'
    assert det.processed == 260


def test_rebaseline_learns_again_and_state_survives_restart(world, storage,
                                                            conf):
    det, monitor, _ = world
    trace = synthetic.Trace(seed=6)
    t = feed(det, monitor, trace, 260, T0)
    det.save_all()
    # another engine (or a restart) resumes from the saved state
    det2 = detection_mod.Detection(conf, storage, Notifiers())
    t = feed(det2, monitor, trace, 4, t)
    mon, alarm = alarm_of(storage, monitor)
    assert mon['status'] == 'active' and alarm['state'] == 'ok'

    storage.update_monitor(monitor['id'], {'rebaseline_requested_at': t})
    det2.entries[monitor['id']].read_at = 0      # re-read now
    feed(det2, monitor, trace, 1, t)
    mon, alarm = alarm_of(storage, monitor)
    assert mon['status'] == 'learning', mon
    assert mon['rebaseline_requested_at'] is None
    assert alarm['state'] == 'insufficient_data'
    assert 'rebaseline' in alarm['state_reason']


def test_samples_of_unknown_or_unowned_monitors_are_ignored(storage, conf):
    det = detection_mod.Detection(conf, storage, Notifiers(),
                                  owns=lambda mid: mid != 'theirs')
    det.run_once([{'monitor_id': 'gone', 'ts': T0, 'interval_ms': 500,
                   'metrics': {'x': 1}},
                  {'monitor_id': 'theirs', 'ts': T0, 'interval_ms': 500,
                   'metrics': {'x': 1}}], now=T0)
    assert det.entries == {}


def sample(mid, ts=T0):
    return {'collector_id': 'c-' + mid, 'monitor_id': mid, 'ts': ts,
            'interval_ms': 500, 'metrics': {'x': 1}}


def test_samples_of_another_engines_monitors_are_forwarded(storage, conf):
    sent = []
    det = detection_mod.Detection(
        conf, storage, Notifiers(), owns=lambda mid: mid == 'mine',
        owner=lambda mid: {'theirs': 'engine-b',
                           'other': 'engine-c'}.get(mid),
        forward=lambda owner, samples: sent.append((owner, samples)))
    det.forward_foreign([sample('mine'), sample('theirs'), sample('other'),
                         sample('theirs', T0 + 0.5), sample('nobody')])
    assert sent == [('engine-b', [sample('theirs'),
                                  sample('theirs', T0 + 0.5)]),
                    ('engine-c', [sample('other')])]
    assert det.forwarded == 3


def test_forwarded_samples_are_never_forwarded_again(storage, conf,
                                                     monkeypatch):
    """What a peer hands over is scored (if ours) but not bounced back,
    even while the two engines disagree about the ring."""
    sent, scored = [], []
    det = detection_mod.Detection(
        conf, storage, Notifiers(), owns=lambda mid: mid == 'mine',
        owner=lambda mid: 'engine-b',
        forward=lambda owner, samples: sent.append(owner))
    monkeypatch.setattr(det, 'run_once', lambda s: scored.extend(s))
    det.score([sample('theirs')])
    det.consume([sample('mine')])
    det.start()
    try:
        deadline = time.monotonic() + 5
        while len(scored) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        det.stop()
    assert sorted(s['monitor_id'] for s in scored) == ['mine', 'theirs']
    assert sent == []


def test_a_failing_forward_loses_only_the_scoring(storage, conf):
    def forward(owner, samples):
        raise ConnectionError('broker down')
    det = detection_mod.Detection(conf, storage, Notifiers(),
                                  owns=lambda mid: False,
                                  owner=lambda mid: 'engine-b',
                                  forward=forward)
    det.forward_foreign([sample('theirs')])
    assert det.forwarded == 0


def test_a_monitor_taken_over_by_another_engine_is_saved_and_forgotten(
        world, storage, conf):
    det, monitor, _ = world
    mine = {monitor['id']}
    det.owns = lambda mid: mid in mine
    trace = synthetic.Trace(seed=3)
    feed(det, monitor, trace, 4, T0)
    assert monitor['id'] in det.entries
    assert storage.load_detector_state(monitor['id']) is None
    mine.clear()   # an engine joined and the ring gave it this monitor
    det._last_no_data = 0.0
    det.run_once([], now=T0 + 10)
    assert det.entries == {}
    saved = storage.load_detector_state(monitor['id'])
    assert saved is not None
    # its samples are not scored here any more
    det.run_once([sample(monitor['id'], T0 + 11)], now=T0 + 11)
    assert det.entries == {}


def row(mid, ts=T0, names=('x',), values=(1,)):
    return ingest_mod.Sample('c-' + mid, mid, ts, 500, names, list(values))


def test_rows_merge_like_dicts():
    """Rows (RPC 1.2) and dicts sum a monitor's collectors alike."""
    a = row('m', names=('x', 'l.latency_ms.p95'), values=(1, 5.0))
    b = ingest_mod.Sample('c2', 'm', T0, 500, ('x', 'l.latency_ms.p95',
                                               'y'), [2, 9.0, 4])
    merged = detection_mod.merge_intervals([a, b])
    assert merged == {('m', T0): ({'x': 3, 'l.latency_ms.p95': 9.0,
                                   'y': 4}, 500)}
    assert merged == detection_mod.merge_intervals([a.to_dict(),
                                                    b.to_dict()])


def test_the_queue_is_bounded_in_samples_and_drops_are_counted(
        storage, conf, caplog):
    det = detection_mod.Detection(conf, storage, Notifiers(), max_queued=5)
    for i in range(4):
        det._put([row('m', T0 + i), row('n', T0 + i)], True, now=100.0 + i)
    # 8 samples offered, at most 5 kept: the two oldest batches dropped
    assert det.stats()['queued'] == 4
    assert det.stats()['dropped'] == 4
    # said once, not at every drop
    assert caplog.text.count('detector queue full (5 samples)') == 1
    foreign, samples = det.take()
    assert [s.ts for s in samples] == [T0 + 2, T0 + 2, T0 + 3, T0 + 3]
    # one batch larger than the bound is kept (nothing older to drop)
    det._put([row('m')] * 6, True, now=170.0)
    assert det.dropped == 4
    det._put([row('m')] * 6, True, now=171.0)     # a minute later: said
    assert det.dropped == 10
    assert caplog.text.count('detector queue full (5 samples)') == 2
    det.stop()
    assert 'at times: 10 dropped in all' in caplog.text


def test_lag_is_measured_and_warned_about_once_a_minute(storage, conf,
                                                        caplog):
    caplog.set_level(logging.INFO)
    det = detection_mod.Detection(conf, storage, Notifiers(),
                                  lag_warning=5.0)
    det._put([row('m')], True, now=100.0)
    assert det.stats(now=108.0)['lag_s'] == 8.0
    det.take(now=108.0)
    assert det.lag == 8.0 and det.stats(now=200.0)['max_lag_s'] == 8.0
    assert caplog.text.count('detector behind: scoring samples 8.0 s') == 1
    det._put([row('m')], True, now=110.0)
    det.take(now=120.0)       # 10 s behind, but warned 12 s ago
    assert caplog.text.count('detector behind') == 1
    det._put([row('m')], True, now=170.0)
    det.take(now=180.0)       # a minute later: said again
    assert caplog.text.count('detector behind') == 2
    det._put([row('m')], True, now=181.0)
    det.take(now=181.5)
    assert 'detector caught up' in caplog.text
    assert det.stats(now=181.5)['lag_s'] == 0.5
