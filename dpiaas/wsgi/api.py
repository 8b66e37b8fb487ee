"""The API's WSGI application for uwsgi: ``dpiaas.wsgi.api:application``.

Configuration comes from ``DPIAAS_CONFIG_FILE`` (several separated by
commas) or ``/etc/dpiaas/dpiaas.conf``; the uwsgi configuration names the
module, as in devstack (``module = dpiaas.wsgi.api:application``).
"""
import gc
import os

from oslo_config import cfg
from oslo_log import log as logging

from dpiaas.api import app as app_mod
from dpiaas.api import notify
from dpiaas import conf as dpiaas_conf

DEFAULT_CONFIG = '/etc/dpiaas/dpiaas.conf'


def _config_files():
    env = os.environ.get('DPIAAS_CONFIG_FILE')
    if env:
        return [f for f in env.split(',') if f]
    return [DEFAULT_CONFIG] if os.path.exists(DEFAULT_CONFIG) else []


def prepare_conf(argv=None, config_files=None, prog='dpiaas-api'):
    conf = cfg.ConfigOpts()
    dpiaas_conf.register_opts(conf)
    logging.register_options(conf)
    conf(argv or [], project='dpiaas', prog=prog,
         default_config_files=(config_files if config_files is not None
                               else _config_files()))
    return conf


def _engine_control(conf):
    from dpiaas.rpc import engine_api
    from dpiaas.rpc import transport
    return notify.BackgroundControl(
        engine_api.EngineControlAPI(transport.get_rpc_transport(conf)))


def init_application(conf=None):
    """The API app of ``conf`` (parsed from the environment when None)."""
    if conf is None:
        conf = prepare_conf()
        logging.setup(conf, 'dpiaas-api')
    app = app_mod.create_app(conf, engine_control=_engine_control(conf))
    freeze_heap()
    return app


def freeze_heap():
    """Keep the garbage collector off what exists after start-up.

    A series answer allocates tens of thousands of small objects, which
    triggers full collections; each walked the whole heap of imported
    modules (numpy, SQLAlchemy, oslo.*) and added ~100 ms to one request
    in ten. Frozen, a full collection sees only the live request's
    objects (bench/api_latency.py: series p99 from ~130 to ~28 ms).
    """
    gc.collect()
    gc.freeze()


class _Deferred:
    """Builds the app at the first request, so importing is harmless."""

    def __init__(self):
        self._app = None

    def __call__(self, environ, start_response):
        if self._app is None:
            self._app = init_application()
        return self._app(environ, start_response)


application = _Deferred()
