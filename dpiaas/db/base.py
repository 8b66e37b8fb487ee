"""What every part of :class:`dpiaas.db.api.Storage` shares: the engine,
transactions, rows as dicts, pagination by marker.

Thread safety: a Storage holds an Engine (a connection pool) and nothing
per call; every method takes its own connection from the pool, so the
engine's RPC threads, periodic tasks and API workers share one Storage.

On SQLite one writer at a time holds the database's write lock; the
others wait in SQLite's busy handler, which sleeps 1, 2, 5, ... up to
100 ms between tries whatever the holder does. In an engine (ingest
writer, detector, reconciler, heartbeats all writing) that made a write
of a few milliseconds cost tens: the ingest writer stored less than half
of 5,000 monitors' samples (issue 7, "Load"). So a Storage on SQLite
also serialises its own writers with a lock, which wakes the next one
as soon as the previous commits; other processes still meet the busy
handler. The lock is first come, first served: with a plain lock the
ingest writer, behind and looping on batches, took it back every time
and the detector's writes waited for minutes.

Between processes (``[engine] workers``, API processes beside the
engine) the holder of that lock also holds an ``flock`` on a file beside
the database (:class:`ProcessLock`), which the next process's writer
takes within a millisecond of its release: with SQLite's busy handler
alone, two engine workers at 10,000 monitors spent most of their time
asleep in it and used half a core between them (issue 7, "Load").
"""
import collections
import contextlib
import fcntl
import os
import sqlite3
import threading
import time

from oslo_log import log as logging
import sqlalchemy as sa
from sqlalchemy import orm

from dpiaas.db import engines
from dpiaas.db import exceptions
from dpiaas.db import migration

LOG = logging.getLogger(__name__)


def now_or(now):
    return time.time() if now is None else float(now)


def as_dict(row):
    return dict(row._mapping)


def _busy_timeout(conn, ms):
    """Set SQLite's busy timeout of ``conn``'s connection, outside any
    transaction (on the driver's connection: a statement through
    SQLAlchemy would begin one)."""
    conn.connection.driver_connection.execute(
        'PRAGMA busy_timeout = %d' % ms)


def _restore_busy_timeout(conn):
    """Back to the default before the connection returns to the pool; a
    connection that cannot be set is dropped rather than reused with a
    shorter wait."""
    try:
        _busy_timeout(conn, engines.SQLITE_BUSY_TIMEOUT_MS)
    except (sqlite3.Error, sa.exc.SQLAlchemyError, AttributeError):
        conn.invalidate()


class FairLock:
    """A reentrant lock granted in the order it was asked for."""

    def __init__(self):
        self._cond = threading.Condition(threading.Lock())
        self._owner = None
        self._depth = 0
        self._waiting = collections.deque()

    def acquire(self, timeout=None):
        """True once held; False after ``timeout`` seconds (None: no
        limit) without it."""
        me = threading.get_ident()
        with self._cond:
            if self._owner == me:
                self._depth += 1
                return True
            if self._owner is not None or self._waiting:
                self._waiting.append(me)
                try:
                    if not self._cond.wait_for(
                            lambda: self._owner is None and
                            self._waiting[0] == me, timeout):
                        return False
                finally:
                    self._waiting.remove(me)
                    # the next one may be free to go now
                    self._cond.notify_all()
            self._owner = me
            self._depth = 1
        return True

    def release(self):
        with self._cond:
            self._depth -= 1
            if not self._depth:
                self._owner = None
                if self._waiting:
                    self._cond.notify_all()

    def __enter__(self):
        self.acquire()
        return self

    def __exit__(self, *exc):
        self.release()


class ProcessLock:
    """An exclusive ``flock`` on ``path``, polled every millisecond up to
    a timeout (``flock`` itself has none). One per Storage: the threads
    of a process take turns through the :class:`FairLock` first."""

    POLL_S = 0.001

    def __init__(self, path):
        self.path = path
        self._fd = None
        self._pid = None
        self.broken = False

    def _open(self):
        # a descriptor inherited through fork shares its lock with the
        # parent: each process opens its own
        if self._fd is not None and self._pid == os.getpid():
            return True
        try:
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            if not self.broken:
                LOG.warning('cannot open %s (%s): writers of other '
                            'processes are left to SQLite\'s busy handler',
                            self.path, exc)
            self.broken = True
            return False
        self._pid = os.getpid()
        return True

    def acquire(self, timeout):
        """True once held (or when the lock file cannot be opened);
        False after ``timeout`` seconds without it."""
        if not self._open():
            return True
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return True
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    return False
                time.sleep(self.POLL_S)

    def release(self):
        if self._fd is not None and self._pid == os.getpid():
            fcntl.flock(self._fd, fcntl.LOCK_UN)

    def close(self):
        if self._fd is not None and self._pid == os.getpid():
            os.close(self._fd)
            self._fd = None


def _process_lock(engine):
    """The ProcessLock of a SQLite file database (None in memory)."""
    path = engine.url.database
    if engine.dialect.name != 'sqlite' or not path or path == ':memory:' \
            or path.startswith('file:'):
        return None
    return ProcessLock(os.path.abspath(path) + '.writer-lock')


class StorageBase:
    def __init__(self, url, check_schema=True, **engine_kwargs):
        self.url = url
        self.engine = engines.create_engine(url, **engine_kwargs)
        self.dialect = self.engine.dialect.name
        # see the module's docstring; reentrant as SQLite's lock is not
        self._write_lock = (FairLock() if self.dialect == 'sqlite'
                            else None)
        self._process_lock = _process_lock(self.engine)
        # ORM sessions for whoever needs them; our methods use Core
        self.sessionmaker = orm.sessionmaker(bind=self.engine)
        if check_schema:
            self._check_schema()

    def _check_schema(self):
        expected = migration.head()
        with self.engine.connect() as conn:
            found = migration.current(conn)
        if found != expected:
            safe = self.engine.url.render_as_string(hide_password=True)
            raise exceptions.NotSynced(
                'database %s is at schema revision %s, this dpiaas needs %s: '
                'run "dpiaas-manage db sync"' % (safe, found, expected))

    def close(self):
        self.engine.dispose()
        if self._process_lock is not None:
            self._process_lock.close()

    @contextlib.contextmanager
    def _read(self):
        with self.engine.connect() as conn:
            yield conn

    @contextlib.contextmanager
    def _write(self):
        """A transaction that holds the SQLite write lock from its start
        (and, on SQLite, this Storage's writer lock)."""
        with contextlib.ExitStack() as stack:
            busy_s = engines.SQLITE_BUSY_TIMEOUT_MS / 1000.0
            began = time.monotonic()
            if self._write_lock is not None:
                # as long as SQLite itself would wait for its lock: a
                # database held by another process fails writers after
                # the busy timeout, not after one timeout per writer
                # queued here
                if not self._write_lock.acquire(busy_s):
                    raise sa.exc.OperationalError(
                        'BEGIN IMMEDIATE', None, sqlite3.OperationalError(
                            'database is locked (this process\'s other '
                            'writers waited for it)'))
                stack.callback(self._write_lock.release)
                if self._process_lock is not None:
                    if not self._process_lock.acquire(
                            max(0.0, busy_s - (time.monotonic() - began))):
                        raise sa.exc.OperationalError(
                            'BEGIN IMMEDIATE', None,
                            sqlite3.OperationalError(
                                'database is locked (another dpiaas '
                                'process held %s)'
                                % self._process_lock.path))
                    stack.callback(self._process_lock.release)
            conn = stack.enter_context(self.engine.connect())
            if self._write_lock is not None:
                waited = time.monotonic() - began
                if waited > 0.001:
                    # what this writer waited for the locks counts
                    # against SQLite's wait too: queued behind a writer
                    # that waited out a database locked by someone else,
                    # it failed a whole busy timeout later (the fault
                    # test saw the first failure after 60 s, not 30)
                    _busy_timeout(conn, max(1, int(
                        (busy_s - waited) * 1000)))
                    stack.callback(_restore_busy_timeout, conn)
            conn = conn.execution_options(
                **{engines.BEGIN_MODE: 'IMMEDIATE'})
            stack.enter_context(conn.begin())
            yield conn

    def _for_update(self, query):
        # SQLite has no FOR UPDATE; its IMMEDIATE transaction serialises
        if self.dialect == 'sqlite':
            return query
        return query.with_for_update()

    @staticmethod
    def _page(conn, table, query, limit, marker, keys, descending=False):
        """``query`` past the row whose id is ``marker``, ``limit`` rows,
        ordered by ``keys`` (the last one unique)."""
        cols = [table.c[k] for k in keys]
        if marker is not None:
            mrow = conn.execute(
                sa.select(*cols).where(table.c.id == marker)).first()
            if mrow is None:
                raise exceptions.InvalidMarker('marker %s not found' % marker)
            query = query.where(_after(cols, list(mrow), descending))
        order = [c.desc() if descending else c.asc() for c in cols]
        query = query.order_by(*order)
        if limit is not None:
            query = query.limit(int(limit))
        return query


def _after(cols, values, descending):
    """(c1, c2, ...) > (v1, v2, ...) without row-value syntax."""
    clauses = []
    for i, (col, val) in enumerate(zip(cols, values)):
        cmp = col < val if descending else col > val
        clauses.append(sa.and_(*[c == v for c, v in
                                 zip(cols[:i], values[:i])], cmp))
    return sa.or_(*clauses)
