"""Alarm state changes into the engine's log."""
from oslo_log import log as logging

from dpiaas.notifiers import base

LOG = logging.getLogger(__name__)


class LogNotifier(base.Notifier):
    name = 'log'

    def notify(self, payload, monitor):
        level = LOG.warning if payload['state'] == 'alarm' else LOG.info
        level('Alarm %(alarm)s of monitor %(monitor)s (project '
              '%(project)s): %(previous)s -> %(state)s: %(reason)s',
              {'alarm': payload['alarm_id'],
               'monitor': payload['monitor_id'],
               'project': payload['project_id'],
               'previous': payload['previous'],
               'state': payload['state'], 'reason': payload['reason']})
