"""The storage suite's fixtures on real PostgreSQL and MariaDB servers.

One server per backend per session (tests/functional/dbservers.py), one
migrated database each; every test starts from empty tables.
"""
import pytest
import sqlalchemy as sa

from dpiaas.db import api
from dpiaas.db import migration
from dpiaas.db import models
from tests.functional.dbservers import mariadb_server  # noqa: F401
from tests.functional.dbservers import postgresql_server  # noqa: F401

BACKENDS = {'postgresql': 'postgresql_server', 'mysql': 'mariadb_server'}


@pytest.fixture(scope='session', params=sorted(BACKENDS))
def migrated_url(request):
    server = request.getfixturevalue(BACKENDS[request.param])
    url = server.create_database('dpiaas_suite')
    migration.upgrade(url)
    return url


@pytest.fixture
def db_url(migrated_url):
    engine = sa.create_engine(migrated_url)
    with engine.begin() as conn:
        for table in reversed(models.TABLES):
            conn.execute(table.delete())
    engine.dispose()
    return migrated_url


@pytest.fixture
def make_storage(db_url):
    made = []

    def make(**kwargs):
        made.append(api.Storage(db_url, **kwargs))
        return made[-1]
    yield make
    for s in made:
        s.close()


@pytest.fixture
def storage(make_storage):
    return make_storage()
