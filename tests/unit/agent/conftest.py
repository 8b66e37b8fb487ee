import pytest
from oslo_config import cfg

from dpiaas import conf as dpiaas_conf
from tests.unit.agent import fakes


@pytest.fixture
def conf():
    c = cfg.ConfigOpts()
    dpiaas_conf.register_opts(c)
    c([], project='dpiaas')
    c.set_override('host', 'h1')
    c.set_override('tap_retry_interval', 0.05, group='agent')
    c.set_override('engine_retry_interval', 0.05, group='agent')
    c.set_override('report_batch_interval', 0.05, group='agent')
    c.set_override('report_interval', 0.1, group='agent')
    return c


@pytest.fixture
def engine():
    return fakes.FakeEngine()


@pytest.fixture(autouse=True)
def _forget_fake_lives():
    fakes.FakeLive.instances.clear()
    yield
    fakes.FakeLive.instances.clear()
