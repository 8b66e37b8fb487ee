"""Operations: a route, its schemas and its documentation in one place.

``@operation(...)`` records what a handler accepts and answers; the app
factory adds every recorded operation as a Flask route whose view
validates path, query and body against those schemas before the handler
runs, and :mod:`dpiaas.api.openapi` documents the very same records. The
handlers receive ``query`` and ``body`` already converted and valid.
"""
import dataclasses
import functools
import json
import re

import flask
import jsonschema

from dpiaas.api import errors
from dpiaas.api import schemas

OPERATIONS = []

PATH_PARAMS = {
    'monitor_id': dict(schemas.uuid, description='The monitor\'s id.'),
    'alarm_id': dict(schemas.uuid, description='The alarm\'s id.'),
    'name': {'type': 'string', 'maxLength': 255,
             'pattern': schemas.METRIC_NAME_PATTERN,
             'x-error': 'is not a metric name (e.g. '
                        'sip.5060.responses.2xx)',
             'description': 'A metric name, e.g. sip.5060.responses.2xx.'},
}
_PARAM_RE = re.compile(r'{(\w+)}')
_MAX_DETAIL = 400


@dataclasses.dataclass
class Operation:
    method: str
    path: str
    summary: str
    tag: str
    handler: object
    query: dict = None
    body: dict = None
    body_key: str = None
    response: dict = None
    status: int = 200
    errors: tuple = ()
    public: bool = False

    @property
    def path_params(self):
        return _PARAM_RE.findall(self.path)

    @property
    def endpoint(self):
        return '%s_%s' % (self.handler.__module__.rsplit('.', 1)[-1],
                          self.handler.__name__)


def operation(method, path, summary, tag, query=None, body=None,
              body_key=None, response=None, status=200,
              errors=(400, 401, 403, 404), public=False):
    """Record a handler as the operation ``method path``."""
    def deco(func):
        OPERATIONS.append(Operation(
            method=method, path=path, summary=summary, tag=tag,
            handler=func, query=query, body=body, body_key=body_key,
            response=response, status=status, errors=tuple(errors),
            public=public))
        return func
    return deco


def add_routes(app):
    """Add every recorded operation to ``app`` as a validating view."""
    for op in OPERATIONS:
        rule = _PARAM_RE.sub(r'<\1>', op.path)
        app.add_url_rule(rule, endpoint=op.endpoint, view_func=_view(op),
                         methods=[op.method], strict_slashes=False)


def _view(op):
    @functools.wraps(op.handler)
    def view(**path):
        for key, value in path.items():
            _check(PATH_PARAMS[key], value, key)
        kwargs = dict(path)
        if op.query is not None:
            kwargs['query'] = parse_query(op.query)
        if op.body is not None:
            kwargs['body'] = parse_body(op.body, op.body_key)
        return op.handler(**kwargs)
    return view


_VALIDATORS = {}


def _validator(schema):
    """A compiled validator per schema object (schemas are constants)."""
    entry = _VALIDATORS.get(id(schema))
    if entry is None or entry[0] is not schema:
        entry = (schema, jsonschema.Draft202012Validator(
            schema,
            format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER))
        _VALIDATORS[id(schema)] = entry
    return entry[1]


def _check(schema, value, where):
    error = jsonschema.exceptions.best_match(
        _validator(schema).iter_errors(value))
    if error is not None:
        raise errors.bad_request(describe(error, where))


def describe(error, where):
    """One line: where in the input, and what is wrong there."""
    place = '.'.join([where] + [str(p) for p in error.absolute_path])
    message = None
    if isinstance(error.schema, dict) and 'x-error' in error.schema:
        if error.validator in ('oneOf', 'required'):
            message = error.schema['x-error']
        elif error.validator == 'pattern':
            message = '%r %s' % (str(error.instance)[:64],
                                 error.schema['x-error'])
    text = '%s: %s' % (place, message or error.message)
    if len(text) > _MAX_DETAIL:
        text = text[:_MAX_DETAIL - 3] + '...'
    return text


def _convert(name, text, schema):
    kind = schema.get('type')
    try:
        if kind == 'integer':
            return int(text)
        if kind == 'number':
            return float(text)
    except ValueError:
        raise errors.bad_request('%s: %r is not a%s %s' % (
            name, text[:64], 'n' if kind == 'integer' else '', kind))
    if kind == 'boolean':
        low = text.lower()
        if low in ('true', '1', 'yes'):
            return True
        if low in ('false', '0', 'no'):
            return False
        raise errors.bad_request('%s: %r is not a boolean (true or false)'
                                 % (name, text[:64]))
    return text


def parse_query(schema):
    """The query string as a dict of typed values, valid for ``schema``."""
    args = flask.request.args
    props = schema.get('properties', {})
    out = {}
    for name in args:
        if name not in props:
            accepted = ', '.join(sorted(props)) or 'none'
            raise errors.bad_request(
                'Unknown query parameter %r (accepted: %s).'
                % (name[:64], accepted))
        values = args.getlist(name)
        if len(values) > 1:
            raise errors.bad_request('Query parameter %r is given %d '
                                     'times; give it once.'
                                     % (name, len(values)))
        out[name] = _convert(name, values[0], props[name])
    _check(schema, out, 'query')
    return out


def _no_constant(name):
    raise ValueError('%s is not valid JSON' % name)


def parse_body(schema, key=None):
    """The JSON body, unwrapped from ``{key: ...}``, valid for ``schema``."""
    raw = flask.request.get_data(cache=False)
    if not raw.strip():
        raise errors.bad_request('A JSON request body is required.')
    try:
        data = json.loads(raw, parse_constant=_no_constant)
    except (ValueError, RecursionError) as exc:
        detail = str(exc)[:200] if isinstance(exc, ValueError) else \
            'nested too deeply'
        raise errors.bad_request('The request body is not valid JSON: %s'
                                 % detail, code='dpiaas.malformed_json')
    where = 'body'
    if key and isinstance(data, dict) and list(data) == [key]:
        data, where = data[key], key
    _check(schema, data, where)
    return data
