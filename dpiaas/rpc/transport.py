"""Transports, servers and clients of oslo.messaging, built the same way
everywhere.

All of dpiaas talks over one control exchange (``dpiaas`` unless
``[DEFAULT] control_exchange`` says otherwise) so that it shares a RabbitMQ
with other services without mixing topics. Servers use the threading
executor: no eventlet anywhere. Contexts travel as oslo.context dicts; a
caller with no context passes ``None``.
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


def _defaults(conf):
    messaging.set_transport_defaults(control_exchange=CONTROL_EXCHANGE)
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
