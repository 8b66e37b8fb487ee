"""The dashboard's own little Flask app: files, config.json, login.

Nothing here reads the database or the inventory: every view of the pages
comes from the REST API in the browser, with the user's own credentials.
"""
import os

import flask
from oslo_middleware import request_id

from dpiaas.dashboard import keystone

PREFIX = '/dashboard'
STATIC_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                          'static')
# the pages load only their own files and talk only to their own origin
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; "
       "img-src 'self' data:; connect-src 'self'; object-src 'none'; "
       "base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
# the largest page the tables ask for (the API caps it at [api] max_limit)
MAX_PAGE = 1000


def _error(status, code, detail):
    resp = flask.jsonify({'errors': [{
        'status': status, 'code': code,
        'title': {400: 'Bad Request', 401: 'Unauthorized',
                  404: 'Not Found', 405: 'Method Not Allowed',
                  502: 'Bad Gateway'}.get(status, 'Error'),
        'detail': detail,
        'request_id': flask.request.environ.get('openstack.request_id',
                                                '')}]})
    resp.status_code = status
    return resp


def client_config(conf):
    """What the pages need to know about this deployment."""
    return {
        'auth_strategy': conf.api.auth_strategy,
        'api_root': '/',
        'page_size': min(MAX_PAGE, conf.api.max_limit),
        'refresh_interval': conf.dashboard.refresh_interval,
        'live_window': conf.dashboard.live_window,
        'default_domain': conf.dashboard.default_domain,
    }


def create_app(conf):
    app = flask.Flask(__name__, static_folder=STATIC_DIR,
                      static_url_path=PREFIX + '/static')
    app.config['MAX_CONTENT_LENGTH'] = 16384
    app.json.sort_keys = False

    @app.after_request
    def _headers(resp):
        resp.headers['Content-Security-Policy'] = CSP
        resp.headers['X-Content-Type-Options'] = 'nosniff'
        resp.headers['X-Frame-Options'] = 'DENY'
        resp.headers['Referrer-Policy'] = 'no-referrer'
        if not flask.request.path.startswith(PREFIX + '/static/'):
            resp.headers['Cache-Control'] = 'no-store'
        return resp

    @app.errorhandler(404)
    def _not_found(exc):
        return _error(404, 'dpiaas.not_found',
                      'No such dashboard page; the dashboard starts at '
                      '%s/.' % PREFIX)

    @app.errorhandler(405)
    def _not_allowed(exc):
        return _error(405, 'dpiaas.method_not_allowed',
                      'This method is not allowed here.')

    @app.route(PREFIX, strict_slashes=True)
    def _bare():
        return flask.redirect(PREFIX + '/', code=301)

    @app.route(PREFIX + '/', methods=['GET'])
    def index():
        return flask.send_from_directory(STATIC_DIR, 'index.html',
                                         max_age=0)

    @app.route(PREFIX + '/config.json', methods=['GET'])
    def config():
        return flask.jsonify(client_config(conf))

    @app.route(PREFIX + '/auth/tokens', methods=['POST'])
    def login():
        if conf.api.auth_strategy != 'keystone':
            return _error(400, 'dpiaas.no_keystone',
                          'This deployment uses auth_strategy = %s: pick a '
                          'project instead of logging in.'
                          % conf.api.auth_strategy)
        body = flask.request.get_json(silent=True)
        try:
            session = keystone.login(conf, body)
        except keystone.LoginError as exc:
            return _error(exc.status, exc.code, str(exc))
        resp = flask.jsonify({'session': session})
        resp.status_code = 201
        return resp

    # the same x-openstack-request-id as the API's answers (errors name it)
    app.wsgi_app = request_id.RequestId(app.wsgi_app, conf)
    return app
