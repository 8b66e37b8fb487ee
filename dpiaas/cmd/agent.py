"""``dpiaas-agent``: the collectors of one hypervisor.

Runs until SIGTERM or SIGINT. A bad option or config file, or a broker that
cannot be reached at start, ends it at once with one line on stderr and a
non-zero exit code.
"""
import signal
import sys
import threading
import warnings

from oslo_config import cfg
from oslo_log import log

from dpiaas.agent import privileges
from dpiaas import conf as dpiaas_conf

LOG = log.getLogger(__name__)
EXIT_CONFIG = 2
EXIT_BROKER = 3


def _quiet_imports():
    # oslo.messaging imports oslo.service, which warns that eventlet is
    # deprecated; dpiaas uses no eventlet
    warnings.filterwarnings('ignore', message=r'\s*Eventlet is deprecated')


def build_agent(conf, transport):
    """See :func:`dpiaas.agent.service.build_agent`."""
    _quiet_imports()
    from dpiaas.agent import service
    return service.build_agent(conf, transport)


def prepare_conf(argv=None, conf=None):
    """Parse the command line and config files into a new ConfigOpts."""
    conf = conf or cfg.ConfigOpts()
    dpiaas_conf.register_opts(conf)
    log.register_options(conf)
    conf(argv, project='dpiaas', prog='dpiaas-agent',
         description='dpiaas agent: DPI collectors on the tap devices of '
                     'this hypervisor.')
    return conf


def validate(conf):
    """Read every dpiaas option once: oslo.config converts values lazily,
    and a bad one must stop the agent at start, not a thread later."""
    for group, opts in dpiaas_conf.list_opts():
        if group not in ('DEFAULT', 'agent', 'dpi'):
            continue  # other services' options: theirs to check
        section = conf if group == 'DEFAULT' else conf[group]
        for opt in opts:
            try:
                section[opt.dest]
            except cfg.NoSuchOptError:
                pass  # listed for the sample file, registered elsewhere


def _fail(code, message):
    sys.stderr.write('dpiaas-agent: error: %s\n' % message)
    return code


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    try:
        conf = prepare_conf(argv)
        validate(conf)
    except cfg.Error as exc:
        return _fail(EXIT_CONFIG, str(exc).splitlines()[0])
    _quiet_imports()
    from dpiaas.rpc import transport as rpc_transport
    try:
        log.setup(conf, 'dpiaas-agent')
        transport = rpc_transport.get_rpc_transport(conf)
        rpc_transport.check_broker(conf, transport,
                                   conf.agent.broker_check_timeout)
    except ConnectionError as exc:
        return _fail(EXIT_BROKER, '%s; is transport_url right and the '
                     'broker running?' % exc)
    except Exception as exc:  # bad transport_url, log config, ...
        return _fail(EXIT_CONFIG, '%s: %s' % (type(exc).__name__, exc))

    privileges.drop_capabilities()  # keeps CAP_NET_RAW, CAP_NET_ADMIN
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    agent = build_agent(conf, transport)
    try:
        agent.start()
        while not stop.wait(1.0):
            pass
        LOG.info('dpiaas-agent stopping')
    finally:
        agent.stop()
        transport.cleanup()
    return 0


if __name__ == '__main__':
    sys.exit(main())
