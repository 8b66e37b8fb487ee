"""[api] options: the tenant-facing REST API (dpiaas-api, uwsgi).

Every bound here exists so that no single request can make the API or the
database do unbounded work: bodies, pages and metric series are capped,
and a request beyond a cap gets a 400/413 that says which cap.
"""
from oslo_config import cfg

GROUP = 'api'

OPTS = [
    cfg.HostAddressOpt('host', default='127.0.0.1',
                       help='Address dpiaas-api (the development server) '
                            'listens on. Under uwsgi the uwsgi '
                            'configuration decides.'),
    cfg.PortOpt('port', default=8778,
                help='Port dpiaas-api (the development server) listens '
                     'on.'),
    cfg.StrOpt('auth_strategy', default='keystone',
               choices=[('keystone', 'Keystone tokens checked by '
                                     'keystonemiddleware auth_token '
                                     '(options in [keystone_authtoken])'),
                        ('noauth', 'No authentication: the project comes '
                                   'from the X-Project-Id header and the '
                                   'roles from X-Roles (default '
                                   'member,reader). Standalone and tests '
                                   'only.')],
               help='How requests are authenticated.'),
    cfg.IntOpt('max_request_body_size', default=65536, min=1024,
               help='Largest request body accepted, in bytes; larger '
                    'bodies get 413.'),
    cfg.IntOpt('max_limit', default=1000, min=1,
               help='Largest page size (limit) of a collection.'),
    cfg.IntOpt('default_limit', default=100, min=1,
               help='Page size of a collection when no limit is given '
                    '(capped by max_limit).'),
    cfg.IntOpt('max_series_points', default=10000, min=10,
               help='Most measures one series request may return; a '
                    'request whose span divided by its resolution is '
                    'larger gets 400 (ask a coarser resolution).'),
    cfg.IntOpt('max_series_span', default=31 * 86400, min=60,
               help='Longest time span in seconds of one series request.'),
    cfg.IntOpt('default_series_span', default=3600, min=1,
               help='Span in seconds of a series request without start '
                    '(the last hour by default).'),
]


def authtoken_opts():
    """[keystone_authtoken] (keystonemiddleware registers them itself when
    the API starts with auth_strategy = keystone; listed here so that the
    sample config shows them). Imported lazily: 0.4 s that the agent and
    the engine do not need to spend."""
    from keystonemiddleware import auth_token
    return auth_token.list_opts()


def register_opts(conf):
    conf.register_opts(OPTS, group=GROUP)


def list_opts():
    return [(GROUP, OPTS)] + authtoken_opts()
