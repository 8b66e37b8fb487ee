"""Sample ingest on PostgreSQL goes through binary COPY, not INSERT.

The rest of the storage suite (test_storage_backends.py) checks what the
rows hold on every backend; this checks the fast path is the one taken,
and that a row COPY cannot encode still gets the generic path's error.
"""
import pytest
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy import exc as sa_exc

from dpiaas.db import api
from dpiaas.db import bulk
from dpiaas.db import models

SAMPLES = models.Sample.__table__
COLUMNS = ('monitor_id', 'layout_id', 'ts', 'interval_ms', 'vals')


@pytest.fixture
def pg_storage(postgresql_server):
    from dpiaas.db import migration
    url = postgresql_server.create_database('dpiaas_bulk')
    migration.upgrade(url)
    storage = api.Storage(url)
    yield storage
    storage.close()


def _statements(storage):
    seen = []
    sa.event.listen(storage.engine, 'before_cursor_execute',
                    lambda conn, cur, stmt, *a: seen.append(stmt))
    return seen


def test_samples_go_in_by_copy(pg_storage):
    seen = _statements(pg_storage)
    pg_storage.add_samples([{'collector_id': 'c1', 'monitor_id': 'm1',
                             'ts': 10.0 + i, 'metrics': {'a': i}}
                            for i in range(50)])
    assert not [s for s in seen if s.startswith('INSERT INTO samples')]
    got = pg_storage.get_series('m1', 'a', 0, 100, resolution=0)
    assert got == [(10.0 + i, float(i)) for i in range(50)]


def test_null_takes_the_generic_path_and_its_error(pg_storage):
    seen = _statements(pg_storage)
    with pg_storage.engine.begin() as conn:
        with pytest.raises(sa_exc.IntegrityError):
            bulk.insert_rows(conn, SAMPLES, COLUMNS,
                             [('m1', 1, 1.0, 500, b''),
                              (None, 1, 2.0, 500, b'')])
    assert [s for s in seen if s.startswith('INSERT INTO samples')]


def test_copy_types_cover_the_sample_tables():
    dialect = postgresql.psycopg2.dialect()
    for table in (SAMPLES, models.SampleRollup.__table__):
        types = [bulk._wire_type(c, dialect) for c in table.c]
        assert None not in types
    assert bulk._wire_type(SAMPLES.c.id, dialect) == ('q', 8)
    assert bulk._wire_type(SAMPLES.c.ts, dialect) == ('d', 8)


def test_bytes_like_values_go_in_and_others_are_refused(pg_storage):
    dialect = postgresql.psycopg2.dialect()
    types = [bulk._wire_type(SAMPLES.c[c], dialect) for c in COLUMNS]
    with pytest.raises(TypeError):      # not five zero bytes
        bulk._copy_data([('m1', 1, 1.0, 500, 5)], types, 'utf-8')
    seen = _statements(pg_storage)
    with pg_storage.engine.begin() as conn:
        bulk.insert_rows(conn, SAMPLES, COLUMNS,
                         [('m1', 1, 1.0, 500, bytearray(b'\x01' * 8))])
    assert not [s for s in seen if s.startswith('INSERT INTO samples')]
    with pg_storage.engine.connect() as conn:
        assert conn.execute(sa.select(SAMPLES.c.vals)).scalar() == (
            b'\x01' * 8)


def test_copy_errors_are_sqlalchemy_errors(pg_storage):
    # add_samples retries on IntegrityError when another process stored
    # the same new layout first: COPY must raise it as INSERT does
    layouts = models.MetricLayout.__table__
    cols = ('collector_id', 'monitor_id', 'names_hash', 'names',
            'created_at')
    row = ('c1', 'm1', 'h' * 40, ['a', 'b'], 1.0)
    seen = _statements(pg_storage)
    with pg_storage.engine.begin() as conn:
        bulk.insert_rows(conn, layouts, cols, [row])
    with pg_storage.engine.begin() as conn:
        with pytest.raises(sa_exc.IntegrityError):
            bulk.insert_rows(conn, layouts, cols, [row])
    assert not [s for s in seen if s.startswith('INSERT INTO')]
    with pg_storage.engine.connect() as conn:
        assert conn.execute(sa.select(layouts.c.names)).scalar() == [
            'a', 'b']
