"""Schema migrations (Alembic), as functions the services and
``dpiaas-manage db`` call.

``upgrade(url)`` brings a database to the newest schema; the all-in-one
runs it at start, a cloud runs ``dpiaas-manage db sync`` once per upgrade.
"""
import os

from alembic import command
from alembic import config as alembic_config
from alembic import migration as alembic_migration
from alembic import script as alembic_script
import sqlalchemy as sa

from dpiaas.db import engines

_HERE = os.path.dirname(os.path.abspath(__file__))


def _config(url=None, connection=None):
    cfg = alembic_config.Config()
    cfg.set_main_option('script_location',
                        os.path.join(_HERE, 'migrations'))
    cfg.attributes['url'] = url
    cfg.attributes['connection'] = connection
    return cfg


def head():
    """The newest revision this code knows."""
    return alembic_script.ScriptDirectory.from_config(
        _config()).get_current_head()


def current(connection):
    """The revision of the database behind ``connection`` (None: empty)."""
    return alembic_migration.MigrationContext.configure(
        connection).get_current_revision()


def upgrade(url, revision='head'):
    """Create or upgrade the schema of the database at ``url``."""
    engine = engines.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.begin() as conn:
            command.upgrade(_config(url, conn), revision)
    finally:
        engine.dispose()


def version(url):
    """The revision of the database at ``url``, None when never synced."""
    engine = engines.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            return current(conn)
    finally:
        engine.dispose()
