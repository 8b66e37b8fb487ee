"""The devstack plugin passes bashate and shellcheck (as tox -e bashate,
shellcheck run them), and both tools do catch a fault."""
import os
import shutil
import subprocess
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.dirname(os.path.abspath(__file__)))))
FILES = ['devstack/plugin.sh', 'devstack/settings', 'devstack/lib/dpiaas',
         'tests/functional/devstack/devstack_stubs.sh']
BAD = '#!/bin/bash\nfunction broken {\n   echo $1 \n}\n'


def tool(name):
    """The tool's path; skip without it, except in CI where it fails."""
    found = shutil.which(name, path=os.path.dirname(sys.executable)
                         + os.pathsep + os.environ.get('PATH', ''))
    if not found:
        reason = ('%s is not installed (pip: test-requirements.txt; '
                  'Debian: bindep.txt [test])' % name)
        if os.environ.get('CI', '').lower() in ('1', 'true', 'yes'):
            pytest.fail(reason)
        pytest.skip(reason)
    return found


def run(argv):
    return subprocess.run(argv, cwd=REPO, capture_output=True, text=True,
                          timeout=120)


def test_plugin_passes_bashate_with_every_rule_an_error():
    proc = run([tool('bashate'), '-v', '-eE*'] + FILES)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_plugin_passes_shellcheck():
    proc = run([tool('shellcheck'), '-x'] + FILES)
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.parametrize('name,argv,expect', [
    ('bashate', ['-v', '-eE*'], 'E003'),
    ('shellcheck', [], 'SC2086'),
])
def test_the_checker_catches_a_fault(tmp_path, name, argv, expect):
    bad = tmp_path / 'bad.sh'
    bad.write_text(BAD)
    proc = run([tool(name)] + argv + [str(bad)])
    assert proc.returncode != 0
    assert expect in proc.stdout + proc.stderr


def test_every_shell_file_of_the_plugin_is_checked():
    shell = sorted(os.path.relpath(os.path.join(d, f), REPO)
                   for d, _, files in os.walk(os.path.join(REPO, 'devstack'))
                   for f in files if not f.endswith('.rst'))
    assert shell == sorted(f for f in FILES if f.startswith('devstack/'))
    tox = open(os.path.join(REPO, 'tox.ini')).read()
    for f in FILES:
        assert tox.count(f) == 2, '%s missing from tox.ini' % f
