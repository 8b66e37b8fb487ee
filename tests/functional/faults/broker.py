"""A private RabbitMQ that a test may stop and start at will.

The shared broker on 5672 serves every other test of the run; a fault
test that restarts a broker uses this one instead: its own free port,
node name, Erlang distribution port and directory (kept across restarts
so that the node comes back with the same state, as a real restart does).
"""
import os
import shutil
import socket
import time
import uuid

from tests.functional import rabbitmq

START_TIMEOUT = rabbitmq.START_TIMEOUT


def free_port():
    with socket.socket() as s:
        s.bind((rabbitmq.HOST, 0))
        return s.getsockname()[1]


class PrivateBroker:
    """``start()``, ``stop()``, ``restart()``; ``url`` for transport_url."""

    def __init__(self, workdir):
        self.workdir = str(workdir)
        self.port = free_port()
        self.dist_port = free_port()
        self.nodename = 'dpiaas-fault-%s@localhost' % uuid.uuid4().hex[:8]
        self.url = 'rabbit://guest:guest@%s:%d/' % (rabbitmq.HOST, self.port)
        self.proc = None

    def ready(self, timeout=1):
        return rabbitmq.amqp_ok(port=self.port, timeout=timeout)

    def start(self):
        """Start and wait until a guest AMQP login works; seconds taken."""
        if not os.path.exists(rabbitmq.SERVER) or not shutil.which('erl'):
            rabbitmq.unavailable('needs RabbitMQ (Debian package '
                                 'rabbitmq-server, bindep.txt)')
        began = time.monotonic()
        self.proc = rabbitmq._start(self.workdir, port=self.port,
                                    nodename=self.nodename,
                                    dist_port=self.dist_port)
        deadline = began + START_TIMEOUT
        while not self.ready():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                rabbitmq.unavailable('private rabbitmq-server did not '
                                     'start: %s' % self.log()[-2000:])
            time.sleep(0.5)
        return time.monotonic() - began

    def stop(self):
        """Stop it and wait until the port refuses connections."""
        if self.proc is not None:
            rabbitmq._stop(self.proc)
            self.proc = None
        deadline = time.monotonic() + 30
        while rabbitmq.port_open(port=self.port):
            assert time.monotonic() < deadline, 'broker still listening'
            time.sleep(0.2)

    def restart(self):
        self.stop()
        return self.start()

    def log(self):
        try:
            with open(os.path.join(self.workdir, 'stdout.log')) as f:
                return f.read()
        except OSError:
            return ''
