"""Entry point for oslo-config-generator (``oslo.config.opts``)."""
import itertools

from dpiaas import conf


def list_opts():
    """Every option of dpiaas, by group, for the sample config file."""
    groups = {}
    for group, opts in conf.list_opts():
        groups.setdefault(group, []).append(opts)
    return [(group, list(itertools.chain(*lists)))
            for group, lists in sorted(groups.items())]
