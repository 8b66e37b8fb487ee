"""What every part of :class:`dpiaas.db.api.Storage` shares: the engine,
transactions, rows as dicts, pagination by marker.

Thread safety: a Storage holds an Engine (a connection pool) and nothing
per call; every method takes its own connection from the pool, so the
engine's RPC threads, periodic tasks and API workers share one Storage.
"""
import contextlib
import time

import sqlalchemy as sa
from sqlalchemy import orm

from dpiaas.db import engines
from dpiaas.db import exceptions
from dpiaas.db import migration


def now_or(now):
    return time.time() if now is None else float(now)


def as_dict(row):
    return dict(row._mapping)


class StorageBase:
    def __init__(self, url, check_schema=True, **engine_kwargs):
        self.url = url
        self.engine = engines.create_engine(url, **engine_kwargs)
        self.dialect = self.engine.dialect.name
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

    @contextlib.contextmanager
    def _read(self):
        with self.engine.connect() as conn:
            yield conn

    @contextlib.contextmanager
    def _write(self):
        """A transaction that holds the SQLite write lock from its start."""
        with self.engine.connect() as conn:
            conn = conn.execution_options(
                **{engines.BEGIN_MODE: 'IMMEDIATE'})
            with conn.begin():
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
