"""Rules of a monitor's metrics and series."""
from oslo_policy import policy

from dpiaas.policies import base

ONE = '/v1/monitors/{monitor_id}'

rules = [
    policy.DocumentedRuleDefault(
        name='dpiaas:metric:list',
        check_str='rule:project_reader_or_admin',
        description='List the metric names of a monitor with their latest '
                    'values.',
        operations=[{'path': ONE + '/metrics', 'method': 'GET'}],
        scope_types=base.PROJECT_SCOPE),
    policy.DocumentedRuleDefault(
        name='dpiaas:metric:get',
        check_str='rule:project_reader_or_admin',
        description='Read the series of one metric of a monitor.',
        operations=[{'path': ONE + '/metrics/{name}', 'method': 'GET'}],
        scope_types=base.PROJECT_SCOPE),
]


def list_rules():
    return rules
