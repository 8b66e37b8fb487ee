"""A small REST client for the dpiaas API v1, on a keystoneauth session.

The plugin hands it a keystoneauth ``Adapter``: in a cloud the adapter finds
the endpoint in the Keystone catalog (service type ``anomaly-detection``)
and sends the token; in standalone mode it points at ``--os-dpi-url`` with
no token and an ``X-Project-Id`` header. Either way this module only speaks
HTTP+JSON and turns every failure into :class:`ApiError`, whose message is
the one line a user sees.
"""
import json
import re
from urllib import parse

from keystoneauth1 import exceptions as ks_exc
from osc_lib import exceptions as osc_exc

SERVICE_TYPE = 'anomaly-detection'
API_PREFIX = '/v1'
# Following ``next`` links stops here even if the server keeps answering:
# a bug on either side must not turn into an endless loop.
MAX_PAGES = 10000


class ApiError(osc_exc.CommandError):
    """An API call failed; ``str()`` is one line with the request id."""

    def __init__(self, message, status=None, code=None, request_id=None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.request_id = request_id


_TAG = re.compile(r'<[^>]*>')


def _one_line(text, limit=200):
    text = ' '.join(str(text).split())
    return text if len(text) <= limit else text[:limit - 3] + '...'


def error_from_response(resp):
    """Build the :class:`ApiError` for a failed response.

    The API answers errors in the API working group's form,
    ``{"errors": [{"status", "code", "title", "detail", "request_id"}]}``;
    anything else (a proxy's HTML page) still gives one readable line.
    """
    request_id = (resp.headers.get('X-OpenStack-Request-Id')
                  or resp.headers.get('X-Compute-Request-Id'))
    code = None
    try:
        body = resp.json()
    except ValueError:
        body = None
    errors = body.get('errors') if isinstance(body, dict) else None
    if isinstance(errors, list) and errors and isinstance(errors[0], dict):
        first = errors[0]
        request_id = first.get('request_id') or request_id
        code = first.get('code')
        title = first.get('title') or resp.reason or ''
        detail = first.get('detail') or title or 'no detail given'
        message = _one_line(detail)
        if len(errors) > 1:
            message += ' (and %d more errors)' % (len(errors) - 1)
        status_text = 'HTTP %s %s' % (resp.status_code, title)
    else:
        text = _TAG.sub(' ', resp.text or '').strip()
        message = _one_line(text) if text else 'no error body'
        status_text = 'HTTP %s %s' % (resp.status_code, resp.reason or '')
    suffix = status_text.strip()
    if request_id:
        suffix += ', request %s' % request_id
    return ApiError('%s (%s)' % (message, suffix), status=resp.status_code,
                    code=code, request_id=request_id)


class Client:
    """The dpiaas API v1: monitors, metrics, alarms, agents, collectors."""

    def __init__(self, adapter, describe_endpoint=None):
        self._adapter = adapter
        self._describe = describe_endpoint or SERVICE_TYPE

    # -- HTTP ---------------------------------------------------------------

    def _request(self, method, path, body=None, params=None):
        kwargs = {'raise_exc': False,
                  'headers': {'Accept': 'application/json'}}
        if params:
            kwargs['params'] = {k: v for k, v in params.items()
                                if v is not None}
        if body is not None:
            kwargs['json'] = body
        try:
            self._settle_endpoint()
            resp = self._adapter.request(API_PREFIX + path, method,
                                         **kwargs)
        except ks_exc.EndpointNotFound:
            raise ApiError(
                'No %r endpoint in the service catalog: is dpiaas '
                'registered in Keystone? (or give --os-dpi-url)'
                % SERVICE_TYPE)
        except ks_exc.ConnectFailure as e:
            raise ApiError('Cannot reach the dpi API at %s: %s'
                           % (self._where(), _cause(e)))
        except ks_exc.ConnectionError as e:
            raise ApiError('Connection to the dpi API at %s failed: %s'
                           % (self._where(), _one_line(e)))
        if resp.status_code >= 400:
            raise error_from_response(resp)
        if resp.status_code == 204 or not resp.content:
            return None
        try:
            return resp.json()
        except ValueError:
            raise ApiError('The dpi API answered %s %s with a body that is '
                           'not JSON' % (method, path))

    def _settle_endpoint(self):
        """Tolerate a catalog URL registered with ``/v1`` on its end."""
        if self._adapter.endpoint_override:
            return
        endpoint = (self._adapter.get_endpoint() or '').rstrip('/')
        if not endpoint:
            raise ks_exc.EndpointNotFound()
        if endpoint.endswith(API_PREFIX):
            endpoint = endpoint[:-len(API_PREFIX)]
        self._adapter.endpoint_override = endpoint

    def _where(self):
        """The endpoint URL for messages (the catalog's, once known)."""
        try:
            return self._adapter.get_endpoint() or self._describe
        except ks_exc.ClientException:
            return self._describe

    def _get(self, path, params=None):
        return self._request('GET', path, params=params)

    @staticmethod
    def _items(body, key):
        """The list under ``key`` of a collection answer."""
        if isinstance(body, dict) and isinstance(body.get(key), list):
            return body[key]
        raise ApiError('Unexpected answer from the dpi API: no %r list in %s'
                       % (key, _one_line(json.dumps(body), 100)))

    @staticmethod
    def _object(body, key):
        if isinstance(body, dict) and isinstance(body.get(key), dict):
            return body[key]
        raise ApiError('Unexpected answer from the dpi API: no %r object '
                       'in %s' % (key, _one_line(json.dumps(body), 100)))

    def _collect(self, path, key, params=None, limit=None):
        """Items of a paginated collection, following ``next`` links.

        With ``limit`` at most that many items come back (the server may
        answer fewer per page than asked; the rest is fetched); without,
        every page is read.
        """
        params = dict(params or {})
        if limit is not None:
            params['limit'] = limit
        items = []
        seen_markers = set()
        for _ in range(MAX_PAGES):
            body = self._get(path, params)
            page = self._items(body, key)
            items.extend(page)
            if limit is not None and len(items) >= limit:
                return items[:limit]
            next_link = body.get('next')
            if not next_link or not page:
                return items
            query = dict(parse.parse_qsl(parse.urlsplit(next_link).query))
            marker = query.get('marker')
            if marker is None or marker in seen_markers:
                return items
            seen_markers.add(marker)
            params.update(query)
            if limit is not None:
                params['limit'] = limit - len(items)
        return items

    # -- monitors -----------------------------------------------------------

    def monitor_list(self, limit=None, marker=None, **filters):
        filters['marker'] = marker
        return self._collect('/monitors', 'monitors', filters, limit)

    def monitor_get(self, monitor_id):
        return self._object(self._get('/monitors/%s' % _q(monitor_id)),
                            'monitor')

    def monitor_create(self, values):
        return self._object(
            self._request('POST', '/monitors', {'monitor': values}),
            'monitor')

    def monitor_update(self, monitor_id, values):
        return self._object(
            self._request('PATCH', '/monitors/%s' % _q(monitor_id),
                          {'monitor': values}),
            'monitor')

    def monitor_action(self, monitor_id, action, args=None):
        """POST ``{action: args}`` to the monitor's ``/action``."""
        return self._object(
            self._request('POST', '/monitors/%s/action' % _q(monitor_id),
                          {action: args or {}}),
            'monitor')

    def monitor_delete(self, monitor_id):
        self._request('DELETE', '/monitors/%s' % _q(monitor_id))

    # -- metrics ------------------------------------------------------------

    def metric_list(self, monitor_id):
        """``[{"name", "timestamp", "value"}, ...]`` sorted by name."""
        body = self._get('/monitors/%s/metrics' % _q(monitor_id))
        metrics = body.get('metrics') if isinstance(body, dict) else None
        if isinstance(metrics, dict):
            # Also accept {name: {"timestamp", "value"}} or {name: value}.
            metrics = [dict(v, name=k) if isinstance(v, dict)
                       else {'name': k, 'value': v}
                       for k, v in metrics.items()]
        else:
            metrics = self._items(body, 'metrics')
        return sorted(metrics, key=lambda m: str(m.get('name')))

    def metric_get(self, monitor_id, name, start=None, end=None,
                   resolution=None):
        body = self._get(
            '/monitors/%s/metrics/%s' % (_q(monitor_id), _q(name)),
            {'start': start, 'end': end, 'resolution': resolution})
        if not isinstance(body, dict) or not isinstance(
                body.get('measures'), list):
            raise ApiError('Unexpected answer from the dpi API: no '
                           '"measures" list in the series of %s' % name)
        return body

    # -- alarms -------------------------------------------------------------

    def alarm_list(self, limit=None, marker=None, **filters):
        filters['marker'] = marker
        return self._collect('/alarms', 'alarms', filters, limit)

    def alarm_get(self, alarm_id):
        return self._object(self._get('/alarms/%s' % _q(alarm_id)), 'alarm')

    def alarm_history(self, alarm_id, limit=None, marker=None):
        # Entries are ``{"timestamp", "previous", "state", "reason",
        # "explanation"}``; the collection key is ``history``.
        return self._collect('/alarms/%s/history' % _q(alarm_id), 'history',
                             {'marker': marker}, limit)

    # -- ports --------------------------------------------------------------

    def port_list(self, limit=None, marker=None, **filters):
        """The project's server ports (``GET /v1/ports``)."""
        filters['marker'] = marker
        return self._collect('/ports', 'ports', filters, limit)

    # -- admin --------------------------------------------------------------

    def agent_list(self):
        return self._collect('/agents', 'agents')

    def collector_list(self, **filters):
        return self._collect('/collectors', 'collectors', filters)


def _cause(exc):
    """``Connection refused`` rather than urllib3's nested retry text."""
    m = _ERRNO.search(str(exc))
    return m.group(1).strip() if m else _one_line(exc)


_ERRNO = re.compile(r'\[Errno -?\d+\] ([^\'")\]]+)')


def _q(value):
    """One path segment, quoted (metric names carry dots, never slashes)."""
    return parse.quote(str(value), safe='')
