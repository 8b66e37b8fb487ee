"""``dpiaas-manage db sync`` then ``db version``, as an operator runs them."""
import os
import subprocess
import sys

import pytest

from dpiaas.db import migration

MANAGE = [sys.executable, '-m', 'dpiaas.cmd.manage']


def _manage(*args):
    return subprocess.run(MANAGE + list(args), capture_output=True,
                          text=True, timeout=120)


def _check_sync_then_version(args):
    before = _manage(*args, 'db', 'version')
    assert before.returncode == 0, before.stderr
    assert before.stdout.strip() == 'None'
    sync = _manage(*args, 'db', 'sync')
    assert sync.returncode == 0, sync.stderr
    after = _manage(*args, 'db', 'version')
    assert after.returncode == 0, after.stderr
    assert after.stdout.strip() == migration.head()


def test_sync_then_version_with_database_flag(tmp_path):
    _check_sync_then_version(
        ['--database', 'sqlite:///%s' % (tmp_path / 'm.sqlite')])


def test_sync_then_version_with_config_file(tmp_path):
    conf = tmp_path / 'dpiaas.conf'
    conf.write_text('[database]\nconnection = sqlite:///%s\n'
                    % (tmp_path / 'c.sqlite'))
    _check_sync_then_version(['--config-file', str(conf)])
    assert os.path.exists(tmp_path / 'c.sqlite')


def test_sync_on_postgresql(postgresql_server):
    url = postgresql_server.create_database('dpiaas_manage')
    _check_sync_then_version(['--database', url])


def test_bad_database_is_one_line_error(tmp_path):
    out = _manage('--database', 'nosuch://x', 'db', 'sync')
    assert out.returncode == 1
    assert out.stderr.count('\n') == 1 and 'Traceback' not in out.stderr


@pytest.mark.parametrize('args', [['db'], ['db', 'drop']])
def test_bad_usage_exits_2(args):
    assert _manage(*args).returncode == 2
