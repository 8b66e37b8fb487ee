"""The Storage contract (control-plane.rst "Storage"), backend-neutral.

Run on SQLite here; tests/functional/db runs the same functions against
real PostgreSQL and MariaDB servers.
"""
import math
import time

import numpy as np
import pytest

from dpiaas.db import api

NOW = math.floor(time.time() / 60) * 60 - 600   # minute-aligned, recent


def _monitor(storage, project='p1', **kw):
    return storage.create_monitor(dict({'project_id': project}, **kw))


def _samples(monitor_id, collector_id, n, metrics, t0=NOW, step=0.5):
    return [{'collector_id': collector_id, 'monitor_id': monitor_id,
             'ts': t0 + i * step, 'interval_ms': int(step * 1000),
             'metrics': {k: (v(i) if callable(v) else v)
                         for k, v in metrics.items()}}
            for i in range(n)]


# monitors

def test_create_monitor_fills_defaults(storage):
    m = _monitor(storage, name='web', server_id='s1')
    assert m['status'] == 'pending' and m['interval_ms'] == 500
    assert m['protocols'] == {} and m['alarm_actions'] == []
    assert m['created_at'] == m['updated_at'] and len(m['id']) == 36
    assert storage.get_monitor(m['id']) == m


def test_monitor_of_another_project_is_not_found(storage):
    m = _monitor(storage, project='p1')
    with pytest.raises(api.NotFound):
        storage.get_monitor(m['id'], project_id='p2')
    assert storage.get_monitor(m['id'], project_id='p1')['id'] == m['id']


def test_list_monitors_filters_by_project_status_and_ids(storage):
    a = _monitor(storage, 'p1')
    b = _monitor(storage, 'p1', status='active')
    c = _monitor(storage, 'p2')
    ids = lambda ms: {m['id'] for m in ms}  # noqa: E731
    assert ids(storage.list_monitors()) == {a['id'], b['id'], c['id']}
    assert ids(storage.list_monitors(project_id='p1')) == {a['id'], b['id']}
    assert ids(storage.list_monitors(status='active')) == {b['id']}
    assert ids(storage.list_monitors(ids=[a['id'], c['id']])) == {
        a['id'], c['id']}


def test_list_monitors_pages_by_marker(storage):
    made = [_monitor(storage)['id'] for _ in range(5)]
    seen, marker = [], None
    while True:
        page = storage.list_monitors(limit=2, marker=marker)
        if not page:
            break
        assert len(page) <= 2
        seen += [m['id'] for m in page]
        marker = page[-1]['id']
    assert seen == [m['id'] for m in storage.list_monitors()]
    assert sorted(seen) == sorted(made)


def test_unknown_marker_is_invalid(storage):
    with pytest.raises(api.InvalidMarker):
        storage.list_monitors(marker='nope')


def test_update_monitor_changes_fields_and_time(storage):
    m = _monitor(storage)
    u = storage.update_monitor(m['id'], {'status': 'active',
                                         'detector': {'sensitivity': 3}})
    assert u['status'] == 'active' and u['detector'] == {'sensitivity': 3}
    assert u['updated_at'] >= m['updated_at']
    with pytest.raises(api.NotFound):
        storage.update_monitor('missing', {'status': 'active'})
    with pytest.raises(ValueError):
        storage.update_monitor(m['id'], {'colour': 'red'})


def test_delete_monitor_deletes_everything_of_it(storage):
    m = _monitor(storage)
    other = _monitor(storage)
    storage.set_services(m['id'], [{'role': 'offered', 'l4': 'udp',
                                    'port_min': 5060, 'port_max': 5060,
                                    'app': 'sip', 'source': 'override'}])
    storage.upsert_collector({'id': 'c1', 'monitor_id': m['id']})
    storage.add_samples(_samples(m['id'], 'c1', 4, {'x': 1}))
    storage.add_samples(_samples(other['id'], 'c2', 4, {'x': 1}))
    storage.save_detector_state(m['id'], b'state', {})
    alarm = storage.create_alarm({'project_id': 'p1',
                                  'monitor_id': m['id']})
    storage.set_alarm_state(alarm['id'], 'ok', 'fine')
    storage.delete_monitor(m['id'])
    with pytest.raises(api.NotFound):
        storage.get_monitor(m['id'])
    assert storage.list_services(m['id']) == []
    assert storage.list_collectors(monitor_id=m['id']) == []
    assert storage.get_series(m['id'], 'x', NOW, NOW + 10) == []
    assert storage.load_detector_state(m['id']) is None
    assert storage.list_alarm_history(alarm['id']) == []
    with pytest.raises(api.NotFound):
        storage.get_alarm(alarm['id'])
    assert len(storage.get_series(other['id'], 'x', NOW, NOW + 10)) == 4
    with pytest.raises(api.NotFound):
        storage.delete_monitor(m['id'])


# services, collectors, agents

def test_set_services_replaces_all(storage):
    m = _monitor(storage)
    svc = {'port_id': 'port', 'role': 'offered', 'l4': 'tcp',
           'port_min': 80, 'port_max': 80, 'app': 'http', 'source': 'rule r1'}
    storage.set_services(m['id'], [svc, dict(svc, port_min=443,
                                             port_max=443, app='generic')])
    assert len(storage.list_services(m['id'])) == 2
    got = storage.set_services(m['id'], [svc])
    assert got == [dict(svc, monitor_id=m['id'])]


def test_upsert_collector_creates_then_updates(storage):
    c = storage.upsert_collector({'id': 'c1', 'monitor_id': 'm1',
                                  'host': 'h1', 'spec': {'services': []}})
    assert c['status'] == 'scheduled' and c['generation'] == 0
    c2 = storage.upsert_collector({'id': 'c1', 'generation': 1,
                                   'host': 'h2'})
    assert c2['generation'] == 1 and c2['host'] == 'h2'
    assert c2['spec'] == {'services': []} and c2['monitor_id'] == 'm1'
    with pytest.raises(ValueError):
        storage.upsert_collector({'id': 'c9'})      # new: needs monitor_id


def test_list_and_delete_collectors(storage):
    storage.upsert_collector({'id': 'c1', 'monitor_id': 'm1', 'host': 'h1'})
    storage.upsert_collector({'id': 'c2', 'monitor_id': 'm2', 'host': 'h1'})
    storage.upsert_collector({'id': 'c3', 'monitor_id': 'm2', 'host': 'h2'})
    assert [c['id'] for c in storage.list_collectors(host='h1')] == [
        'c1', 'c2']
    assert [c['id'] for c in storage.list_collectors(monitor_id='m2')] == [
        'c2', 'c3']
    storage.delete_collector('c2')
    with pytest.raises(api.NotFound):
        storage.get_collector('c2')
    with pytest.raises(api.NotFound):
        storage.delete_collector('c2')


def test_agent_heartbeat_and_alive(make_storage):
    storage = make_storage(agent_down_time=60)
    now = time.time()
    a = storage.agent_heartbeat('h1', {'version': '1.0', 'started_at': 5.0,
                                       'collectors': []}, now=now)
    assert a['alive'] and a['version'] == '1.0' and a['started_at'] == 5.0
    storage.agent_heartbeat('h2', {}, now=now - 120)
    agents = {a['host']: a for a in storage.list_agents()}
    assert agents['h1']['alive'] and not agents['h2']['alive']
    storage.agent_heartbeat('h2', {'version': '2'}, now=now)
    assert storage.get_agent('h2')['alive']
    assert storage.get_agent('h2')['state'] == {'version': '2'}
    with pytest.raises(api.NotFound):
        storage.get_agent('h3')


# samples

def test_series_sums_counters_and_maxes_latency_over_collectors(storage):
    m = _monitor(storage)['id']
    storage.add_samples(
        _samples(m, 'c1', 10, {'http.80.requests.get': 2,
                               'http.80.latency_ms.p95': 10.0}) +
        _samples(m, 'c2', 10, {'http.80.requests.get': 3,
                               'http.80.latency_ms.p95': lambda i: i}))
    series = storage.get_series(m, 'http.80.requests.get', NOW, NOW + 60)
    assert series == [(NOW + i * 0.5, 5.0) for i in range(10)]
    lat = storage.get_series(m, 'http.80.latency_ms.p95', NOW, NOW + 60)
    assert [v for _, v in lat] == [max(10.0, i) for i in range(10)]


def test_series_is_start_inclusive_end_exclusive_and_limited(storage):
    m = _monitor(storage)['id']
    storage.add_samples(_samples(m, 'c1', 10, {'x': lambda i: i}))
    got = storage.get_series(m, 'x', NOW + 1, NOW + 3)
    assert [v for _, v in got] == [2, 3, 4, 5]
    got = storage.get_series(m, 'x', NOW, NOW + 60, limit=3)
    assert [v for _, v in got] == [0, 1, 2]
    assert storage.get_series(m, 'nope', NOW, NOW + 60) == []


def test_matrix_has_every_metric_nan_where_absent(storage):
    m = _monitor(storage)['id']
    storage.add_samples(_samples(m, 'c1', 4, {'a': 1, 'b': 2}))
    storage.add_samples(_samples(m, 'c1', 2, {'a': 1, 'c': 7},
                                 t0=NOW + 2))
    names, ts, values = storage.get_matrix(m, NOW, NOW + 60)
    assert list(names) == ['a', 'b', 'c']
    assert ts.tolist() == [NOW + i * 0.5 for i in range(6)]
    assert values.shape == (6, 3) and values.dtype == np.float64
    assert values[:, 0].tolist() == [1] * 6
    assert np.isnan(values[4:, 1]).all() and np.isnan(values[:4, 2]).all()


def test_layout_reused_while_names_unchanged(storage):
    from dpiaas.db import models
    import sqlalchemy as sa
    m = _monitor(storage)['id']
    for k in range(3):
        storage.add_samples(_samples(m, 'c1', 5, {'a': 1, 'b': 2},
                                     t0=NOW + 10 * k))
    storage.add_samples(_samples(m, 'c1', 5, {'a': 1}, t0=NOW + 50))
    with storage.engine.connect() as conn:
        n = conn.execute(sa.select(sa.func.count()).select_from(
            models.MetricLayout.__table__)).scalar()
    assert n == 2
    fresh = api.Storage(storage.url)       # another process, cold cache
    fresh.add_samples(_samples(m, 'c1', 1, {'a': 1, 'b': 2}, t0=NOW + 60))
    with storage.engine.connect() as conn:
        n = conn.execute(sa.select(sa.func.count()).select_from(
            models.MetricLayout.__table__)).scalar()
    fresh.close()
    assert n == 2


def test_series_finds_its_metric_in_each_layout(storage):
    # a series reads one value's bytes, at its place in each layout
    m = _monitor(storage)['id']
    storage.add_samples(_samples(m, 'c1', 2, {'a': 1, 'b': 2, 'c': 3}))
    storage.add_samples(_samples(m, 'c1', 2, {'c': 30, 'a': 10},
                                 t0=NOW + 1))
    storage.add_samples(_samples(m, 'c2', 2, {'z': 0, 'c': 300}))
    got = storage.get_series(m, 'c', NOW, NOW + 60, resolution=0)
    assert got == [(NOW, 303.0), (NOW + 0.5, 303.0), (NOW + 1, 30.0),
                   (NOW + 1.5, 30.0)]
    assert [v for _, v in storage.get_series(m, 'a', NOW, NOW + 60)] == [
        1, 1, 10, 10]


def test_samples_store_values_and_times_exactly(storage):
    # the PostgreSQL path writes binary COPY: no value may drift
    m = _monitor(storage)['id']
    odd = {'tiny': 5e-324, 'third': 1 / 3, 'big': 2 ** 62, 'neg': -1.5e300,
           'np': np.float32(0.25), 'none': None, 'text': '7'}
    t0 = NOW + 1 / 3
    storage.add_samples([{'collector_id': 'c\u00e9\t1', 'monitor_id': m,
                          'ts': t0, 'interval_ms': np.int64(250),
                          'metrics': odd}])
    names, ts, values = storage.get_matrix(m, NOW, NOW + 60)
    got = dict(zip(names.tolist(), values[0].tolist()))
    assert ts.tolist() == [t0]
    assert got == {'tiny': 5e-324, 'third': 1 / 3, 'big': 2.0 ** 62,
                   'neg': -1.5e300, 'np': 0.25, 'none': got['none'],
                   'text': 7.0}
    assert math.isnan(got['none'])
    odd_id = 'm\u00e9\t\\x'       # escapes of COPY's text format
    storage.add_samples(_samples(odd_id, 'c2', 2, {'a': 1}))
    assert storage.get_series(odd_id, 'a', NOW, NOW + 60) == [
        (NOW, 1.0), (NOW + 0.5, 1.0)]


def test_sample_batch_of_many_monitors_and_layouts(storage):
    made = [_monitor(storage)['id'] for _ in range(3)]
    batch = []
    for i, m in enumerate(made):
        batch += _samples(m, 'c%d' % i, 300, {'x': i, 'y': lambda k: k})
    assert storage.add_samples(batch) == 900
    for i, m in enumerate(made):
        names, ts, values = storage.get_matrix(m, NOW, NOW + 600)
        assert values.shape == (300, 2)
        assert values[:, 0].tolist() == [i] * 300
        assert values[:, 1].tolist() == list(range(300))


def test_sample_without_monitor_stores_nothing(storage):
    m = _monitor(storage)['id']
    bad = _samples(m, 'c1', 3, {'a': 1})
    bad[2]['monitor_id'] = None
    with pytest.raises(Exception):
        storage.add_samples(bad)
    assert storage.get_series(m, 'a', NOW, NOW + 60) == []


def test_sample_rows_are_stored_like_dict_samples(storage):
    """add_sample_rows (names and values, RPC 1.2) and add_samples share
    layouts and give the same series."""
    m = _monitor(storage)['id']
    names = ('a', 'b.latency_ms.p95')
    assert storage.add_sample_rows([
        ('c1', m, NOW, 500, names, [1, 7.5]),
        ('c1', m, NOW + 0.5, 500, names, [2, 0.5]),
        ('c2', m, NOW, 500, ['a'], (10,))]) == 3
    storage.add_samples(_samples(m, 'c1', 1, {'a': 3, 'b.latency_ms.p95': 2},
                                 t0=NOW + 1))
    assert storage.get_series(m, 'a', NOW, NOW + 60) == [
        (NOW, 11.0), (NOW + 0.5, 2.0), (NOW + 1, 3.0)]
    assert storage.get_series(m, 'b.latency_ms.p95', NOW, NOW + 60) == [
        (NOW, 7.5), (NOW + 0.5, 0.5), (NOW + 1, 2.0)]
    assert len(storage._layout_ids) == 2     # c1's shared by both calls
    with pytest.raises(ValueError, match='2 values for 1 names'):
        storage.add_sample_rows([('c1', m, NOW, 500, ('a',), [1, 2])])
    assert storage.add_sample_rows([]) == 0


def test_latest_metrics(storage):
    m = _monitor(storage)['id']
    storage.add_samples(_samples(m, 'c1', 4, {'a': lambda i: i, 'b': 1}))
    storage.add_samples(_samples(m, 'c2', 2, {'a': 10}))
    latest = storage.latest_metrics(m)
    assert latest['a'] == (NOW + 1.5, 3.0)
    assert latest['b'] == (NOW + 1.5, 1.0)
    assert storage.latest_metrics('other') == {}


def test_bad_sample_is_a_value_error(storage):
    with pytest.raises(ValueError):
        storage.add_samples([{'collector_id': 'c', 'ts': 1.0,
                              'metrics': {'a': 1}}])
    with pytest.raises(ValueError):
        storage.add_samples([{'collector_id': 'c', 'monitor_id': 'm',
                              'ts': 1.0, 'metrics': {'a': 'many'}}])


# flows, detector state

def _flow(src, nbytes, packets=1):
    return {'src': src, 'dst': '10.0.0.5', 'sport': 1000, 'dport': 80,
            'proto': 6, 'packets': packets, 'bytes': nbytes}


def test_flows_newest_first_and_limited(storage):
    m = _monitor(storage)['id']
    storage.add_flow_reports([
        {'collector_id': 'c1', 'monitor_id': m, 'ts': NOW + i,
         'flows': [_flow('10.0.0.%d' % i, i)], 'heavy_hitters': {}}
        for i in range(5)])
    flows = storage.list_flows(m, limit=3)
    assert [f['src'] for f in flows] == ['10.0.0.4', '10.0.0.3', '10.0.0.2']
    assert flows[0]['collector_id'] == 'c1' and flows[0]['ts'] == NOW + 4


def test_heavy_hitters_keep_latest_interval_top_by_bytes(storage):
    m = _monitor(storage)['id']
    old = {'packets': [_flow('1.1.1.1', 10 ** 6)], 'bytes': []}
    new = {'packets': [_flow('2.2.2.2', 5, 50)],
           'bytes': [_flow('3.3.3.3', 900), _flow('2.2.2.2', 5, 50)]}
    storage.add_flow_reports([{'collector_id': 'c1', 'monitor_id': m,
                               'ts': NOW, 'heavy_hitters': old}])
    storage.add_flow_reports([{'collector_id': 'c1', 'monitor_id': m,
                               'ts': NOW + 1, 'heavy_hitters': new}])
    storage.add_flow_reports([{'collector_id': 'c1', 'monitor_id': m,
                               'ts': NOW - 5, 'heavy_hitters': old}])
    top = storage.list_heavy_hitters(m)
    assert [f['src'] for f in top] == ['3.3.3.3', '2.2.2.2']
    assert top[0]['ts'] == NOW + 1
    assert len(storage.list_heavy_hitters(m, limit=1)) == 1


def test_detector_state_round_trip(storage):
    assert storage.load_detector_state('m1') is None
    storage.save_detector_state('m1', b'\x00' * 70000, {'v': 1})
    storage.save_detector_state('m1', b'\x01\x02', {'v': 2})
    assert storage.load_detector_state('m1') == (b'\x01\x02', {'v': 2})


# alarms

def test_create_alarm_starts_insufficient_data_with_reason(storage):
    a = storage.create_alarm({'project_id': 'p1', 'monitor_id': 'm1'})
    assert a['state'] == 'insufficient_data' and a['state_reason']
    with pytest.raises(api.NotFound):
        storage.get_alarm(a['id'], project_id='p2')


def test_list_alarms_filters_and_pages(storage):
    a = storage.create_alarm({'project_id': 'p1', 'monitor_id': 'm1'})
    b = storage.create_alarm({'project_id': 'p1', 'monitor_id': 'm2'})
    c = storage.create_alarm({'project_id': 'p2', 'monitor_id': 'm3'})
    storage.set_alarm_state(b['id'], 'alarm', 'bad', severity='critical')
    assert {x['id'] for x in storage.list_alarms(project_id='p1')} == {
        a['id'], b['id']}
    assert [x['id'] for x in storage.list_alarms(state='alarm')] == [b['id']]
    assert [x['id'] for x in storage.list_alarms(
        severity='critical')] == [b['id']]
    assert [x['id'] for x in storage.list_alarms(monitor_id='m3')] == [
        c['id']]
    first = storage.list_alarms(limit=2)
    rest = storage.list_alarms(limit=2, marker=first[-1]['id'])
    assert [x['id'] for x in first + rest] == [
        x['id'] for x in storage.list_alarms()]
    assert len(rest) == 1


def test_alarm_history_only_on_change(storage):
    a = storage.create_alarm({'project_id': 'p1', 'monitor_id': 'm1'})
    e = storage.set_alarm_state(a['id'], 'ok', 'normal', score=0.1,
                                now=NOW)
    assert e['previous'] == 'insufficient_data' and e['state'] == 'ok'
    assert e['timestamp'] == NOW and e['id'] is not None
    assert storage.set_alarm_state(a['id'], 'ok', 'still normal',
                                   score=0.2, now=NOW + 1) is None
    got = storage.get_alarm(a['id'])
    assert got['score'] == 0.2 and got['state_timestamp'] == NOW
    e2 = storage.set_alarm_state(
        a['id'], 'alarm', 'sip.5060.responses.2xx dropped', score=9.0,
        severity='critical', now=NOW + 2,
        explanation=[{'metric': 'sip.5060.responses.2xx', 'z': -8.1}])
    history = storage.list_alarm_history(a['id'])
    assert [h['state'] for h in history] == ['alarm', 'ok']
    assert history[0] == e2 and history[0]['explanation'][0]['z'] == -8.1
    with pytest.raises(ValueError):
        storage.set_alarm_state(a['id'], 'broken', 'x')
    with pytest.raises(api.NotFound):
        storage.set_alarm_state('missing', 'ok', 'x')


def test_alarm_history_pages_by_marker(storage):
    a = storage.create_alarm({'project_id': 'p1'})
    for i, state in enumerate(['ok', 'alarm', 'ok', 'alarm', 'ok']):
        storage.set_alarm_state(a['id'], state, 'r%d' % i, now=NOW + i)
    page1 = storage.list_alarm_history(a['id'], limit=2)
    page2 = storage.list_alarm_history(a['id'], limit=2,
                                       marker=page1[-1]['id'])
    page3 = storage.list_alarm_history(a['id'], limit=2,
                                       marker=page2[-1]['id'])
    assert [h['reason'] for h in page1 + page2 + page3] == [
        'r4', 'r3', 'r2', 'r1', 'r0']


# retention and rollups

def _filled(make_storage, seconds=120, **kw):
    storage = make_storage(**kw)
    m = _monitor(storage)['id']
    n = int(seconds * 2)
    storage.add_samples(
        _samples(m, 'c1', n, {'x': lambda i: i % 7,
                              'svc.latency_ms.p95': lambda i: i % 13}) +
        _samples(m, 'c2', n, {'x': 1}))
    return storage, m


def test_rollups_sum_counters_and_max_latency(make_storage):
    storage, m = _filled(make_storage, raw_retention=3600,
                         rollups=[(10, 7200), (60, 86400)])
    raw = storage.get_series(m, 'x', NOW, NOW + 120)
    raw_lat = storage.get_series(m, 'svc.latency_ms.p95', NOW, NOW + 120)
    counts = storage.expire(now=NOW + 200)
    assert counts['rolled_up'] == 12 * 2 + 2 * 2   # per layout and bucket
    assert counts['samples'] == 0
    for res in (10, 60):
        got = storage.get_series(m, 'x', NOW, NOW + 120, resolution=res)
        want = {}
        for ts, v in raw:
            b = math.floor(ts / res) * res
            want[b] = want.get(b, 0) + v
        assert got == sorted(want.items())
        lat = storage.get_series(m, 'svc.latency_ms.p95', NOW, NOW + 120,
                                 resolution=res)
        want = {}
        for ts, v in raw_lat:
            b = math.floor(ts / res) * res
            want[b] = max(want.get(b, 0), v)
        assert lat == sorted(want.items())


def test_rollup_survives_samples_of_a_deleted_layout(make_storage):
    """A batch of a monitor deleted while in flight can land after the
    delete (another process still knew its layout): the retention pass
    leaves those rows out instead of failing for ever."""
    import sqlalchemy as sa
    from dpiaas.db import models
    storage, m = _filled(make_storage, raw_retention=60,
                         rollups=[(10, 7200)])
    layouts = models.MetricLayout.__table__
    with storage.engine.begin() as conn:
        lost = conn.execute(sa.select(layouts.c.id).where(
            layouts.c.collector_id == 'c2')).scalar()
        conn.execute(layouts.delete().where(layouts.c.id == lost))
    storage.close()
    fresh = make_storage(raw_retention=60, rollups=[(10, 7200)])
    counts = fresh.expire(now=NOW + 200)
    assert counts['rolled_up'] == 12          # c1's buckets only
    assert counts['samples'] == 2 * 240       # both expired from raw
    assert fresh.expire(now=NOW + 300)['rolled_up'] == 0


def test_series_rebuckets_to_a_coarser_resolution(make_storage):
    storage, m = _filled(make_storage, rollups=[(10, 7200)])
    storage.expire(now=NOW + 200)
    got = storage.get_series(m, 'x', NOW, NOW + 120, resolution=30)
    raw = storage.get_series(m, 'x', NOW, NOW + 120)
    assert [t for t, _ in got] == [NOW + 30 * k for k in range(4)]
    assert sum(v for _, v in got) == sum(v for _, v in raw)


def test_expire_deletes_raw_only_after_rollup(make_storage):
    storage, m = _filled(make_storage, raw_retention=60,
                         rollups=[(10, 600)])
    counts = storage.expire(now=NOW + 130)
    # rolled up to NOW+70 (60 s delay): raw older than NOW+70 may go
    assert counts['samples'] == 2 * 2 * 70
    raw = storage.get_series(m, 'x', NOW, NOW + 200, resolution=0)
    assert raw[0][0] == NOW + 70
    assert len(storage.get_series(m, 'x', NOW, NOW + 200,
                                  resolution=10)) == 7


def test_expire_is_idempotent_and_bounds_rollups(make_storage):
    storage, m = _filled(make_storage, raw_retention=60,
                         rollups=[(10, 120), (60, 86400)])
    first = storage.expire(now=NOW + 200)
    again = storage.expire(now=NOW + 200)
    assert first['rolled_up'] > 0 and again['rolled_up'] == 0
    later = storage.expire(now=NOW + 300)
    assert later['rollups'] > 0     # 10 s rows older than 120 s went
    tens = storage.get_series(m, 'x', NOW, NOW + 300, resolution=10)
    assert tens == []
    assert len(storage.get_series(m, 'x', NOW, NOW + 300,
                                  resolution=60)) == 2


def test_expire_bounds_flows_and_alarm_history(make_storage):
    storage = make_storage(flow_retention=100, alarm_history_retention=3600)
    storage.add_flow_reports([{'collector_id': 'c', 'monitor_id': 'm',
                               'ts': NOW + i, 'flows': [_flow('1.1.1.1', 1)]}
                              for i in (0, 3650)])
    a = storage.create_alarm({'project_id': 'p1'})
    storage.set_alarm_state(a['id'], 'ok', 'r', now=NOW)
    storage.set_alarm_state(a['id'], 'alarm', 'r', now=NOW + 3000)
    counts = storage.expire(now=NOW + 3700)
    assert counts['flows'] == 1 and counts['alarm_history'] == 1
    assert [f['ts'] for f in storage.list_flows('m')] == [NOW + 3650]
    assert [h['state'] for h in storage.list_alarm_history(a['id'])] == [
        'alarm']


def test_series_without_resolution_uses_finest_table_holding_start(
        make_storage):
    storage = make_storage(raw_retention=3600, rollups=[(10, 86400)])
    now = time.time()
    assert storage._pick_level(now - 60, None) == 0
    assert storage._pick_level(now - 7200, None) == 10
    assert storage._pick_level(now - 60, 15) == 10
    assert storage._pick_level(now - 60, 5) == 0


# schema

def test_storage_refuses_an_unsynced_database(tmp_path):
    with pytest.raises(api.NotSynced, match='dpiaas-manage db sync'):
        api.Storage('sqlite:///%s' % (tmp_path / 'empty.sqlite'))


def test_models_match_migrations(storage):
    from alembic import autogenerate
    from alembic import migration as amigration
    from dpiaas.db import models
    with storage.engine.connect() as conn:
        ctx = amigration.MigrationContext.configure(conn, opts={
            'compare_type': True})
        diff = autogenerate.compare_metadata(ctx, models.Base.metadata)
    assert diff == []
