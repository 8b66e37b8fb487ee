"""Who is asking: a RequestContext from Keystone's headers or noauth's.

With ``auth_strategy = keystone`` keystonemiddleware's ``auth_token``
wraps the app with ``delay_auth_decision``: it validates the token and
sets the ``X-Identity-Status``/``X-Project-Id``/``X-Roles`` headers
(stripping any the client sent), and this module answers 401 itself so
that the body is in the API's error form. With ``noauth`` the client's
``X-Project-Id`` and ``X-Roles`` are trusted: standalone use only.
"""
import re

from keystonemiddleware import auth_token
from oslo_context import context

from dpiaas.api import errors

NOAUTH_DEFAULT_ROLES = ['member', 'reader']
_PROJECT_RE = re.compile(r'^[A-Za-z0-9_.-]{1,64}$')


def wrap(wsgi_app, conf):
    """``wsgi_app`` behind auth_token when the strategy is keystone."""
    if conf.api.auth_strategy != 'keystone':
        return wsgi_app
    return auth_token.AuthProtocol(
        wsgi_app, {'oslo_config_config': conf,
                   'delay_auth_decision': True})


def _www_authenticate(conf):
    try:
        uri = conf.keystone_authtoken.www_authenticate_uri
    except Exception:  # options registered by auth_token only
        uri = None
    return {'WWW-Authenticate': 'Keystone uri="%s"' % uri} if uri else {}


def context_from_environ(environ, conf):
    """The caller's RequestContext; ApiError(401) when there is none."""
    request_id = environ.get('openstack.request_id')
    if conf.api.auth_strategy == 'noauth':
        project = environ.get('HTTP_X_PROJECT_ID', '').strip()
        if not project:
            raise errors.unauthorized(
                'The X-Project-Id header is required ([api] '
                'auth_strategy = noauth).')
        if not _PROJECT_RE.match(project):
            raise errors.unauthorized(
                'X-Project-Id must be 1 to 64 letters, digits, "_", "-" '
                'or ".".')
        roles = [r.strip() for r in
                 environ.get('HTTP_X_ROLES', '').split(',') if r.strip()]
        return context.RequestContext(
            project_id=project, user_id=environ.get('HTTP_X_USER_ID'),
            roles=roles or list(NOAUTH_DEFAULT_ROLES),
            request_id=request_id)
    if environ.get('HTTP_X_IDENTITY_STATUS') != 'Confirmed':
        raise errors.unauthorized(
            'Authentication required: send a valid Keystone token in the '
            'X-Auth-Token header.', headers=_www_authenticate(conf))
    ctxt = context.RequestContext.from_environ(environ)
    ctxt.request_id = request_id or ctxt.request_id
    return ctxt
