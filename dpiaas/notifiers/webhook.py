"""Webhooks: POST the state change as JSON to the monitor's URLs.

``alarm_actions`` are called when the alarm is raised, ``ok_actions`` when
it clears. Deliveries run in one worker thread with a bounded queue, so a
slow or dead endpoint never holds up alarm evaluation; each POST has a
timeout and is retried with exponential backoff on connection errors,
timeouts, 429 and 5xx.

Tenants choose these URLs, so the engine must not become their way into
the cloud's insides (aodh learned it): a URL whose host resolves to a
private, loopback, link-local (the 169.254.169.254 metadata service
included), multicast, reserved or unspecified address is refused, unless
``[notifier] allow_private_webhooks``. The check is made on the addresses
DNS returns; plain-HTTP requests are then sent to the checked address
(Host header kept) so that a second, different DNS answer cannot slip in.
Redirects are not followed.
"""
import ipaddress
import queue
import socket
import threading
import time
import urllib.parse

import requests
from oslo_log import log as logging
from oslo_serialization import jsonutils

from dpiaas.notifiers import base

LOG = logging.getLogger(__name__)


class RefusedURL(ValueError):
    pass


def _forbidden(ip):
    ip = ipaddress.ip_address(ip)
    if getattr(ip, 'ipv4_mapped', None):
        ip = ip.ipv4_mapped
    return (ip.is_private or ip.is_loopback or ip.is_link_local or
            ip.is_multicast or ip.is_reserved or ip.is_unspecified or
            not ip.is_global)


def check_url(url, allow_private=False, resolve=socket.getaddrinfo):
    """Validate a webhook URL; returns (parsed URL, first address).

    Raises RefusedURL with a one-line reason.
    """
    parsed = urllib.parse.urlsplit(url)
    if parsed.scheme not in ('http', 'https'):
        raise RefusedURL('webhook %s refused: only http and https URLs'
                         % url)
    host = parsed.hostname
    if not host:
        raise RefusedURL('webhook %s refused: no host' % url)
    port = parsed.port or (443 if parsed.scheme == 'https' else 80)
    try:
        infos = resolve(host, port, 0, socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as e:
        raise RefusedURL('webhook %s refused: %s does not resolve (%s)'
                         % (url, host, e))
    addrs = [i[4][0] for i in infos]
    if not addrs:
        raise RefusedURL('webhook %s refused: %s has no address'
                         % (url, host))
    if not allow_private:
        bad = [a for a in addrs if _forbidden(a.split('%')[0])]
        if bad:
            raise RefusedURL(
                'webhook %s refused: %s resolves to %s, a private, '
                'loopback, link-local or metadata address (the operator '
                'may set [notifier] allow_private_webhooks)'
                % (url, host, bad[0]))
    return parsed, addrs[0]


class WebhookNotifier(base.Notifier):
    name = 'webhook'

    def __init__(self, conf, transport=None, session=None):
        super().__init__(conf)
        opts = conf.notifier
        self.allow_private = opts.allow_private_webhooks
        self.timeout = opts.webhook_timeout
        self.retries = opts.webhook_max_retries
        self.backoff = opts.webhook_retry_backoff
        self.session = session or requests.Session()
        self._queue = queue.Queue(maxsize=opts.webhook_queue_size)
        self._thread = None
        self._lock = threading.Lock()
        self.delivered = 0
        self.failed = 0

    def urls_for(self, payload, monitor):
        if payload['state'] == 'alarm':
            return list(monitor.get('alarm_actions') or [])
        if payload['state'] == 'ok':
            return list(monitor.get('ok_actions') or [])
        return []

    def notify(self, payload, monitor):
        for url in self.urls_for(payload, monitor):
            try:
                self._queue.put_nowait((url, payload))
            except queue.Full:
                self.failed += 1
                LOG.error('Webhook queue full: POST to %s for alarm %s '
                          'dropped', _safe(url), payload['alarm_id'])
                continue
            self._ensure_worker()

    def _ensure_worker(self):
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, name='dpiaas-webhooks', daemon=True)
                self._thread.start()

    def _run(self):
        while True:
            item = self._queue.get()
            if item is None:
                self._queue.task_done()
                return
            try:
                ok = self.post(*item)
                if ok:
                    self.delivered += 1
                else:
                    self.failed += 1
            except Exception:
                self.failed += 1
                LOG.exception('Webhook delivery to %s crashed',
                              _safe(item[0]))
            finally:
                self._queue.task_done()

    def post(self, url, payload):
        """One delivery with retries; True when the endpoint took it."""
        try:
            parsed, addr = check_url(url, self.allow_private)
        except RefusedURL as e:
            LOG.warning('%s', e)
            return False
        target, headers = url, {'Content-Type': 'application/json'}
        if parsed.scheme == 'http':
            host = '[%s]' % addr if ':' in addr else addr
            netloc = host + (':%d' % parsed.port if parsed.port else '')
            target = urllib.parse.urlunsplit(parsed._replace(netloc=netloc))
            headers['Host'] = parsed.netloc.rsplit('@', 1)[-1]
        body = jsonutils.dumps(payload)
        delay = self.backoff
        for attempt in range(self.retries + 1):
            try:
                r = self.session.post(target, data=body, headers=headers,
                                      timeout=self.timeout,
                                      allow_redirects=False)
                if r.status_code < 300:
                    return True
                retry = r.status_code == 429 or r.status_code >= 500
                why = 'HTTP %d' % r.status_code
            except requests.RequestException as e:
                retry, why = True, e.__class__.__name__
            if not retry or attempt == self.retries:
                LOG.warning('Webhook POST to %s for alarm %s failed: %s '
                            '(attempt %d of %d)', _safe(url),
                            payload.get('alarm_id'), why, attempt + 1,
                            self.retries + 1)
                return False
            time.sleep(delay)
            delay *= 2
        return False

    def flush(self, timeout=None):
        """Wait until queued deliveries are done (tests, shutdown)."""
        end = None if timeout is None else time.monotonic() + timeout
        while self._queue.unfinished_tasks:
            if end is not None and time.monotonic() > end:
                return False
            time.sleep(0.01)
        return True

    def stop(self):
        if self._thread is not None and self._thread.is_alive():
            self._queue.put(None)
            self._thread.join(timeout=self.timeout * 2)


def _safe(url):
    """A URL for logs: no credentials, no query string."""
    p = urllib.parse.urlsplit(url)
    return urllib.parse.urlunsplit(
        (p.scheme, p.netloc.rsplit('@', 1)[-1], p.path, '', ''))
