"""Storage dicts -> the API's JSON objects (ISO 8601 times, fixed keys).

Only the listed fields leave the API, so a column added to storage for
the engine's own use never leaks to tenants by accident.
"""
from dpiaas.api import common

MONITOR_FIELDS = ('id', 'project_id', 'name', 'server_id', 'port_id',
                  'protocols', 'interval_ms', 'detector', 'alarm_actions',
                  'ok_actions', 'status', 'status_reason', 'alarm_id')
ALARM_FIELDS = ('id', 'project_id', 'monitor_id', 'name', 'state',
                'state_reason', 'severity', 'score', 'explanation')
HISTORY_FIELDS = ('id', 'previous', 'state', 'reason', 'score', 'severity',
                  'explanation')
COLLECTOR_FIELDS = ('id', 'monitor_id', 'project_id', 'port_id', 'host',
                    'tap_device', 'generation', 'status', 'status_reason',
                    'spec')
SERVICE_FIELDS = ('port_id', 'role', 'l4', 'port_min', 'port_max', 'app',
                  'source')
# where the rebaseline request lives when storage has no column for it
REBASELINE_KEY = 'rebaseline_requested_at'


def _pick(obj, fields):
    return {k: obj.get(k) for k in fields}


def rebaseline_requested_at(monitor):
    if REBASELINE_KEY in monitor:
        return monitor[REBASELINE_KEY]
    return (monitor.get('detector') or {}).get(REBASELINE_KEY)


def monitor(obj, services=None):
    out = _pick(obj, MONITOR_FIELDS)
    detector = dict(out.get('detector') or {})
    detector.pop(REBASELINE_KEY, None)
    out['detector'] = detector
    for key in ('protocols',):
        out[key] = out.get(key) or {}
    for key in ('alarm_actions', 'ok_actions'):
        out[key] = out.get(key) or []
    out['rebaseline_requested_at'] = common.iso(
        rebaseline_requested_at(obj))
    out['created_at'] = common.iso(obj.get('created_at'))
    out['updated_at'] = common.iso(obj.get('updated_at'))
    if services is not None:
        out['services'] = [_pick(s, SERVICE_FIELDS) for s in services]
    return out


def alarm(obj):
    out = _pick(obj, ALARM_FIELDS)
    for key in ('state_timestamp', 'created_at', 'updated_at'):
        out[key] = common.iso(obj.get(key))
    return out


def history_entry(obj):
    out = _pick(obj, HISTORY_FIELDS)
    out['timestamp'] = common.iso(obj.get('timestamp'))
    return out


def agent(obj):
    return {'host': obj.get('host'), 'alive': bool(obj.get('alive')),
            'version': obj.get('version'),
            'started_at': common.iso(obj.get('started_at')),
            'last_heartbeat': common.iso(obj.get('last_heartbeat')),
            'state': obj.get('state')}


def collector(obj):
    out = _pick(obj, COLLECTOR_FIELDS)
    out['updated_at'] = common.iso(obj.get('updated_at'))
    return out
