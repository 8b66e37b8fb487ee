"""The web dashboard: static alarm views served under ``/dashboard/``.

The pages are HTML and JavaScript that call the public REST API like any
other client (the same auth, policy and bounds); the server side only
hands out the files, a small ``config.json`` and, in a cloud, exchanges
the login form's password for a project-scoped Keystone token.
"""
from dpiaas.dashboard import app as dashboard_app

PREFIX = dashboard_app.PREFIX


class _Mount:
    """Send ``/dashboard`` and below to the dashboard, the rest to the API.

    In front of the API's own middleware: the pages are public files, so
    they must not meet the API's authentication.
    """

    def __init__(self, api, dashboard):
        self.api = api
        self.dashboard = dashboard

    def __call__(self, environ, start_response):
        path = environ.get('PATH_INFO', '')
        if path == PREFIX or path.startswith(PREFIX + '/'):
            return self.dashboard(environ, start_response)
        return self.api(environ, start_response)


def register_dashboard(app, conf):
    """Mount the dashboard on the API's Flask ``app`` (when enabled)."""
    try:
        enabled = conf.dashboard.enabled
    except Exception:   # options not registered: a bare test ConfigOpts
        from dpiaas.conf import dashboard as dashboard_conf
        dashboard_conf.register_opts(conf)
        enabled = conf.dashboard.enabled
    if not enabled:
        return app
    app.wsgi_app = _Mount(app.wsgi_app, dashboard_app.create_app(conf))
    return app
