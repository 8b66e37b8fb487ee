"""The storage API of dpiaas: ``Storage(url)`` and ``get_storage(conf)``.

The internal contract is doc/source/contributor/control-plane.rst
("Storage"): plain dicts in and out, epoch-second floats, ``NotFound`` for
a missing id, ``project_id=None`` for "any project". One Storage is shared
by all the threads of a service.
"""
import os

from dpiaas.conf import database as db_conf
from dpiaas.db import alarms
from dpiaas.db import base
from dpiaas.db import exceptions
from dpiaas.db import resources
from dpiaas.db import retention
from dpiaas.db import samples

NotFound = exceptions.NotFound
InvalidMarker = exceptions.InvalidMarker
NotSynced = exceptions.NotSynced

DEFAULT_STATE_PATH = '/var/lib/dpiaas'
DEFAULT_AGENT_DOWN_TIME = 75
DEFAULT_ROLLUPS = db_conf.parse_rollups(db_conf.DEFAULT_ROLLUPS)


class Storage(resources.ResourcesMixin, alarms.AlarmsMixin,
              samples.SamplesMixin, retention.RetentionMixin,
              base.StorageBase):
    """Everything dpiaas keeps, in one SQL database.

    Refuses a database whose schema is not at this code's head revision
    (``dpiaas-manage db sync``, or :func:`dpiaas.db.migration.upgrade`).
    """

    def __init__(self, url, raw_retention=7200, rollups=DEFAULT_ROLLUPS,
                 flow_retention=86400, alarm_history_retention=7776000,
                 agent_down_time=DEFAULT_AGENT_DOWN_TIME, check_schema=True,
                 **engine_kwargs):
        super().__init__(url, check_schema=check_schema, **engine_kwargs)
        self.raw_retention = raw_retention
        self.rollups = [tuple(r) for r in rollups]
        self.flow_retention = flow_retention
        self.alarm_history_retention = alarm_history_retention
        self.agent_down_time = agent_down_time
        self._init_samples()


def state_path(conf):
    """``[DEFAULT] state_path`` where a service registers it, else
    ``DEFAULT_STATE_PATH``: where dpiaas keeps its files."""
    try:
        path = conf.state_path
    except Exception:  # option registered by another part, or not at all
        path = None
    return path or DEFAULT_STATE_PATH


def connection_url(conf):
    """``[database] connection``, or a SQLite file in the state path."""
    url = conf.database.connection
    if url:
        return url
    path = os.path.join(state_path(conf), 'dpiaas.sqlite')
    return 'sqlite:///' + os.path.abspath(path)


def get_storage(conf):
    """The Storage ``conf`` (with [database] registered) describes."""
    group = conf.database
    kwargs = {}
    try:
        kwargs['agent_down_time'] = conf.engine.agent_down_time
    except Exception:  # [engine] not registered in this service
        pass
    if not connection_url(conf).startswith('sqlite'):
        kwargs.update(pool_size=group.max_pool_size or 5,
                      pool_recycle=group.connection_recycle_time)
        if group.max_overflow is not None:
            kwargs['max_overflow'] = group.max_overflow
        if group.pool_timeout is not None:
            kwargs['pool_timeout'] = group.pool_timeout
    return Storage(connection_url(conf),
                   raw_retention=group.raw_retention,
                   rollups=db_conf.parse_rollups(group.rollups),
                   flow_retention=group.flow_retention,
                   alarm_history_retention=group.alarm_history_retention,
                   **kwargs)
