"""What lets one engine carry thousands of monitors (issue 7, "Load"):
RPC 1.3 packed samples, ingest feeding the detector while its writer is
behind, the detector's writes grouped per pass."""
import base64
import struct
import threading

import oslo_messaging as messaging
import pytest
from oslo_config import cfg

from dpiaas.engine import detection as detection_mod
from dpiaas.engine import ingest as ingest_mod
from dpiaas.engine import rpc_endpoint
from dpiaas.rpc import engine_api
from dpiaas.rpc import transport as rpc_transport
from tests.unit.engine import fakes


def _sample(cid='c1', mid='m1', ts=1.0, **metrics):
    return {'collector_id': cid, 'monitor_id': mid, 'ts': ts,
            'interval_ms': 500, 'metrics': metrics or {'x': 1, 'y': 2.5}}


class Collected(list):
    def add(self, rows):
        self.extend(rows)


def test_packed_samples_come_back_as_the_same_rows():
    batch = [_sample(), _sample('c2', 'm2', 1.0, x=5, y=1 / 3),
             _sample(ts=1.5, x=3, z=2 ** 60)]
    packed = engine_api.packed_samples(batch)
    assert packed['names'] == [['x', 'y'], ['x', 'z']]
    assert packed['rows'] == [['c1', 'm1', 1.0, 500, 0],
                              ['c2', 'm2', 1.0, 500, 0],
                              ['c1', 'm1', 1.5, 500, 1]]
    rows = ingest_mod.samples_of_packed(packed)
    assert [r.to_dict() for r in rows] == batch
    assert rows[0].names is rows[1].names
    assert ingest_mod.samples_of_packed(None) == []


def test_a_batch_with_a_value_not_a_number_is_not_packed():
    assert engine_api.packed_samples([_sample(x=None)]) is None
    assert engine_api.packed_samples([_sample(x='7')]) is None


@pytest.mark.parametrize('packed', [
    {'names': [['x']], 'rows': [['c', 'm', 1.0, 500, 0]],
     'values': base64.b64encode(struct.pack('<2d', 1, 2)).decode()},
    {'names': [['x']], 'rows': [['c', 'm', 1.0, 500, 0]],
     'values': base64.b64encode(b'\0' * 4).decode()},
    {'names': [['x']], 'rows': [['c', 'm', 1.0, 500, 3]], 'values': ''},
    {'names': [['x']], 'rows': [['c', 'm']], 'values': ''},
    {'names': [['x']], 'rows': [], 'values': '***'},
    {'rows': []},
    'garbage',
])
def test_malformed_packed_samples_are_dropped_in_one_line(packed, caplog):
    got = Collected()
    ep = rpc_endpoint.EngineEndpoint(fakes.FakeStorage(), got,
                                     fakes.FakeAgentAPI())
    ep.report_samples(None, 'h', packed=packed)
    assert got == []
    assert 'samples from h dropped: bad sample (packed' in caplog.text


def test_an_agent_sends_packed_to_a_1_3_engine_compact_to_a_1_2_one():
    conf = cfg.ConfigOpts()
    conf([], project='dpiaas')
    transport = rpc_transport.get_rpc_transport(conf, url='fake://')
    got = Collected()
    cond = threading.Condition()

    class Ingest:
        def add(self, rows):
            with cond:
                got.extend(rows)
                cond.notify_all()

    new = rpc_endpoint.EngineEndpoint(fakes.FakeStorage(), Ingest(),
                                      fakes.FakeAgentAPI())
    seen = []

    class Old:
        target = messaging.Target(version='1.2')

        def get_desired(self, ctxt, host):
            return []

        def report_samples(self, ctxt, host, samples=None, compact=None):
            with cond:
                seen.append((samples, compact))
                cond.notify_all()

    servers = []
    try:
        for topic, endpoint in (('new', new), ('old', Old())):
            server = rpc_transport.get_rpc_server(
                transport, messaging.Target(topic=topic, server='e1'),
                [endpoint])
            server.start()
            servers.append(server)
        api = engine_api.EngineAPI(transport, topic='new')
        api.get_desired(None, 'h1', timeout=5)
        assert (api.packed, api.compact) == (True, True)
        api.report_samples(None, 'h1', [_sample(), _sample(ts=1.5, x=None)])
        with cond:
            assert cond.wait_for(lambda: len(got) == 2, 5)
        assert [s.to_dict() for s in got] == [
            _sample(), _sample(ts=1.5, x=None)]
        old = engine_api.EngineAPI(transport, topic='old')
        old.get_desired(None, 'h1', timeout=5)
        assert (old.packed, old.compact) == (False, True)
        old.report_samples(None, 'h1', [_sample()])
        with cond:
            assert cond.wait_for(lambda: seen, 5)
        assert seen[0][0] is None and seen[0][1]['rows'][0][5] == [1, 2.5]
    finally:
        for server in servers:
            server.stop()
            server.wait()
        transport.cleanup()


class SlowStorage(fakes.FakeStorage):
    """Each write waits until the test lets it go."""

    def __init__(self):
        super().__init__()
        self.go = threading.Event()

    def add_samples(self, samples):
        self.go.wait(10)
        return super().add_samples(samples)


def test_consumers_get_new_samples_while_the_writer_is_behind():
    storage = SlowStorage()
    consumed = []
    ing = ingest_mod.Ingest(storage, batch_size=2, flush_interval=0.01)
    ing.add_consumer(lambda batch: consumed.extend(s.ts for s in batch))
    ing.start()
    try:
        ing.add([_sample(ts=float(i)) for i in range(2)])
        # the writer is stuck on the first batch's write ...
        ev = threading.Event()
        for _ in range(500):
            if consumed == [0.0, 1.0]:
                break
            ev.wait(0.01)
        ing.add([_sample(ts=float(i)) for i in range(2, 6)])
        # ... new full batches reach the detector once it comes back
        # between batches, before the backlog is written
        storage.go.set()
        for _ in range(500):
            if len(consumed) == 6:
                break
            ev.wait(0.01)
        assert consumed == [float(i) for i in range(6)]
    finally:
        ing.stop()
    assert ing.stats()['written'] == 6


class _Alarm:
    state, reason, score, severity, explanation = 'ok', 'fine', 0.1, None, ()


class _Detector:
    alarm = _Alarm()
    status = 'active'


def test_score_refreshes_of_a_pass_go_in_one_write():
    class Storage:
        calls = []

        def set_alarm_states(self, updates):
            self.calls.append([u['id'] for u in updates])
            return {u['id']: None for u in updates if u['id'] != 'a-gone'}

    storage = Storage()
    det = detection_mod.Detection(None, storage)
    for mid in ('m1', 'm2', 'gone'):
        det.entries[mid] = detection_mod._Entry(
            {'id': mid, 'status': 'active', 'alarm_id': 'a-' + mid},
            _Detector())
        det._after(det.entries[mid], type('R', (), {'status': 'active'}),
                   None)
    assert storage.calls == []
    det._write_refreshes()
    assert storage.calls == [['a-m1', 'a-m2', 'a-gone']]
    assert set(det.entries) == {'m1', 'm2'}      # its alarm was deleted
    det._write_refreshes()
    assert len(storage.calls) == 1


class _SavedDetector(_Detector):
    def to_bytes(self):
        return b'state'

    def meta(self):
        return {}


@pytest.mark.parametrize('fail', [False, True])
def test_states_saved_in_one_write_stay_dirty_when_it_fails(fail):
    class Storage:
        calls = []

        def save_detector_states(self, states):
            self.calls.append([mid for mid, _, _ in states])
            if fail:
                raise RuntimeError('database is locked\nmore')

    storage = Storage()
    det = detection_mod.Detection(None, storage)
    entries = []
    for mid in ('m1', 'm2'):
        entry = detection_mod._Entry({'id': mid, 'status': 'active'},
                                     _SavedDetector())
        entry.dirty = True
        det.entries[mid] = entry
        entries.append(entry)
    det._save_some(entries)
    assert storage.calls == [['m1', 'm2']]
    assert [e.dirty for e in entries] == [fail, fail]
    det.save_all()
    # saved again at shutdown only if the first write failed
    assert len(storage.calls) == (2 if fail else 1)


def test_a_refresh_never_puts_back_the_state_a_later_interval_left():
    # One pass, two intervals of one monitor: the first makes its
    # alarm's score refresh due (state "alarm"), the second clears the
    # alarm, written at once. The refresh written at the end of the pass
    # must carry "ok", or the alarm shows raised again (CI's e2e run:
    # alarms that never cleared).
    class Storage:
        def __init__(self):
            self.writes = []

        def set_alarm_state(self, id, state, reason, **kw):
            self.writes.append(('transition', state))
            return None

        def set_alarm_states(self, updates):
            self.writes.extend(('refresh', u['state']) for u in updates)
            return {u['id']: None for u in updates}

    class Alarm:
        state, reason, score, severity, explanation = \
            'alarm', 'sip.5060.latency_ms.p95', 3.0, 'major', ()

    class Det:
        alarm = Alarm()
        status = 'active'

    storage = Storage()
    det = detection_mod.Detection(None, storage)
    entry = detection_mod._Entry(
        {'id': 'm1', 'status': 'active', 'alarm_id': 'a1'}, Det())
    det.entries['m1'] = entry
    active = type('R', (), {'status': 'active'})
    det._after(entry, active, None)            # refresh due: "alarm"
    Det.alarm.state = 'ok'
    det._after(entry, active, {'state': 'ok', 'previous': 'alarm',
                               'reason': 'back to normal'})
    det._write_refreshes()
    assert storage.writes == [('transition', 'ok'), ('refresh', 'ok')]
