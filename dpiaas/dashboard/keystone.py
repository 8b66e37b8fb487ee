"""The login form's one server-side step: a password for a Keystone token.

The browser posts username, password and project here (same origin, so no
CORS on Keystone is needed); the answer carries the project-scoped token,
which the page keeps in ``sessionStorage`` and sends as ``X-Auth-Token``
to the REST API. The password is not logged nor kept.
"""
from oslo_log import log as logging

LOG = logging.getLogger(__name__)

_FIELDS = ('username', 'password', 'project')
_MAX_FIELD = 255


class LoginError(Exception):
    def __init__(self, status, code, detail):
        super().__init__(detail)
        self.status = status
        self.code = code


def auth_url(conf):
    url = conf.dashboard.auth_url
    if not url:
        try:
            url = conf.keystone_authtoken.www_authenticate_uri
        except Exception:    # registered by keystonemiddleware only
            url = None
    if not url:
        raise LoginError(502, 'dpiaas.no_keystone_url',
                         'The dashboard does not know where Keystone is: '
                         'set [dashboard] auth_url.')
    return url


def _fields(body):
    if not isinstance(body, dict):
        raise LoginError(400, 'dpiaas.invalid_input',
                         'Send a JSON object with username, password and '
                         'project.')
    out = {}
    for key in _FIELDS + ('domain',):
        value = body.get(key)
        if value is None and key == 'domain':
            continue
        if not isinstance(value, str) or not value or \
                len(value) > _MAX_FIELD:
            raise LoginError(400, 'dpiaas.invalid_input',
                             '%s: give a non-empty text of at most %d '
                             'characters.' % (key, _MAX_FIELD))
        out[key] = value
    return out


def login(conf, body):
    """A session dict for the page; LoginError (one line) otherwise."""
    from keystoneauth1 import exceptions as ks_exc
    from keystoneauth1.identity import generic
    from keystoneauth1 import session as ks_session

    fields = _fields(body)
    domain = fields.get('domain') or conf.dashboard.default_domain
    plugin = generic.Password(
        auth_url=auth_url(conf), username=fields['username'],
        password=fields['password'], user_domain_name=domain,
        project_name=fields['project'], project_domain_name=domain)
    sess = ks_session.Session(auth=plugin,
                              timeout=conf.dashboard.login_timeout)
    try:
        access = plugin.get_access(sess)
    except ks_exc.Unauthorized:
        raise LoginError(401, 'dpiaas.login_failed',
                         'Keystone refused the user name, password or '
                         'project; check them and try again.')
    except ks_exc.ClientException as exc:
        LOG.warning('Login: Keystone at %s did not answer: %s',
                    auth_url(conf), exc)
        raise LoginError(502, 'dpiaas.keystone_unavailable',
                         'Keystone could not be reached; try again later.')
    if not access.project_id:
        raise LoginError(401, 'dpiaas.login_failed',
                         'Keystone gave no project-scoped token; check the '
                         'project name.')
    return {
        'token': access.auth_token,
        'expires_at': (access.expires.isoformat()
                       if access.expires else None),
        'project_id': access.project_id,
        'project_name': access.project_name,
        'user': access.username,
        'roles': list(access.role_names or []),
    }
