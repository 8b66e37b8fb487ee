"""Alembic environment: runs on the connection or URL dpiaas hands in.

:mod:`dpiaas.db.migration` passes ``connection`` (preferred) or ``url``
through ``config.attributes``; there is no alembic.ini to keep in step.
"""
from alembic import context
import sqlalchemy as sa

from dpiaas.db import models

config = context.config


def _run(connection):
    context.configure(connection=connection,
                      target_metadata=models.Base.metadata,
                      render_as_batch=connection.dialect.name == 'sqlite')
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online():
    connection = config.attributes.get('connection')
    if connection is not None:
        _run(connection)
        return
    engine = sa.create_engine(config.attributes['url'],
                              poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            _run(conn)
    finally:
        engine.dispose()


def run_migrations_offline():
    context.configure(url=config.attributes['url'],
                      target_metadata=models.Base.metadata,
                      literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
