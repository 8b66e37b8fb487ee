"""How often the detector loop writes an alarm's score when nothing
changes: every few seconds for a steady alarm, once a minute for an ok
one (thousands of monitors must not mean hundreds of writes a second)."""
from dpiaas.detect import monitor as monitor_mod
from dpiaas.detect import params as params_mod
from dpiaas.detect import synthetic
from dpiaas.engine import detection as detection_mod

T0 = 1_700_000_000.0


class Storage:
    def __init__(self):
        self.writes = []

    def set_alarm_state(self, alarm_id, state, reason, **kw):
        self.writes.append(state)
        return {}

    def update_monitor(self, monitor_id, values):
        return {'id': monitor_id, 'project_id': 'p', 'status': 'active',
                'alarm_id': 'a'}

    def get_alarm(self, alarm_id):
        return {'id': alarm_id}


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def _storm(m):
    return {k: v if 'latency' in k else v * 20 for k, v in m.items()}


def test_ok_alarm_written_once_a_minute_steady_alarm_every_5s(monkeypatch):
    clock = Clock()
    monkeypatch.setattr(detection_mod.time, 'monotonic', clock)
    trace = synthetic.Trace(seed=2)
    mon = monitor_mod.Monitor('m', 'p', params_mod.DetectorParams.build(
        {'baseline_s': 60}))
    ts = T0
    while mon.status == 'learning':
        ts += 0.5
        mon.process(ts, trace.interval(), 500)
    storage = Storage()
    det = detection_mod.Detection(None, storage)
    entry = detection_mod._Entry({'id': 'm', 'project_id': 'p',
                                  'status': 'active', 'alarm_id': 'a'}, mon)
    entry.read_at = 1e12              # no re-reading of the record
    det.entries['m'] = entry

    def feed(n, storm=False):
        nonlocal ts
        for _ in range(n):
            ts += 0.5
            clock.now += 0.5
            m = trace.interval('db_5xx' if storm else None)
            det.run_once([{'monitor_id': 'm', 'ts': ts, 'interval_ms': 500,
                           'metrics': _storm(m) if storm else m}],
                         now=ts + 0.5)

    feed(130)                           # 65 s of normal intervals
    assert mon.alarm.state == 'ok'
    assert 2 <= len(storage.writes) <= 3, storage.writes
    del storage.writes[:]
    feed(6, storm=True)
    assert mon.alarm.state == 'alarm'
    assert storage.writes.count('alarm') >= 1
    del storage.writes[:]
    feed(21, storm=True)                # 10.5 s in alarm
    assert mon.alarm.state == 'alarm'
    assert 2 <= storage.writes.count('alarm') <= 3, storage.writes


class Records(Storage):
    """Monitor records and detector state saves, counted."""

    def __init__(self, ids, clock=None, save_cost=0.0):
        super().__init__()
        self.records = {i: {'id': i, 'project_id': 'p', 'status': 'active',
                            'alarm_id': 'a-' + i, 'detector': None}
                        for i in ids}
        self.queries = []
        self.saved = []
        self.clock, self.save_cost = clock, save_cost

    def get_monitor(self, id, project_id=None):
        self.queries.append([id])
        return dict(self.records[id])

    def list_monitors(self, ids=None, **kw):
        self.queries.append(list(ids))
        return [dict(self.records[i]) for i in ids if i in self.records]

    def save_detector_state(self, monitor_id, state, meta):
        self.saved.append(monitor_id)
        self.clock.now += self.save_cost


class _Detector:
    """Just what the refresh and save paths of the loop touch."""

    def __init__(self, params):
        self.params = params

    def to_bytes(self):
        return b''

    def meta(self):
        return {}

    def no_data(self, now):
        return None


def _loop(monkeypatch, n, **kw):
    from dpiaas.conf import detect as detect_conf
    from oslo_config import cfg
    from dpiaas import conf as dpiaas_conf
    conf = cfg.ConfigOpts()
    dpiaas_conf.register_opts(conf)
    conf([], project='dpiaas')
    clock = Clock()
    monkeypatch.setattr(detection_mod.time, 'monotonic', clock)
    ids = ['m%04d' % i for i in range(n)]
    storage = Records(ids, clock, **kw)
    det = detection_mod.Detection(conf, storage)
    params = detect_conf.params_for(conf, None)
    for i, mid in enumerate(ids):
        entry = detection_mod._Entry(dict(storage.records[mid]),
                                     _Detector(params))
        entry.saved_at = clock.now - i * 0.001     # m0000 newest
        det.entries[mid] = entry
    return det, storage, clock, ids


def test_records_re_read_a_chunk_per_query(monkeypatch):
    det, storage, clock, ids = _loop(monkeypatch, 1200)
    del storage.records['m0007']                   # deleted meanwhile
    clock.now += detection_mod.REFRESH_S + 1
    det.run_once([], now=T0)
    assert [len(q) for q in storage.queries] == [500, 500, 200]
    assert 'm0007' not in det.entries and len(det.entries) == 1199
    det.run_once([], now=T0)                       # fresh now: no query
    assert len(storage.queries) == 3


def test_state_saves_bounded_per_pass_oldest_first(monkeypatch):
    det, storage, clock, ids = _loop(monkeypatch, 100, save_cost=0.01)
    for entry in det.entries.values():
        entry.dirty = True
        entry.read_at = clock.now + 1e6
    clock.now += det.save_interval + 1
    det.run_once([], now=T0)
    n = len(storage.saved)
    assert 1 <= n <= detection_mod.SAVE_BUDGET_S / 0.01 + 1
    assert storage.saved == ids[::-1][:n]          # the oldest first
    for _ in range(30):
        det.run_once([], now=T0)
    assert sorted(storage.saved) == sorted(ids)    # all, over passes
    det.save_all()
    assert len(storage.saved) == 100
