"""Errors in the API working group's form, for every 4xx and 5xx.

``{"errors": [{"status", "code", "title", "detail", "request_id"}]}``:
whatever fails (a handler, validation, routing, a 405, a body too large,
an unexpected exception) leaves the API in this shape, and a traceback
only ever reaches the log.
"""
import http

import flask
from oslo_log import log as logging
from werkzeug import exceptions as wexc

LOG = logging.getLogger(__name__)

# werkzeug's own errors (routing, 405, 413, bad JSON framing) -> codes
_HTTP_CODES = {
    400: 'dpiaas.bad_request',
    401: 'dpiaas.unauthorized',
    403: 'dpiaas.forbidden',
    404: 'dpiaas.not_found',
    405: 'dpiaas.method_not_allowed',
    406: 'dpiaas.not_acceptable',
    409: 'dpiaas.conflict',
    411: 'dpiaas.length_required',
    413: 'dpiaas.request_too_large',
    414: 'dpiaas.uri_too_long',
    415: 'dpiaas.unsupported_media_type',
    431: 'dpiaas.headers_too_large',
    500: 'dpiaas.internal_error',
    503: 'dpiaas.service_unavailable',
}


class ApiError(Exception):
    """An error answered to the client: status, stable code, one line."""

    def __init__(self, status, code, detail, headers=None):
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail
        self.headers = headers or {}


def bad_request(detail, code='dpiaas.invalid_input'):
    return ApiError(400, code, detail)


def not_found(detail, code='dpiaas.not_found'):
    return ApiError(404, code, detail)


def forbidden(detail='Policy does not allow this request.',
              code='dpiaas.forbidden'):
    return ApiError(403, code, detail)


def unauthorized(detail, headers=None):
    return ApiError(401, 'dpiaas.unauthorized', detail, headers)


def conflict(detail, code='dpiaas.conflict'):
    return ApiError(409, code, detail)


def title_of(status):
    try:
        return http.HTTPStatus(status).phrase
    except ValueError:
        return 'Error'


def request_id(environ=None):
    environ = environ if environ is not None else flask.request.environ
    return environ.get('openstack.request_id', '')


def body(status, code, detail, req_id):
    """The API-WG error document (a dict)."""
    return {'errors': [{'status': status, 'code': code,
                        'title': title_of(status), 'detail': detail,
                        'request_id': req_id}]}


def response(status, code, detail, headers=None):
    resp = flask.jsonify(body(status, code, detail, request_id()))
    resp.status_code = status
    for name, value in (headers or {}).items():
        resp.headers[name] = value
    return resp


def _api_error(exc):
    return response(exc.status, exc.code, exc.detail, exc.headers)


def _http_exception(exc):
    status = exc.code or 500
    headers = {}
    if isinstance(exc, wexc.MethodNotAllowed) and exc.valid_methods:
        headers['Allow'] = ', '.join(sorted(exc.valid_methods))
    detail = {
        404: 'The resource %s does not exist; GET / lists the API '
             'versions.' % flask.request.path,
        405: 'Method %s is not allowed on %s.' % (flask.request.method,
                                                  flask.request.path),
        413: 'The request body is larger than the limit of %s bytes '
             '([api] max_request_body_size).'
             % flask.current_app.config.get('MAX_CONTENT_LENGTH'),
    }.get(status) or (exc.description or title_of(status))
    return response(status, _HTTP_CODES.get(status, 'dpiaas.error'),
                    detail, headers)


def _unexpected(exc):
    if isinstance(exc, wexc.HTTPException):
        return _http_exception(exc)
    LOG.exception('Unexpected error in %s %s (request %s)',
                  flask.request.method, flask.request.path, request_id())
    return response(500, 'dpiaas.internal_error',
                    'An unexpected error occurred; the request id locates '
                    'it in the API log.')


def register(app):
    app.register_error_handler(ApiError, _api_error)
    app.register_error_handler(wexc.HTTPException, _http_exception)
    app.register_error_handler(Exception, _unexpected)
