"""The storage suite's fixtures on SQLite: a migrated file per test."""
import shutil

import pytest

from dpiaas.db import api
from dpiaas.db import migration


@pytest.fixture(scope='session')
def sqlite_template(tmp_path_factory):
    path = tmp_path_factory.mktemp('db-template') / 'template.sqlite'
    migration.upgrade('sqlite:///%s' % path)
    return path


@pytest.fixture
def db_url(tmp_path, sqlite_template):
    path = tmp_path / 'dpiaas.sqlite'
    shutil.copy(sqlite_template, path)
    return 'sqlite:///%s' % path


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
