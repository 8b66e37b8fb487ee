"""The notifier manager, the log and the oslo.messaging notifiers."""
import logging

import oslo_messaging
from oslo_messaging.notify import _impl_test

from dpiaas import notifiers

ALARM = {'id': 'a1'}
MONITOR = {'id': 'm1', 'name': 'sprout', 'project_id': 'p1',
           'alarm_actions': [], 'ok_actions': []}
EVENT = {'previous': 'ok', 'state': 'alarm', 'reason': 'anomalous: x',
         'score': 2.5, 'severity': 'moderate',
         'explanation': [{'metric': 'sip.5060.responses.2xx'}],
         'timestamp': 10.0}


def test_payload_matches_design():
    p = notifiers.payload(ALARM, MONITOR, EVENT)
    for key in ('alarm_id', 'monitor_id', 'project_id', 'previous',
                'state', 'score', 'explanation', 'timestamp', 'reason'):
        assert key in p
    assert p['project_id'] == 'p1'


def test_log_notifier_and_change_only(conf, caplog):
    m = notifiers.NotifierManager(conf, names=['log'])
    with caplog.at_level(logging.INFO):
        assert m.notify(ALARM, MONITOR, EVENT) is not None
        assert m.notify(ALARM, MONITOR, EVENT) is None     # no change
        m.notify(ALARM, MONITOR, dict(EVENT, previous='alarm', state='ok'))
    lines = [r.getMessage() for r in caplog.records
             if 'Alarm a1' in r.getMessage()]
    assert len(lines) == 2
    assert 'ok -> alarm' in lines[0] and 'alarm -> ok' in lines[1]


def test_messaging_notification_event_type(conf):
    transport = oslo_messaging.get_notification_transport(conf,
                                                          url='fake://')
    conf.set_override('driver', ['test'],
                      group='oslo_messaging_notifications')
    _impl_test.reset()
    m = notifiers.NotifierManager(conf, transport=transport,
                                  names=['messaging'])
    m.notify(ALARM, MONITOR, EVENT)
    sent = _impl_test.NOTIFICATIONS
    assert len(sent) == 1
    ctxt, message, priority, retry = sent[0]
    assert message['event_type'] == 'dpiaas.alarm.state_change'
    assert message['payload']['state'] == 'alarm'
    assert message['publisher_id'] == 'dpiaas.engine'


def test_unknown_notifier_is_logged_not_fatal(conf, caplog):
    m = notifiers.NotifierManager(conf, names=['nope', 'log'])
    assert [n.name for n in m.notifiers] == ['log']
