"""/v1/openapi.json: OpenAPI 3.1 built from the recorded operations.

The schemas are the ones requests are validated against
(:mod:`dpiaas.api.schemas`), so the document is what the API enforces.
"""
import copy

from dpiaas.api import schemas

_DESCRIPTIONS = {
    400: 'Bad request: invalid path, query or body (detail says where).',
    401: 'Not authenticated.',
    403: 'Policy does not allow it.',
    404: 'Not found (or not the caller\'s).',
    405: 'Method not allowed.',
    409: 'Conflict with an existing object.',
    413: 'Request body too large.',
    503: 'A service dpiaas depends on cannot be reached.',
}


def _error_ref():
    return {'content': {'application/json': {
        'schema': {'$ref': '#/components/schemas/Error'}}}}


def _params(op):
    from dpiaas.api import routing   # circular at import time
    out = [{'name': name, 'in': 'path', 'required': True,
            'schema': copy.deepcopy(routing.PATH_PARAMS[name])}
           for name in op.path_params]
    for name, schema in (op.query or {}).get('properties', {}).items():
        out.append({'name': name, 'in': 'query', 'required': False,
                    'schema': copy.deepcopy(schema)})
    return out


def _request_body(op):
    body = copy.deepcopy(op.body)
    if op.body_key:
        body = {'oneOf': [schemas.wrapped(op.body_key, body), body],
                'description': 'The canonical form wraps the object in '
                               '{"%s": ...}; the bare object is accepted '
                               'too.' % op.body_key}
    return {'required': True,
            'content': {'application/json': {'schema': body}}}


def _responses(op):
    out = {}
    if op.status == 204:
        out['204'] = {'description': 'Done, no content.'}
    else:
        out[str(op.status)] = {
            'description': 'Success.',
            'content': {'application/json': {
                'schema': copy.deepcopy(op.response or {})}}}
    statuses = set(op.errors) | {405}
    if op.body is not None:
        statuses.add(413)
    if not op.public:
        statuses.add(401)
    for status in sorted(statuses):
        out[str(status)] = dict(_error_ref(),
                                description=_DESCRIPTIONS[status])
    return out


def document(operations, auth_strategy='keystone'):
    """The OpenAPI document; security as the running API checks it."""
    scheme = 'noauth' if auth_strategy == 'noauth' else 'keystone'
    paths = {}
    for op in operations:
        item = {'operationId': op.endpoint, 'summary': op.summary,
                'tags': [op.tag], 'responses': _responses(op)}
        params = _params(op)
        if params:
            item['parameters'] = params
        if op.body is not None:
            item['requestBody'] = _request_body(op)
        if not op.public:
            item['security'] = [{scheme: []}]
        paths.setdefault(op.path, {})[op.method.lower()] = item
    return {
        'openapi': '3.1.0',
        'info': {'title': 'dpiaas API', 'version': '1.0',
                 'description': 'Anomaly detection as a service for '
                                'OpenStack, driven by deep packet '
                                'inspection.'},
        'paths': paths,
        'components': {
            'schemas': {'Error': copy.deepcopy(schemas.error)},
            'securitySchemes': {
                'keystone': {'type': 'apiKey', 'in': 'header',
                             'name': 'X-Auth-Token'},
                'noauth': {'type': 'apiKey', 'in': 'header',
                           'name': 'X-Project-Id'}}},
    }
