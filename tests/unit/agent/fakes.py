"""Fakes of the agent's surroundings: engine client, tapfinder, capture."""
import threading

from dpiaas.agent import tapfinder
from dpiaas.dpi import pipeline
from dpiaas.dpi.capture import CaptureError

SPEC = {'services': [{'l4': 'udp', 'port_min': 5060, 'port_max': 5060,
                      'app': 'sip', 'role': 'offered'}],
        'vm_ips': ['198.18.0.2'], 'vm_macs': [], 'interval_ms': 100,
        'name': ''}


def collector(cid='c1', generation=1, port_id='port-1', host='h1',
              spec=None):
    return {'id': cid, 'monitor_id': 'm-' + cid, 'project_id': 'p',
            'port_id': port_id, 'host': host, 'tap_device': None,
            'spec': spec or SPEC, 'generation': generation,
            'status': 'scheduled'}


class FakeEngine:
    """Records casts; ``fail`` makes every call raise it."""

    def __init__(self):
        self.calls = []
        self.fail = None
        self.lock = threading.Lock()

    def _record(self, method, *args):
        if self.fail is not None:
            raise self.fail
        with self.lock:
            self.calls.append((method,) + args)

    def report_samples(self, ctxt, host, samples):
        self._record('report_samples', host, list(samples))

    def report_flows(self, ctxt, host, reports):
        self._record('report_flows', host, list(reports))

    def report_state(self, ctxt, host, state):
        self._record('report_state', host, state)

    def collector_status(self, ctxt, host, collector_id, status,
                         reason=None):
        self._record('collector_status', host, collector_id, status, reason)

    def get_desired(self, ctxt, host, timeout=None):
        if self.fail is not None:
            raise self.fail
        return []

    def of(self, method):
        with self.lock:
            return [c[1:] for c in self.calls if c[0] == method]


class FakeTapFinder:
    """Knows the devices in ``present``."""

    def __init__(self, present=()):
        self.present = set(present)

    def find(self, port_id, hint=None):
        name = hint or tapfinder.nova_tap_name(port_id)
        if name not in self.present:
            raise tapfinder.TapNotFound('no tap device of port %s exists '
                                        '(tried %s)' % (port_id, name))
        return name


class FakeLive:
    """A LiveCollector that emits a report every 10 ms until stopped, or
    raises CaptureError once ``vanish`` is set."""

    instances = []

    def __init__(self, interface, spec, settings, workers=1,
                 capture_opts=None):
        self.interface = interface
        self.spec = spec
        self.settings = settings
        self.capture_opts = capture_opts
        self.stopped = threading.Event()
        self.vanish = threading.Event()
        FakeLive.instances.append(self)

    def stop(self):
        self.stopped.set()

    def run(self, emit):
        ts = 1000.0
        while not self.stopped.wait(0.01):
            if self.vanish.is_set():
                raise CaptureError('interface %s vanished while capturing'
                                   % self.interface)
            emit(pipeline.IntervalReport(
                ts=ts, interval_ms=100,
                metrics={'sip.5060.requests.options': 1,
                         'capture.packets': 2, 'capture.drops': 0}))
            ts += 0.1
