"""Webhooks: SSRF refusal, delivery to a real server, retries."""
import socket

import pytest

from dpiaas.notifiers import webhook

ALARM = {'alarm_id': 'a1', 'monitor_id': 'm1', 'project_id': 'p1',
         'previous': 'ok', 'state': 'alarm', 'reason': 'r', 'score': 3.0,
         'severity': 'moderate', 'explanation': [], 'timestamp': 1.0}
OK = dict(ALARM, previous='alarm', state='ok')


def _resolver(addr):
    def resolve(host, port, *a):
        fam = socket.AF_INET6 if ':' in addr else socket.AF_INET
        return [(fam, socket.SOCK_STREAM, 6, '', (addr, port))]
    return resolve


@pytest.mark.parametrize('addr', [
    '127.0.0.1', '10.1.2.3', '172.16.0.1', '192.168.1.1',
    '169.254.169.254', '169.254.1.1', '::1', 'fe80::1', 'fd00::1',
    '0.0.0.0', '100.64.0.1', '::ffff:127.0.0.1', '224.0.0.1'])
def test_private_addresses_are_refused_after_resolution(addr):
    with pytest.raises(webhook.RefusedURL) as e:
        webhook.check_url('http://hooks.example.com/x',
                          resolve=_resolver(addr))
    assert 'allow_private_webhooks' in str(e.value)


def test_public_address_is_accepted():
    parsed, addr = webhook.check_url('https://hooks.example.com/x',
                                     resolve=_resolver('203.0.113.10'
                                                       if False else
                                                       '8.8.8.8'))
    assert addr == '8.8.8.8'


def test_name_resolving_to_loopback_is_refused():
    with pytest.raises(webhook.RefusedURL):
        webhook.check_url('http://localhost:8080/hook')


@pytest.mark.parametrize('url', ['file:///etc/passwd', 'gopher://x/',
                                 'http:///nohost', 'ftp://8.8.8.8/'])
def test_other_schemes_and_hostless_urls_are_refused(url):
    with pytest.raises(webhook.RefusedURL):
        webhook.check_url(url)


def test_unresolvable_host_is_refused():
    with pytest.raises(webhook.RefusedURL):
        webhook.check_url('http://no-such-host.invalid/')


def test_refused_by_default_with_a_real_local_server(conf, server):
    n = webhook.WebhookNotifier(conf)
    n.notify(ALARM, {'alarm_actions': [server.url + '/hook']})
    assert n.flush(timeout=10)
    assert server.calls == 0 and n.failed == 1


def test_delivered_when_operator_allows_private(conf, server):
    conf.set_override('allow_private_webhooks', True, group='notifier')
    n = webhook.WebhookNotifier(conf)
    n.notify(ALARM, {'alarm_actions': [server.url + '/hook'],
                     'ok_actions': [server.url + '/ok']})
    n.notify(OK, {'alarm_actions': [server.url + '/hook'],
                  'ok_actions': [server.url + '/ok']})
    assert n.flush(timeout=10)
    paths = [p for p, _, _ in server.received]
    assert paths == ['/hook', '/ok']
    assert server.received[0][2]['state'] == 'alarm'
    assert server.received[0][1].startswith('127.0.0.1:')
    n.stop()


def test_retries_on_server_errors(conf, server):
    conf.set_override('allow_private_webhooks', True, group='notifier')
    server.statuses = [500, 503]
    n = webhook.WebhookNotifier(conf)
    n.notify(ALARM, {'alarm_actions': [server.url + '/hook']})
    assert n.flush(timeout=10)
    assert server.calls == 3 and n.delivered == 1


def test_gives_up_after_max_retries(conf, server):
    conf.set_override('allow_private_webhooks', True, group='notifier')
    conf.set_override('webhook_max_retries', 1, group='notifier')
    server.statuses = [500, 500, 500]
    n = webhook.WebhookNotifier(conf)
    n.notify(ALARM, {'alarm_actions': [server.url + '/hook']})
    assert n.flush(timeout=10)
    assert server.calls == 2 and n.failed == 1


def test_client_error_is_not_retried(conf, server):
    conf.set_override('allow_private_webhooks', True, group='notifier')
    server.statuses = [404]
    n = webhook.WebhookNotifier(conf)
    n.notify(ALARM, {'alarm_actions': [server.url + '/hook']})
    assert n.flush(timeout=10)
    assert server.calls == 1 and n.failed == 1


def test_timeout_counts_as_failure(conf):
    conf.set_override('allow_private_webhooks', True, group='notifier')
    conf.set_override('webhook_timeout', 0.2, group='notifier')
    conf.set_override('webhook_max_retries', 0, group='notifier')
    srv = socket.socket()
    srv.bind(('127.0.0.1', 0))
    srv.listen(1)          # accepts, never answers
    try:
        n = webhook.WebhookNotifier(conf)
        url = 'http://127.0.0.1:%d/' % srv.getsockname()[1]
        assert n.post(url, ALARM) is False
    finally:
        srv.close()


def test_no_actions_for_insufficient_data(conf):
    n = webhook.WebhookNotifier(conf)
    assert n.urls_for(dict(ALARM, state='insufficient_data'),
                      {'alarm_actions': ['x'], 'ok_actions': ['y']}) == []
