"""``dpiaas-engine``: scheduler, ingest and agent liveness of the control
plane.

Runs until SIGTERM or SIGINT, then stops serving and writes the samples it
still holds. A bad option or config file, a database that cannot be used
(bad URL, unreachable, schema not synced) or a broker that cannot be
reached at start end it at once with one line on stderr and a non-zero
exit code.
"""
import gc
import os
import signal
import sys
import threading
import warnings

from oslo_config import cfg
from oslo_log import log

from dpiaas import conf as dpiaas_conf
from dpiaas.engine import workers

LOG = log.getLogger(__name__)
EXIT_CONFIG = 2
EXIT_BROKER = 3
EXIT_DATABASE = 4
PROG = 'dpiaas-engine'


def _quiet_imports():
    # oslo.messaging/futurist import eventlet, which warns that it is
    # deprecated; dpiaas uses no eventlet
    warnings.filterwarnings('ignore', message=r'\s*Eventlet is deprecated')


def prepare_conf(argv=None, conf=None):
    """Parse the command line and config files into a new ConfigOpts."""
    conf = conf or cfg.ConfigOpts()
    dpiaas_conf.register_opts(conf)
    register_transport_opts(conf)
    log.register_options(conf)
    conf(argv, project='dpiaas', prog=PROG,
         description='dpiaas engine: schedules collectors on the agents, '
                     'stores what they report, watches that they live.')
    return conf


def register_transport_opts(conf):
    """oslo.messaging's own options on ``conf``.

    oslo.messaging 18 registers its metrics and tracing options on the
    global CONF only, and every cast on another ConfigOpts fails with
    NoSuchOptError; ``dpiaas.rpc.transport.register_opts`` registers them
    where it exists.
    """
    _quiet_imports()
    from dpiaas.rpc import transport as rpc_transport
    register = getattr(rpc_transport, 'register_opts', None)
    if register is not None:
        register(conf)
        return
    from oslo_messaging._metrics import client as metrics
    from oslo_messaging._tracing import client as tracing
    for group, opts in (('oslo_messaging_metrics',
                         metrics.oslo_messaging_metrics),
                        ('oslo_messaging_tracing',
                         tracing.oslo_messaging_tracing)):
        if group not in conf:
            conf.register_opts(opts, group=group)


def _fail(code, message):
    sys.stderr.write('%s: error: %s\n' % (PROG, message))
    return code


def open_storage(conf):
    """The Storage of ``[database] connection``; raises ``RuntimeError``
    with one line saying what to do."""
    from dpiaas.db import api as db_api
    try:
        return db_api.get_storage(conf)
    except db_api.NotSynced as exc:
        raise RuntimeError(str(exc))
    except Exception as exc:  # bad URL, missing driver, unreachable server
        first = (str(exc).strip().splitlines() or [''])[0]
        raise RuntimeError('cannot use the database of [database] '
                           'connection (%s: %s)' % (type(exc).__name__,
                                                    first))


def _supervise(conf, argv, stop):
    """``[engine] workers`` processes of this engine, kept running until
    SIGTERM or SIGINT (:mod:`dpiaas.engine.workers`)."""
    from dpiaas.db import api as db_api
    ring = conf.coordination.backend_url
    if not ring:
        ring = workers.default_ring_url(db_api.state_path(conf))
        try:
            os.makedirs(ring[len('file://'):], exist_ok=True)
        except OSError as exc:
            return _fail(EXIT_CONFIG, 'cannot create the workers\' '
                         'coordination directory: %s (create it, or set '
                         '[coordination] backend_url)' % exc)
    sup = workers.Supervisor(workers.worker_command(argv),
                             conf.engine.workers, ring)
    LOG.info('%s: %d workers sharing %s', PROG, conf.engine.workers,
             ring if not conf.coordination.backend_url
             else '[coordination] backend_url')
    sup.start()
    try:
        while not stop.wait(min(sup.check() or 1.0, 1.0)):
            pass
        LOG.info('%s stopping %d workers', PROG, len(sup.alive()))
    finally:
        sup.stop()
    return 0


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    try:
        conf = prepare_conf(argv)
    except cfg.Error as exc:
        return _fail(EXIT_CONFIG, str(exc).splitlines()[0])
    _quiet_imports()
    from dpiaas.engine import coordination
    from dpiaas.engine import service
    from dpiaas import inventory
    from dpiaas.rpc import transport as rpc_transport
    try:
        log.setup(conf, PROG)
        inv = inventory.get_inventory(conf)
    except Exception as exc:  # log config, inventory driver options
        return _fail(EXIT_CONFIG, '%s: %s' % (type(exc).__name__, exc))
    try:
        storage = open_storage(conf)
    except RuntimeError as exc:
        return _fail(EXIT_DATABASE, str(exc))
    try:
        transport = rpc_transport.get_rpc_transport(conf)
        rpc_transport.check_broker(conf, transport,
                                   conf.engine.broker_check_timeout)
    except ConnectionError as exc:
        return _fail(EXIT_BROKER, '%s; is transport_url right and the '
                     'broker running?' % exc)
    except Exception as exc:  # bad transport_url
        return _fail(EXIT_CONFIG, '%s: %s' % (type(exc).__name__, exc))

    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    index = workers.worker_index()
    if index is None and conf.engine.workers > 1:
        storage.close()
        transport.cleanup()
        return _supervise(conf, argv, stop)
    kwargs = {}
    if index is not None:
        workers.die_with_parent()
        member = workers.member_id(conf.host, index)
        kwargs['member_id'] = member
        kwargs['coordinator'] = coordination.Coordinator.from_conf(
            conf, member, os.environ.get(workers.ENV_RING),
            expect=[workers.member_id(conf.host, i)
                    for i in range(conf.engine.workers)])
    engine = service.EngineService(conf, storage, inv, transport, **kwargs)
    try:
        engine.start()
        # as dpiaas.wsgi.api.freeze_heap does: batches of samples are many
        # small objects, and full collections walking the start-up heap
        # stalled reads and writes by ~100 ms
        gc.collect()
        gc.freeze()
        while not stop.wait(1.0):
            pass
        LOG.info('%s stopping', PROG)
    finally:
        engine.stop()
        transport.cleanup()
        storage.close()
    return 0


if __name__ == '__main__':
    sys.exit(main())
