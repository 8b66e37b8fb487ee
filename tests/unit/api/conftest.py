"""The API on real Storage (a SQLite file), a fake inventory, noauth."""
import shutil
import uuid

import pytest
from oslo_config import cfg

from dpiaas.api import app as app_mod
from dpiaas import conf as dpiaas_conf
from dpiaas.db import api as db_api
from dpiaas.db import migration
from dpiaas.inventory import base as inv_base

PROJECT_A = 'project-a'
PROJECT_B = 'project-b'
ADMIN_PROJECT = 'admin-project'
SERVER_A = '0a0a0a0a-0000-4000-8000-00000000000a'
PORT_A = '0a0a0a0a-0000-4000-8000-0000000000a1'
SERVER_B = '0b0b0b0b-0000-4000-8000-00000000000b'
PORT_B = '0b0b0b0b-0000-4000-8000-0000000000b1'
MISSING = '0c0c0c0c-0000-4000-8000-00000000000c'


def headers(project, roles=None):
    out = {'X-Project-Id': project}
    if roles:
        out['X-Roles'] = roles
    return out


TENANT_A = headers(PROJECT_A)
TENANT_B = headers(PROJECT_B)
ADMIN = headers(ADMIN_PROJECT, 'admin,member,reader')
READER_A = headers(PROJECT_A, 'reader')


class FakeInventory:
    """Who owns which server and port (the inventory's check_owner)."""

    owners = {SERVER_A: PROJECT_A, PORT_A: PROJECT_A,
              SERVER_B: PROJECT_B, PORT_B: PROJECT_B}

    def __init__(self):
        self.fail = None

    def check_owner(self, project_id, server_id=None, port_id=None):
        if self.fail:
            raise self.fail
        key = server_id or port_id
        if key not in self.owners:
            raise inv_base.NotFound('%s not found' % key)
        if self.owners[key] != project_id:
            raise inv_base.NotOwned('%s not owned' % key)
        return []

    def ports_of_project(self, project_id, server_id=None):
        if self.fail:
            raise self.fail
        pairs = [(SERVER_A, PORT_A), (SERVER_B, PORT_B)]
        return [inv_base.Port(id=port, device_id=server,
                              project_id=project_id, host='compute-1',
                              mac='fa:16:3e:00:00:01', ips=['10.0.0.5'],
                              security_groups=[])
                for server, port in pairs
                if self.owners[port] == project_id
                and server_id in (None, server)]


class FakeControl:
    def __init__(self):
        self.changed = []

    def monitor_changed(self, ctxt, monitor_id):
        self.changed.append((ctxt.project_id, monitor_id))


@pytest.fixture(scope='session')
def template_db(tmp_path_factory):
    path = tmp_path_factory.mktemp('db') / 'template.sqlite'
    migration.upgrade('sqlite:///%s' % path)
    return path


@pytest.fixture
def storage(template_db, tmp_path):
    path = tmp_path / 'dpiaas.sqlite'
    shutil.copy(template_db, path)
    st = db_api.Storage('sqlite:///%s' % path)
    yield st
    st.close()


@pytest.fixture
def conf():
    c = cfg.ConfigOpts()
    dpiaas_conf.register_opts(c)
    c([], project='dpiaas', default_config_files=[])
    c.set_override('auth_strategy', 'noauth', group='api')
    return c


@pytest.fixture
def inventory():
    return FakeInventory()


@pytest.fixture
def control():
    return FakeControl()


@pytest.fixture
def app(conf, storage, inventory, control):
    return app_mod.create_app(conf, storage=storage, inventory=inventory,
                              engine_control=control)


@pytest.fixture
def client(app):
    return app.test_client()


def create_monitor(client, hdrs=TENANT_A, **body):
    if 'port_id' not in body:
        body.setdefault('server_id', SERVER_A)
    resp = client.post('/v1/monitors', json={'monitor': body},
                       headers=hdrs)
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()['monitor']


@pytest.fixture
def monitor_a(client):
    return create_monitor(client)


@pytest.fixture
def monitor_b(client):
    return create_monitor(client, TENANT_B, server_id=SERVER_B)


def new_id():
    return str(uuid.uuid4())


def assert_error(resp, status, code=None):
    """The response is the API-WG error form with this status."""
    assert resp.status_code == status, resp.get_data(as_text=True)
    body = resp.get_json()
    assert body is not None, resp.get_data(as_text=True)
    assert list(body) == ['errors']
    [err] = body['errors']
    assert set(err) == {'status', 'code', 'title', 'detail', 'request_id'}
    assert err['status'] == status
    assert err['request_id'].startswith('req-')
    assert err['request_id'] == resp.headers['x-openstack-request-id']
    assert err['detail'] and '\n' not in err['detail']
    assert 'Traceback' not in resp.get_data(as_text=True)
    if code:
        assert err['code'] == code
    return err
