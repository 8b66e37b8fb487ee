"""/v1/alarms: each monitor's anomaly alarm, and its history."""
import flask

from dpiaas.api import common
from dpiaas.api import errors
from dpiaas.api import routing
from dpiaas.api import schemas
from dpiaas.api import views
from dpiaas.db import exceptions as db_exc

PATH = '/v1/alarms'
ONE = PATH + '/{alarm_id}'
TAG = 'alarms'


def _authorized(alarm_id, rule):
    try:
        alarm = common.parts().storage.get_alarm(
            alarm_id, project_id=common.lookup_project())
    except db_exc.NotFound:
        raise errors.not_found('Alarm %s not found.' % alarm_id,
                               code='dpiaas.alarm_not_found')
    common.authorize(rule, {'project_id': alarm['project_id']})
    return alarm


@routing.operation(
    'GET', PATH, 'List alarms, filtered by state, monitor or severity.',
    TAG, query=schemas.alarm_list_query,
    response=schemas.collection('alarms', schemas.alarm))
def list_alarms(query):
    project = common.list_project(query, 'dpiaas:alarm:list_all_projects')
    common.authorize('dpiaas:alarm:list',
                     {'project_id': common.context().project_id})
    storage = common.parts().storage
    limit = common.page_limit(query)
    marker = common.listing_marker(query, storage.get_alarm, 'alarm', project)
    items = storage.list_alarms(
        project_id=project, state=query.get('state'),
        monitor_id=query.get('monitor_id'),
        severity=query.get('severity'), limit=limit + 1, marker=marker)
    items, next_url = common.page(items, limit, query)
    return common.collection('alarms', [views.alarm(a) for a in items],
                             next_url)


@routing.operation(
    'GET', ONE, 'Show an alarm: state, reason, score, severity, '
    'explanation.', TAG, query=schemas.empty_query,
    response=schemas.single('alarm', schemas.alarm))
def show_alarm(alarm_id, query):
    alarm = _authorized(alarm_id, 'dpiaas:alarm:get')
    return flask.jsonify({'alarm': views.alarm(alarm)})


@routing.operation(
    'GET', ONE + '/history', 'List an alarm\'s state changes, newest '
    'first.', TAG, query=schemas.history_query,
    response=schemas.collection('history', schemas.history_entry))
def alarm_history(alarm_id, query):
    _authorized(alarm_id, 'dpiaas:alarm:history')
    limit = common.page_limit(query)
    try:
        items = common.parts().storage.list_alarm_history(
            alarm_id, limit=limit + 1, marker=query.get('marker'))
    except db_exc.NotFound:
        raise errors.bad_request('marker: entry %s is not in this '
                                 'history.' % query.get('marker'))
    items, next_url = common.page(items, limit, query)
    return common.collection('history',
                             [views.history_entry(h) for h in items],
                             next_url)
