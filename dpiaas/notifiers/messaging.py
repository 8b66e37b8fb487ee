"""oslo.messaging notification ``dpiaas.alarm.state_change``.

Driver and topics come from ``[oslo_messaging_notifications]`` as in every
OpenStack service; the transport from the engine (or
``get_notification_transport``).
"""
from oslo_log import log as logging

from dpiaas.notifiers import base

LOG = logging.getLogger(__name__)


class MessagingNotifier(base.Notifier):
    name = 'messaging'

    def __init__(self, conf, transport=None):
        super().__init__(conf)
        import oslo_messaging
        if transport is None:
            transport = oslo_messaging.get_notification_transport(conf)
        self._notifier = oslo_messaging.Notifier(
            transport, publisher_id=conf.notifier.publisher_id)

    def notify(self, payload, monitor):
        from dpiaas.notifiers import EVENT_TYPE
        ctxt = {'project_id': payload.get('project_id')}
        if payload['state'] == 'alarm':
            self._notifier.warn(ctxt, EVENT_TYPE, payload)
        else:
            self._notifier.info(ctxt, EVENT_TYPE, payload)
