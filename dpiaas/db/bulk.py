"""Many rows into one table, the fastest way each backend offers.

Ingest writes 20,000 sample rows a second. On PostgreSQL with psycopg2,
``COPY ... FROM STDIN`` in binary format skips what a multi-row
``INSERT`` costs per row: SQLAlchemy building a parameter dict and the
SQL text, psycopg2 quoting every value (a ``bytea`` as escaped hex), the
server parsing it all back. Elsewhere (SQLite, MySQL/MariaDB, another
PostgreSQL driver) the rows go in through SQLAlchemy's ``executemany``,
which those drivers batch well enough -- except SQLite's.

On SQLite, ``executemany`` steps the statement once per row, and each
step releases the GIL and takes it back. With other threads of the
engine busy (AMQP decoding, the detector), taking it back waits up to
the interpreter's switch interval (5 ms) every time: 500 rows took 1.7 s
instead of 4 ms (issue 7, "Load": the ingest writer stored 3,800 of
9,900 samples/s at 5,000 monitors with the engine at half a core). So
SQLite gets multi-row ``INSERT ... VALUES (...), (...)`` statements of
as many rows as its bound-variable limit allows: one step, one GIL
hand-over, per statement.

Rows are tuples in the order of ``columns``. Binary COPY needs each
column's wire format, known here for the types the sample tables use
(integers, double precision, strings, bytea, json; a table with another
type takes the generic path). The encoding works column by column so that
the loop over rows runs in C: one ``struct.pack`` a row.
"""
import functools
import io
import itertools
import json
import struct

from sqlalchemy import exc as sa_exc
from sqlalchemy import types as sa_types

# signature, flags, header extension length; then the rows; then -1
_HEADER = b'PGCOPY\n\xff\r\n\x00' + struct.pack('!ii', 0, 0)
_TRAILER = struct.pack('!h', -1)
# binary wire formats by SQL type: (struct code after the length, size)
_FIXED = {'BIGINT': ('q', 8), 'INTEGER': ('i', 4),
          'DOUBLE PRECISION': ('d', 8)}
TEXT, BYTES, JSON = 'text', 'bytes', 'json'


def _wire_type(column, dialect):
    """``(code, size)`` of a fixed-size column, ``(TEXT, None)`` or
    ``(BYTES, None)`` of a variable one, None if COPY cannot take it here.

    By the SQL type the dialect makes of the column's type (variants
    resolved), as the migrations created it.
    """
    sql = column.type.compile(dialect=dialect).split('(')[0].strip()
    if sql in _FIXED:
        return _FIXED[sql]
    if sql in ('VARCHAR', 'TEXT'):
        return TEXT, None
    if sql == 'BYTEA':
        return BYTES, None
    if sql == 'JSON':       # its binary form is its text
        return JSON, None
    return None


def _copy_data(rows, types, codec):
    """The binary COPY stream of ``rows``."""
    cols = list(zip(*rows))
    template = '!h'
    args = [itertools.repeat(len(types))]
    lengths = []
    for (code, size), col in zip(types, cols):
        if None in col:
            raise ValueError('NULL')
        if code == TEXT:
            col = [v.encode(codec) for v in col]
        elif code == JSON:
            col = [json.dumps(v).encode(codec) for v in col]
        elif code == BYTES:
            # memoryview: only what has bytes, not bytes(5)'s five zeros
            col = [v if type(v) is bytes else bytes(memoryview(v))
                   for v in col]
        if size is None:
            sizes = list(map(len, col))
            lengths.append(sizes)
            template += 'i%ds'
            args += [sizes, col]
        else:
            template += 'i' + code
            args += [itertools.repeat(size), col]
    formats = map(template.__mod__, zip(*lengths)) if lengths else (
        itertools.repeat(template))
    body = b''.join(itertools.starmap(struct.pack, zip(formats, *args)))
    return _HEADER + body + _TRAILER


def _copy_types(conn, table, columns):
    """Wire types of ``columns`` if a psycopg2 COPY can take them."""
    dialect = conn.dialect
    if dialect.name != 'postgresql' or dialect.driver != 'psycopg2':
        return None
    types = [_wire_type(table.c[c], dialect) for c in columns]
    return None if None in types else types


def insert_rows(conn, table, columns, rows):
    """Insert ``rows`` (tuples, in ``columns`` order) in ``conn``'s
    transaction."""
    if not rows:
        return
    types = _copy_types(conn, table, columns)
    if types is not None:
        import psycopg2
        import psycopg2.extensions
        dbapi_conn = conn.connection.driver_connection
        codec = psycopg2.extensions.encodings.get(dbapi_conn.encoding,
                                                  'utf-8')
        try:
            data = _copy_data(rows, types, codec)
        except (struct.error, TypeError, ValueError, AttributeError,
                OverflowError):
            data = None     # a NULL, or a value of another type
        if data is not None:
            quote = conn.dialect.identifier_preparer
            sql = 'COPY %s (%s) FROM STDIN WITH (FORMAT binary)' % (
                quote.format_table(table),
                ', '.join(quote.quote(c) for c in columns))
            try:
                with dbapi_conn.cursor() as cur:
                    cur.copy_expert(sql, io.BytesIO(data))
            except psycopg2.Error as e:
                # as SQLAlchemy raises it (an IntegrityError is one)
                raise sa_exc.DBAPIError.instance(
                    sql, None, e, psycopg2.Error) from e
            return
    if conn.dialect.name == 'sqlite':
        _insert_sqlite(conn, table, columns, rows)
        return
    # the generic path; also the one that reports a bad value
    conn.execute(table.insert(), [dict(zip(columns, r)) for r in rows])


# bound variables in one statement when the driver cannot tell SQLite's
# limit (999 before SQLite 3.32, 32766 since): every statement hands the
# GIL over once more
SQLITE_MAX_VARIABLES = 999


def _sqlite_max_variables(conn):
    try:
        import sqlite3
        limit = conn.connection.driver_connection.getlimit(
            sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
    except Exception:   # an older Python, another driver
        return SQLITE_MAX_VARIABLES
    return min(limit, 32766)


@functools.lru_cache(maxsize=64)
def _values_sql(head, ncols, nrows):
    row = '(%s)' % ', '.join('?' * ncols)
    return '%s VALUES %s' % (head, ', '.join([row] * nrows))


def _sqlite_native(impl):
    """Python types that ``impl``'s bind processor would not change for
    sqlite3 (none for JSON and other converting types)."""
    if isinstance(impl, sa_types.JSON):
        return ()
    if isinstance(impl, sa_types.LargeBinary):
        return (bytes,)
    if isinstance(impl, sa_types.Float):
        return (float,)
    if isinstance(impl, sa_types.Integer):
        return (int,)
    if isinstance(impl, sa_types.String):
        return (str,)
    return ()


def _insert_sqlite(conn, table, columns, rows):
    """Multi-row INSERTs on SQLite (see the module's docstring), values
    converted by the columns' types as SQLAlchemy would."""
    dialect = conn.dialect
    quote = dialect.identifier_preparer
    head = 'INSERT INTO %s (%s)' % (quote.format_table(table), ', '.join(
        quote.quote(c) for c in columns))
    procs, natives = [], []
    for c in columns:
        impl = table.c[c].type.dialect_impl(dialect)
        procs.append(impl.bind_processor(dialect))
        natives.append(_sqlite_native(impl))
    if any(procs):
        # values already of the type SQLite takes are passed as they are
        # (a memoryview per packed sample was a sixth of the writer)
        rows = [[v if p is None or type(v) in n else p(v)
                 for p, n, v in zip(procs, natives, r)] for r in rows]
    ncols = len(columns)
    per = max(1, _sqlite_max_variables(conn) // ncols)
    for i in range(0, len(rows), per):
        chunk = rows[i:i + per]
        conn.exec_driver_sql(_values_sql(head, ncols, len(chunk)),
                             tuple(itertools.chain.from_iterable(chunk)))
