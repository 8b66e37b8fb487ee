"""/v1/monitors: what a tenant watches, and the rebaseline action.

Creating a monitor checks with the inventory (Neutron, with the service
credential) that the caller's project owns the server or port, creates
the monitor's anomaly alarm with it, and nudges the engine to schedule
it at once.
"""
import time

import flask
from oslo_log import log as logging

from dpiaas.api import common
from dpiaas.api import errors
from dpiaas.api import routing
from dpiaas.api import schemas
from dpiaas.api import views
from dpiaas.db import exceptions as db_exc
from dpiaas.dpi import spec as spec_mod
from dpiaas.inventory import base as inv_base
from dpiaas.inventory import derive

LOG = logging.getLogger(__name__)

PATH = '/v1/monitors'
ONE = PATH + '/{monitor_id}'
TAG = 'monitors'
MONITOR = schemas.single('monitor', schemas.monitor)
PENDING_REASON = 'Waiting for the engine to place collectors on the ports.'


def get_visible(monitor_id):
    """The monitor if the caller may see it, else 404 (never 403)."""
    try:
        return common.parts().storage.get_monitor(
            monitor_id, project_id=common.lookup_project())
    except db_exc.NotFound:
        raise errors.not_found('Monitor %s not found.' % monitor_id,
                               code='dpiaas.monitor_not_found')


def authorized(monitor_id, rule):
    monitor = get_visible(monitor_id)
    common.authorize(rule, {'project_id': monitor['project_id']})
    return monitor


def notify_engine(monitor_id):
    """Ask the engine to reconcile now; its periodic pass is the fallback."""
    control = common.parts().engine_control
    if control is None:
        return
    try:
        control.monitor_changed(common.context(), monitor_id)
    except Exception as exc:
        LOG.warning('Could not notify the engine of monitor %s (%s); it '
                    'will be reconciled at the next periodic pass.',
                    monitor_id, exc)


def _check_protocols(protocols):
    try:
        derive.parse_overrides(protocols)
    except (spec_mod.SpecError, ValueError) as exc:
        raise errors.bad_request('protocols: %s' % exc)


def _check_owner(project, server_id, port_id):
    what = ('Server %s' % server_id if server_id else 'Port %s' % port_id)
    kind = 'server' if server_id else 'port'
    try:
        return common.parts().inventory.check_owner(
            project, server_id=server_id, port_id=port_id)
    except (inv_base.NotFound, inv_base.NotOwned):
        # the same answer for both: other projects' objects stay unseen
        raise errors.not_found(
            '%s was not found among the %ss of project %s.'
            % (what, kind, project), code='dpiaas.%s_not_found' % kind)
    except Exception as exc:
        LOG.warning('Inventory could not check %s: %s', what, exc)
        raise errors.ApiError(
            503, 'dpiaas.inventory_unavailable',
            'The inventory (Neutron) could not be asked who owns %s; try '
            'again later.' % what.lower())


def _check_duplicate(storage, project, server_id, port_id):
    for other in storage.list_monitors(project_id=project):
        if ((server_id and other.get('server_id') == server_id)
                or (port_id and other.get('port_id') == port_id)):
            raise errors.conflict(
                'Monitor %s already watches %s %s; change it (PATCH) '
                'instead.' % (other['id'],
                              'server' if server_id else 'port',
                              server_id or port_id),
                code='dpiaas.monitor_exists')


def _detector(given, current=None):
    out = {'baseline_s': schemas.BASELINE_S_DEFAULT,
           'sensitivity': schemas.SENSITIVITY_DEFAULT}
    out.update(current or {})
    out.update(given or {})
    return out


def _show(monitor):
    services = common.parts().storage.list_services(monitor['id'])
    return {'monitor': views.monitor(monitor, services)}


@routing.operation(
    'GET', PATH, 'List the monitors of the caller\'s project.', TAG,
    query=schemas.monitor_list_query,
    response=schemas.collection('monitors', schemas.monitor))
def list_monitors(query):
    project = common.list_project(query, 'dpiaas:monitor:list_all_projects')
    common.authorize('dpiaas:monitor:list',
                     {'project_id': common.context().project_id})
    storage = common.parts().storage
    limit = common.page_limit(query)
    marker = common.listing_marker(query, storage.get_monitor, 'monitor',
                                   project)
    items = storage.list_monitors(project_id=project,
                                  status=query.get('status'),
                                  limit=limit + 1, marker=marker)
    items, next_url = common.page(items, limit, query)
    return common.collection('monitors', [views.monitor(m) for m in items],
                             next_url)


def _preview(body, ports):
    """What a create would derive, without storing anything (dry run)."""
    inventory = common.parts().inventory
    services, skipped, unmonitorable = [], [], []
    for port in ports:
        ok, why = derive.monitorable(port)
        if not ok:
            unmonitorable.append({'port_id': port.id, 'reason': why})
            continue
        try:
            found = inventory.derivation_of(port, body.get('protocols'))
        except inv_base.InventoryError as exc:
            raise errors.ApiError(
                503, 'dpiaas.inventory_unavailable',
                'The inventory could not give the rules of port %s: %s'
                % (port.id, exc))
        services.extend(dict(d.to_dict(), port_id=port.id)
                        for d in found.services)
        skipped.extend({'port_id': port.id, 'rule': rule, 'reason': reason}
                       for rule, reason in found.skipped)
    preview = {k: body.get(k) for k in ('name', 'server_id', 'port_id')}
    preview.update(services=services, skipped_rules=skipped,
                   unmonitorable_ports=unmonitorable,
                   ports=[p.id for p in ports])
    return flask.jsonify({'monitor': preview})


@routing.operation(
    'POST', PATH, 'Monitor a server or a port the project owns; with '
    '?dry_run=true only answer the services that would be derived.', TAG,
    query=schemas.monitor_create_query,
    body=schemas.monitor_create, body_key='monitor', response=MONITOR,
    status=201, errors=(400, 401, 403, 404, 409, 503))
def create_monitor(query, body):
    project = common.own_project()
    common.authorize('dpiaas:monitor:create', {'project_id': project})
    server_id, port_id = body.get('server_id'), body.get('port_id')
    _check_protocols(body.get('protocols'))
    ports = _check_owner(project, server_id, port_id)
    storage = common.parts().storage
    _check_duplicate(storage, project, server_id, port_id)
    if query.get('dry_run'):
        return _preview(body, ports)
    detector = _detector(body.get('detector'))
    monitor = storage.create_monitor({
        'project_id': project, 'name': body.get('name', ''),
        'server_id': server_id, 'port_id': port_id,
        'protocols': body.get('protocols') or {},
        'interval_ms': body.get('interval_ms',
                                schemas.INTERVAL_MS_DEFAULT),
        'detector': detector,
        'alarm_actions': body.get('alarm_actions') or [],
        'ok_actions': body.get('ok_actions') or [],
        'status': 'pending', 'status_reason': PENDING_REASON})
    try:
        alarm = storage.create_alarm({
            'project_id': project, 'monitor_id': monitor['id'],
            'name': 'anomaly of %s' % (monitor['name'] or monitor['id']),
            'state': 'insufficient_data',
            'state_reason': 'learning: the detector needs %d s of normal '
                            'traffic before it evaluates'
                            % detector['baseline_s']})
        monitor = storage.update_monitor(monitor['id'],
                                         {'alarm_id': alarm['id']})
    except Exception:
        storage.delete_monitor(monitor['id'])
        raise
    notify_engine(monitor['id'])
    resp = flask.jsonify(_show(monitor))
    resp.status_code = 201
    resp.headers['Location'] = '%s/%s' % (
        flask.request.base_url.rstrip('/'), monitor['id'])
    return resp


@routing.operation(
    'GET', ONE, 'Show a monitor, its status and derived services.', TAG,
    query=schemas.empty_query, response=MONITOR)
def show_monitor(monitor_id, query):
    monitor = authorized(monitor_id, 'dpiaas:monitor:get')
    return flask.jsonify(_show(monitor))


@routing.operation(
    'PATCH', ONE, 'Change a monitor.', TAG, body=schemas.monitor_update,
    body_key='monitor', response=MONITOR)
def update_monitor(monitor_id, body):
    monitor = authorized(monitor_id, 'dpiaas:monitor:update')
    if 'protocols' in body:
        _check_protocols(body['protocols'])
    values = dict(body)
    if 'detector' in body:
        values['detector'] = _detector(body['detector'],
                                       monitor.get('detector'))
    monitor = common.parts().storage.update_monitor(monitor_id, values)
    notify_engine(monitor_id)
    return flask.jsonify(_show(monitor))


@routing.operation(
    'DELETE', ONE, 'Stop monitoring; delete the monitor, its alarm and '
    'its data.', TAG, query=schemas.empty_query, status=204)
def delete_monitor(monitor_id, query):
    authorized(monitor_id, 'dpiaas:monitor:delete')
    try:
        common.parts().storage.delete_monitor(monitor_id)
    except db_exc.NotFound:
        raise errors.not_found('Monitor %s not found.' % monitor_id,
                               code='dpiaas.monitor_not_found')
    notify_engine(monitor_id)
    return flask.Response(status=204)


def request_rebaseline(storage, monitor, now):
    """Record the request where the engine's detector will see it."""
    if views.REBASELINE_KEY in monitor:
        return storage.update_monitor(monitor['id'],
                                      {views.REBASELINE_KEY: now})
    # storage without the column: keep it in the detector settings
    detector = dict(monitor.get('detector') or {})
    detector[views.REBASELINE_KEY] = now
    return storage.update_monitor(monitor['id'], {'detector': detector})


@routing.operation(
    'POST', ONE + '/action', 'Run an action on a monitor: {"rebaseline": '
    '{}} makes the detector learn normal behaviour again.', TAG,
    body=schemas.monitor_action, response=MONITOR, status=202)
def monitor_action(monitor_id, body):
    monitor = authorized(monitor_id, 'dpiaas:monitor:rebaseline')
    monitor = request_rebaseline(common.parts().storage, monitor,
                                 time.time())
    notify_engine(monitor_id)
    resp = flask.jsonify(_show(monitor))
    resp.status_code = 202
    return resp
