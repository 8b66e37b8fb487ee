"""Rules of /v1/monitors and what hangs below a monitor."""
from oslo_policy import policy

from dpiaas.policies import base

PREFIX = 'dpiaas:monitor:%s'
PATH = '/v1/monitors'
ONE = '/v1/monitors/{monitor_id}'


def _rule(name, check, description, operations):
    return policy.DocumentedRuleDefault(
        name=PREFIX % name, check_str=check, description=description,
        operations=[{'path': p, 'method': m} for m, p in operations],
        scope_types=base.PROJECT_SCOPE)


rules = [
    _rule('list', 'rule:project_reader_or_admin',
          'List the monitors of a project.', [('GET', PATH)]),
    _rule('list_all_projects', 'rule:admin_api',
          'List the monitors of every project (all_projects=true).',
          [('GET', PATH)]),
    _rule('create', 'rule:project_member_or_admin',
          'Monitor a server or a port the project owns.',
          [('POST', PATH)]),
    _rule('get', 'rule:project_reader_or_admin',
          'Show a monitor, its status and derived services.',
          [('GET', ONE)]),
    _rule('update', 'rule:project_member_or_admin',
          'Change a monitor.', [('PATCH', ONE)]),
    _rule('delete', 'rule:project_member_or_admin',
          'Stop monitoring and delete the monitor, its alarm and data.',
          [('DELETE', ONE)]),
    _rule('rebaseline', 'rule:project_member_or_admin',
          'Ask the detector to learn normal behaviour again.',
          [('POST', ONE + '/action')]),
    _rule('flows', 'rule:project_reader_or_admin',
          'Read the flow records and heavy hitters of a monitor.',
          [('GET', ONE + '/flows'), ('GET', ONE + '/heavy_hitters')]),
]


def list_rules():
    return rules
