import http.server
import json
import threading

import pytest
from oslo_config import cfg

from dpiaas.conf import notifier as notifier_conf


@pytest.fixture
def conf():
    c = cfg.ConfigOpts()
    notifier_conf.register_opts(c)
    c([], project='dpiaas')
    c.set_override('webhook_retry_backoff', 0.01, group='notifier')
    c.set_override('webhook_timeout', 2.0, group='notifier')
    return c


class Recorder(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        srv = self.server
        body = self.rfile.read(int(self.headers['Content-Length']))
        with srv.lock:
            srv.calls += 1
            status = srv.statuses.pop(0) if srv.statuses else 200
            if status < 300:
                srv.received.append((self.path, self.headers.get('Host'),
                                     json.loads(body)))
        self.send_response(status)
        self.send_header('Content-Length', '0')
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    """A real HTTP server on 127.0.0.1; ``statuses`` are answered first
    (then 200)."""
    srv = http.server.ThreadingHTTPServer(('127.0.0.1', 0), Recorder)
    srv.lock = threading.Lock()
    srv.calls = 0
    srv.received = []
    srv.statuses = []
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    srv.url = 'http://127.0.0.1:%d' % srv.server_address[1]
    yield srv
    srv.shutdown()
    srv.server_close()
