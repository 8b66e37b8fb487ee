"""The storage suite of tests/unit/db, on PostgreSQL and MariaDB.

The fixtures in this folder's conftest replace SQLite with real servers;
every test function below is the unit suite's own.
"""
from tests.unit.db.test_storage import *  # noqa: F401,F403
