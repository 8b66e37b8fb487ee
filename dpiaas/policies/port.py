"""Rules of /v1/ports (the project's ports a tenant may monitor)."""
from oslo_policy import policy

from dpiaas.policies import base

PATH = '/v1/ports'

rules = [
    policy.DocumentedRuleDefault(
        name='dpiaas:port:list',
        check_str='rule:project_reader_or_admin',
        description='List the ports of the servers of a project, with '
                    'whether each can be monitored and its monitor.',
        operations=[{'path': PATH, 'method': 'GET'}],
        scope_types=base.PROJECT_SCOPE),
    policy.DocumentedRuleDefault(
        name='dpiaas:port:show_host',
        check_str='rule:admin_api',
        description='See the hypervisor (binding:host_id) of each listed '
                    'port; others get null, as Nova and Neutron hide it '
                    'from tenants.',
        operations=[{'path': PATH, 'method': 'GET'}],
        scope_types=base.ADMIN_SCOPES),
]


def list_rules():
    return rules
