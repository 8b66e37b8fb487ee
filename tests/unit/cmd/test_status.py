"""``dpiaas-status upgrade check``: each check says what is wrong and what
to do, and never shows a password or a traceback."""
import json
import os
import socket

from oslo_policy import policy
import pytest
import sqlalchemy as sa

from dpiaas.cmd import status
from dpiaas.db import migration
from dpiaas import policies

SUCCESS, WARNING, FAILURE = (status.Code.SUCCESS, status.Code.WARNING,
                             status.Code.FAILURE)
SECRET = 'hunter2secret'


def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


@pytest.fixture
def write_conf(tmp_path):
    """Writes dpiaas.conf (mode 0640) and returns parsed Checks on it."""
    def make(text='', mode=0o640, timeout=1.0):
        path = tmp_path / 'dpiaas.conf'
        path.write_text(text)
        os.chmod(path, mode)
        conf = status.build_conf()
        conf(['--config-file', str(path)], project='dpiaas',
             default_config_files=[])
        return status.Checks(conf, network_timeout=timeout)
    return make


def db_conf(tmp_path, extra=''):
    return ('[database]\nconnection = sqlite:///%s\n%s'
            % (tmp_path / 'dpiaas.sqlite', extra))


# database

def test_missing_database_file_says_run_db_sync(write_conf, tmp_path):
    result = write_conf(db_conf(tmp_path)).check_database()
    assert result.code == FAILURE
    assert 'dpiaas-manage db sync' in result.details
    assert not (tmp_path / 'dpiaas.sqlite').exists()  # not created


def test_synced_database_is_at_head(write_conf, tmp_path):
    migration.upgrade('sqlite:///%s' % (tmp_path / 'dpiaas.sqlite'))
    result = write_conf(db_conf(tmp_path)).check_database()
    assert result.code == SUCCESS
    assert migration.head() in result.details


def test_empty_database_has_no_schema(write_conf, tmp_path):
    sa.create_engine('sqlite:///%s' % (tmp_path / 'dpiaas.sqlite')).connect(
    ).close()
    result = write_conf(db_conf(tmp_path)).check_database()
    assert result.code == FAILURE and 'no dpiaas schema' in result.details


def test_older_schema_needs_db_sync(write_conf, tmp_path, monkeypatch):
    migration.upgrade('sqlite:///%s' % (tmp_path / 'dpiaas.sqlite'))
    current = migration.head()
    monkeypatch.setattr(migration, 'head', lambda: '9999_future')
    result = write_conf(db_conf(tmp_path)).check_database()
    assert result.code == FAILURE
    assert current in result.details and '9999_future' in result.details
    assert 'db sync' in result.details


def test_schema_from_newer_code_is_a_failure(write_conf, tmp_path):
    url = 'sqlite:///%s' % (tmp_path / 'dpiaas.sqlite')
    migration.upgrade(url)
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE alembic_version SET version_num = "
                             "'abcdef_newer'"))
    engine.dispose()
    result = write_conf(db_conf(tmp_path)).check_database()
    assert result.code == FAILURE
    assert 'does not know' in result.details


def test_unreachable_database_hides_its_password(write_conf):
    checks = write_conf('[database]\nconnection = mysql+pymysql://dpiaas:%s'
                        '@127.0.0.1:%d/dpiaas\n' % (SECRET, free_port()))
    result = checks.check_database()
    assert result.code == FAILURE
    assert 'Cannot read the database' in result.details
    assert SECRET not in result.details


def test_a_crashing_check_is_a_failure_line_not_a_traceback(
        write_conf, tmp_path, monkeypatch):
    def boom():
        raise RuntimeError('alembic exploded\nsecond line')
    monkeypatch.setattr(migration, 'head', boom)
    migration.upgrade('sqlite:///%s' % (tmp_path / 'dpiaas.sqlite'))
    result = write_conf(db_conf(tmp_path)).check_database()
    assert result.code == FAILURE
    assert result.details == ('the check could not run: RuntimeError: '
                              'alembic exploded')


# policy

def with_policy(write_conf, tmp_path, text):
    (tmp_path / 'policy.yaml').write_text(text)
    return write_conf('[oslo_policy]\npolicy_file = policy.yaml\n')


def test_no_policy_file_means_defaults(write_conf):
    result = write_conf().check_policy()
    assert result.code == SUCCESS and 'defaults in code' in result.details


def test_valid_overrides_pass(write_conf, tmp_path):
    result = with_policy(write_conf, tmp_path,
                         '"dpiaas:monitor:list": "rule:admin_api"\n'
                         '"admin_api": "role:admin or role:operator"\n'
                         ).check_policy()
    assert result.code == SUCCESS and '2 rules' in result.details


def test_json_policy_file_must_be_converted(write_conf, tmp_path):
    result = with_policy(write_conf, tmp_path,
                         '{"admin_api": "role:admin"}').check_policy()
    assert result.code == FAILURE
    assert 'oslopolicy-convert-json-to-yaml' in result.details


def test_unparsable_yaml_is_a_failure(write_conf, tmp_path):
    result = with_policy(write_conf, tmp_path,
                         'admin_api: [unclosed\n').check_policy()
    assert result.code == FAILURE and 'Cannot parse' in result.details


def test_bad_check_string_is_a_failure(write_conf, tmp_path):
    result = with_policy(write_conf, tmp_path,
                         '"admin_api": "role:admin or or ("\n').check_policy()
    assert result.code == FAILURE
    assert 'do not parse' in result.details and 'admin_api' in result.details


def test_reference_to_an_undefined_rule_is_a_failure(write_conf, tmp_path):
    result = with_policy(write_conf, tmp_path,
                         '"admin_api": "rule:no_such_rule"\n').check_policy()
    assert result.code == FAILURE and 'admin_api' in result.details


def test_unknown_rule_name_is_a_warning(write_conf, tmp_path):
    result = with_policy(write_conf, tmp_path,
                         '"dpiaas:monitr:list": "role:admin"\n'
                         ).check_policy()
    assert result.code == WARNING
    assert 'dpiaas:monitr:list' in result.details


def test_override_of_a_deprecated_rule_is_a_warning(write_conf, tmp_path,
                                                    monkeypatch):
    old = policy.DeprecatedRule('dpiaas:old_name', 'role:admin',
                                deprecated_reason='renamed',
                                deprecated_since='2025.1')
    new = policy.RuleDefault('dpiaas:new_name', 'role:admin',
                             deprecated_rule=old)
    rules = policies.list_rules() + [new]
    monkeypatch.setattr(policies, 'list_rules', lambda: rules)
    result = with_policy(write_conf, tmp_path,
                         '"dpiaas:old_name": "role:member"\n').check_policy()
    assert result.code == WARNING
    assert 'dpiaas:old_name (now dpiaas:new_name)' in result.details


# transport

def test_transport_url_not_set_is_a_failure(write_conf):
    result = write_conf().check_transport()
    assert result.code == FAILURE and 'transport_url' in result.details


def test_fake_transport_is_a_warning(write_conf):
    result = write_conf('[DEFAULT]\ntransport_url = fake://\n'
                        ).check_transport()
    assert result.code == WARNING and 'one process' in result.details


def test_dead_broker_is_a_warning_without_password(write_conf):
    checks = write_conf('[DEFAULT]\ntransport_url = rabbit://dpiaas:%s@'
                        '127.0.0.1:%d/\n' % (SECRET, free_port()))
    result = checks.check_transport()
    assert result.code == WARNING and 'does not answer' in result.details
    assert SECRET not in result.details


def test_invalid_transport_url_is_a_failure(write_conf):
    result = write_conf('[DEFAULT]\ntransport_url = rabbit://a:b@host:'
                        'notaport/\n').check_transport()
    assert result.code == FAILURE


# coordination

def test_no_coordination_backend_means_one_engine(write_conf):
    result = write_conf().check_coordination()
    assert result.code == SUCCESS and 'only one' in result.details


def test_engine_workers_without_backend_share_a_file_ring(write_conf):
    result = write_conf('[engine]\nworkers = 3\n').check_coordination()
    assert result.code == SUCCESS
    assert '3 workers' in result.details
    assert 'file:///var/lib/dpiaas/coordination' in result.details


def test_file_coordination_backend_answers(write_conf, tmp_path):
    result = write_conf('[coordination]\nbackend_url = file://%s\n'
                        % (tmp_path / 'tooz')).check_coordination()
    assert result.code == SUCCESS, result.details


def test_unreachable_coordination_backend_is_a_failure_without_password(
        write_conf):
    checks = write_conf('[coordination]\nbackend_url = redis://:%s@'
                        '127.0.0.1:%d/?timeout=1\n' % (SECRET, free_port()))
    result = checks.check_coordination()
    assert result.code == FAILURE and 'does not answer' in result.details
    assert SECRET not in result.details


def test_redact_url_hides_passwords_in_userinfo_and_query():
    out = status.redact_url('redis://u:%s@h:6379/?password=%s&x=1'
                            % (SECRET, SECRET))
    assert SECRET not in out and 'u:***@h:6379' in out and 'x=1' in out


# inventory and files

def test_static_inventory_needs_its_file(write_conf):
    result = write_conf('[DEFAULT]\ninventory_driver = static\n'
                        ).check_inventory()
    assert result.code == FAILURE and 'inventory_file' in result.details


def test_openstack_inventory_needs_service_credentials(write_conf):
    bare = write_conf('[DEFAULT]\ninventory_driver = openstack\n')
    assert bare.check_inventory().code == FAILURE
    ok = write_conf('[DEFAULT]\ninventory_driver = openstack\n'
                    '[service_credentials]\nauth_type = password\n'
                    'auth_url = http://127.0.0.1:5000/v3\n')
    assert ok.check_inventory().code == SUCCESS


def test_world_readable_config_file_is_a_warning(write_conf):
    result = write_conf(mode=0o644).check_config_permissions()
    assert result.code == WARNING and 'chmod 640' in result.details
    assert write_conf(mode=0o640).check_config_permissions().code == SUCCESS


# the command

def good_conf(tmp_path, transport='fake://'):
    migration.upgrade('sqlite:///%s' % (tmp_path / 'dpiaas.sqlite'))
    (tmp_path / 'inv.yaml').write_text('ports: []\nsecurity_groups: []\n')
    path = tmp_path / 'dpiaas.conf'
    path.write_text('[DEFAULT]\ntransport_url = %s\ninventory_file = %s\n'
                    % (transport, tmp_path / 'inv.yaml')
                    + db_conf(tmp_path))
    os.chmod(path, 0o640)
    return str(path)


def test_exit_code_is_the_worst_result_and_json_lists_every_check(
        tmp_path, capsys):
    code = status.main(['--config-file', good_conf(tmp_path), 'upgrade',
                        'check', '--json'])
    out = json.loads(capsys.readouterr().out)
    results = {c['check']: c['result'] for c in out['checks']}
    assert code == WARNING  # fake:// only
    assert results == {'Database schema': 0, 'Policy file': 0,
                       'Message transport': 1, 'Coordination backend': 0,
                       'Inventory': 0, 'Config file permissions': 0}


def test_table_output_and_failure_exit_code(tmp_path, capsys):
    path = good_conf(tmp_path)
    os.unlink(tmp_path / 'dpiaas.sqlite')
    assert status.main(['--config-file', path, 'upgrade', 'check']) == 2
    out = capsys.readouterr().out
    assert 'Check: Database schema' in out and 'Result: Failure' in out


def test_missing_config_file_is_one_line_exit_255(capsys):
    code = status.main(['--config-file', '/nonexistent/dpiaas.conf',
                        'upgrade', 'check'])
    err = capsys.readouterr().err
    assert code == 255
    assert err.startswith('dpiaas-status: error:') and err.count('\n') == 1
    assert 'Traceback' not in err
