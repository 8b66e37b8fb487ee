"""The dashboard's Keystone login in a real Chromium, against real Keystone.

A ``dpiaas-api`` process runs with ``auth_strategy = keystone`` and
``[keystone_authtoken]`` pointing at the shared stack's Keystone
(``tests/functional/openstack_stack.py``). The browser signs in as alice
(project tenant-a) through the login form: the form posts once to the
same-origin ``POST /dashboard/auth/tokens``, which asks Keystone for a
project-scoped token; the pages then call the API with ``X-Auth-Token``
and keystonemiddleware validates it. What must hold: the alarms of
tenant-a only are shown; the token lives in sessionStorage only (never in
localStorage, a URL, or a request other than as the ``X-Auth-Token``
header); sign-out forgets it; a wrong password shows a clear message.
"""
import json
import os
import signal
import subprocess
import sys
import uuid

from keystoneauth1 import session as ks_session
from keystoneauth1.identity import v3
import pytest

from tests.functional.dashboard.conftest import _free_port
from tests.functional.dashboard.conftest import Page
from tests.functional.dashboard.conftest import wait_for

pytestmark = pytest.mark.slow

API = os.path.join(os.path.dirname(sys.executable), 'dpiaas-api')
USER, PASSWORD, PROJECT = 'alice', 'alicepass', 'tenant-a'


class KeystoneApi:
    """A running dpiaas-api behind Keystone, and its database."""

    def __init__(self, url, db_url, log_path, project_id):
        self.url = url
        self.log_path = log_path
        self.project_id = project_id
        from dpiaas.db import api as db_api
        self.storage = db_api.Storage(db_url)

    def log(self):
        with open(self.log_path, errors='replace') as f:
            return f.read()[-4000:]

    def seed_alarm(self, project_id, name, state='alarm'):
        mon = self.storage.create_monitor({
            'project_id': project_id, 'name': name,
            'server_id': str(uuid.uuid4()), 'status': 'error',
            'status_reason': 'no such server in the inventory'})
        alarm = self.storage.create_alarm({
            'project_id': project_id, 'monitor_id': mon['id'],
            'name': 'anomaly of %s' % name, 'state': state,
            'severity': 'critical' if state == 'alarm' else None,
            'state_reason': 'seeded by the Keystone login test'})
        self.storage.update_monitor(mon['id'], {'alarm_id': alarm['id']})
        return alarm


def _project_id(stack):
    auth = v3.Password(auth_url=stack.keystone_url, username=USER,
                       password=PASSWORD, project_name=PROJECT,
                       user_domain_id='default', project_domain_id='default')
    return ks_session.Session(auth=auth).get_project_id()


@pytest.fixture(scope='module')
def ks_api(openstack_stack, tmp_path_factory):
    from dpiaas.db import migration
    tmp = tmp_path_factory.mktemp('ks-api')
    db_url = 'sqlite:///%s' % (tmp / 'dpiaas.sqlite')
    migration.upgrade(db_url)
    (tmp / 'inventory.yaml').write_text('ports: []\n')
    port = _free_port()
    conf = tmp / 'dpiaas.conf'
    conf.write_text(
        '[DEFAULT]\ninventory_file = %s\n'
        '[api]\nauth_strategy = keystone\nhost = 127.0.0.1\nport = %d\n'
        '[database]\nconnection = %s\n'
        '[dashboard]\nrefresh_interval = 2\n'
        '[keystone_authtoken]\n'
        'www_authenticate_uri = http://127.0.0.1:5000\n'
        'auth_url = http://127.0.0.1:5000\n'
        'auth_type = password\n'
        'username = dpiaas\npassword = dpiaaspass\n'
        'project_name = service\n'
        'user_domain_name = Default\nproject_domain_name = Default\n'
        % (tmp / 'inventory.yaml', port, db_url))
    log_path = tmp / 'api.log'
    with open(log_path, 'wb') as log:
        proc = subprocess.Popen([API, '--config-file', str(conf)],
                                stdout=log, stderr=subprocess.STDOUT)
    service = KeystoneApi('http://127.0.0.1:%d' % port, db_url,
                          str(log_path), _project_id(openstack_stack))

    def up():
        import urllib.request
        if proc.poll() is not None:
            pytest.fail('dpiaas-api exited: %s' % service.log())
        with urllib.request.urlopen(service.url + '/dashboard/config.json',
                                    timeout=5) as resp:
            return json.load(resp)['auth_strategy'] == 'keystone'
    try:
        wait_for('dpiaas-api behind Keystone', up, 60)
        yield service
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    assert 'Traceback' not in service.log(), service.log()


@pytest.fixture
def ks_page(browser, ks_api, tmp_path):
    """A tab on the dashboard that records every URL it loads or asks."""
    context = browser.new_context(viewport={'width': 1366, 'height': 900})
    context.set_default_timeout(20000)
    p = Page(context.new_page(), ks_api, str(tmp_path))
    p.urls = []
    p.requests = []
    p.page.on('framenavigated', lambda frame: p.urls.append(frame.url))
    p.page.on('request', lambda req: p.requests.append(
        (req.method, req.url, req.headers, req.post_data)))
    try:
        yield p
    finally:
        context.close()
    assert p.unexpected_errors() == [], p.errors


def _sign_in(page, password=PASSWORD):
    p = page.page
    p.goto(page.aio.url + '/dashboard/')
    p.wait_for_selector('#login-form')
    assert p.locator('h1').inner_text() == 'Sign in'
    p.get_by_label('User name').fill(USER)
    p.get_by_label('Password').fill(password)
    p.get_by_label('Project').fill(PROJECT)
    assert p.get_by_label('Domain').input_value() == 'Default'
    p.get_by_role('button', name='Sign in').click()


def test_keystone_login_alarms_and_logout(ks_api, ks_page):
    mine = ks_api.seed_alarm(ks_api.project_id, 'alice-web')
    theirs = ks_api.seed_alarm(uuid.uuid4().hex, 'someone-else')
    page = ks_page
    p = page.page
    _sign_in(page)
    p.wait_for_selector('#alarms-table[data-rendered="true"]')
    assert p.url.endswith('/dashboard/#/alarms'), p.url
    assert p.locator('#project-name').inner_text() == PROJECT
    assert p.locator('#user-name').inner_text() == USER
    row = p.locator('tr[data-alarm-id="%s"]' % mine['id'])
    assert row.get_attribute('data-state') == 'alarm'
    assert p.locator('tr[data-alarm-id="%s"]' % theirs['id']).count() == 0
    p.wait_for_selector('#firing-badge[data-count="1"]')
    session = json.loads(p.evaluate(
        'sessionStorage.getItem("dpiaas.session")'))
    token = session['token']
    assert session['mode'] == 'keystone'
    assert session['project_id'] == ks_api.project_id
    assert len(token) > 20
    # a real Keystone token: Keystone itself validates it
    from keystoneauth1 import session as ks_sess
    auth = v3.Password(auth_url='http://127.0.0.1:5000/v3', username=USER,
                       password=PASSWORD, project_name=PROJECT,
                       user_domain_id='default', project_domain_id='default')
    check = ks_sess.Session(auth=auth).get(
        'http://127.0.0.1:5000/v3/auth/tokens', headers={
            'X-Subject-Token': token}, raise_exc=False)
    assert check.status_code == 200, check.text
    assert check.json()['token']['project']['name'] == PROJECT
    page.screenshot('keystone-alarms')
    # the token and the password: in sessionStorage and headers only
    stored = p.evaluate('''() => {
        const out = {};
        for (let i = 0; i < localStorage.length; i++) {
            const k = localStorage.key(i);
            out[k] = localStorage.getItem(k);
        }
        return out;
    }''')
    assert not any(token in v or PASSWORD in v for v in stored.values()), \
        stored
    assert not any(token in k for k in stored)
    for url in page.urls + [p.url]:
        assert token not in url and PASSWORD not in url, url
    api_calls = 0
    for method, url, headers, body in page.requests:
        assert token not in url and PASSWORD not in url, url
        assert token not in (body or ''), (method, url)
        if '/v1/' in url:
            assert headers.get('x-auth-token') == token, (url, headers)
            api_calls += 1
    assert api_calls >= 2
    logins = [(url, body) for method, url, headers, body in page.requests
              if url.endswith('/dashboard/auth/tokens')]
    assert len(logins) == 1 and logins[0][0].startswith(ks_api.url)
    assert json.loads(logins[0][1])['password'] == PASSWORD   # POST body
    # sign out: the session is gone, the pages ask to sign in again
    p.get_by_role('button', name='Sign out').click()
    p.wait_for_selector('#login-form')
    assert p.evaluate('sessionStorage.getItem("dpiaas.session")') is None
    assert p.locator('#topbar-user').is_hidden()
    page.goto('/alarms')
    p.wait_for_selector('#login-form')
    assert p.url.endswith('#/login')
    assert token not in p.content()
    page.screenshot('keystone-signed-out')


def test_keystone_wrong_password_shows_a_clear_error(ks_api, ks_page):
    page = ks_page
    p = page.page
    # the browser itself logs every non-2xx answer: that line, and no other
    page.allowed.append('the server responded with a status of 401')
    _sign_in(page, password='not-' + PASSWORD)
    error = p.locator('#login-error .alert-error')
    error.wait_for()
    text = error.inner_text()
    assert 'Keystone refused the user name, password or project' in text
    assert p.evaluate('sessionStorage.getItem("dpiaas.session")') is None
    assert p.url.endswith('#/login')
    assert p.get_by_role('button', name='Sign in').is_enabled()
    assert p.locator('#sidebar').is_hidden()
    assert 'Traceback' not in ks_api.log()
    page.screenshot('keystone-login-failed')
    errors = [e for e in page.errors if '401' in e]
    assert len(errors) <= 1, page.errors
