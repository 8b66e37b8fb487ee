"""``openstack dpi alarm list|show|history``.

Every monitor owns one anomaly alarm; where an alarm is asked for, the
name or ID of its monitor works as well as the alarm's own ID.
"""
from osc_lib.command import command
from osc_lib import exceptions
from osc_lib import utils

from dpiaas.osc import client as dpi_client
from dpiaas.osc.v1 import common

STATES = ('insufficient_data', 'ok', 'alarm')
SHOW_FIELDS = (
    'id', 'name', 'monitor_id', 'project_id', 'state', 'severity', 'score',
    'state_reason', 'explanation', 'state_timestamp', 'created_at',
    'updated_at',
)
_TIMES = ('state_timestamp', 'created_at', 'updated_at', 'timestamp')
LIST_COLUMNS = ('ID', 'Monitor ID', 'State', 'Severity', 'Score',
                'State Reason')
LONG_COLUMNS = LIST_COLUMNS + ('Explanation', 'State Timestamp')
HISTORY_COLUMNS = ('Timestamp', 'Previous', 'State', 'Reason')
FORMATTERS = {'explanation': common.ExplanationColumn,
              'Explanation': common.ExplanationColumn}


def _times(item):
    item = dict(item)
    for key in _TIMES:
        if key in item:
            item[key] = common.iso(item[key])
    return item


def find_alarm(dpi, ref):
    """The alarm with this ID, or the alarm of the monitor named ``ref``."""
    if common.is_uuid_like(ref):
        try:
            return dpi.alarm_get(ref)
        except dpi_client.ApiError as e:
            if e.status != 404:
                raise
    try:
        monitor = common.find_monitor(dpi, ref)
    except exceptions.CommandError:
        raise exceptions.CommandError(
            'No alarm with an ID of %r, and no monitor with that name or ID.'
            % ref)
    if not monitor.get('alarm_id'):
        raise exceptions.CommandError(
            'Monitor %s has no alarm yet.' % monitor['id'])
    return dpi.alarm_get(monitor['alarm_id'])


class ListAlarm(common.DpiCommandMixin, command.Lister):
    """List alarms."""

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument(
            '--state', metavar='<state>', choices=STATES,
            help='Only alarms in this state (%s)' % ', '.join(STATES))
        parser.add_argument(
            '--severity', metavar='<severity>',
            help='Only alarms of this severity')
        parser.add_argument(
            '--monitor', metavar='<monitor>',
            help='Only the alarm of this monitor (name or ID)')
        parser.add_argument(
            '--all-projects', action='store_true', default=False,
            help='Alarms of every project (admin only)')
        parser.add_argument(
            '--long', action='store_true', default=False,
            help='List additional fields in output')
        parser.add_argument(
            '--limit', metavar='<n>', type=int,
            help='At most this many alarms (without it, every page is '
                 'read)')
        parser.add_argument(
            '--marker', metavar='<alarm-id>',
            help='Start after this alarm (the last ID of a previous page)')
        return parser

    def take_action(self, parsed_args):
        monitor_id = None
        if parsed_args.monitor:
            monitor_id = common.find_monitor(self.dpi,
                                             parsed_args.monitor)['id']
        alarms = self.dpi.alarm_list(
            limit=parsed_args.limit, marker=parsed_args.marker,
            state=parsed_args.state, severity=parsed_args.severity,
            monitor_id=monitor_id,
            all_projects='true' if parsed_args.all_projects else None)
        headers = LONG_COLUMNS if parsed_args.long else LIST_COLUMNS
        if parsed_args.all_projects:
            headers += ('Project ID',)
        return headers, [utils.get_dict_properties(
            _times(a), headers, formatters=FORMATTERS) for a in alarms]


class ShowAlarm(common.DpiCommandMixin, command.ShowOne):
    """Show an alarm: state, why, score and the metrics that drove it."""

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument(
            'alarm', metavar='<alarm>',
            help='Alarm ID, or the name or ID of its monitor')
        return parser

    def take_action(self, parsed_args):
        alarm = _times(find_alarm(self.dpi, parsed_args.alarm))
        fields = [f for f in SHOW_FIELDS if f in alarm]
        fields += sorted(k for k in alarm if k not in SHOW_FIELDS)
        return fields, utils.get_dict_properties(alarm, fields,
                                                 formatters=FORMATTERS)


class ShowAlarmHistory(common.DpiCommandMixin, command.Lister):
    """Show every state change of an alarm, newest first."""

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument(
            'alarm', metavar='<alarm>',
            help='Alarm ID, or the name or ID of its monitor')
        parser.add_argument(
            '--long', action='store_true', default=False,
            help='Also show the metrics that drove each change')
        parser.add_argument(
            '--limit', metavar='<n>', type=int,
            help='At most this many entries')
        parser.add_argument(
            '--marker', metavar='<marker>',
            help='Start after this entry (as the API pages it)')
        return parser

    def take_action(self, parsed_args):
        alarm = find_alarm(self.dpi, parsed_args.alarm)
        history = self.dpi.alarm_history(alarm['id'],
                                         limit=parsed_args.limit,
                                         marker=parsed_args.marker)
        headers = HISTORY_COLUMNS
        if parsed_args.long:
            headers += ('Explanation',)
        return headers, [utils.get_dict_properties(
            _times(h), headers, formatters=FORMATTERS) for h in history]
