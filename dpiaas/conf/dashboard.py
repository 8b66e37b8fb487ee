"""[dashboard] options: the alarm views served under /dashboard/.

The pages are static and talk to the same REST API as every client; the
only server-side help they get is the Keystone login form's exchange of a
password for a project-scoped token, which needs to know where Keystone
is.
"""
from oslo_config import cfg

GROUP = 'dashboard'

OPTS = [
    cfg.BoolOpt('enabled', default=True,
                help='Serve the web dashboard under /dashboard/ beside the '
                     'REST API.'),
    cfg.URIOpt('auth_url', schemes=['http', 'https'],
               help='Keystone identity URL used by the login form (e.g. '
                    'https://keystone.example.com/identity/v3). Default: '
                    '[keystone_authtoken] www_authenticate_uri. Only used '
                    'with [api] auth_strategy = keystone.'),
    cfg.StrOpt('default_domain', default='Default',
               help='Keystone domain of users and projects when the login '
                    'form names none.'),
    cfg.IntOpt('refresh_interval', default=5, min=1, max=3600,
               help='Seconds between automatic refreshes of the alarm '
                    'table and the firing badge.'),
    cfg.IntOpt('live_window', default=300, min=30, max=3600,
               help='Seconds of history the live metric charts of a '
                    'monitor show.'),
    cfg.IntOpt('login_timeout', default=15, min=1, max=120,
               help='Seconds the login endpoint waits for Keystone.'),
]


def register_opts(conf):
    conf.register_opts(OPTS, group=GROUP)


def list_opts():
    return [(GROUP, OPTS)]
