"""``openstack dpi port list``: the project's ports one may monitor.

A tenant picks the server or port of ``openstack dpi monitor create``
here: each server port of the project, whether a collector can capture it
(and why not) and the monitor already watching it.
"""
from osc_lib.cli import format_columns
from osc_lib.command import command
from osc_lib import utils

from dpiaas.osc.v1 import common

COLUMNS = ('ID', 'Server ID', 'Name', 'Fixed IPs', 'Monitorable',
           'Monitor ID')
LONG_COLUMNS = COLUMNS + ('MAC Address', 'Host', 'Security Groups',
                          'VNIC Type', 'Unmonitorable Reason')
_FORMATTERS = {'Fixed IPs': format_columns.ListColumn,
               'Security Groups': format_columns.ListColumn}


class ListPort(common.DpiCommandMixin, command.Lister):
    """List the ports of the project's servers that dpi could monitor."""

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument('--server', metavar='<server-id>',
                            help='Only the ports of this server (ID)')
        parser.add_argument(
            '--long', action='store_true', default=False,
            help='List additional fields in output')
        parser.add_argument(
            '--limit', metavar='<n>', type=int,
            help='At most this many ports (without it, every page is read)')
        parser.add_argument(
            '--marker', metavar='<port-id>',
            help='Start after this port (the last ID of a previous page)')
        return parser

    def take_action(self, parsed_args):
        columns = LONG_COLUMNS if parsed_args.long else COLUMNS
        ports = self.dpi.port_list(limit=parsed_args.limit,
                                   marker=parsed_args.marker,
                                   server_id=parsed_args.server)
        return columns, [utils.get_dict_properties(p, columns,
                                                   formatters=_FORMATTERS)
                         for p in ports]
