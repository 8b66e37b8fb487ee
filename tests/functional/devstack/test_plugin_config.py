"""The devstack plugin's functions against a real Keystone and MariaDB.

``devstack/lib/dpiaas`` is sourced in bash with devstack's helpers stood in
by ``devstack_stubs.sh`` (the Keystone ones are devstack's own, run with
the real ``openstack`` CLI), then its install, post-config and extra steps
run: the service user, the ``anomaly-detection`` service and its
endpoints must exist in Keystone afterwards and work (the written
credentials get a token whose catalog has the endpoint), and the written
``dpiaas.conf`` must parse with oslo.config, be mode 0640 and name a
database at the newest schema. Everything is created in a region and
under names of its own, and removed at the end, so the shared Keystone is
left as it was.
"""
import json
import os
import stat
import subprocess
import sys
import uuid

from keystoneauth1 import loading as ka_loading
from keystoneauth1 import session as ka_session
from oslo_config import cfg
import pytest
import yaml

from dpiaas import conf as dpiaas_conf
from dpiaas.db import migration
from tests.functional import openstack_stack as stack_mod

REPO = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.dirname(os.path.abspath(__file__)))))
STUBS = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                     'devstack_stubs.sh')
BIN = os.path.dirname(sys.executable)
SERVICE_TYPE = 'anomaly-detection'
SERVICE_HOST = '192.0.2.10'  # only written into the catalog


def run_bash(script, env, timeout=300):
    proc = subprocess.run(['bash', '-c', script], env=env, text=True,
                          capture_output=True, timeout=timeout)
    assert proc.returncode == 0, 'bash failed (%d):\n%s\n%s' % (
        proc.returncode, proc.stdout[-3000:], proc.stderr[-3000:])
    return proc


def devstack_env(stack, tmp, name, db_name):
    with open(stack.clouds_yaml) as f:
        clouds = yaml.safe_load(f)
    clouds['clouds']['devstack-system-admin'] = clouds['clouds']['admin']
    clouds_yaml = tmp / 'clouds.yaml'
    clouds_yaml.write_text(yaml.safe_dump(clouds))
    env = {k: v for k, v in os.environ.items() if not k.startswith('OS_')}
    env.update({
        'PATH': BIN + os.pathsep + env.get('PATH', '/usr/bin:/bin'),
        'OS_CLIENT_CONFIG_FILE': str(clouds_yaml),
        'DPIAAS_TEST_PYTHON': sys.executable,
        'DPIAAS_TEST_TRANSPORT_URL': stack.transport_url,
        'DPIAAS_TEST_DB_URL': 'mysql+pymysql://%s:%s@127.0.0.1:%d' % (
            stack_mod.DB_USER, stack_mod.DB_PASSWORD, stack_mod.MYSQL_PORT),
        'DPIAAS_TEST_DB_PORT': str(stack_mod.MYSQL_PORT),
        'DPIAAS_TEST_RECORD': str(tmp / 'calls.txt'),
        # devstack's own variables
        'DEST': str(tmp / 'opt-stack'), 'DATA_DIR': str(tmp / 'data'),
        'STACK_USER': 'root' if os.geteuid() == 0 else os.environ.get(
            'USER', str(os.geteuid())),
        'SERVICE_PASSWORD': 'pw-' + uuid.uuid4().hex[:16],
        'SERVICE_PROJECT_NAME': 'service', 'SERVICE_DOMAIN_NAME': 'Default',
        'SERVICE_PROTOCOL': 'http', 'SERVICE_HOST': SERVICE_HOST,
        'REGION_NAME': 'DevstackTest-' + name,
        'KEYSTONE_SERVICE_URI': stack.keystone_url.rsplit('/v3', 1)[0],
        'ENABLE_DEBUG_LOG_LEVEL': 'True', 'SERVICE_TIMEOUT': '60',
        'DATABASE_USER': stack_mod.DB_USER,
        'DATABASE_PASSWORD': stack_mod.DB_PASSWORD,
        'MYSQL_HOST': '127.0.0.1', 'DATABASE_HOST': '127.0.0.1',
        'ENABLED_SERVICES': 'key,mysql',
        'SYSTEMD_DIR': str(tmp / 'systemd'),
        # the plugin's, so that nothing lands in /etc
        'DPIAAS_DIR': REPO, 'DPIAAS_CONF_DIR': str(tmp / 'etc-dpiaas'),
        'DPIAAS_ENGINE_WORKERS': '3',
        'DPIAAS_SERVICE_USER': 'dpiaas-devstack-' + name,
        'DPIAAS_DB_NAME': db_name,
    })
    return env


PRELUDE = '''
set -e -o pipefail
source "$STUBS"
source "$DPIAAS_DIR/devstack/settings"
source "$DPIAAS_DIR/devstack/lib/dpiaas"
'''


def script(*steps):
    return PRELUDE.replace('$STUBS', STUBS) + '\n'.join(steps) + '\n'


@pytest.fixture(scope='module')
def deployed(openstack_stack, tmp_path_factory):
    """The plugin's stack install, post-config and extra steps, run once;
    Keystone objects and database removed afterwards."""
    tmp = tmp_path_factory.mktemp('devstack')
    name = uuid.uuid4().hex[:8]
    env = devstack_env(openstack_stack, tmp, name,
                       'dpiaas_devstack_' + name)
    admin = openstack_stack.connect('admin')
    idc = admin.identity
    had_service = list(idc.services(type=SERVICE_TYPE))
    region = idc.create_region(id=env['REGION_NAME'])
    try:
        proc = run_bash(script('install_dpiaas', 'configure_dpiaas',
                               'configure_dpiaas_api',
                               'create_dpiaas_accounts',
                               'create_dpiaas_accounts  # idempotent',
                               'init_dpiaas'), env)
        yield {'env': env, 'tmp': tmp, 'admin': admin, 'stdout': proc.stdout,
               'conf': os.path.join(env['DPIAAS_CONF_DIR'], 'dpiaas.conf')}
    finally:
        for ep in list(idc.endpoints(region_id=region.id)):
            idc.delete_endpoint(ep)
        if not had_service:
            for svc in list(idc.services(type=SERVICE_TYPE)):
                if not list(idc.endpoints(service_id=svc.id)):
                    idc.delete_service(svc)
        user = idc.find_user(env['DPIAAS_SERVICE_USER'],
                             domain_id='default')
        if user:
            idc.delete_user(user)
        idc.delete_region(region)
        run_bash(script('_dpiaas_drop_database'), env)


def parsed_conf(path):
    conf = cfg.ConfigOpts()
    dpiaas_conf.register_opts(conf)
    ka_loading.register_auth_conf_options(conf, 'keystone_authtoken')
    conf(['--config-file', path], project='dpiaas', default_config_files=[])
    return conf


@pytest.mark.slow
def test_service_user_has_admin_and_service_roles(deployed):
    idc = deployed['admin'].identity
    user = idc.find_user(deployed['env']['DPIAAS_SERVICE_USER'],
                         domain_id='default')
    assert user is not None
    project = idc.find_project('service', domain_id='default')
    roles = {a.role['id'] for a in idc.role_assignments(
        user_id=user.id, scope_project_id=project.id)}
    names = {idc.get_role(r).name for r in roles}
    assert {'admin', 'service'} <= names


@pytest.mark.slow
def test_anomaly_detection_service_has_three_endpoints(deployed):
    idc = deployed['admin'].identity
    services = list(idc.services(type=SERVICE_TYPE))
    assert len(services) == 1
    eps = [e for e in idc.endpoints(service_id=services[0].id)
           if e.region_id == deployed['env']['REGION_NAME']]
    # the second create_dpiaas_accounts created no duplicate
    interfaces = sorted(e.interface for e in eps)
    assert interfaces == ['admin', 'internal', 'public']
    assert {e.url for e in eps} == {
        'http://%s/anomaly-detection' % SERVICE_HOST}


@pytest.mark.slow
def test_written_credentials_get_a_token_whose_catalog_has_the_api(
        deployed):
    conf = parsed_conf(deployed['conf'])
    for group in ('service_credentials', 'keystone_authtoken'):
        auth = ka_loading.load_auth_from_conf_options(conf, group)
        sess = ka_session.Session(auth=auth)
        url = sess.get_endpoint(service_type=SERVICE_TYPE,
                                region_name=deployed['env']['REGION_NAME'],
                                interface='public')
        assert url == 'http://%s/anomaly-detection' % SERVICE_HOST, group


@pytest.mark.slow
def test_conf_is_0640_owned_by_the_stack_user_and_parses(deployed):
    st = os.stat(deployed['conf'])
    assert stat.S_IMODE(st.st_mode) == 0o640
    assert st.st_uid == os.geteuid()
    assert stat.S_IMODE(os.stat(os.path.dirname(
        deployed['conf'])).st_mode) == 0o750
    conf = parsed_conf(deployed['conf'])
    env = deployed['env']
    assert conf.inventory_driver == 'openstack'
    assert conf.api.auth_strategy == 'keystone'
    assert conf.database.connection.endswith(
        '/%s?charset=utf8mb4' % env['DPIAAS_DB_NAME'])
    assert conf.service_credentials.region_name == env['REGION_NAME']
    assert conf.engine.workers == int(env['DPIAAS_ENGINE_WORKERS'])
    assert env['SERVICE_PASSWORD'] in open(deployed['conf']).read()


@pytest.mark.slow
def test_db_sync_left_the_schema_at_head_and_status_agrees(deployed):
    conf = parsed_conf(deployed['conf'])
    assert migration.version(conf.database.connection) == migration.head()
    proc = subprocess.run(
        [os.path.join(BIN, 'dpiaas-status'), '--config-file',
         deployed['conf'], 'upgrade', 'check', '--json'],
        capture_output=True, text=True, timeout=120)
    checks = {c['check']: c['result'] for c in json.loads(
        proc.stdout)['checks']}
    assert checks['Database schema'] == 0
    assert checks['Message transport'] == 0
    assert checks['Inventory'] == 0
    assert checks['Config file permissions'] == 0
    assert deployed['env']['SERVICE_PASSWORD'] not in proc.stdout


@pytest.mark.slow
def test_api_runs_the_wsgi_module_under_uwsgi_with_its_conf(deployed):
    ini = os.path.join(deployed['env']['DPIAAS_CONF_DIR'],
                       'dpiaas-api-uwsgi.ini')
    parser = cfg.ConfigParser(ini, {})
    parser.parse()
    uwsgi = parser.sections['uwsgi']
    assert uwsgi['module'] == ['dpiaas.wsgi.api:application']
    assert uwsgi['env'] == ['DPIAAS_CONFIG_FILE=%s' % deployed['conf']]
    calls = open(deployed['env']['DPIAAS_TEST_RECORD']).read()
    assert 'setup_develop %s' % REPO in calls


def test_agent_unit_bounds_capabilities_to_capture(tmp_path):
    """No Keystone needed: the systemd drop-in of the agent."""
    env = {'PATH': os.environ.get('PATH', '/usr/bin:/bin'),
           'DPIAAS_TEST_PYTHON': sys.executable,
           'DPIAAS_TEST_RECORD': str(tmp_path / 'calls.txt'),
           'STACK_USER': 'stack', 'SYSTEMD_DIR': str(tmp_path),
           'DPIAAS_DIR': REPO, 'DEST': str(tmp_path), 'DATA_DIR':
           str(tmp_path), 'ENABLED_SERVICES': 'dpiaas-agent',
           'DPIAAS_ENABLED_SERVICES': 'dpiaas-agent'}
    run_bash(script('start_dpiaas'), env)
    dropin = (tmp_path / 'devstack@dpiaas-agent.service.d' /
              'capabilities.conf').read_text()
    assert 'AmbientCapabilities=CAP_NET_RAW CAP_NET_ADMIN\n' in dropin
    assert 'CapabilityBoundingSet=CAP_NET_RAW CAP_NET_ADMIN\n' in dropin
    assert 'NoNewPrivileges=yes' in dropin
    assert 'Environment=OPENBLAS_NUM_THREADS=1' in dropin
    calls = (tmp_path / 'calls.txt').read_text().splitlines()
    agent = [c for c in calls if c.startswith('run_process dpiaas-agent')]
    assert len(agent) == 1 and agent[0].endswith(' stack')
    assert not any('dpiaas-api' in c for c in calls)  # compute node only

    env['DPIAAS_AGENT_USER'] = 'root'
    run_bash(script('start_dpiaas'), env)
    dropin = (tmp_path / 'devstack@dpiaas-agent.service.d' /
              'capabilities.conf').read_text()
    assert 'Ambient' not in dropin
    assert ('CapabilityBoundingSet=CAP_NET_RAW CAP_NET_ADMIN '
            'CAP_DAC_READ_SEARCH CAP_SETPCAP\n') in dropin


@pytest.mark.slow
def test_clean_removes_config_units_and_database(openstack_stack, tmp_path):
    name = uuid.uuid4().hex[:8]
    db_name = 'dpiaas_devstack_clean_' + name
    env = devstack_env(openstack_stack, tmp_path, name, db_name)
    env['ENABLED_SERVICES'] = 'mysql,dpiaas-engine'
    env['DPIAAS_ENABLED_SERVICES'] = 'dpiaas-engine'
    run_bash(script('install_dpiaas', 'configure_dpiaas', 'init_dpiaas'),
             env)
    url = '%s/%s' % (env['DPIAAS_TEST_DB_URL'], db_name)
    assert migration.version(url) == migration.head()
    (tmp_path / 'systemd' / 'devstack@dpiaas-agent.service.d').mkdir(
        parents=True)
    run_bash(script('stop_dpiaas', 'cleanup_dpiaas'), env)
    assert not os.path.exists(env['DPIAAS_CONF_DIR'])
    assert not (tmp_path / 'systemd' /
                'devstack@dpiaas-agent.service.d').exists()
    calls = (tmp_path / 'calls.txt').read_text()
    for service in ('dpiaas-agent', 'dpiaas-engine', 'dpiaas-api'):
        assert 'stop_process %s' % service in calls
    proc = subprocess.run(
        ['mysql', '--no-defaults', '-P', str(stack_mod.MYSQL_PORT),
         '-h127.0.0.1', '-u' + stack_mod.DB_USER, '-N', '-e',
         "SHOW DATABASES LIKE '%s'" % db_name],
        env=dict(os.environ, MYSQL_PWD=stack_mod.DB_PASSWORD),
        capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == ''
