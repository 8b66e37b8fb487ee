"""JSON Schemas of API v1: request validation and /v1/openapi.json alike.

One source of truth: the handlers validate against these and the OpenAPI
document embeds them, so the documentation cannot drift from what the
API accepts. Draft 2020-12 (what OpenAPI 3.1 embeds).
"""
UUID_PATTERN = ('^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-'
                '[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$')
METRIC_NAME_PATTERN = '^[a-z0-9_]+(\\.[a-z0-9_]+){1,5}$'

INTERVAL_MS_MIN = 100
INTERVAL_MS_MAX = 60000
INTERVAL_MS_DEFAULT = 500
BASELINE_S_MIN = 10
BASELINE_S_MAX = 7 * 86400
BASELINE_S_DEFAULT = 600
SENSITIVITY_DEFAULT = 0.5
APPS = ['sip', 'http', 'dns', 'generic']
MONITOR_STATUSES = ['pending', 'learning', 'active', 'error']
ALARM_STATES = ['insufficient_data', 'ok', 'alarm']
SEVERITIES = ['low', 'moderate', 'critical']

uuid = {'type': 'string', 'pattern': UUID_PATTERN,
        'description': 'A UUID, e.g. 6f1c2b9e-5d4a-4c3b-9a8f-1e2d3c4b5a69.',
        'x-error': 'is not a UUID (e.g. '
                   '6f1c2b9e-5d4a-4c3b-9a8f-1e2d3c4b5a69)'}
name = {'type': 'string', 'maxLength': 255}
url = {'type': 'string', 'pattern': '^https?://[^\\s]+$', 'maxLength': 2048,
       'description': 'An http(s) URL.'}
timestamp = {'type': 'string', 'format': 'date-time',
             'description': 'ISO 8601, UTC.'}
nullable_timestamp = {'type': ['string', 'null'], 'format': 'date-time'}

protocols = {
    'type': 'object',
    'description': 'Decoder overrides: "[offered:|consumed:]tcp|udp/PORT" '
                   '-> application, e.g. {"tcp/8080": "http"}.',
    'maxProperties': 64,
    'propertyNames': {
        'pattern': '^((offered|consumed):)?(tcp|udp)/[0-9]{1,5}$'},
    'additionalProperties': {'type': 'string', 'enum': APPS},
}

detector = {
    'type': 'object',
    'additionalProperties': False,
    'properties': {
        'baseline_s': {
            'type': 'integer', 'minimum': BASELINE_S_MIN,
            'maximum': BASELINE_S_MAX,
            'description': 'Learning period in seconds before the alarm '
                           'leaves insufficient_data (default %d).'
                           % BASELINE_S_DEFAULT},
        'sensitivity': {
            'type': 'number', 'minimum': 0, 'maximum': 1,
            'description': 'From 0 (only gross deviations) to 1 (the '
                           'smallest deviations) (default %s).'
                           % SENSITIVITY_DEFAULT},
    },
}

actions = {'type': 'array', 'items': url, 'maxItems': 10}
interval_ms = {'type': 'integer', 'minimum': INTERVAL_MS_MIN,
               'maximum': INTERVAL_MS_MAX,
               'description': 'Metrics interval in milliseconds (default '
                              '%d).' % INTERVAL_MS_DEFAULT}

_MUTABLE = {
    'name': name,
    'protocols': protocols,
    'interval_ms': interval_ms,
    'detector': detector,
    'alarm_actions': actions,
    'ok_actions': actions,
}

_ONE_TARGET = ('give exactly one of server_id and port_id (the server or '
               'the port to monitor)')

monitor_create = {
    'type': 'object',
    'additionalProperties': False,
    'properties': dict(_MUTABLE, server_id=uuid, port_id=uuid),
    'description': 'Exactly one of server_id and port_id.',
    'oneOf': [{'required': ['server_id'], 'x-error': _ONE_TARGET},
              {'required': ['port_id'], 'x-error': _ONE_TARGET}],
    'x-error': _ONE_TARGET,
}

monitor_update = {
    'type': 'object',
    'additionalProperties': False,
    'minProperties': 1,
    'properties': dict(_MUTABLE),
}


def wrapped(key, schema):
    """``{"<key>": schema}``: the canonical body (the bare form works too)."""
    return {'type': 'object', 'additionalProperties': False,
            'required': [key], 'properties': {key: schema}}


monitor_action = {
    'type': 'object',
    'additionalProperties': False,
    'minProperties': 1,
    'maxProperties': 1,
    'properties': {
        'rebaseline': {'type': 'object', 'additionalProperties': False,
                       'description': 'Forget the learned baseline and '
                                      'learn again (takes {}).'},
    },
}

# -- query strings (values arrive as text; converted by their "type") ---

limit = {'type': 'integer', 'minimum': 1,
         'description': 'Page size (at most [api] max_limit).'}
marker = dict(uuid, description='Id of the last item of the previous page.')
all_projects = {'type': 'boolean',
                'description': 'Admin only: every project\'s objects.'}

monitor_list_query = {
    'type': 'object', 'additionalProperties': False,
    'properties': {'status': {'type': 'string', 'enum': MONITOR_STATUSES},
                   'limit': limit, 'marker': marker,
                   'all_projects': all_projects},
}
monitor_create_query = {
    'type': 'object', 'additionalProperties': False,
    'properties': {'dry_run': {
        'type': 'boolean',
        'description': 'Check the request and answer (200) the services '
                       'that would be derived from the Security Group '
                       'rules, with the rules that give none; nothing is '
                       'created.'}},
}
alarm_list_query = {
    'type': 'object', 'additionalProperties': False,
    'properties': {'state': {'type': 'string', 'enum': ALARM_STATES},
                   'severity': {'type': 'string', 'enum': SEVERITIES},
                   'monitor_id': uuid,
                   'limit': limit, 'marker': marker,
                   'all_projects': all_projects},
}
history_query = {
    'type': 'object', 'additionalProperties': False,
    'properties': {'limit': limit,
                   'marker': {'type': 'integer', 'minimum': 1,
                              'description': 'Id of the last entry of the '
                                             'previous page.'}},
}
series_query = {
    'type': 'object', 'additionalProperties': False,
    'properties': {
        'start': {'type': 'string', 'maxLength': 64,
                  'description': 'ISO 8601 time or epoch seconds; default '
                                 'end minus [api] default_series_span.'},
        'end': {'type': 'string', 'maxLength': 64,
                'description': 'ISO 8601 time or epoch seconds; default '
                               'now.'},
        'resolution': {'type': 'string', 'maxLength': 16,
                       'pattern': '^[0-9]+(\\.[0-9]+)?[smhd]?$',
                       'description': 'Seconds per measure (e.g. 60, 60s, '
                                      '5m, 1h); default the finest within '
                                      '[api] max_series_points.'},
    },
}
flows_query = {
    'type': 'object', 'additionalProperties': False,
    'properties': {'limit': {'type': 'integer', 'minimum': 1,
                             'maximum': 1000}},
}
collector_list_query = {
    'type': 'object', 'additionalProperties': False,
    'properties': {'host': {'type': 'string', 'maxLength': 255},
                   'monitor_id': uuid},
}
port_list_query = {
    'type': 'object', 'additionalProperties': False,
    'properties': {'server_id': dict(uuid, description='Only the ports of '
                                                       'this server.'),
                   'limit': limit,
                   'marker': dict(uuid, description='Id of the last port '
                                                    'of the previous '
                                                    'page.')},
}
empty_query = {'type': 'object', 'additionalProperties': False,
               'properties': {}}

# -- responses ---------------------------------------------------------

link = {'type': 'object', 'properties': {'rel': {'type': 'string'},
                                         'href': {'type': 'string'}}}
service = {
    'type': 'object',
    'properties': {'port_id': {'type': 'string'},
                   'role': {'type': 'string',
                            'enum': ['offered', 'consumed']},
                   'l4': {'type': 'string'},
                   'port_min': {'type': 'integer'},
                   'port_max': {'type': 'integer'},
                   'app': {'type': 'string'},
                   'source': {'type': 'string'}},
}
monitor = {
    'type': 'object',
    'required': ['id', 'project_id', 'status', 'alarm_id'],
    'properties': {
        'id': uuid, 'project_id': {'type': 'string'}, 'name': name,
        'server_id': {'type': ['string', 'null']},
        'port_id': {'type': ['string', 'null']},
        'protocols': protocols, 'interval_ms': {'type': 'integer'},
        'detector': {'type': 'object'},
        'alarm_actions': {'type': 'array', 'items': {'type': 'string'}},
        'ok_actions': {'type': 'array', 'items': {'type': 'string'}},
        'status': {'type': 'string', 'enum': MONITOR_STATUSES},
        'status_reason': {'type': ['string', 'null']},
        'alarm_id': {'type': ['string', 'null']},
        'services': {'type': 'array', 'items': service,
                     'description': 'Only in a single monitor.'},
        'rebaseline_requested_at': nullable_timestamp,
        'created_at': nullable_timestamp,
        'updated_at': nullable_timestamp,
    },
}
port = {
    'type': 'object',
    'required': ['id', 'server_id', 'monitorable', 'monitor_id'],
    'properties': {
        'id': {'type': 'string', 'description': 'The Neutron port id.'},
        'server_id': {'type': 'string',
                      'description': 'The server (the port\'s device_id).'},
        'name': {'type': 'string'},
        'fixed_ips': {'type': 'array', 'items': {'type': 'string'},
                      'description': 'The port\'s fixed IP addresses.'},
        'mac_address': {'type': 'string'},
        'host': {'type': ['string', 'null'],
                 'description': 'The hypervisor (binding:host_id); null '
                                'unless policy dpiaas:port:show_host '
                                'allows it (admins by default).'},
        'security_groups': {'type': 'array', 'items': {'type': 'string'}},
        'vnic_type': {'type': 'string'},
        'monitorable': {'type': 'boolean',
                        'description': 'Whether a collector can capture '
                                       'this port (it has a kernel tap).'},
        'unmonitorable_reason': {'type': ['string', 'null'],
                                 'description': 'Why not, when it cannot.'},
        'monitor_id': {'type': ['string', 'null'],
                       'description': 'The monitor that already watches '
                                      'this port or its server.'},
    },
}
alarm = {
    'type': 'object',
    'required': ['id', 'monitor_id', 'state'],
    'properties': {
        'id': uuid, 'monitor_id': uuid, 'project_id': {'type': 'string'},
        'name': {'type': ['string', 'null']},
        'state': {'type': 'string', 'enum': ALARM_STATES},
        'state_reason': {'type': ['string', 'null']},
        'severity': {'type': ['string', 'null']},
        'score': {'type': ['number', 'null']},
        'explanation': {'description': 'Top contributing metrics.'},
        'state_timestamp': nullable_timestamp,
        'created_at': nullable_timestamp,
        'updated_at': nullable_timestamp,
    },
}
history_entry = {
    'type': 'object',
    'required': ['timestamp', 'previous', 'state', 'reason'],
    'properties': {
        'id': {'type': 'integer'}, 'timestamp': timestamp,
        'previous': {'type': ['string', 'null']},
        'state': {'type': 'string', 'enum': ALARM_STATES},
        'reason': {'type': ['string', 'null']},
        'score': {'type': ['number', 'null']},
        'severity': {'type': ['string', 'null']},
        'explanation': {'description': 'Top contributing metrics.'},
    },
}
metric = {
    'type': 'object', 'required': ['name'],
    'properties': {'name': {'type': 'string'},
                   'timestamp': nullable_timestamp,
                   'value': {'type': ['number', 'null']}},
}
series = {
    'type': 'object', 'required': ['name', 'interval_ms', 'measures'],
    'properties': {
        'name': {'type': 'string'},
        'interval_ms': {'type': 'integer'},
        'resolution': {'type': ['number', 'null']},
        'start': timestamp, 'end': timestamp,
        'measures': {'type': 'array', 'items': {
            'type': 'object', 'required': ['timestamp', 'value'],
            'properties': {'timestamp': timestamp,
                           'value': {'type': 'number'}}}},
    },
}
agent = {
    'type': 'object', 'required': ['host', 'alive'],
    'properties': {'host': {'type': 'string'},
                   'alive': {'type': 'boolean'},
                   'version': {'type': ['string', 'null']},
                   'started_at': nullable_timestamp,
                   'last_heartbeat': nullable_timestamp,
                   'state': {'type': ['object', 'null']}},
}
collector = {
    'type': 'object', 'required': ['id', 'monitor_id', 'host', 'status'],
    'properties': {'id': {'type': 'string'}, 'monitor_id': {'type': 'string'},
                   'project_id': {'type': 'string'},
                   'port_id': {'type': 'string'},
                   'host': {'type': ['string', 'null']},
                   'tap_device': {'type': ['string', 'null']},
                   'generation': {'type': 'integer'},
                   'status': {'type': 'string'},
                   'status_reason': {'type': ['string', 'null']},
                   'spec': {'type': ['object', 'null']},
                   'updated_at': nullable_timestamp},
}


def collection(key, item):
    return {'type': 'object', 'required': [key],
            'properties': {key: {'type': 'array', 'items': item},
                           'next': {'type': 'string',
                                    'description': 'URL of the next page, '
                                                   'when there is one.'}}}


def single(key, item):
    return {'type': 'object', 'required': [key],
            'properties': {key: item}}


error = {
    'type': 'object', 'required': ['errors'],
    'properties': {'errors': {
        'type': 'array', 'minItems': 1,
        'items': {
            'type': 'object',
            'required': ['status', 'code', 'title', 'detail',
                         'request_id'],
            'properties': {'status': {'type': 'integer'},
                           'code': {'type': 'string'},
                           'title': {'type': 'string'},
                           'detail': {'type': 'string'},
                           'request_id': {'type': 'string'}}}}},
}
version = {
    'type': 'object', 'required': ['id', 'status', 'links'],
    'properties': {'id': {'type': 'string'}, 'status': {'type': 'string'},
                   'min_version': {'type': 'string'},
                   'version': {'type': 'string'},
                   'updated': {'type': 'string'},
                   'links': {'type': 'array', 'items': link}},
}
