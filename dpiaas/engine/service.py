"""The engine wired together: RPC servers, reconciler, ingest, detection,
liveness.

``EngineService(conf, storage, inventory, transport)`` holds no global
state, so ``dpiaas-engine``, ``dpiaas-all-in-one`` (``fake://`` transport,
in-process) and tests build it the same way. ``start()`` serves
``dpiaas-engine`` (agents, and peer engines handing over samples of
monitors this engine owns) and ``dpiaas-engine-control`` (API) with the
threading executor; ``stop()`` stops everything and writes what ingest
still holds.
"""
import gc
import sys
import threading

import oslo_messaging as messaging
from oslo_log import log as logging

from dpiaas.engine import coordination
from dpiaas.engine import detection as detection_mod
from dpiaas.engine import ingest as ingest_mod
from dpiaas.engine import liveness as liveness_mod
from dpiaas.engine import periodic
from dpiaas.engine import reconciler as reconciler_mod
from dpiaas.engine import rpc_endpoint
from dpiaas.engine import scheduler as scheduler_mod
from dpiaas import notifiers as notifiers_mod
from dpiaas.rpc import agent_api as agent_api_mod
from dpiaas.rpc import engine_api
from dpiaas.rpc import transport as rpc_transport

LOG = logging.getLogger(__name__)

# The engine's threads (AMQP reader, ingest writer, detector, reconciler)
# share one GIL. A thread back from a socket read or an SQLite statement
# waits for a busy one to hand the GIL over, up to the interpreter's
# switch interval (5 ms) each time: with the detector busy, the reader
# and the writer spent more time waiting than working (issue 7, "Load").
# A shorter interval costs a little more switching between busy threads.
GIL_SWITCH_INTERVAL_S = 0.001

# The engine holds thousands of detectors (deques, arrays, dicts) and
# allocates a sample row per monitor per interval: with CPython's default
# thresholds (700, 10, 10) the collector ran some 85 young and 8 full
# collections per scoring pass of 5,000 monitors, each full one walking
# every detector while all threads wait. Rarer collections gave the
# detector loop 15-30 % more intervals per second
# (``bench.loadgen.micro --part detector``); the price is at most a
# hundred thousand allocations of garbage cycles held a little longer.
# (cmd/engine.py also freezes the start-up heap.)
GC_THRESHOLDS = (100000, 20, 20)


# The ring key of the retention pass: one engine of the ring runs it.
RETENTION_KEY = 'dpiaas-retention-pass'


class Expirer(periodic.PeriodicTask):
    """Runs ``storage.expire()`` (retention, downsampling) periodically,
    on the one engine of the ring that owns ``RETENTION_KEY``: a pass
    over 10,000 monitors' samples takes tens of seconds of database
    work, and every engine (or worker) doing it again gains nothing."""

    name = 'retention pass'

    def __init__(self, storage, interval, owns=None):
        super().__init__(interval)
        self.storage = storage
        self.owns = owns or (lambda key: True)

    def tick(self):
        if not self.owns(RETENTION_KEY):
            return
        LOG.debug('retention pass: %s', self.storage.expire())


class EngineService:
    """One engine. Pass ``agent_api`` or ``coordinator`` to replace them
    (tests); everything else comes from ``conf``."""

    def __init__(self, conf, storage, inventory, transport, agent_api=None,
                 coordinator=None, member_id=None):
        self.conf = conf
        # the engine's name on the ring and its RPC server name: the host,
        # or "<host>.<n>" for one of several workers (dpiaas.engine.workers)
        self.member_id = member_id or conf.host
        self.storage = storage
        self.inventory = inventory
        self.transport = transport
        eng = conf.engine
        self.agent_api = agent_api or agent_api_mod.AgentAPI(transport)
        self.coordinator = (coordinator
                            or coordination.Coordinator.from_conf(
                                conf, self.member_id))
        # one lock for everything that writes collector statuses
        self.lock = threading.RLock()
        self.scheduler = scheduler_mod.Scheduler(inventory)
        self.ingest = ingest_mod.Ingest(
            storage, batch_size=eng.ingest_batch_size,
            flush_interval=eng.ingest_flush_interval,
            max_backlog=eng.ingest_max_backlog,
            retry_interval=eng.ingest_retry_interval)
        self.reconciler = reconciler_mod.Reconciler(
            storage, self.scheduler, self.agent_api,
            owns=self.coordinator.owns, interval=eng.reconcile_interval,
            agent_down_time=eng.agent_down_time, lock=self.lock)
        self.liveness = liveness_mod.Liveness(
            storage, eng.agent_down_time, owns=self.coordinator.owns,
            interval=eng.liveness_interval, lock=self.lock)
        self.expirer = Expirer(storage, eng.expire_interval,
                               owns=self.coordinator.owns)
        self.control_endpoint = rpc_endpoint.EngineControlEndpoint(
            self.reconciler)
        self.notifiers = notifiers_mod.NotifierManager(conf, transport)
        forward = None
        if self.coordinator.enabled:
            # samples of another engine's monitors go to it for scoring
            self.peer_api = engine_api.EnginePeerAPI(transport)
            forward = self._forward
        self.detection = detection_mod.Detection(
            conf, storage, self.notifiers, owns=self.coordinator.owns,
            save_interval=conf.detector.save_interval,
            owner=self.coordinator.owner, forward=forward)
        self.endpoint = rpc_endpoint.EngineEndpoint(
            storage, self.ingest, self.agent_api,
            agent_down_time=eng.agent_down_time, lock=self.lock,
            score=self.detection.score)
        self.ingest.add_consumer(self.detection.consume)
        self.servers = []
        self.started = False

    def stats(self):
        """``{'ingest': Ingest.stats(), 'detector': Detection.stats()}``:
        samples received, written, dropped and waiting, and how far
        behind the detector is (``lag_s``)."""
        return {'ingest': self.ingest.stats(),
                'detector': self.detection.stats()}

    def _forward(self, owner, samples):
        self.peer_api.score_samples(
            None, owner, samples,
            packed=self.coordinator.rpc_version(owner) >= (1, 4))

    def _servers(self):
        return [
            rpc_transport.get_rpc_server(
                self.transport,
                messaging.Target(topic=engine_api.TOPIC,
                                 server=self.member_id),
                [self.endpoint]),
            rpc_transport.get_rpc_server(
                self.transport,
                messaging.Target(topic=engine_api.CONTROL_TOPIC,
                                 server=self.member_id),
                [self.control_endpoint]),
        ]

    def start(self):
        if sys.getswitchinterval() > GIL_SWITCH_INTERVAL_S:
            sys.setswitchinterval(GIL_SWITCH_INTERVAL_S)
        if gc.get_threshold()[0] < GC_THRESHOLDS[0]:
            gc.set_threshold(*GC_THRESHOLDS)
        self.coordinator.start()
        self.ingest.start()
        self.detection.start()
        self.servers = self._servers()
        for server in self.servers:
            server.start()
        self.reconciler.start()
        self.liveness.start()
        self.expirer.start()
        self.started = True
        LOG.info('dpiaas-engine %s started (%s)', self.member_id,
                 'engines: %s' % ', '.join(self.coordinator.members)
                 if self.coordinator.enabled else 'sole engine')

    def stop(self):
        """Stop serving, then the loops, then write what ingest holds."""
        if not self.started:
            return
        self.started = False
        for server in self.servers:
            try:
                server.stop()
                server.wait()
            except Exception as exc:  # a dead broker must not block exit
                LOG.warning('RPC server did not stop cleanly: %s', exc)
        self.servers = []
        self.reconciler.stop()
        self.liveness.stop()
        self.expirer.stop()
        self.ingest.stop()
        # after ingest: its last batch is scored and the state saved
        self.detection.stop()
        self.notifiers.stop()
        try:
            self.coordinator.stop()
        except Exception as exc:
            LOG.warning('leaving the coordination group failed: %s', exc)
        LOG.info('dpiaas-engine %s stopped', self.member_id)
