"""/v1/agents and /v1/collectors: what runs where (admins only)."""
import flask

from dpiaas.api import common
from dpiaas.api import routing
from dpiaas.api import schemas
from dpiaas.api import views


@routing.operation(
    'GET', '/v1/agents', 'List the agents: hosts, heartbeats, liveness.',
    'admin', query=schemas.empty_query,
    response=schemas.collection('agents', schemas.agent))
def list_agents(query):
    common.authorize('dpiaas:agent:list', {})
    agents = common.parts().storage.list_agents()
    return flask.jsonify({'agents': [views.agent(a) for a in agents]})


@routing.operation(
    'GET', '/v1/collectors', 'List the collectors: which port of which '
    'monitor runs on which host, and their status.', 'admin',
    query=schemas.collector_list_query,
    response=schemas.collection('collectors', schemas.collector))
def list_collectors(query):
    common.authorize('dpiaas:collector:list', {})
    collectors = common.parts().storage.list_collectors(
        host=query.get('host'), monitor_id=query.get('monitor_id'))
    return flask.jsonify({'collectors': [views.collector(c)
                                         for c in collectors]})
