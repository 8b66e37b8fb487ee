"""What every ``openstack dpi`` command shares: auth mode, lookups, columns.
"""
import datetime
import re

from cliff import columns
from osc_lib import exceptions

from dpiaas.osc import client as dpi_client
from dpiaas.osc import plugin

_UUID = re.compile(r'^[0-9a-fA-F]{8}-?([0-9a-fA-F]{4}-?){3}[0-9a-fA-F]{12}$')


def is_uuid_like(value):
    return bool(_UUID.match(str(value)))


class DpiCommandMixin:
    """Skips Keystone in standalone mode (see :func:`plugin.is_standalone`).

    osc reads ``auth_required`` before running a command; with
    ``--os-dpi-url`` and no credentials there is nothing to authenticate.
    """

    @property
    def auth_required(self):
        return not plugin.is_standalone(self.app.options)

    @property
    def dpi(self):
        return self.app.client_manager.dpi


def find_monitor(dpi, name_or_id):
    """The monitor with this ID or (unique) name."""
    if is_uuid_like(name_or_id):
        try:
            return dpi.monitor_get(name_or_id)
        except dpi_client.ApiError as e:
            if e.status != 404:
                raise
    matches = [m for m in dpi.monitor_list() if m.get('name') == name_or_id]
    if len(matches) == 1:
        return matches[0]
    if len(matches) > 1:
        raise exceptions.CommandError(
            'More than one monitor is named %r; give its ID instead.'
            % name_or_id)
    if not is_uuid_like(name_or_id):
        try:
            return dpi.monitor_get(name_or_id)
        except dpi_client.ApiError as e:
            if e.status not in (400, 404):
                raise
    raise exceptions.CommandError(
        'No monitor with a name or ID of %r exists.' % name_or_id)


def iso(value):
    """Timestamps for people: epoch seconds become ISO 8601 UTC."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        dt = datetime.datetime.fromtimestamp(value, datetime.timezone.utc)
        return dt.isoformat(timespec='milliseconds').replace('+00:00', 'Z')
    return value


class _JsonColumn(columns.FormattableColumn):
    """Machine formats (json, yaml) get the API's value untouched."""

    def machine_readable(self):
        return self._value


class ServicesColumn(_JsonColumn):
    """A monitor's derived services, one per line in a table."""

    def human_readable(self):
        lines = []
        for s in self._value or []:
            if not isinstance(s, dict):
                lines.append(str(s))
                continue
            ports = str(s.get('port_min', ''))
            if s.get('port_max') not in (None, s.get('port_min')):
                ports += '-%s' % s['port_max']
            line = '%s %s/%s %s' % (s.get('role', '?'), s.get('l4', '?'),
                                    ports, s.get('app', '?'))
            if s.get('source'):
                line += ' (%s)' % s['source']
            if s.get('port_id'):
                line += ' on port %s' % s['port_id']
            lines.append(line)
        return '\n'.join(lines)


class ExplanationColumn(_JsonColumn):
    """An alarm's top contributing metrics, one per line in a table.

    Entries are dicts naming a metric (``metric`` or ``name``) plus numbers
    (contribution, value, expected, ...); shown as ``name: k=v, ...``.
    """

    def human_readable(self):
        value = self._value
        if isinstance(value, dict):
            value = [{'metric': k, 'value': v} for k, v in value.items()]
        if not isinstance(value, list):
            return '' if value is None else str(value)
        lines = []
        for item in value:
            if not isinstance(item, dict):
                lines.append(str(item))
                continue
            item = dict(item)
            name = item.pop('metric', None) or item.pop('name', '?')
            rest = ', '.join('%s=%s' % (k, _num(v))
                             for k, v in item.items())
            lines.append('%s: %s' % (name, rest) if rest else str(name))
        return '\n'.join(lines)


def _num(v):
    if isinstance(v, float):
        return '%.4g' % v
    return v
