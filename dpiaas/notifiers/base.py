"""What a notifier offers."""


class Notifier(object):
    name = None

    def __init__(self, conf, transport=None):
        self.conf = conf

    def notify(self, payload, monitor):
        """Deliver one state change; must not block the engine for long."""
        raise NotImplementedError

    def stop(self):
        pass
