"""``openstack dpi agent list`` and ``collector list`` (admin only)."""
from osc_lib.cli import format_columns
from osc_lib.command import command
from osc_lib import utils

from dpiaas.osc.v1 import common

AGENT_COLUMNS = ('Host', 'Alive', 'Last Heartbeat', 'Version',
                 'Started At', 'Collectors')
COLLECTOR_COLUMNS = ('ID', 'Monitor ID', 'Port ID', 'Host', 'Tap Device',
                     'Status', 'Status Reason')
COLLECTOR_LONG = COLLECTOR_COLUMNS + ('Generation', 'Project ID',
                                      'Updated At')


def _agent_row(agent, columns):
    agent = dict(agent)
    state = agent.get('state') if isinstance(agent.get('state'), dict) \
        else {}
    for key in ('last_heartbeat', 'started_at'):
        if key in agent:
            agent[key] = common.iso(agent[key])
    if 'collectors' not in agent:
        agent['collectors'] = len(state.get('collectors') or [])
    return utils.get_dict_properties(
        agent, columns, formatters={'State': format_columns.DictColumn})


class ListAgent(common.DpiCommandMixin, command.Lister):
    """List the agents of every host, with their heartbeats (admin)."""

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument(
            '--long', action='store_true', default=False,
            help='Also show the last state each agent reported')
        return parser

    def take_action(self, parsed_args):
        columns = AGENT_COLUMNS + (('State',) if parsed_args.long else ())
        agents = sorted(self.dpi.agent_list(),
                        key=lambda a: str(a.get('host')))
        return columns, [_agent_row(a, columns) for a in agents]


class ListCollector(common.DpiCommandMixin, command.Lister):
    """List collectors: which monitored port runs on which host (admin)."""

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument('--host', metavar='<host>',
                            help='Only collectors of this host')
        parser.add_argument('--monitor', metavar='<monitor-id>',
                            help='Only collectors of this monitor (ID)')
        parser.add_argument(
            '--long', action='store_true', default=False,
            help='List additional fields in output')
        return parser

    def take_action(self, parsed_args):
        columns = COLLECTOR_LONG if parsed_args.long else COLLECTOR_COLUMNS
        collectors = self.dpi.collector_list(
            host=parsed_args.host, monitor_id=parsed_args.monitor)
        rows = []
        for c in collectors:
            if 'updated_at' in c:
                c = dict(c, updated_at=common.iso(c['updated_at']))
            rows.append(utils.get_dict_properties(c, columns))
        return columns, rows
