"""A monitor's metrics: names with latest values, and bounded series.

Every series request is bounded twice: its span (``[api]
max_series_span``) and its number of measures (``[api]
max_series_points``); a request past either gets 400 with the way out.
"""
import datetime
import math
import re
import time

import flask

from dpiaas.api import common
from dpiaas.api import errors
from dpiaas.api import routing
from dpiaas.api import schemas
from dpiaas.api.v1 import monitors

ONE = monitors.ONE
TAG = 'metrics'
_UNITS = {'': 1, 's': 1, 'm': 60, 'h': 3600, 'd': 86400}
_RESOLUTION_RE = re.compile(r'^([0-9]+(?:\.[0-9]+)?)([smhd]?)$')
# epoch bounds of accepted times: 1970 .. 9999
_MAX_TS = 253402300799


def parse_time(name, text):
    """ISO 8601 (UTC when no offset) or epoch seconds -> epoch seconds."""
    try:
        value = float(text)
    except ValueError:
        try:
            dt = datetime.datetime.fromisoformat(text.strip())
        except ValueError:
            raise errors.bad_request(
                '%s: %r is neither an ISO 8601 time (e.g. '
                '2025-01-31T12:00:00Z) nor epoch seconds.'
                % (name, text[:64]))
        if dt.tzinfo is None:
            dt = dt.replace(tzinfo=datetime.timezone.utc)
        value = dt.timestamp()
    if not math.isfinite(value) or not 0 <= value <= _MAX_TS:
        raise errors.bad_request('%s: %r is out of range (1970 to 9999).'
                                 % (name, text[:64]))
    return value


def parse_resolution(text):
    m = _RESOLUTION_RE.match(text)
    value = float(m.group(1)) * _UNITS[m.group(2)] if m else 0
    if not value > 0:
        raise errors.bad_request('resolution: %r must be a positive '
                                 'number of seconds (e.g. 60, 5m, 1h).'
                                 % text[:32])
    return value


def series_bounds(query, interval_s, conf, now=None):
    """(start, end, resolution or None) of a series query, checked."""
    end = (parse_time('end', query['end']) if 'end' in query
           else (now if now is not None else time.time()))
    start = (parse_time('start', query['start']) if 'start' in query
             else end - conf.default_series_span)
    if end <= start:
        raise errors.bad_request('The time range is reversed or empty: '
                                 'end must be after start.',
                                 code='dpiaas.invalid_range')
    span = end - start
    if span > conf.max_series_span:
        raise errors.bad_request(
            'The time range spans %d s, more than the maximum of %d s '
            '([api] max_series_span); give a later start or an earlier '
            'end.' % (span, conf.max_series_span),
            code='dpiaas.range_too_long')
    step = interval_s
    resolution = None
    if 'resolution' in query:
        resolution = parse_resolution(query['resolution'])
        step = max(resolution, interval_s)
        if resolution <= interval_s:
            resolution = None      # the raw samples are that fine already
    points = span / step
    if points > conf.max_series_points:
        needed = math.ceil(span / conf.max_series_points)
        if 'resolution' in query:
            raise errors.bad_request(
                'The range at this resolution is %d measures, more than '
                'the maximum of %d ([api] max_series_points); ask a '
                'resolution of at least %d s or a shorter range.'
                % (points, conf.max_series_points, needed),
                code='dpiaas.too_many_points')
        resolution = float(needed)
    return start, end, resolution


def _with_iso_ts(record):
    out = dict(record)
    if 'ts' in out:
        out['ts'] = common.iso(out['ts'])
    return out


def _known_metrics(monitor_id):
    return common.parts().storage.latest_metrics(monitor_id)


@routing.operation(
    'GET', ONE + '/metrics', 'List a monitor\'s metric names with their '
    'latest values.', TAG, query=schemas.empty_query,
    response=schemas.collection('metrics', schemas.metric))
def list_metrics(monitor_id, query):
    monitors.authorized(monitor_id, 'dpiaas:metric:list')
    latest = _known_metrics(monitor_id)
    items = [{'name': name, 'timestamp': common.iso(ts),
              'value': None if value is None else float(value)}
             for name, (ts, value) in sorted(latest.items())]
    return flask.jsonify({'metrics': items})


@routing.operation(
    'GET', ONE + '/metrics/{name}', 'Read one metric\'s series.', TAG,
    query=schemas.series_query, response=schemas.series)
def show_metric(monitor_id, name, query):
    monitor = monitors.authorized(monitor_id, 'dpiaas:metric:get')
    parts = common.parts()
    interval_s = (monitor.get('interval_ms')
                  or schemas.INTERVAL_MS_DEFAULT) / 1000.0
    start, end, resolution = series_bounds(query, interval_s,
                                           parts.conf.api)
    rows = parts.storage.get_series(monitor_id, name, start, end,
                                    resolution=resolution,
                                    limit=parts.conf.api.max_series_points)
    if not rows and name not in _known_metrics(monitor_id):
        raise errors.not_found(
            'Monitor %s has no metric named %s; GET /v1/monitors/%s/'
            'metrics lists its metrics.' % (monitor_id, name, monitor_id),
            code='dpiaas.metric_not_found')
    return flask.jsonify({
        'name': name, 'interval_ms': monitor.get('interval_ms'),
        'resolution': resolution,
        'start': common.iso(start), 'end': common.iso(end),
        'measures': [{'timestamp': stamp, 'value': float(value)}
                     for stamp, (_ts, value) in zip(
                         common.iso_many([r[0] for r in rows]), rows)]})


@routing.operation(
    'GET', ONE + '/flows', 'List the latest flow records of a monitor.',
    'flows', query=schemas.flows_query,
    response=schemas.collection('flows', {'type': 'object'}))
def list_flows(monitor_id, query):
    monitors.authorized(monitor_id, 'dpiaas:monitor:flows')
    flows = common.parts().storage.list_flows(
        monitor_id, limit=query.get('limit', 100))
    return flask.jsonify({'flows': [_with_iso_ts(f) for f in flows]})


@routing.operation(
    'GET', ONE + '/heavy_hitters', 'Show the top flows of a monitor\'s '
    'latest interval, by packets and by bytes.', 'flows',
    query=schemas.flows_query,
    response=schemas.collection('heavy_hitters', {'type': 'object'}))
def list_heavy_hitters(monitor_id, query):
    monitors.authorized(monitor_id, 'dpiaas:monitor:flows')
    hitters = common.parts().storage.list_heavy_hitters(
        monitor_id, limit=query.get('limit', 10))
    return flask.jsonify({'heavy_hitters': [_with_iso_ts(f)
                                            for f in hitters]})
