"""A real RabbitMQ for functional tests, on 127.0.0.1:5672.

Whichever broker already answers there is reused (``/work/shared/openstack/
up.sh`` starts one, so may another test run); otherwise the Debian
``rabbitmq-server`` (bindep) is started for the session in a temporary
directory and stopped at its end. Use the ``rabbitmq_url`` fixture (import
it into a conftest) and give every test its own ``control_exchange`` so
that tests sharing the broker never see each other's messages.
"""
import os
import shutil
import signal
import socket
import subprocess
import time

import pytest

from tests import shared_data

HOST = '127.0.0.1'
PORT = int(os.environ.get('DPIAAS_RABBITMQ_PORT', '5672'))
URL = 'rabbit://guest:guest@%s:%d/' % (HOST, PORT)
SERVER = '/usr/lib/rabbitmq/bin/rabbitmq-server'
START_TIMEOUT = 120
UP_SH = os.path.join(str(shared_data.SHARED), 'openstack', 'up.sh')


def unavailable(reason):
    """Skip, except in CI (CI=true), where a missing broker fails."""
    if os.environ.get('CI', '').lower() in ('1', 'true', 'yes'):
        pytest.fail(reason)
    pytest.skip(reason)


def port_open(host=HOST, port=PORT):
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def amqp_ok(host=HOST, port=PORT, timeout=3):
    """True when an AMQP login as guest works."""
    import kombu
    conn = kombu.Connection(hostname=host, port=port, userid='guest',
                            password='guest', virtual_host='/',
                            connect_timeout=timeout, transport='pyamqp')
    try:
        conn.ensure_connection(max_retries=1, timeout=timeout)
        return True
    except Exception:
        return False
    finally:
        conn.release()


def _start(workdir, port=None, nodename='dpiaas-test@localhost',
           dist_port=25679):
    """Start rabbitmq-server in its own session; returns the Popen.

    ``port`` defaults to :data:`PORT`; a private broker (see
    ``tests/functional/faults/broker.py``) passes its own port, node name
    and Erlang distribution port so that it never meets the shared one.
    """
    port = PORT if port is None else port
    real = os.path.realpath(SERVER)
    os.makedirs(workdir, exist_ok=True)
    conf = os.path.join(workdir, 'rabbitmq.conf')
    with open(conf, 'w') as f:
        f.write('listeners.tcp.1 = %s:%d\n'
                'loopback_users.guest = true\n'
                'disk_free_limit.absolute = 50MB\n'
                'vm_memory_high_watermark.relative = 0.2\n' % (HOST, port))
    plugins = os.path.join(workdir, 'enabled_plugins')
    with open(plugins, 'w') as f:
        f.write('[].\n')
    env = dict(os.environ,
               HOME=workdir,
               RABBITMQ_NODENAME=nodename,
               RABBITMQ_NODE_IP_ADDRESS=HOST,
               RABBITMQ_NODE_PORT=str(port),
               RABBITMQ_DIST_PORT=str(dist_port),
               RABBITMQ_CONFIG_FILE=conf,
               RABBITMQ_ENABLED_PLUGINS_FILE=plugins,
               RABBITMQ_MNESIA_BASE=os.path.join(workdir, 'mnesia'),
               RABBITMQ_LOG_BASE=os.path.join(workdir, 'log'),
               RABBITMQ_PID_FILE=os.path.join(workdir, 'rabbitmq.pid'),
               ERL_EPMD_ADDRESS=HOST,
               RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS=(
                   '-kernel inet_dist_use_interface {127,0,0,1}'),
               PATH=os.path.dirname(real) + ':' + os.environ['PATH'])
    log = open(os.path.join(workdir, 'stdout.log'), 'wb')
    return subprocess.Popen([real], env=env, stdin=subprocess.DEVNULL,
                            stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)


def _stop(proc, timeout=30):
    """End the broker we started (its whole process group)."""
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)
    except ProcessLookupError:
        pass


@pytest.fixture(scope='session')
def rabbitmq_url(request, tmp_path_factory):
    """``rabbit://`` URL of a running broker (started if needed).

    The shared OpenStack recipe's broker is preferred: it listens on the
    same port, so starting ours first would make ``up.sh`` fail later in
    the same run.
    """
    if not port_open() and PORT == 5672 and os.path.exists(UP_SH):
        request.getfixturevalue('openstack_stack')
    if port_open():
        if not amqp_ok():
            unavailable('something listens on %s:%d but guest cannot log '
                        'in over AMQP' % (HOST, PORT))
        yield URL
        return
    if not os.path.exists(SERVER) or not shutil.which('erl'):
        unavailable('needs RabbitMQ (Debian package rabbitmq-server, '
                    'bindep.txt)')
    workdir = str(tmp_path_factory.mktemp('rabbitmq'))
    proc = _start(workdir)
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while not amqp_ok(timeout=1):
            if proc.poll() is not None or time.monotonic() > deadline:
                with open(os.path.join(workdir, 'stdout.log')) as f:
                    tail = f.read()[-2000:]
                unavailable('rabbitmq-server did not start: %s' % tail)
            time.sleep(0.5)
        yield URL
    finally:
        _stop(proc)
