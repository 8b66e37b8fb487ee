"""Storage paths that carry an engine with thousands of monitors (issue 7,
"Load"): multi-row inserts on SQLite, writes in one transaction for many
alarms or detector states, states read in bulk, and the writer lock."""
import math
import threading
import time

from dpiaas.db import base
from dpiaas.db import bulk

NOW = math.floor(time.time() / 60) * 60 - 600


def _monitor(storage):
    return storage.create_monitor({'project_id': 'p1'})['id']


def test_a_batch_over_several_statements_is_stored_whole(storage,
                                                         monkeypatch):
    # 10 bound variables: two 5-column rows per INSERT statement
    monkeypatch.setattr(bulk, '_sqlite_max_variables', lambda conn: 10)
    mids = [_monitor(storage) for _ in range(3)]
    rows = [('c%d' % i, m, NOW + k * 0.5, 500, ('a', 'b'), [k, i + 0.5])
            for i, m in enumerate(mids) for k in range(7)]
    assert storage.add_sample_rows(rows) == 21
    for i, m in enumerate(mids):
        names, ts, values = storage.get_matrix(m, NOW, NOW + 60)
        assert names.tolist() == ['a', 'b']
        assert ts.tolist() == [NOW + k * 0.5 for k in range(7)]
        assert values.tolist() == [[k, i + 0.5] for k in range(7)]


def test_alarm_states_set_together_as_one_by_one(storage):
    mid = _monitor(storage)
    a = storage.create_alarm({'project_id': 'p1', 'monitor_id': mid})
    b = storage.create_alarm({'project_id': 'p1', 'monitor_id': mid})
    done = storage.set_alarm_states([
        {'id': a['id'], 'state': 'ok', 'reason': 'fine', 'score': 0.5,
         'explanation': ['x'], 'now': NOW},
        {'id': b['id'], 'state': 'insufficient_data', 'reason': 'still'},
        {'id': 'gone', 'state': 'ok', 'reason': 'deleted meanwhile'}])
    assert set(done) == {a['id'], b['id']}
    assert done[a['id']]['previous'] == 'insufficient_data'
    assert done[a['id']]['state'] == 'ok'
    assert done[b['id']] is None                 # no change, no history
    got = storage.get_alarm(a['id'])
    assert (got['state'], got['state_reason'], got['score'],
            got['explanation'], got['state_timestamp']) == (
        'ok', 'fine', 0.5, ['x'], NOW)
    assert [h['state'] for h in storage.list_alarm_history(a['id'])] == [
        'ok']
    assert storage.list_alarm_history(b['id']) == []


def test_detector_states_saved_and_read_in_bulk(storage):
    mids = [_monitor(storage) for _ in range(3)]
    storage.save_detector_state(mids[0], b'old', {'v': 0})
    storage.save_detector_states([(mids[0], b'new', {'v': 1}),
                                  (mids[1], bytearray(b'two'), {'v': 2})])
    assert storage.load_detector_states(mids + ['none']) == {
        mids[0]: (b'new', {'v': 1}), mids[1]: (b'two', {'v': 2})}
    assert storage.load_detector_state(mids[1]) == (b'two', {'v': 2})
    assert storage.load_detector_states([]) == {}


def test_writer_lock_is_first_come_first_served():
    lock = base.FairLock()
    order, started = [], []
    lock.__enter__()

    def worker(i):
        started.append(i)
        with lock:
            with lock:                           # reentrant
                order.append(i)

    threads = []
    for i in range(4):
        t = threading.Thread(target=worker, args=(i,))
        t.start()
        threads.append(t)
        # each one queued before the next starts
        deadline = time.monotonic() + 5
        while len(lock._waiting) < i + 1 and time.monotonic() < deadline:
            time.sleep(0.001)
    lock.__exit__(None, None, None)
    for t in threads:
        t.join(5)
    assert order == [0, 1, 2, 3]
    assert lock._owner is None and not lock._waiting


def test_a_writer_waits_for_the_others_no_longer_than_sqlite_would(
        storage, monkeypatch):
    import pytest
    import sqlalchemy as sa
    from dpiaas.db import engines
    monkeypatch.setattr(engines, 'SQLITE_BUSY_TIMEOUT_MS', 50)
    held, done = threading.Event(), threading.Event()

    def holder():
        with storage._write_lock:
            held.set()
            done.wait(10)

    t = threading.Thread(target=holder)
    t.start()
    try:
        assert held.wait(5)
        with pytest.raises(sa.exc.OperationalError, match='locked'):
            storage.create_monitor({'project_id': 'p1'})
    finally:
        done.set()
        t.join(5)
    assert storage.create_monitor({'project_id': 'p1'})['id']
    assert storage._write_lock._owner is None


def test_writers_of_two_processes_take_turns(storage, monkeypatch):
    """Another process's writer holds the lock file beside the database:
    this one waits for it (here up to a 50 ms busy timeout), then writes
    as soon as it is released."""
    import subprocess
    import sys

    import pytest
    import sqlalchemy as sa
    from dpiaas.db import engines
    monkeypatch.setattr(engines, 'SQLITE_BUSY_TIMEOUT_MS', 50)
    path = storage._process_lock.path
    assert path.endswith('dpiaas.sqlite.writer-lock')
    holder = subprocess.Popen(
        [sys.executable, '-c',
         'import fcntl, os, sys\n'
         'fd = os.open(%r, os.O_RDWR | os.O_CREAT)\n'
         'fcntl.flock(fd, fcntl.LOCK_EX)\n'
         'print("held", flush=True)\n'
         'sys.stdin.read()\n' % path],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        assert holder.stdout.readline() == b'held\n'
        with pytest.raises(sa.exc.OperationalError,
                           match='another dpiaas process'):
            storage.create_monitor({'project_id': 'p1'})
    finally:
        holder.stdin.close()
        holder.wait(10)
    assert storage.create_monitor({'project_id': 'p1'})['id']
    assert storage._write_lock._owner is None


def test_writes_go_on_when_the_lock_file_cannot_be_opened(storage,
                                                          tmp_path):
    storage._process_lock.path = str(tmp_path / 'no-such-dir' / 'lock')
    assert storage.create_monitor({'project_id': 'p1'})['id']
    assert storage._process_lock.broken


def test_no_lock_file_for_a_database_in_memory():
    from dpiaas.db import api
    s = api.Storage('sqlite://', check_schema=False)
    try:
        assert s._process_lock is None
    finally:
        s.close()


def test_a_queued_writer_fails_one_busy_timeout_after_it_began(
        storage, db_url, monkeypatch):
    """The database is locked by another program. A writer queued behind
    one that is waiting out SQLite's busy timeout fails one busy timeout
    after it began, not after its turn plus a whole timeout of its own
    (the fault test saw the engine's first failure after 60 s, not 30)."""
    import sqlite3

    import pytest
    import sqlalchemy as sa
    from dpiaas.db import engines
    monkeypatch.setattr(engines, 'SQLITE_BUSY_TIMEOUT_MS', 1500)
    # new connections get the patched default
    storage.engine.dispose()
    lock = sqlite3.connect(db_url[len('sqlite:///'):], isolation_level=None)
    lock.execute('BEGIN EXCLUSIVE')
    first_in = threading.Event()
    errors = []

    def first():
        with storage._write_lock:
            first_in.set()
            try:
                storage.create_monitor({'project_id': 'p1'})
            except sa.exc.OperationalError as exc:
                errors.append(exc)

    t = threading.Thread(target=first)
    t.start()
    try:
        assert first_in.wait(5)
        time.sleep(0.75)     # the first writer is in SQLite's wait now
        began = time.monotonic()
        with pytest.raises(sa.exc.OperationalError, match='locked'):
            storage.create_monitor({'project_id': 'p1'})
        waited = time.monotonic() - began
        t.join(5)
    finally:
        lock.rollback()
        lock.close()
    assert errors, 'the first writer should have failed too'
    # one busy timeout (1.5 s) from its start, not 0.75 + 1.5 s
    assert waited < 1.5 + 0.5, waited
    # the connection went back to the pool with the default timeout
    assert storage.create_monitor({'project_id': 'p1'})['id']
    with storage.engine.connect() as conn:
        assert conn.exec_driver_sql(
            'PRAGMA busy_timeout').scalar() == 1500
