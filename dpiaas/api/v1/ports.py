"""/v1/ports: the project's server ports, to pick one to monitor.

A tenant creating a monitor should choose among what it has rather than
type an id: this answers the ports of the project's servers (from the
inventory, read with the service credential, filtered to the caller's
project), whether a collector can capture each and why not, and which
monitor already watches it. Read only; nothing here is stored.
"""
from oslo_log import log as logging

from dpiaas.api import common
from dpiaas.api import errors
from dpiaas.api import routing
from dpiaas.api import schemas
from dpiaas.inventory import base as inv_base
from dpiaas.inventory import derive

LOG = logging.getLogger(__name__)

PATH = '/v1/ports'


def _monitors_by_target(project):
    """port id / server id -> the id of the monitor watching it."""
    out = {}
    for mon in common.parts().storage.list_monitors(project_id=project):
        for key in (mon.get('port_id'), mon.get('server_id')):
            if key:
                out.setdefault(key, mon['id'])
    return out


def view(port, monitors, show_host):
    ok, why = derive.monitorable(port)
    return {
        'id': port.id, 'server_id': port.device_id,
        'name': getattr(port, 'name', '') or '',
        'fixed_ips': list(port.ips), 'mac_address': port.mac,
        'host': (port.host or None) if show_host else None,
        'security_groups': list(port.security_groups),
        'vnic_type': port.vnic_type or 'normal',
        'monitorable': ok, 'unmonitorable_reason': why or None,
        'monitor_id': monitors.get(port.id) or monitors.get(port.device_id),
    }


def _list(project, server_id):
    try:
        return common.parts().inventory.ports_of_project(
            project, server_id=server_id)
    except inv_base.InventoryError as exc:
        LOG.warning('Inventory could not list the ports of project %s: %s',
                    project, exc)
        raise errors.ApiError(
            503, 'dpiaas.inventory_unavailable',
            'The inventory (Neutron) could not list the ports of project '
            '%s; try again later.' % project)


def _page(ports, query, limit):
    marker = query.get('marker')
    if marker:
        ids = [p.id for p in ports]
        if marker not in ids:
            raise errors.bad_request('marker: port %s is not in this '
                                     'listing.' % marker)
        ports = ports[ids.index(marker) + 1:]
    return ports[:limit + 1]


@routing.operation(
    'GET', PATH, 'List the ports of the project\'s servers: what can be '
    'monitored, why not, and the monitor already watching.', 'ports',
    query=schemas.port_list_query,
    response=schemas.collection('ports', schemas.port),
    errors=(400, 401, 403, 503))
def list_ports(query):
    project = common.own_project()
    common.authorize('dpiaas:port:list', {'project_id': project})
    show_host = bool(common.parts().enforcer.authorize(
        'dpiaas:port:show_host', {'project_id': project}, common.context(),
        do_raise=False))
    limit = common.page_limit(query)
    ports = _page(_list(project, query.get('server_id')), query, limit)
    ports, next_url = common.page(ports, limit, query,
                                  marker_of=lambda p: p.id)
    monitors = _monitors_by_target(project)
    return common.collection('ports', [view(p, monitors, show_host)
                                       for p in ports], next_url)
