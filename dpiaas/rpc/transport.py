"""Transports, servers and clients of oslo.messaging, built the same way
everywhere.

All of dpiaas talks over one control exchange (``dpiaas`` unless
``[DEFAULT] control_exchange`` says otherwise) so that it shares a RabbitMQ
with other services without mixing topics. Servers use the threading
executor: no eventlet anywhere. Contexts travel as oslo.context dicts; a
caller with no context passes ``None``.

dpiaas changes one oslo.messaging default: ``[oslo_messaging_rabbit]
amqp_durable_queues`` is ``true`` (see :func:`set_messaging_defaults`).
Every dpiaas process builds its transports here, so the agent, the
engines, the API and the all-in-one declare their queues the same way.
"""
import importlib

import oslo_messaging as messaging
from oslo_context import context as o_context

CONTROL_EXCHANGE = 'dpiaas'


class ContextSerializer(messaging.Serializer):
    """Sends a RequestContext (or None) as a dict; entities go as they are
    (plain dicts, lists and numbers only)."""

    def serialize_entity(self, ctxt, entity):
        return entity

    def deserialize_entity(self, ctxt, entity):
        return entity

    def serialize_context(self, ctxt):
        if ctxt is None:
            return {}
        if isinstance(ctxt, dict):
            return dict(ctxt)
        return ctxt.to_dict()

    def deserialize_context(self, ctxt):
        return o_context.RequestContext.from_dict(ctxt or {})


class ExposedRPCAccessPolicy(messaging.DefaultRPCAccessPolicy):
    """Only an endpoint's ``rpc_methods`` (when it names them) can be
    called remotely, so that a manager's own ``start``/``stop`` are not."""

    def is_allowed(self, endpoint, method):
        allowed = getattr(endpoint, 'rpc_methods', None)
        if allowed is not None:
            return method in allowed
        return super().is_allowed(endpoint, method)


# oslo.messaging options whose default dpiaas changes: (group, name, value)
MESSAGING_DEFAULTS = (
    # The engines' topic queues must outlive a RabbitMQ restart: a
    # transient queue is deleted by the restart, and whatever the agents
    # publish after reconnecting but before the engine has declared it
    # again is routed nowhere and dropped by the broker (issue 7). A
    # durable queue (and its binding) is still there when the broker is
    # back, and keeps those messages until an engine consumes them.
    ('oslo_messaging_rabbit', 'amqp_durable_queues', True),
)


def set_messaging_defaults(conf):
    """Register the rabbit driver's options on ``conf`` and change the
    defaults of :data:`MESSAGING_DEFAULTS` (a value set in a config file
    still wins).

    The driver registers its options only when a transport is loaded,
    too late for ``set_default``; registering them first (the same
    option objects, so the driver's own registration is a no-op) is what
    oslo.messaging's ``opts.set_defaults`` does for its own options.
    """
    try:
        from oslo_messaging._drivers import amqp as amqp_driver
        from oslo_messaging._drivers import impl_rabbit
    except ImportError:   # no rabbit driver: nothing to default
        return
    conf.register_opts(amqp_driver.amqp_opts, group='oslo_messaging_rabbit')
    conf.register_opts(impl_rabbit.rabbit_opts,
                       group='oslo_messaging_rabbit')
    for group, name, value in MESSAGING_DEFAULTS:
        conf.set_default(name, value, group=group)


def _defaults(conf):
    messaging.set_transport_defaults(control_exchange=CONTROL_EXCHANGE)
    set_messaging_defaults(conf)
    # oslo.messaging registers its metrics and tracing options on the
    # global cfg.CONF only, but its clients and servers read them from the
    # conf they were given: without this a call on our own ConfigOpts
    # raises NoSuchOptError (oslo.messaging's own ConfFixture does the same)
    for module, group in (('oslo_messaging._metrics.client',
                           'oslo_messaging_metrics'),
                          ('oslo_messaging._tracing.client',
                           'oslo_messaging_tracing')):
        try:
            opts = getattr(importlib.import_module(module), group)
        except (ImportError, AttributeError):
            continue
        if group not in conf:
            conf.register_opts(opts, group=group)


def get_rpc_transport(conf, url=None):
    """The RPC transport of ``[DEFAULT] transport_url`` (or ``url``)."""
    _defaults(conf)
    return messaging.get_rpc_transport(conf, url=url)


def get_notification_transport(conf, url=None):
    """The notification transport (``[oslo_messaging_notifications]``)."""
    _defaults(conf)
    return messaging.get_notification_transport(conf, url=url)


def get_rpc_server(transport, target, endpoints):
    """A server for ``target`` dispatching to ``endpoints`` in threads.

    Only the endpoints' ``rpc_methods`` (or, without that list, their
    public methods) can be called remotely.
    """
    return messaging.get_rpc_server(
        transport, target, endpoints, executor='threading',
        serializer=ContextSerializer(),
        access_policy=ExposedRPCAccessPolicy)


def get_rpc_client(transport, target, version_cap=None, **kwargs):
    """A client of ``target`` that sends at most ``version_cap``."""
    return messaging.get_rpc_client(transport, target,
                                    version_cap=version_cap,
                                    serializer=ContextSerializer(), **kwargs)


def check_broker(conf, transport, timeout):
    """Raise ``ConnectionError`` unless the broker answers within
    ``timeout`` seconds.

    Only RabbitMQ is checked (with kombu, user and password included): the
    in-process ``fake://`` driver has no broker to be dead. Without this an
    oslo.messaging server started against a dead broker retries forever,
    silently.
    """
    url = messaging.TransportURL.parse(conf)
    if url.transport not in ('rabbit', 'amqp', 'kombu') or timeout <= 0:
        return
    import kombu
    errors = []
    for host in url.hosts or [messaging.TransportHost()]:
        conn = kombu.Connection(
            hostname=host.hostname or 'localhost', port=host.port or 5672,
            userid=host.username or 'guest',
            password=host.password or 'guest',
            virtual_host=url.virtual_host or '/',
            connect_timeout=timeout, transport='pyamqp')
        try:
            conn.ensure_connection(max_retries=1, timeout=timeout)
            return
        except Exception as exc:  # kombu/amqp raise many kinds
            errors.append('%s:%s: %s' % (host.hostname, host.port or 5672,
                                         exc))
        finally:
            conn.release()
    raise ConnectionError('cannot reach the message broker (%s)'
                          % '; '.join(errors))
