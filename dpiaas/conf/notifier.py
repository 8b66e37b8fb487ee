"""[notifier] options: where alarm state changes go."""
from oslo_config import cfg

GROUP = 'notifier'

OPTS = [
    cfg.ListOpt('drivers', default=['log', 'messaging', 'webhook'],
                help='Notifiers (stevedore namespace dpiaas.notifiers) '
                     'told of every alarm state change.'),
    cfg.BoolOpt('allow_private_webhooks', default=False,
                help='Allow webhook URLs that resolve to private, '
                     'loopback, link-local (including the 169.254.169.254 '
                     'metadata service) or otherwise reserved addresses. '
                     'Off: a tenant cannot make the engine reach inside '
                     'the cloud.'),
    cfg.FloatOpt('webhook_timeout', default=5.0, min=0.1,
                 help='Seconds to connect to, and to wait for, a webhook.'),
    cfg.IntOpt('webhook_max_retries', default=3, min=0,
               help='Retries of a webhook POST that failed to connect, '
                    'timed out or got a 5xx/429 answer.'),
    cfg.FloatOpt('webhook_retry_backoff', default=1.0, min=0,
                 help='Seconds before the first retry, doubled each time.'),
    cfg.IntOpt('webhook_queue_size', default=1000, min=1,
               help='Webhook POSTs waiting for the worker thread; beyond '
                    'it new ones are dropped (and logged).'),
    cfg.StrOpt('publisher_id', default='dpiaas.engine',
               help='publisher_id of oslo.messaging notifications.'),
]


def register_opts(conf):
    conf.register_opts(OPTS, group=GROUP)


def list_opts():
    return [(GROUP, OPTS)]
