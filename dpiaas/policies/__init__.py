"""Policy in code: every rule of the API with its default (oslo.policy).

``list_rules`` is the ``oslo.policy.policies`` entry point
(``oslopolicy-sample-generator --namespace dpiaas``), ``get_enforcer`` the
``oslo.policy.enforcer`` one (``oslopolicy-policy-generator``); the API
builds its own enforcer on its ConfigOpts with ``make_enforcer``.
"""
import itertools

from oslo_config import cfg
from oslo_policy import policy

from dpiaas.policies import admin
from dpiaas.policies import alarm
from dpiaas.policies import base
from dpiaas.policies import metric
from dpiaas.policies import monitor
from dpiaas.policies import port


def list_rules():
    return list(itertools.chain(
        base.list_rules(), monitor.list_rules(), metric.list_rules(),
        alarm.list_rules(), admin.list_rules(), port.list_rules()))


def make_enforcer(conf):
    """An enforcer reading ``[oslo_policy]`` of ``conf``, defaults in code.

    Scope and the new defaults are enforced (deprecated rules would only
    widen access, and there are none).
    """
    enforcer = policy.Enforcer(conf)
    enforcer.register_defaults(list_rules())
    return enforcer


def get_enforcer():
    """The enforcer the oslopolicy-* command line tools inspect."""
    conf = cfg.ConfigOpts()
    conf([], project='dpiaas')
    return make_enforcer(conf)
