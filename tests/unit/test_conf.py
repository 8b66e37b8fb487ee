from oslo_config import cfg

from dpiaas import conf
from dpiaas import opts
from dpiaas.conf import dpi as dpi_conf
from dpiaas.dpi import settings


def test_every_dpi_setting_has_an_option_and_back():
    c = cfg.ConfigOpts()
    conf.register_opts(c)
    c([], project='dpiaas')
    s = dpi_conf.settings_from_conf(c)
    assert s == settings.DpiSettings()
    c.set_override('interval_ms', 250, group='dpi')
    assert dpi_conf.settings_from_conf(c).interval_ms == 250


def test_list_opts_names_the_dpi_group():
    groups = dict(opts.list_opts())
    names = {o.name for o in groups['dpi']}
    assert {'interval_ms', 'flow_table_size', 'regulator_bytes'} <= names
