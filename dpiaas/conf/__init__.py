"""oslo.config options of dpiaas, one module per group.

Options are registered on a ``ConfigOpts`` passed in (never a global), so
that services and tests build their own configuration.
"""
from dpiaas.conf import agent
from dpiaas.conf import api
from dpiaas.conf import dashboard
from dpiaas.conf import database
from dpiaas.conf import detect
from dpiaas.conf import dpi
from dpiaas.conf import engine
from dpiaas.conf import inventory
from dpiaas.conf import notifier

MODULES = (agent, api, dashboard, database, detect, dpi, engine, inventory,
           notifier)


def register_opts(conf):
    for module in MODULES:
        module.register_opts(conf)


def list_opts():
    """(group, options) pairs for oslo-config-generator."""
    out = []
    for module in MODULES:
        out.extend(module.list_opts())
    return out
