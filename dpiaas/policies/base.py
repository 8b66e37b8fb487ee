"""Check strings every resource's rules are built from (new defaults).

The persona model of current nova and ironic: a project ``reader`` reads
its project's objects, a project ``member`` also changes them, and
``admin`` may do anything, including the operator-only resources. Roles
are spelled out (``admin`` is listed beside ``reader``) so that the rules
hold in noauth mode too, where no Keystone implies one role from another.
"""
from oslo_policy import policy

PROJECT_SCOPE = ['project']
ADMIN_SCOPES = ['project', 'system']

ADMIN = 'role:admin'
PROJECT_READER = 'role:reader and project_id:%(project_id)s'
PROJECT_MEMBER = 'role:member and project_id:%(project_id)s'
PROJECT_READER_OR_ADMIN = 'rule:admin_api or (%s)' % PROJECT_READER
PROJECT_MEMBER_OR_ADMIN = 'rule:admin_api or (%s)' % PROJECT_MEMBER

rules = [
    policy.RuleDefault(
        name='admin_api',
        check_str=ADMIN,
        description='An administrator of the cloud: sees every project '
                    'and the operator resources (agents, collectors).'),
    policy.RuleDefault(
        name='project_reader_or_admin',
        check_str=PROJECT_READER_OR_ADMIN,
        description='A reader of the object\'s project, or an admin.'),
    policy.RuleDefault(
        name='project_member_or_admin',
        check_str=PROJECT_MEMBER_OR_ADMIN,
        description='A member of the object\'s project, or an admin.'),
]


def list_rules():
    return rules
