"""Rules of /v1/alarms (each monitor's anomaly alarm)."""
from oslo_policy import policy

from dpiaas.policies import base

PATH = '/v1/alarms'
ONE = '/v1/alarms/{alarm_id}'


def _rule(name, check, description, operations):
    return policy.DocumentedRuleDefault(
        name='dpiaas:alarm:%s' % name, check_str=check,
        description=description,
        operations=[{'path': p, 'method': 'GET'} for p in operations],
        scope_types=base.PROJECT_SCOPE)


rules = [
    _rule('list', 'rule:project_reader_or_admin',
          'List the alarms of a project.', [PATH]),
    _rule('list_all_projects', 'rule:admin_api',
          'List the alarms of every project (all_projects=true).', [PATH]),
    _rule('get', 'rule:project_reader_or_admin',
          'Show an alarm: state, reason, score, explanation.', [ONE]),
    _rule('history', 'rule:project_reader_or_admin',
          'List the state changes of an alarm.', [ONE + '/history']),
]


def list_rules():
    return rules
