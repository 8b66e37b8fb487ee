"""Exactness on traffic of real peers, captured on a tap-like veth.

A namespace "VM" runs Kamailio, nginx and dnsmasq; SIPp, curl, wrk and
dig talk to it from the root namespace; the root end of the veth is
captured as the agent captures a Nova tap. For every capture, ``dpiaas
replay --vm-ip`` totals must equal tshark's counts metric by metric, and
tshark's counts must agree with what the peers themselves say they sent
and received (so that the reference is checked too).
"""
import collections
import os
import shutil

import pytest

from tests.functional import netns
from tests.functional.dpi import conftest
from tests.functional.dpi import peers

SIP = ('udp/5060=sip', 'tcp/5060=sip')
HTTP = ('tcp/80=http',)
DNS = ('udp/53=dns', 'tcp/53=dns')

SIPP_CALLS = {'u1': 20, 't1': 50}

pytestmark = [
    pytest.mark.root,
    pytest.mark.slow,
    pytest.mark.skipif(os.geteuid() != 0,
                       reason='needs root for network namespaces'),
]


def require(*tools):
    missing = [t for t in tools if not shutil.which(t)]
    if missing:
        pytest.skip('needs %s (Debian: tshark sip-tester kamailio '
                    'nginx-light curl wrk dnsmasq-base dnsutils)'
                    % ', '.join(missing))


@pytest.fixture(scope='module')
def vm():
    require('ip', 'dumpcap', 'tshark')
    with netns.veth_host(peers.free_subnet_octet()) as host:
        yield host


@pytest.fixture(scope='module')
def kamailio(vm, tmp_path_factory):
    require('kamailio', 'sipp')
    with peers.Kamailio(vm, tmp_path_factory.mktemp('kamailio')) as server:
        yield server


@pytest.fixture(scope='module')
def nginx(vm, tmp_path_factory):
    require('nginx', 'curl', 'wrk')
    with peers.Nginx(vm, tmp_path_factory.mktemp('nginx')) as server:
        yield server


@pytest.fixture(scope='module')
def dnsmasq(vm, tmp_path_factory):
    require('dnsmasq', 'dig')
    with peers.Dnsmasq(vm, tmp_path_factory.mktemp('dnsmasq')) as server:
        yield server


@pytest.fixture
def capture(vm, tmp_path):
    """``with capture(name) as cap:`` records the tap into tmp_path."""
    def start(name):
        return peers.Capture(vm, tmp_path / (name + '.pcap'))
    return start


def assert_exact(cap, services, vm, replay, reference):
    """dpiaas replay totals equal tshark's; return tshark's totals."""
    assert cap.drops == 0, 'dumpcap dropped packets: the test is void'
    expected = reference(cap.path, services, vm.ip)
    got = replay(cap.path, services, vm.ip)
    diff = conftest.differences(expected, got)
    assert not diff, '%s: dpiaas replay differs from tshark:\n%s' % (
        cap.path, conftest.format_differences(diff, got))
    return expected


def by_class(codes, prefix):
    counts = collections.Counter()
    for code in codes:
        counts['%s.responses.%dxx' % (prefix, int(code) // 100)] += 1
    return counts


def only(counts, prefix, kind):
    return {k: v for k, v in counts.items()
            if k.startswith('%s.%s.' % (prefix, kind)) and v}


@pytest.mark.parametrize('transport', sorted(SIPP_CALLS))
def test_sipp_against_kamailio_is_counted_exactly(
        transport, vm, kamailio, capture, tmp_path, replay, reference):
    with capture('sip-' + transport) as cap:
        rc, sent, screen = peers.sipp(vm, tmp_path, transport,
                                      SIPP_CALLS[transport])
    assert rc == 0, screen[-3000:]
    totals = assert_exact(cap, SIP, vm, replay, reference)

    # SIPp's own screen (first sends plus retransmissions) is the truth
    # tshark must also see.
    methods = {'REGISTER': 'register', 'INVITE': 'invite', 'ACK': 'ack',
               'BYE': 'bye', 'OPTIONS': 'options'}
    requests = collections.Counter()
    codes = []
    for name, n in sent.items():
        if name.isdigit():
            codes += [name] * n
        else:
            requests['sip.5060.requests.%s'
                     % methods.get(name, 'other')] += n
    assert only(totals, 'sip.5060', 'requests') == dict(requests)
    assert only(totals, 'sip.5060', 'responses') == dict(
        by_class(codes, 'sip.5060'))
    # rc 0: every call of the scenario succeeded (retransmissions add).
    _, per_call, _ = peers.sipp_scenario()
    for method, n in per_call.items():
        assert sent[method] >= n * SIPP_CALLS[transport], method


CURL_PLAN = (
    ('GET', '/index.html', ()),
    ('GET', '/missing', ()),
    ('GET', '/old', ()),
    ('GET', '/fail', ()),
    ('GET', '/error', ()),
    ('POST', '/api/form', ('--data', 'a=1&b=2')),
    ('POST', '/api/upload', ('--data-binary', '@{body}',
                             '-H', 'Expect: 100-continue')),
    ('PUT', '/api/item', ('--data-binary', '@{body}')),
    ('DELETE', '/api/item', ()),
    ('HEAD', '/index.html', ()),
    ('PATCH', '/api/item', ('--data', 'c=3')),
    ('GET', '/big.bin', ()),
)


def test_curl_against_nginx_is_counted_exactly(
        vm, nginx, capture, tmp_path, replay, reference):
    body = tmp_path / 'body.bin'
    body.write_bytes(b'dpiaas' * 1000)
    plan = [(method, path, tuple(a.format(body=body) for a in args))
            for method, path, args in CURL_PLAN]
    with capture('http-curl') as cap:
        codes = peers.curl(vm, plan)
    totals = assert_exact(cap, HTTP, vm, replay, reference)

    requests = collections.Counter(
        'http.80.requests.%s' % (m.lower() if m in ('GET', 'POST', 'PUT',
                                                    'DELETE') else 'other')
        for m, _, _ in plan)
    assert only(totals, 'http.80', 'requests') == dict(requests)
    # curl reports every response head, the interim 100 Continue too.
    assert 100 in codes and 301 in codes and 404 in codes
    assert only(totals, 'http.80', 'responses') == dict(
        by_class(codes, 'http.80'))


@pytest.mark.parametrize('depth', [1, 4], ids=['keepalive', 'pipelined'])
def test_wrk_load_against_nginx_is_counted_exactly(
        depth, vm, nginx, capture, tmp_path, replay, reference):
    connections = 2
    with capture('http-wrk-%d' % depth) as cap:
        done, errors = peers.wrk(vm, tmp_path, duration_s=1,
                                 connections=connections, depth=depth)
    totals = assert_exact(cap, HTTP, vm, replay, reference)

    # wrk counts completed requests; those in flight when it stops were on
    # the wire too, at most a pipeline's worth per connection.
    sent = totals['http.80.requests.get']
    answered = sum(only(totals, 'http.80', 'responses').values())
    assert done > 0
    assert done <= answered <= sent <= done + connections * depth
    failed = (totals['http.80.responses.4xx'] +
              totals['http.80.responses.5xx'])
    assert errors <= failed <= errors + connections * depth


DIG_QUERIES = (
    ('www.example.test', 'A'),
    ('wild.example.test', 'A'),
    ('nope.example.test', 'A'),
    ('elsewhere.org', 'A'),
    ('big.example.test', 'TXT'),    # 3.7 KB: IP fragments over UDP
    ('www.example.test', 'A', '+opcode=2'),
    ('www.example.test', 'A', '+header-only'),
)
DIG_RCODES = {'NOERROR': 'noerror', 'NXDOMAIN': 'nxdomain',
              'SERVFAIL': 'servfail', 'REFUSED': 'refused'}


@pytest.mark.parametrize('tcp', [False, True], ids=['udp', 'tcp'])
def test_dig_against_dnsmasq_is_counted_exactly(
        tcp, vm, dnsmasq, capture, replay, reference):
    with capture('dns-%s' % ('tcp' if tcp else 'udp')) as cap:
        statuses = peers.dig(vm, DIG_QUERIES, tcp=tcp)
    totals = assert_exact(cap, DNS, vm, replay, reference)

    assert totals['dns.53.queries'] == len(DIG_QUERIES)
    answers = collections.Counter(
        'dns.53.responses.%s' % DIG_RCODES.get(s, 'other')
        for s in statuses)
    assert only(totals, 'dns.53', 'responses') == dict(answers)
    assert {'dns.53.responses.noerror', 'dns.53.responses.nxdomain',
            'dns.53.responses.refused'} <= set(answers)
