"""Engines tuned per backend.

SQLite is the embedded default and is written from several threads (RPC
handlers, periodic tasks, the API): WAL lets readers go on while one
writer writes, a busy timeout makes a second writer wait instead of
failing, and write transactions start with ``BEGIN IMMEDIATE`` so that
two of them never both read, then deadlock on the upgrade to a write lock.

Ingest inserts into an index on (monitor, ts): a batch touches about one
index page per monitor, so every commit rewrote thousands of WAL pages
and SQLite's default checkpoint (every 1,000 pages, 4 MiB) copied them
into the database again and again. A checkpoint every
``SQLITE_WAL_AUTOCHECKPOINT`` pages copies a page rewritten by many
commits once: 500-row commits over 5,000 monitors went from 16,000 to
32,000 rows/s on the load machine (issue 7, "Load"); the WAL file keeps
that size (about 40 MiB) once it has grown to it.
"""
import os

import sqlalchemy as sa
from sqlalchemy.engine import url as sa_url

SQLITE_BUSY_TIMEOUT_MS = 30000
SQLITE_WAL_AUTOCHECKPOINT = 10000     # pages (4 KiB)
# execution option naming the SQLite BEGIN mode of a transaction
BEGIN_MODE = 'dpiaas_sqlite_begin'


def create_engine(url, **kwargs):
    """An Engine for ``url``, with the SQLite setup above where it applies."""
    parsed = sa_url.make_url(url)
    if parsed.get_backend_name() != 'sqlite':
        kwargs.setdefault('pool_pre_ping', True)
        return sa.create_engine(url, **kwargs)
    for key in ('max_overflow', 'pool_timeout', 'pool_size'):
        kwargs.pop(key, None)
    path = parsed.database
    if path and path != ':memory:' and not path.startswith('file:'):
        parent = os.path.dirname(os.path.abspath(path))
        os.makedirs(parent, exist_ok=True)
    engine = sa.create_engine(url, **kwargs)
    sa.event.listen(engine, 'connect', _sqlite_connect)
    sa.event.listen(engine, 'begin', _sqlite_begin)
    return engine


def _sqlite_connect(dbapi_conn, record):
    # the driver's own transaction handling would BEGIN behind our back
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    cur.execute('PRAGMA busy_timeout = %d' % SQLITE_BUSY_TIMEOUT_MS)
    cur.execute('PRAGMA journal_mode = WAL')
    cur.execute('PRAGMA synchronous = NORMAL')
    cur.execute('PRAGMA wal_autocheckpoint = %d' % SQLITE_WAL_AUTOCHECKPOINT)
    cur.close()


def _sqlite_begin(conn):
    mode = conn.get_execution_options().get(BEGIN_MODE, 'DEFERRED')
    conn.exec_driver_sql('BEGIN %s' % mode)
