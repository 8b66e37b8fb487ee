"""Alarm state change notifiers (stevedore ``dpiaas.notifiers``).

The engine builds one :class:`NotifierManager` and hands it each
transition the alarm evaluator returns, with the monitor (for its
``alarm_actions`` / ``ok_actions``) and the alarm. Only changes are
notified: the evaluator emits transitions only, and the manager also drops
an event whose state equals the last one it notified for that alarm (a
restart or a replay must not notify twice).
"""
import threading

from oslo_log import log as logging
from stevedore import driver

LOG = logging.getLogger(__name__)
NAMESPACE = 'dpiaas.notifiers'
EVENT_TYPE = 'dpiaas.alarm.state_change'


def payload(alarm, monitor, event):
    """The notification body of DESIGN.md 4.6 for one transition."""
    return {
        'alarm_id': alarm.get('id'),
        'monitor_id': monitor.get('id'),
        'monitor_name': monitor.get('name'),
        'project_id': monitor.get('project_id'),
        'previous': event['previous'],
        'state': event['state'],
        'reason': event['reason'],
        'severity': event.get('severity'),
        'score': event.get('score'),
        'explanation': event.get('explanation') or [],
        'timestamp': event['timestamp'],
    }


class NotifierManager(object):
    def __init__(self, conf, transport=None, names=None):
        self.conf = conf
        self.notifiers = []
        self._last = {}
        self._lock = threading.Lock()
        for name in (names if names is not None
                     else conf.notifier.drivers):
            try:
                mgr = driver.DriverManager(
                    NAMESPACE, name, invoke_on_load=True,
                    invoke_args=(conf,),
                    invoke_kwds={'transport': transport})
            except Exception as e:
                LOG.error('Notifier %s could not be loaded (%s); alarms '
                          'will not be sent through it', name, e)
                continue
            self.notifiers.append(mgr.driver)

    def notify(self, alarm, monitor, event):
        """Send one transition everywhere; returns the payload or None
        when it repeated the last notified state."""
        key = alarm.get('id') or monitor.get('id')
        with self._lock:
            if self._last.get(key) == event['state']:
                return None
            self._last[key] = event['state']
        body = payload(alarm, monitor, event)
        for n in self.notifiers:
            try:
                n.notify(body, monitor)
            except Exception:
                LOG.exception('Notifier %s failed for alarm %s', n.name,
                              key)
        return body

    def stop(self):
        for n in self.notifiers:
            n.stop()
