"""The installed ``openstack`` script finds the plugin through setup.cfg."""
import json
import os
import subprocess
import sys

import pytest

PORT = '6f1c2b9e-5d4a-4c3b-9a8f-1e2d3c4b5a69'
COMMANDS = [
    'dpi agent list', 'dpi alarm history', 'dpi alarm list',
    'dpi alarm show', 'dpi collector list', 'dpi metric list',
    'dpi metric show', 'dpi monitor create', 'dpi monitor delete',
    'dpi monitor list', 'dpi monitor rebaseline', 'dpi monitor set',
    'dpi monitor show', 'dpi port list',
]


@pytest.fixture
def openstack(tmp_path):
    script = os.path.join(os.path.dirname(sys.executable), 'openstack')
    assert os.path.exists(script), \
        'python-openstackclient is not installed beside %s' % sys.executable
    env = {k: v for k, v in os.environ.items() if not k.startswith('OS_')}
    env['HOME'] = str(tmp_path)

    def run(*args):
        return subprocess.run([script, *args], capture_output=True,
                              text=True, env=env, timeout=120)
    return run


def test_every_command_is_registered(openstack):
    res = openstack('command', 'list', '--group', 'openstack.dpi.v1',
                    '-f', 'json')
    assert res.returncode == 0, res.stderr
    groups = {g['Command Group']: g['Commands'] for g in
              json.loads(res.stdout)}
    assert sorted(groups['openstack.dpi.v1']) == COMMANDS


def test_list_and_error_line_through_the_script(openstack, api):
    api.add_monitor(name='sprout', port_id=PORT)
    res = openstack('--os-dpi-url', api.url, '--os-project-id', 'p1',
                    'dpi', 'monitor', 'list', '-f', 'json')
    assert res.returncode == 0, res.stderr
    assert [m['Name'] for m in json.loads(res.stdout)] == ['sprout']
    res = openstack('--os-dpi-url', api.url, 'dpi', 'alarm', 'list')
    assert res.returncode == 1
    assert res.stderr.count('\n') == 1
    assert res.stderr.startswith('The X-Project-Id header is required')
