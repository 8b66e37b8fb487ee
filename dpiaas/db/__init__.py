"""Storage of dpiaas: SQLAlchemy models, Alembic migrations, the Storage API.

Everything above this package talks to :mod:`dpiaas.db.api` in plain dicts;
no ORM object leaves it.
"""
