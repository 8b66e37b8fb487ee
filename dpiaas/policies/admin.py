"""Rules of the operator resources: agents and collectors."""
from oslo_policy import policy

from dpiaas.policies import base

rules = [
    policy.DocumentedRuleDefault(
        name='dpiaas:agent:list',
        check_str='rule:admin_api',
        description='List the agents (hypervisors), their heartbeats and '
                    'what they run.',
        operations=[{'path': '/v1/agents', 'method': 'GET'}],
        scope_types=base.ADMIN_SCOPES),
    policy.DocumentedRuleDefault(
        name='dpiaas:collector:list',
        check_str='rule:admin_api',
        description='List the collectors: which port of which monitor is '
                    'captured on which host, and their status.',
        operations=[{'path': '/v1/collectors', 'method': 'GET'}],
        scope_types=base.ADMIN_SCOPES),
]


def list_rules():
    return rules
