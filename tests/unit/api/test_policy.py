"""Policy in code: defaults registered, sample generator, enforcer."""
import subprocess
import sys

from oslo_config import cfg

from dpiaas import policies


def test_every_api_rule_has_operations_and_scope():
    rules = {r.name: r for r in policies.list_rules()}
    for name, rule in rules.items():
        if name.startswith('dpiaas:'):
            assert rule.operations, name
            assert rule.scope_types, name
    assert rules['dpiaas:agent:list'].check_str == 'rule:admin_api'


def _creds(project, roles):
    return {'project_id': project, 'roles': roles}


def test_member_of_other_project_is_denied():
    conf = cfg.ConfigOpts()
    conf([], default_config_files=[])
    enforcer = policies.make_enforcer(conf)
    target = {'project_id': 'a'}
    assert enforcer.authorize('dpiaas:monitor:update', target,
                              _creds('a', ['member']))
    assert not enforcer.authorize('dpiaas:monitor:update', target,
                                  _creds('b', ['member']))
    assert not enforcer.authorize('dpiaas:monitor:update', target,
                                  _creds('a', ['reader']))
    assert enforcer.authorize('dpiaas:monitor:get', target,
                              _creds('b', ['admin']))


def test_sample_generator_writes_every_rule(tmp_path):
    out = tmp_path / 'policy.yaml'
    exe = sys.executable.replace('python', 'oslopolicy-sample-generator')
    subprocess.run([exe, '--namespace', 'dpiaas', '--output-file',
                    str(out)], check=True, timeout=120)
    text = out.read_text()
    for rule in policies.list_rules():
        assert '"%s"' % rule.name in text
