"""The API's app factory: Flask app, routes, auth, error form, middleware.

No global state: the all-in-one, uwsgi and the tests each build their own
app with :func:`create_app` on their own ConfigOpts and parts.
"""
import dataclasses

import flask
from oslo_config import cfg
from oslo_middleware import healthcheck
from oslo_middleware import http_proxy_to_wsgi
from oslo_middleware import request_id

from dpiaas.api import auth
from dpiaas.api import errors
from dpiaas.api import routing
# the handler modules record their operations when imported
from dpiaas.api.v1 import admin  # noqa: F401
from dpiaas.api.v1 import alarms  # noqa: F401
from dpiaas.api.v1 import metrics  # noqa: F401
from dpiaas.api.v1 import monitors  # noqa: F401
from dpiaas.api.v1 import ports  # noqa: F401
from dpiaas.api import versions  # noqa: F401
from dpiaas import conf as dpiaas_conf
from dpiaas import dashboard
from dpiaas import policies


HEALTHCHECK_PATH = '/healthcheck'


class _Paths:
    """Send a few exact paths to their own WSGI apps (a tiny urlmap)."""

    def __init__(self, default, apps):
        self.default = default
        self.apps = apps

    def __call__(self, environ, start_response):
        path = environ.get('PATH_INFO', '').rstrip('/') or '/'
        app = self.apps.get(path, self.default)
        return app(environ, start_response)


@dataclasses.dataclass
class Parts:
    """What the handlers work with (``app.extensions['dpiaas']``)."""

    conf: object
    storage: object
    inventory: object
    engine_control: object
    enforcer: object


def _ensure_opts(conf):
    try:
        conf.api.auth_strategy
    except (cfg.NoSuchOptError, cfg.NoSuchGroupError):
        dpiaas_conf.register_opts(conf)
    # a bad value raises here, with the option named, before any I/O
    conf.api.auth_strategy


def _default_storage(conf):
    from dpiaas.db import api as db_api
    return db_api.get_storage(conf)


def _default_inventory(conf):
    from dpiaas import inventory
    return inventory.get_inventory(conf)


def create_app(conf, storage=None, inventory=None, engine_control=None):
    """The WSGI app of API v1 (a Flask app; calling it runs middleware).

    ``storage`` defaults to ``[database] connection``, ``inventory`` to
    ``[DEFAULT] inventory_driver``; without ``engine_control`` the engine
    learns of changed monitors at its next periodic pass.
    """
    _ensure_opts(conf)
    app = flask.Flask(__name__)
    app.config['MAX_CONTENT_LENGTH'] = conf.api.max_request_body_size
    app.json.sort_keys = False
    app.url_map.strict_slashes = False
    app.extensions['dpiaas'] = Parts(
        conf=conf,
        storage=storage if storage is not None else _default_storage(conf),
        inventory=(inventory if inventory is not None
                   else _default_inventory(conf)),
        engine_control=engine_control,
        enforcer=policies.make_enforcer(conf))
    routing.add_routes(app)
    errors.register(app)
    public = {op.endpoint for op in routing.OPERATIONS if op.public}

    @app.before_request
    def _authenticate():
        if (flask.request.routing_exception is not None
                or flask.request.endpoint in public):
            return None
        flask.g.context = auth.context_from_environ(
            flask.request.environ, conf)
        return None

    # outermost first: request id on everything, health without auth
    wsgi = _Paths(auth.wrap(app.wsgi_app, conf),
                  {HEALTHCHECK_PATH: healthcheck.Healthcheck(None, conf)})
    wsgi = http_proxy_to_wsgi.HTTPProxyToWSGI(wsgi, conf)
    app.wsgi_app = request_id.RequestId(wsgi, conf)
    dashboard.register_dashboard(app, conf)
    return app
