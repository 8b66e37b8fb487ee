"""``openstack dpi monitor create|list|show|set|delete``."""
import argparse
import re

from osc_lib.cli import format_columns
from osc_lib.command import command
from osc_lib import exceptions
from osc_lib import utils
from oslo_log import log as logging

from dpiaas.osc.v1 import common

LOG = logging.getLogger(__name__)

SHOW_FIELDS = (
    'id', 'name', 'project_id', 'server_id', 'port_id', 'status',
    'status_reason', 'interval_ms', 'protocols', 'detector', 'services',
    'alarm_id', 'alarm_actions', 'ok_actions', 'rebaseline_requested_at',
    'created_at', 'updated_at',
)
FORMATTERS = {
    'protocols': format_columns.DictColumn,
    'detector': format_columns.DictColumn,
    'alarm_actions': format_columns.ListColumn,
    'ok_actions': format_columns.ListColumn,
    'services': common.ServicesColumn,
}
LIST_COLUMNS = ('ID', 'Name', 'Server ID', 'Port ID', 'Status')
LONG_COLUMNS = LIST_COLUMNS + ('Interval ms', 'Status Reason', 'Alarm ID',
                               'Protocols', 'Detector', 'Created At')
_LIST_KEYS = {'Interval ms': 'interval_ms'}

_PROTOCOL = re.compile(
    r'^((?:offered:|consumed:)?(?:tcp|udp)/(\d{1,5}))=([a-z0-9_]+)$')
_DURATION = re.compile(r'^(\d+(?:\.\d+)?)([smhd]?)$')
_UNIT_S = {'': 1, 's': 1, 'm': 60, 'h': 3600, 'd': 86400}


def protocol_override(text):
    """``tcp/8080=http`` -> (``"tcp/8080"``, ``"http"``), for argparse.

    ``offered:`` or ``consumed:`` in front limits the override to the
    services the VM offers (ingress rules) or consumes (egress rules).
    """
    m = _PROTOCOL.match(text.strip().lower())
    if not m or not 1 <= int(m.group(2)) <= 65535:
        raise argparse.ArgumentTypeError(
            '%r is not [offered:|consumed:]tcp|udp/PORT=APP (for example '
            'tcp/8080=http or udp/5062=sip)' % text)
    return m.group(1), m.group(3)


def duration_s(text):
    """``3600``, ``90m``, ``1h``, ``2d`` -> seconds, for argparse."""
    m = _DURATION.match(text.strip().lower())
    if not m:
        raise argparse.ArgumentTypeError(
            '%r is not a duration (seconds, or a number with s, m, h or d)'
            % text)
    return int(round(float(m.group(1)) * _UNIT_S[m.group(2)]))


def _flag(value):
    """A query flag: sent as ``true`` when set, left out otherwise."""
    return 'true' if value else None


def show(monitor):
    """(columns, values) of one monitor for a ShowOne."""
    monitor = dict(monitor)
    for key in ('created_at', 'updated_at', 'rebaseline_requested_at'):
        if key in monitor:
            monitor[key] = common.iso(monitor[key])
    fields = [f for f in SHOW_FIELDS if f in monitor]
    fields += sorted(k for k in monitor if k not in SHOW_FIELDS)
    return fields, utils.get_dict_properties(monitor, fields,
                                             formatters=FORMATTERS)


def _add_settings(parser, creating):
    """Options shared by create and set."""
    parser.add_argument(
        '--name', metavar='<name>',
        help='Name of the monitor' if creating else 'New name')
    parser.add_argument(
        '--protocol', metavar='<l4/port=app>', action='append',
        type=protocol_override, dest='protocols',
        help='Decode this port with this application decoder (sip, '
             'http, dns, generic), overriding the well-known map (for '
             'example tcp/8080=http, consumed:udp/5353=dns); repeat for '
             'more'
             + ('' if creating else '; adds to the current overrides'))
    parser.add_argument(
        '--interval-ms', metavar='<ms>', type=int,
        help='Length of a metrics interval in milliseconds'
             + (' (server default: 500)' if creating else ''))
    parser.add_argument(
        '--baseline', metavar='<duration>', type=duration_s,
        help='Learning period before alarms, in seconds or with a unit '
             '(30m, 1h, 2d)')
    parser.add_argument(
        '--sensitivity', metavar='<number>', type=float,
        help='Detector sensitivity from 0 (only gross deviations) to 1 '
             '(the smallest deviations)')
    parser.add_argument(
        '--alarm-action', metavar='<url>', action='append',
        dest='alarm_actions',
        help='URL to POST to when the alarm fires; repeat for more'
             + ('' if creating else '; adds to the current ones'))
    parser.add_argument(
        '--ok-action', metavar='<url>', action='append', dest='ok_actions',
        help='URL to POST to when the alarm returns to ok; repeat for more'
             + ('' if creating else '; adds to the current ones'))


def _detector(args, current=None):
    detector = dict(current or {})
    if args.baseline is not None:
        detector['baseline_s'] = args.baseline
    if args.sensitivity is not None:
        detector['sensitivity'] = args.sensitivity
    return detector


class CreateMonitor(common.DpiCommandMixin, command.ShowOne):
    """Start monitoring the traffic of a server or a port."""

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        target = parser.add_mutually_exclusive_group(required=True)
        target.add_argument(
            '--server', metavar='<server>',
            help='Server (ID, or name with Keystone auth) whose ports to '
                 'monitor')
        target.add_argument(
            '--port', metavar='<port>',
            help='Port (ID, or name with Keystone auth) to monitor')
        _add_settings(parser, creating=True)
        return parser

    def _resolve(self, kind, value):
        """Names of servers and ports through Nova/Neutron, when we can."""
        if common.is_uuid_like(value):
            return value
        if not self.auth_required:
            raise exceptions.CommandError(
                '--%s needs an ID without Keystone (names are looked up '
                'in Nova and Neutron): %r is not one.' % (kind, value))
        sdk = self.app.client_manager.sdk_connection
        if kind == 'server':
            return sdk.compute.find_server(value, ignore_missing=False).id
        return sdk.network.find_port(value, ignore_missing=False).id

    def take_action(self, parsed_args):
        body = {}
        if parsed_args.server:
            body['server_id'] = self._resolve('server', parsed_args.server)
        else:
            body['port_id'] = self._resolve('port', parsed_args.port)
        if parsed_args.name is not None:
            body['name'] = parsed_args.name
        if parsed_args.protocols:
            body['protocols'] = dict(parsed_args.protocols)
        if parsed_args.interval_ms is not None:
            body['interval_ms'] = parsed_args.interval_ms
        detector = _detector(parsed_args)
        if detector:
            body['detector'] = detector
        if parsed_args.alarm_actions:
            body['alarm_actions'] = parsed_args.alarm_actions
        if parsed_args.ok_actions:
            body['ok_actions'] = parsed_args.ok_actions
        return show(self.dpi.monitor_create(body))


class ListMonitor(common.DpiCommandMixin, command.Lister):
    """List monitors."""

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument(
            '--status', metavar='<status>',
            choices=('pending', 'learning', 'active', 'error'),
            help='Only monitors in this status (pending, learning, active, '
                 'error)')
        parser.add_argument(
            '--all-projects', action='store_true', default=False,
            help='Monitors of every project (admin only)')
        parser.add_argument(
            '--long', action='store_true', default=False,
            help='List additional fields in output')
        parser.add_argument(
            '--limit', metavar='<n>', type=int,
            help='At most this many monitors (without it, every page is '
                 'read)')
        parser.add_argument(
            '--marker', metavar='<monitor-id>',
            help='Start after this monitor (the last ID of a previous page)')
        return parser

    def take_action(self, parsed_args):
        monitors = self.dpi.monitor_list(limit=parsed_args.limit,
                                         marker=parsed_args.marker,
                                         status=parsed_args.status,
                                         all_projects=_flag(
                                             parsed_args.all_projects))
        headers = LONG_COLUMNS if parsed_args.long else LIST_COLUMNS
        if parsed_args.all_projects:
            headers += ('Project ID',)
        keys = [_LIST_KEYS.get(h, h) for h in headers]
        rows = []
        for m in monitors:
            if 'created_at' in m:
                m = dict(m, created_at=common.iso(m['created_at']))
            rows.append(utils.get_dict_properties(
                m, keys, formatters={'Protocols': format_columns.DictColumn,
                                     'Detector': format_columns.DictColumn}))
        return headers, rows


class ShowMonitor(common.DpiCommandMixin, command.ShowOne):
    """Show a monitor: status, settings and derived services."""

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument('monitor', metavar='<monitor>',
                            help='Monitor to show (name or ID)')
        return parser

    def take_action(self, parsed_args):
        monitor = common.find_monitor(self.dpi, parsed_args.monitor)
        if 'services' not in monitor:
            # A lookup by name comes from the list, which may be terse.
            monitor = self.dpi.monitor_get(monitor['id'])
        return show(monitor)


class SetMonitor(common.DpiCommandMixin, command.Command):
    """Change a monitor's settings."""

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument('monitor', metavar='<monitor>',
                            help='Monitor to change (name or ID)')
        _add_settings(parser, creating=False)
        parser.add_argument(
            '--no-protocol', action='store_true', dest='no_protocols',
            help='Drop every protocol override (before --protocol adds)')
        parser.add_argument(
            '--no-alarm-action', action='store_true',
            dest='no_alarm_actions',
            help='Drop every alarm action (before --alarm-action adds)')
        parser.add_argument(
            '--no-ok-action', action='store_true', dest='no_ok_actions',
            help='Drop every ok action (before --ok-action adds)')
        return parser

    def take_action(self, parsed_args):
        monitor = common.find_monitor(self.dpi, parsed_args.monitor)
        body = {}
        if parsed_args.name is not None:
            body['name'] = parsed_args.name
        if parsed_args.interval_ms is not None:
            body['interval_ms'] = parsed_args.interval_ms
        if parsed_args.protocols or parsed_args.no_protocols:
            protocols = ({} if parsed_args.no_protocols
                         else dict(monitor.get('protocols') or {}))
            protocols.update(dict(parsed_args.protocols or []))
            body['protocols'] = protocols
        for key in ('alarm_actions', 'ok_actions'):
            added = getattr(parsed_args, key) or []
            if added or getattr(parsed_args, 'no_' + key):
                current = ([] if getattr(parsed_args, 'no_' + key)
                           else list(monitor.get(key) or []))
                body[key] = current + [u for u in added if u not in current]
        if parsed_args.baseline is not None or \
                parsed_args.sensitivity is not None:
            # Sent whole so that the other detector settings stay as they
            # are whether PATCH merges nested objects or replaces them.
            body['detector'] = _detector(parsed_args,
                                         monitor.get('detector'))
        if not body:
            raise exceptions.CommandError(
                'Nothing to change: give at least one option (see '
                '"openstack dpi monitor set --help").')
        self.dpi.monitor_update(monitor['id'], body)


class RebaselineMonitor(common.DpiCommandMixin, command.Command):
    """Make a monitor's detector learn normal behaviour again.

    For when the traffic changed for good (a new release, more users): the
    alarm goes back to insufficient_data for the baseline period.
    """

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument('monitor', metavar='<monitor>',
                            help='Monitor to rebaseline (name or ID)')
        return parser

    def take_action(self, parsed_args):
        monitor = common.find_monitor(self.dpi, parsed_args.monitor)
        self.dpi.monitor_action(monitor['id'], 'rebaseline')


class DeleteMonitor(common.DpiCommandMixin, command.Command):
    """Stop monitoring and delete monitors with their metrics and alarm."""

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument('monitors', metavar='<monitor>', nargs='+',
                            help='Monitor(s) to delete (name or ID)')
        return parser

    def take_action(self, parsed_args):
        failed = 0
        for name_or_id in parsed_args.monitors:
            try:
                monitor = common.find_monitor(self.dpi, name_or_id)
                self.dpi.monitor_delete(monitor['id'])
            except exceptions.CommandError as e:
                failed += 1
                LOG.error('Failed to delete monitor %s: %s', name_or_id, e)
        if failed:
            raise exceptions.CommandError(
                'Failed to delete %d of %d monitors.'
                % (failed, len(parsed_args.monitors)))
