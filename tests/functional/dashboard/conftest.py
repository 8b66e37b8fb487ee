"""A running ``dpiaas-all-in-one --demo`` and a real headless Chromium.

One all-in-one (its namespace VM has a fixed name, so one at a time) and
one browser serve the whole module; each test gets its own browser
context (its own sessionStorage), checks that the page logged no console
error, and saves a screenshot into its tmp dir (and, with
``DPIAAS_DOC_SCREENSHOTS=1``, into doc/source/_static/dashboard/ for the
docs).
"""
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

from tests.functional.rabbitmq import unavailable

AIO = os.path.join(os.path.dirname(sys.executable), 'dpiaas-all-in-one')
CHROMIUM = '/usr/bin/chromium'
CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu',
                 '--disable-quic', '--no-first-run',
                 '--disable-background-networking',
                 '--disable-component-update', '--disable-sync']
DOC_DIR = os.path.join(os.path.dirname(__file__), '..', '..', '..', 'doc',
                       'source', '_static', 'dashboard')
DEMO_PROJECT = 'demo'


def _free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def api(url, method, path, project=DEMO_PROJECT, body=None, roles=None):
    headers = {'X-Project-Id': project, 'Content-Type': 'application/json'}
    if roles:
        headers['X-Roles'] = roles
    req = urllib.request.Request(
        url + path, method=method, headers=headers,
        data=None if body is None else json.dumps(body).encode())
    with urllib.request.urlopen(req, timeout=10) as resp:
        raw = resp.read()
        return json.loads(raw) if raw else None


def wait_for(what, check, timeout=60.0, every=0.3):
    """check()'s first truthy answer, or fail saying what was awaited."""
    end = time.monotonic() + timeout
    last = None
    while time.monotonic() < end:
        try:
            last = check()
        except (OSError, urllib.error.URLError, KeyError) as exc:
            last = exc
        else:
            if last:
                return last
        time.sleep(every)
    pytest.fail('timed out waiting for %s (last: %r)' % (what, last))


class AllInOne:
    def __init__(self, url, state_dir, log_path):
        self.url = url
        self.state_dir = state_dir
        self.log_path = log_path
        self._storage = None

    @property
    def storage(self):
        """The all-in-one's own database, for what a test must set up."""
        if self._storage is None:
            from dpiaas.db import api as db_api
            self._storage = db_api.Storage(
                'sqlite:///' + os.path.join(self.state_dir, 'dpiaas.sqlite'))
        return self._storage

    def log(self):
        with open(self.log_path, errors='replace') as f:
            return f.read()[-4000:]

    def demo_monitor(self):
        """The demo project's monitor of the demo server (its id may
        change: a test deletes it and creates it again)."""
        from dpiaas.demo import inventory as demo_inv
        for mon in api(self.url, 'GET', '/v1/monitors')['monitors']:
            if mon.get('server_id') == demo_inv.DEMO_SERVER_ID:
                return mon
        return None

    def live_monitor(self, metric='http.80.requests.get'):
        """The demo monitor once it has live samples of ``metric``."""
        def ready():
            mon = self.demo_monitor()
            if not mon:
                return None
            latest = {m['name']: m['value'] for m in api(
                self.url, 'GET', '/v1/monitors/%s/metrics'
                % mon['id'])['metrics']}
            return mon if latest.get(metric) else None
        return wait_for('live metrics of the demo monitor', ready, 60)


def warm_dpi_kernels(timeout=600):
    """Compile the DPI kernels into numba's on-disk cache first.

    The cache is keyed by a digest of dpiaas/dpi's sources: after any edit
    there, the all-in-one's collector compiles them before its first
    interval, which took 105 s on a loaded 2-core machine and made the
    demo monitor miss the 60 s wait for live metrics. Compiled here, once,
    the collector loads them in a second.
    """
    res = subprocess.run(
        [sys.executable, '-c', 'from dpiaas.dpi import warmup; '
         'print(round(warmup.warm_up(), 1))'],
        capture_output=True, text=True, timeout=timeout)
    if res.returncode:
        pytest.fail('compiling the DPI kernels failed: %s'
                    % res.stderr[-2000:])


@pytest.fixture(scope='module')
def aio(tmp_path_factory):
    if os.geteuid() != 0:
        unavailable('needs root (the demo builds network namespaces)')
    tmp = tmp_path_factory.mktemp('aio')
    warm_dpi_kernels()
    conf = tmp / 'dpiaas.conf'
    conf.write_text('[dashboard]\nrefresh_interval = 2\n')
    port = _free_port()
    url = 'http://127.0.0.1:%d' % port
    log_path = tmp / 'aio.log'
    with open(log_path, 'wb') as log:
        proc = subprocess.Popen(
            [AIO, '--demo', '--config-file', str(conf), '--state-dir',
             str(tmp / 'state'), '--bind', '127.0.0.1:%d' % port],
            stdout=log, stderr=subprocess.STDOUT)
    service = AllInOne(url, str(tmp / 'state'), str(log_path))
    try:
        wait_for('the all-in-one API',
                 lambda: proc.poll() is None and service.demo_monitor(), 90)
        yield service
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    assert 'Traceback' not in service.log(), service.log()


@pytest.fixture(scope='module')
def browser():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable('Playwright for Python is not installed '
                    '(pip install playwright)')
    if not os.path.exists(CHROMIUM):
        unavailable('Debian chromium is not installed (apt-get install '
                    'chromium)')
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


class Page:
    """A browser tab with the dashboard, and what it logged."""

    def __init__(self, page, aio, artifacts):
        self.page = page
        self.aio = aio
        self.artifacts = artifacts
        self.errors = []
        self.allowed = []     # substrings of expected console errors
        page.on('console', self._console)
        page.on('pageerror', lambda exc: self.errors.append(
            'uncaught: %s' % exc))

    def _console(self, msg):
        if msg.type == 'error':
            self.errors.append('%s (%s)' % (msg.text, msg.location))

    def goto(self, fragment='/alarms'):
        self.page.goto(self.aio.url + '/dashboard/#' + fragment)

    def login(self, project=DEMO_PROJECT, role='member'):
        self.goto('/login')
        self.page.get_by_label('Project').fill(project)
        self.page.get_by_label('Role').select_option(role)
        self.page.get_by_role('button', name='Open project').click()
        self.page.wait_for_selector('#alarms-table[data-rendered="true"]')

    def screenshot(self, name, full_page=True):
        path = os.path.join(self.artifacts, name + '.png')
        self.page.screenshot(path=path, full_page=full_page)
        if os.environ.get('DPIAAS_DOC_SCREENSHOTS') == '1':
            os.makedirs(DOC_DIR, exist_ok=True)
            shutil.copy(path, os.path.join(DOC_DIR, name + '.png'))
        print('screenshot: %s' % path)
        return path

    def unexpected_errors(self):
        return [e for e in self.errors
                if not any(a in e for a in self.allowed)]


@pytest.fixture
def page(browser, aio, tmp_path):
    context = browser.new_context(viewport={'width': 1366, 'height': 900})
    context.set_default_timeout(20000)
    p = Page(context.new_page(), aio, str(tmp_path))
    try:
        yield p
    finally:
        context.close()
    assert p.unexpected_errors() == [], p.errors
