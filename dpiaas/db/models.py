"""SQLAlchemy models: the schema of every table dpiaas keeps.

Timestamps are epoch seconds in double precision columns: the whole
control plane speaks epoch floats, and a ``DOUBLE`` compares and indexes
the same on SQLite, PostgreSQL and MySQL. The models are used as tables
(Core); :mod:`dpiaas.db.api` turns rows into dicts.

Samples are stored one row per (collector, interval): the metric names of
a collector live once in ``metric_layouts`` and every sample packs its
values, in layout order, as float64 bytes. A row per metric value is 30
times the rows and index entries; see ``bench/db_ingest.py``.
"""
import sqlalchemy as sa
from sqlalchemy.dialects import mysql
from sqlalchemy import orm

UUID = sa.String(36)
PROJECT = sa.String(64)
TS = sa.Double()
# ids of the big tables outgrow 32 bits (20,000 samples/s is 2**31 in a
# day); SQLite autoincrements only an INTEGER primary key
BIGID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')
# JSON null (not the text 'null') for a None
JSON = sa.JSON(none_as_null=True)
# MySQL's BLOB stops at 64 KiB: detector state can be larger
BIG_BLOB = sa.LargeBinary().with_variant(mysql.LONGBLOB(), 'mysql',
                                         'mariadb')


class Base(orm.DeclarativeBase):
    pass


class Monitor(Base):
    __tablename__ = 'monitors'
    id = sa.Column(UUID, primary_key=True)
    project_id = sa.Column(PROJECT, nullable=False, index=True)
    name = sa.Column(sa.String(255), nullable=False, default='')
    server_id = sa.Column(UUID)
    port_id = sa.Column(UUID)
    protocols = sa.Column(JSON)
    interval_ms = sa.Column(sa.Integer, nullable=False)
    detector = sa.Column(JSON)
    alarm_actions = sa.Column(JSON)
    ok_actions = sa.Column(JSON)
    status = sa.Column(sa.String(16), nullable=False)
    status_reason = sa.Column(sa.Text)
    alarm_id = sa.Column(UUID)
    # set by the API's rebaseline action, cleared by the engine once done
    rebaseline_requested_at = sa.Column(TS)
    created_at = sa.Column(TS, nullable=False)
    updated_at = sa.Column(TS, nullable=False)
    # a tenant's pages: filter by project, walk in creation order
    __table_args__ = (sa.Index('ix_monitors_created', 'created_at', 'id'),
                      sa.Index('ix_monitors_project_created', 'project_id',
                               'created_at', 'id'))


class Service(Base):
    __tablename__ = 'services'
    id = sa.Column(sa.Integer, primary_key=True, autoincrement=True)
    monitor_id = sa.Column(UUID, nullable=False, index=True)
    port_id = sa.Column(UUID)
    role = sa.Column(sa.String(16), nullable=False)
    l4 = sa.Column(sa.String(8), nullable=False)
    port_min = sa.Column(sa.Integer, nullable=False)
    port_max = sa.Column(sa.Integer, nullable=False)
    app = sa.Column(sa.String(32), nullable=False)
    source = sa.Column(sa.String(255))


class Collector(Base):
    __tablename__ = 'collectors'
    id = sa.Column(UUID, primary_key=True)
    monitor_id = sa.Column(UUID, nullable=False, index=True)
    project_id = sa.Column(PROJECT)
    port_id = sa.Column(UUID)
    host = sa.Column(sa.String(255), index=True)
    tap_device = sa.Column(sa.String(64))
    spec = sa.Column(JSON)
    generation = sa.Column(sa.Integer, nullable=False, default=0)
    status = sa.Column(sa.String(16), nullable=False)
    status_reason = sa.Column(sa.Text)
    updated_at = sa.Column(TS, nullable=False)


class Agent(Base):
    __tablename__ = 'agents'
    host = sa.Column(sa.String(255), primary_key=True)
    started_at = sa.Column(TS)
    last_heartbeat = sa.Column(TS, nullable=False)
    version = sa.Column(sa.String(64))
    state = sa.Column(JSON)


class MetricLayout(Base):
    """The ordered metric names of a collector's samples, while unchanged."""
    __tablename__ = 'metric_layouts'
    id = sa.Column(sa.Integer, primary_key=True, autoincrement=True)
    collector_id = sa.Column(UUID, nullable=False)
    monitor_id = sa.Column(UUID, nullable=False, index=True)
    names_hash = sa.Column(sa.String(40), nullable=False)
    names = sa.Column(JSON, nullable=False)
    created_at = sa.Column(TS, nullable=False)
    __table_args__ = (sa.UniqueConstraint('collector_id', 'names_hash',
                                          name='uq_layouts_collector_hash'),)


class Sample(Base):
    """One interval of one collector; ``vals`` is float64 in layout order."""
    __tablename__ = 'samples'
    id = sa.Column(BIGID, primary_key=True, autoincrement=True)
    monitor_id = sa.Column(UUID, nullable=False)
    layout_id = sa.Column(sa.Integer, nullable=False)
    ts = sa.Column(TS, nullable=False)
    interval_ms = sa.Column(sa.Integer, nullable=False)
    vals = sa.Column(sa.LargeBinary, nullable=False)
    __table_args__ = (sa.Index('ix_samples_monitor_ts', 'monitor_id', 'ts'),
                      sa.Index('ix_samples_ts', 'ts'))


class SampleRollup(Base):
    """Samples of one layout over ``resolution`` seconds from ``ts``.

    Counters are summed, latencies the maximum; ``count`` intervals went in.
    """
    __tablename__ = 'sample_rollups'
    id = sa.Column(BIGID, primary_key=True, autoincrement=True)
    monitor_id = sa.Column(UUID, nullable=False)
    layout_id = sa.Column(sa.Integer, nullable=False)
    resolution = sa.Column(sa.Integer, nullable=False)
    ts = sa.Column(TS, nullable=False)
    count = sa.Column(sa.Integer, nullable=False)
    vals = sa.Column(sa.LargeBinary, nullable=False)
    __table_args__ = (sa.Index('ix_rollups_monitor_res_ts', 'monitor_id',
                               'resolution', 'ts'),
                      sa.Index('ix_rollups_res_ts', 'resolution', 'ts'))


class RollupMark(Base):
    """How far each resolution has been rolled up (complete buckets)."""
    __tablename__ = 'rollup_marks'
    resolution = sa.Column(sa.Integer, primary_key=True,
                           autoincrement=False)
    done_until = sa.Column(TS, nullable=False)


class FlowRecord(Base):
    __tablename__ = 'flow_records'
    id = sa.Column(BIGID, primary_key=True, autoincrement=True)
    monitor_id = sa.Column(UUID, nullable=False)
    collector_id = sa.Column(UUID, nullable=False)
    ts = sa.Column(TS, nullable=False)
    record = sa.Column(JSON, nullable=False)
    __table_args__ = (sa.Index('ix_flows_monitor_ts', 'monitor_id', 'ts'),
                      sa.Index('ix_flows_ts', 'ts'))


class HeavyHitters(Base):
    """The latest interval's top flows of each collector (one row each)."""
    __tablename__ = 'heavy_hitters'
    collector_id = sa.Column(UUID, primary_key=True)
    monitor_id = sa.Column(UUID, nullable=False, index=True)
    ts = sa.Column(TS, nullable=False)
    hitters = sa.Column(JSON, nullable=False)


class DetectorState(Base):
    __tablename__ = 'detector_states'
    monitor_id = sa.Column(UUID, primary_key=True)
    state = sa.Column(BIG_BLOB, nullable=False)
    meta = sa.Column(JSON)
    updated_at = sa.Column(TS, nullable=False)


class Alarm(Base):
    __tablename__ = 'alarms'
    id = sa.Column(UUID, primary_key=True)
    project_id = sa.Column(PROJECT, nullable=False, index=True)
    monitor_id = sa.Column(UUID, index=True)
    name = sa.Column(sa.String(255), nullable=False, default='')
    state = sa.Column(sa.String(32), nullable=False)
    state_reason = sa.Column(sa.Text)
    score = sa.Column(sa.Double)
    severity = sa.Column(sa.String(16))
    explanation = sa.Column(JSON)
    state_timestamp = sa.Column(TS, nullable=False)
    created_at = sa.Column(TS, nullable=False)
    updated_at = sa.Column(TS, nullable=False)
    __table_args__ = (sa.Index('ix_alarms_created', 'created_at', 'id'),
                      sa.Index('ix_alarms_project_created', 'project_id',
                               'created_at', 'id'))


class AlarmHistory(Base):
    __tablename__ = 'alarm_history'
    id = sa.Column(BIGID, primary_key=True, autoincrement=True)
    alarm_id = sa.Column(UUID, nullable=False)
    project_id = sa.Column(PROJECT)
    monitor_id = sa.Column(UUID)
    timestamp = sa.Column(TS, nullable=False)
    previous = sa.Column(sa.String(32))
    state = sa.Column(sa.String(32), nullable=False)
    reason = sa.Column(sa.Text)
    score = sa.Column(sa.Double)
    severity = sa.Column(sa.String(16))
    explanation = sa.Column(JSON)
    __table_args__ = (sa.Index('ix_history_alarm_ts', 'alarm_id',
                               'timestamp'),
                      sa.Index('ix_history_ts', 'timestamp'))


TABLES = Base.metadata.sorted_tables
