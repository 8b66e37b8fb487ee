import pytest
from oslo_config import cfg

from dpiaas import conf
from dpiaas import opts
from dpiaas.conf import detect as detect_conf
from dpiaas.detect import params


def _conf():
    c = cfg.ConfigOpts()
    conf.register_opts(c)
    c([], project='dpiaas')
    return c


def test_defaults_match_the_library():
    assert detect_conf.params_for(_conf()) == params.DetectorParams()


def test_monitor_detector_dict_overrides_operator_defaults():
    c = _conf()
    c.set_override('baseline_s', 600, group='detector')
    p = detect_conf.params_for(c, {'sensitivity': 0.9})
    assert p.baseline_s == 600 and p.sensitivity == 0.9


def test_bad_monitor_setting_is_a_clear_error():
    with pytest.raises(params.InvalidParams):
        detect_conf.params_for(_conf(), {'baseline_s': -1})


def test_groups_are_listed_for_the_generator():
    groups = dict(opts.list_opts())
    assert 'sensitivity' in {o.name for o in groups['detector']}
    assert 'allow_private_webhooks' in {o.name for o in groups['notifier']}
