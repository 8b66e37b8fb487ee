"""Fixtures of the end-to-end tests: the paper's testbed, once per module.

The testbed needs root and real servers from Debian packages. Without
root the tests skip (they are marked ``root``); without a package they
skip on a workstation and fail in CI (``CI=true``), where bindep.txt
installs them. The delay and loss anomalies need
``../shared/tools/nfq_shaper.py``: without that folder they skip.
"""
import os

import pytest

from tests.e2e import testbed as testbed_pkg
from tests.e2e.testbed import anomalies


def _unavailable(reason):
    if os.environ.get('CI', '').lower() == 'true':
        pytest.fail('e2e testbed cannot run in CI: %s' % reason)
    pytest.skip(reason)


@pytest.fixture(scope='session')
def require_testbed():
    """Skip (fail in CI) unless the testbed can be built here."""
    if os.geteuid() != 0:
        pytest.skip('needs root for network namespaces')
    why = testbed_pkg.missing_prerequisites()
    if why:
        _unavailable('; '.join(why))


@pytest.fixture(scope='session')
def require_shaper():
    """Skip when ``nfq_shaper.py`` (in ../shared/tools) is not there."""
    if not os.path.exists(anomalies.SHAPER):
        pytest.skip('needs %s (the shared tools folder)' % anomalies.SHAPER)


@pytest.fixture(scope='module')
def testbed(require_testbed, tmp_path_factory):
    """A running testbed with its steady load, torn down after the module.

    Tests must leave it as they found it (restore what they inject).
    """
    workdir = tmp_path_factory.mktemp('testbed')
    with testbed_pkg.Testbed(workdir) as tb:
        tb.start_load()
        yield tb
