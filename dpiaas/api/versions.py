"""Version discovery (``/``, ``/v1``) and the OpenAPI document.

Unauthenticated, as in every OpenStack service: a client finds the API
version before it has a token.
"""
import flask

from dpiaas.api import openapi
from dpiaas.api import routing
from dpiaas.api import schemas

UPDATED = '2025-01-01T00:00:00Z'


def _v1():
    # url_root keeps the prefix a front end mounts the API under
    # (devstack: /anomaly-detection behind Apache)
    base = flask.request.url_root.rstrip('/')
    return {'id': 'v1.0', 'status': 'CURRENT', 'min_version': '',
            'version': '', 'updated': UPDATED,
            'links': [{'rel': 'self', 'href': base + '/v1/'},
                      {'rel': 'describedby',
                       'href': base + '/v1/openapi.json'}],
            'media-types': [{'base': 'application/json',
                             'type': 'application/json'}]}


@routing.operation(
    'GET', '/', 'List the API versions.', 'versions', public=True,
    query=schemas.empty_query, errors=(400,),
    response={'type': 'object', 'required': ['versions'],
              'properties': {'versions': {'type': 'array',
                                          'items': schemas.version}}})
def list_versions(query):
    return flask.jsonify({'versions': [_v1()]})


@routing.operation(
    'GET', '/v1', 'Show API v1.', 'versions', public=True,
    query=schemas.empty_query, errors=(400,),
    response=schemas.single('version', schemas.version))
def show_v1(query):
    return flask.jsonify({'version': _v1()})


@routing.operation(
    'GET', '/v1/openapi.json', 'The OpenAPI 3.1 document of API v1.',
    'versions', public=True, query=schemas.empty_query, errors=(400,),
    response={'type': 'object'})
def openapi_document(query):
    conf = flask.current_app.extensions['dpiaas'].conf
    return flask.jsonify(openapi.document(routing.OPERATIONS,
                                          conf.api.auth_strategy))
