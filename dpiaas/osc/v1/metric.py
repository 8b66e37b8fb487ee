"""``openstack dpi metric list|show``: what a monitor measures."""
from osc_lib.command import command
from osc_lib import utils

from dpiaas.osc.v1 import common


class ListMetric(common.DpiCommandMixin, command.Lister):
    """List a monitor's metrics with their latest values."""

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument('monitor', metavar='<monitor>',
                            help='Monitor (name or ID)')
        return parser

    def take_action(self, parsed_args):
        monitor = common.find_monitor(self.dpi, parsed_args.monitor)
        metrics = self.dpi.metric_list(monitor['id'])
        columns = ('Name', 'Timestamp', 'Value')
        rows = [utils.get_dict_properties(
            dict(m, timestamp=common.iso(m.get('timestamp'))), columns)
            for m in metrics]
        return columns, rows


class ShowMetric(common.DpiCommandMixin, command.Lister):
    """Show the series of one metric of a monitor.

    One row per interval (its start, UTC) and its value. The API bounds
    the series; give --start/--end to read another window.
    """

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument('monitor', metavar='<monitor>',
                            help='Monitor (name or ID)')
        parser.add_argument('name', metavar='<name>',
                            help='Metric name, for example '
                                 'sip.5060.responses.2xx')
        parser.add_argument(
            '--start', metavar='<time>',
            help='Start of the window, ISO 8601 (for example '
                 '2025-01-31T12:00:00Z) or epoch seconds; default one '
                 'span before the end')
        parser.add_argument(
            '--end', metavar='<time>',
            help='End of the window, ISO 8601 or epoch seconds; default '
                 'now')
        parser.add_argument(
            '--resolution', metavar='<step>',
            help='Time per measure, in seconds or with a unit (60, 5m, 1h); '
                 'default the finest the API allows for the window')
        return parser

    def take_action(self, parsed_args):
        monitor = common.find_monitor(self.dpi, parsed_args.monitor)
        series = self.dpi.metric_get(
            monitor['id'], parsed_args.name, start=parsed_args.start,
            end=parsed_args.end, resolution=parsed_args.resolution)
        columns = ('Timestamp', 'Value')
        rows = [(common.iso(m.get('timestamp')), m.get('value'))
                for m in series['measures']]
        return columns, rows
