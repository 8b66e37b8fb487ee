"""Initial schema: monitors, collectors, agents, samples, flows, alarms.

Revision ID: 0001
Revises:
Create Date: 2025-01-01
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import mysql

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None

UUID = sa.String(36)
PROJECT = sa.String(64)
TS = sa.Double()
JSON = sa.JSON(none_as_null=True)
BIGID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')
BIG_BLOB = sa.LargeBinary().with_variant(mysql.LONGBLOB(), 'mysql',
                                         'mariadb')


def _id(big=False):
    return sa.Column('id', BIGID if big else sa.Integer(), primary_key=True,
                     autoincrement=True)


def upgrade():
    op.create_table(
        'monitors',
        sa.Column('id', UUID, primary_key=True),
        sa.Column('project_id', PROJECT, nullable=False),
        sa.Column('name', sa.String(255), nullable=False),
        sa.Column('server_id', UUID),
        sa.Column('port_id', UUID),
        sa.Column('protocols', JSON),
        sa.Column('interval_ms', sa.Integer(), nullable=False),
        sa.Column('detector', JSON),
        sa.Column('alarm_actions', JSON),
        sa.Column('ok_actions', JSON),
        sa.Column('status', sa.String(16), nullable=False),
        sa.Column('status_reason', sa.Text()),
        sa.Column('alarm_id', UUID),
        sa.Column('rebaseline_requested_at', TS),
        sa.Column('created_at', TS, nullable=False),
        sa.Column('updated_at', TS, nullable=False))
    op.create_index('ix_monitors_project_id', 'monitors', ['project_id'])
    op.create_index('ix_monitors_created', 'monitors', ['created_at', 'id'])
    op.create_index('ix_monitors_project_created', 'monitors',
                    ['project_id', 'created_at', 'id'])

    op.create_table(
        'services',
        _id(),
        sa.Column('monitor_id', UUID, nullable=False),
        sa.Column('port_id', UUID),
        sa.Column('role', sa.String(16), nullable=False),
        sa.Column('l4', sa.String(8), nullable=False),
        sa.Column('port_min', sa.Integer(), nullable=False),
        sa.Column('port_max', sa.Integer(), nullable=False),
        sa.Column('app', sa.String(32), nullable=False),
        sa.Column('source', sa.String(255)))
    op.create_index('ix_services_monitor_id', 'services', ['monitor_id'])

    op.create_table(
        'collectors',
        sa.Column('id', UUID, primary_key=True),
        sa.Column('monitor_id', UUID, nullable=False),
        sa.Column('project_id', PROJECT),
        sa.Column('port_id', UUID),
        sa.Column('host', sa.String(255)),
        sa.Column('tap_device', sa.String(64)),
        sa.Column('spec', JSON),
        sa.Column('generation', sa.Integer(), nullable=False),
        sa.Column('status', sa.String(16), nullable=False),
        sa.Column('status_reason', sa.Text()),
        sa.Column('updated_at', TS, nullable=False))
    op.create_index('ix_collectors_monitor_id', 'collectors', ['monitor_id'])
    op.create_index('ix_collectors_host', 'collectors', ['host'])

    op.create_table(
        'agents',
        sa.Column('host', sa.String(255), primary_key=True),
        sa.Column('started_at', TS),
        sa.Column('last_heartbeat', TS, nullable=False),
        sa.Column('version', sa.String(64)),
        sa.Column('state', JSON))

    op.create_table(
        'metric_layouts',
        _id(),
        sa.Column('collector_id', UUID, nullable=False),
        sa.Column('monitor_id', UUID, nullable=False),
        sa.Column('names_hash', sa.String(40), nullable=False),
        sa.Column('names', JSON, nullable=False),
        sa.Column('created_at', TS, nullable=False),
        sa.UniqueConstraint('collector_id', 'names_hash',
                            name='uq_layouts_collector_hash'))
    op.create_index('ix_metric_layouts_monitor_id', 'metric_layouts',
                    ['monitor_id'])

    op.create_table(
        'samples',
        _id(big=True),
        sa.Column('monitor_id', UUID, nullable=False),
        sa.Column('layout_id', sa.Integer(), nullable=False),
        sa.Column('ts', TS, nullable=False),
        sa.Column('interval_ms', sa.Integer(), nullable=False),
        sa.Column('vals', sa.LargeBinary(), nullable=False))
    op.create_index('ix_samples_monitor_ts', 'samples', ['monitor_id', 'ts'])
    op.create_index('ix_samples_ts', 'samples', ['ts'])

    op.create_table(
        'sample_rollups',
        _id(big=True),
        sa.Column('monitor_id', UUID, nullable=False),
        sa.Column('layout_id', sa.Integer(), nullable=False),
        sa.Column('resolution', sa.Integer(), nullable=False),
        sa.Column('ts', TS, nullable=False),
        sa.Column('count', sa.Integer(), nullable=False),
        sa.Column('vals', sa.LargeBinary(), nullable=False))
    op.create_index('ix_rollups_monitor_res_ts', 'sample_rollups',
                    ['monitor_id', 'resolution', 'ts'])
    op.create_index('ix_rollups_res_ts', 'sample_rollups',
                    ['resolution', 'ts'])

    op.create_table(
        'rollup_marks',
        sa.Column('resolution', sa.Integer(), primary_key=True,
                  autoincrement=False),
        sa.Column('done_until', TS, nullable=False))

    op.create_table(
        'flow_records',
        _id(big=True),
        sa.Column('monitor_id', UUID, nullable=False),
        sa.Column('collector_id', UUID, nullable=False),
        sa.Column('ts', TS, nullable=False),
        sa.Column('record', JSON, nullable=False))
    op.create_index('ix_flows_monitor_ts', 'flow_records',
                    ['monitor_id', 'ts'])
    op.create_index('ix_flows_ts', 'flow_records', ['ts'])

    op.create_table(
        'heavy_hitters',
        sa.Column('collector_id', UUID, primary_key=True),
        sa.Column('monitor_id', UUID, nullable=False),
        sa.Column('ts', TS, nullable=False),
        sa.Column('hitters', JSON, nullable=False))
    op.create_index('ix_heavy_hitters_monitor_id', 'heavy_hitters',
                    ['monitor_id'])

    op.create_table(
        'detector_states',
        sa.Column('monitor_id', UUID, primary_key=True),
        sa.Column('state', BIG_BLOB, nullable=False),
        sa.Column('meta', JSON),
        sa.Column('updated_at', TS, nullable=False))

    op.create_table(
        'alarms',
        sa.Column('id', UUID, primary_key=True),
        sa.Column('project_id', PROJECT, nullable=False),
        sa.Column('monitor_id', UUID),
        sa.Column('name', sa.String(255), nullable=False),
        sa.Column('state', sa.String(32), nullable=False),
        sa.Column('state_reason', sa.Text()),
        sa.Column('score', sa.Double()),
        sa.Column('severity', sa.String(16)),
        sa.Column('explanation', JSON),
        sa.Column('state_timestamp', TS, nullable=False),
        sa.Column('created_at', TS, nullable=False),
        sa.Column('updated_at', TS, nullable=False))
    op.create_index('ix_alarms_project_id', 'alarms', ['project_id'])
    op.create_index('ix_alarms_monitor_id', 'alarms', ['monitor_id'])
    op.create_index('ix_alarms_created', 'alarms', ['created_at', 'id'])
    op.create_index('ix_alarms_project_created', 'alarms',
                    ['project_id', 'created_at', 'id'])

    op.create_table(
        'alarm_history',
        _id(big=True),
        sa.Column('alarm_id', UUID, nullable=False),
        sa.Column('project_id', PROJECT),
        sa.Column('monitor_id', UUID),
        sa.Column('timestamp', TS, nullable=False),
        sa.Column('previous', sa.String(32)),
        sa.Column('state', sa.String(32), nullable=False),
        sa.Column('reason', sa.Text()),
        sa.Column('score', sa.Double()),
        sa.Column('severity', sa.String(16)),
        sa.Column('explanation', JSON))
    op.create_index('ix_history_alarm_ts', 'alarm_history',
                    ['alarm_id', 'timestamp'])
    op.create_index('ix_history_ts', 'alarm_history', ['timestamp'])
