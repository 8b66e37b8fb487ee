"""Real Keystone, Neutron, MariaDB and RabbitMQ for functional tests.

``openstack_stack`` runs ``../shared/openstack/up.sh`` once per test run
(it is idempotent: 12 s when the stack exists, about 3 min from nothing)
and yields where everything is. Import it from ``tests/functional/
conftest.py``; tests only name the fixture.

Without the shared folder the tests skip (a checkout without it); any other
failure of up.sh fails them with the tail of its output.
"""
import dataclasses
import os
import subprocess

import pytest

from tests import shared_data

UP_TIMEOUT_S = 1200
KEYSTONE_URL = 'http://127.0.0.1:5000/v3'
NEUTRON_URL = 'http://127.0.0.1:9696'
TRANSPORT_URL = 'rabbit://guest:guest@127.0.0.1:5672/'
MYSQL_PORT = 3307
# dpiaas's own databases: the user may create any database named dpiaas*
DB_USER, DB_PASSWORD, DB_NAME = 'dpiaas', 'dpiaasdb', 'dpiaas'


@dataclasses.dataclass
class OpenStackStack:
    """Endpoints of the running stack (see shared/openstack/README.md)."""

    osreal: str
    clouds_yaml: str
    keystone_url: str = KEYSTONE_URL
    neutron_url: str = NEUTRON_URL
    transport_url: str = TRANSPORT_URL
    database_url: str = ('mysql+pymysql://%s:%s@127.0.0.1:%d/%s'
                         '?charset=utf8mb4' % (DB_USER, DB_PASSWORD,
                                               MYSQL_PORT, DB_NAME))
    # the dpiaas service user (admin + service roles in project service)
    service_auth: dict = dataclasses.field(default_factory=lambda: {
        'auth_type': 'password', 'auth_url': KEYSTONE_URL,
        'username': 'dpiaas', 'password': 'dpiaaspass',
        'project_name': 'service', 'user_domain_id': 'default',
        'project_domain_id': 'default'})
    region_name: str = 'RegionOne'

    @property
    def env(self):
        """Environment for openstacksdk / openstackclient."""
        return {'OS_CLIENT_CONFIG_FILE': self.clouds_yaml}

    @property
    def mysql_socket(self):
        return os.path.join(self.osreal, 'run', 'mysql', 'mysqld.sock')

    def service_credentials_ini(self):
        """A ``[service_credentials]`` section for a dpiaas config file."""
        lines = ['[service_credentials]']
        lines += ['%s = %s' % kv for kv in self.service_auth.items()]
        lines += ['region_name = %s' % self.region_name]
        return '\n'.join(lines) + '\n'

    def connect(self, cloud):
        """An openstacksdk Connection as ``admin``, ``tenant-a`` or
        ``dpiaas`` (clouds.yaml)."""
        import openstack
        from openstack import config as os_config
        region = os_config.OpenStackConfig(
            config_files=[self.clouds_yaml]).get_one(cloud=cloud)
        return openstack.connection.Connection(config=region)


def _tail(text, lines=40):
    return '\n'.join(text.splitlines()[-lines:])


def _create_database(stack):
    sql = ("CREATE DATABASE IF NOT EXISTS {db} CHARACTER SET utf8mb4; "
           "CREATE USER IF NOT EXISTS '{u}'@'127.0.0.1' IDENTIFIED BY '{p}'; "
           "GRANT ALL ON `{db}%`.* TO '{u}'@'127.0.0.1';").format(
               db=DB_NAME, u=DB_USER, p=DB_PASSWORD)
    res = subprocess.run(['mariadb', '--no-defaults', '-S',
                          stack.mysql_socket, '-uroot', '-e', sql],
                         capture_output=True, text=True, timeout=60)
    if res.returncode:
        pytest.fail('creating the dpiaas database failed: %s'
                    % _tail(res.stderr or res.stdout, 10))


@pytest.fixture(scope='session')
def openstack_stack():
    """Start (or find running) the real OpenStack stack; yield its
    :class:`OpenStackStack`. It is left running for the next run (stop:
    ``../shared/openstack/down.sh``)."""
    if not os.path.isdir(shared_data.SHARED):
        pytest.skip('no shared folder at %s (real OpenStack services come '
                    'from its openstack/up.sh)' % shared_data.SHARED)
    here = os.path.join(shared_data.SHARED, 'openstack')
    up = os.path.join(here, 'up.sh')
    if not os.path.isfile(up):
        pytest.fail('%s is missing' % up)
    osreal = os.environ.get('OSREAL') or '/tmp/osreal'
    env = dict(os.environ, OSREAL=osreal)
    # the stack's venv must not be built from the test venv's python
    env.pop('VIRTUAL_ENV', None)
    if os.path.exists('/usr/bin/python3') and 'PYTHON' not in env:
        env['PYTHON'] = '/usr/bin/python3'
    try:
        res = subprocess.run(['bash', up], env=env, capture_output=True,
                             text=True, timeout=UP_TIMEOUT_S)
    except subprocess.TimeoutExpired as exc:
        out = (exc.stdout or b'')
        out = out.decode() if isinstance(out, bytes) else out
        pytest.fail('%s did not finish in %d s; last output:\n%s'
                    % (up, UP_TIMEOUT_S, _tail(out)))
    if res.returncode:
        pytest.fail('%s failed (exit %d); logs in %s/log; last output:\n%s'
                    % (up, res.returncode, osreal,
                       _tail(res.stdout + res.stderr)))
    stack = OpenStackStack(osreal=osreal,
                           clouds_yaml=os.path.join(here, 'clouds.yaml'))
    _create_database(stack)
    yield stack
