from tests.unit.dpi import packets as P


def sip_msg(first, call='a@b', cseq='1 REGISTER', extra=''):
    return ('%s\r\nVia: SIP/2.0/UDP x\r\nCall-ID: %s\r\nCSeq: %s\r\n%s'
            'Content-Length: 0\r\n\r\n' % (first, call, cseq, extra)).encode()


REG = 'REGISTER sip:x SIP/2.0'


def test_requests_by_method_and_responses_by_class():
    frames = [P.udp(sip_msg(REG)),
              P.udp(sip_msg('INVITE sip:x SIP/2.0', cseq='1 INVITE')),
              P.udp(sip_msg('ACK sip:x SIP/2.0', cseq='1 ACK')),
              P.udp(sip_msg('BYE sip:x SIP/2.0', cseq='2 BYE')),
              P.udp(sip_msg('OPTIONS sip:x SIP/2.0', cseq='1 OPTIONS')),
              P.udp(sip_msg('SUBSCRIBE sip:x SIP/2.0', cseq='1 SUBSCRIBE')),
              P.udp(sip_msg('SIP/2.0 100 Trying'), inbound=False),
              P.udp(sip_msg('SIP/2.0 200 OK'), inbound=False),
              P.udp(sip_msg('SIP/2.0 302 Moved'), inbound=False),
              P.udp(sip_msg('SIP/2.0 401 Unauthorized'), inbound=False),
              P.udp(sip_msg('SIP/2.0 503 Busy'), inbound=False),
              P.udp(sip_msg('SIP/2.0 603 Decline'), inbound=False)]
    t = P.totals(P.run(P.spec('udp/5060=sip'), frames))
    for name in ('register', 'invite', 'ack', 'bye', 'options', 'other'):
        assert t['sip.5060.requests.' + name] == 1, name
    for cls in range(1, 7):
        assert t['sip.5060.responses.%dxx' % cls] == 1
    assert t['sip.5060.packets_in'] == 6
    assert t['sip.5060.packets_out'] == 6
    assert t['sip.5060.malformed'] == 0


def test_retransmissions_count_as_messages_on_the_wire():
    frames = [P.udp(sip_msg(REG))] * 3
    t = P.totals(P.run(P.spec('udp/5060=sip'), frames))
    assert t['sip.5060.requests.register'] == 3


def test_latency_pairs_request_and_final_response_by_call_id_and_cseq():
    frames = [(0, P.udp(sip_msg(REG, call='c1'))),
              (5000000, P.udp(sip_msg(REG, call='c2'))),
              (10000000, P.udp(sip_msg('SIP/2.0 100 Trying', call='c1'),
                               inbound=False)),
              (40000000, P.udp(sip_msg('SIP/2.0 200 OK', call='c1'),
                               inbound=False)),
              (25000000, P.udp(sip_msg('SIP/2.0 200 OK', call='c2'),
                               inbound=False))]
    frames = sorted(frames)
    reports = P.run(P.spec('udp/5060=sip'), frames)
    m = reports[0].metrics
    # c2: 20 ms, c1: 40 ms (100 Trying does not end the transaction)
    assert m['sip.5060.latency_ms.p50'] == 30.0
    assert 38.0 < m['sip.5060.latency_ms.p95'] <= 40.0


def test_no_latency_metric_without_an_answered_request():
    reports = P.run(P.spec('udp/5060=sip'), [P.udp(sip_msg(REG))])
    assert 'sip.5060.latency_ms.p50' not in reports[0].metrics


def test_garbage_is_malformed_and_keepalives_are_ignored():
    frames = [P.udp(b'\x00\x01garbage'), P.udp(b'\r\n\r\n'),
              P.udp(b'SIP/2.0 9xx nonsense\r\n\r\n'),
              P.udp(sip_msg(REG))]
    t = P.totals(P.run(P.spec('udp/5060=sip'), frames))
    assert t['sip.5060.malformed'] == 2
    assert t['sip.5060.requests.register'] == 1


def test_compact_headers_pair_latency():
    req = (b'REGISTER sip:x SIP/2.0\r\ni: compact@x\r\nCSeq: 7 REGISTER\r\n'
           b'l: 0\r\n\r\n')
    resp = (b'SIP/2.0 200 OK\r\ni: compact@x\r\nCSeq: 7 REGISTER\r\n'
            b'l: 0\r\n\r\n')
    reports = P.run(P.spec('udp/5060=sip'),
                    [(0, P.udp(req)), (2000000, P.udp(resp, inbound=False))])
    assert reports[0].metrics['sip.5060.latency_ms.p50'] == 2.0


def test_sip_over_tcp_split_and_coalesced_messages():
    c = P.TcpConn(port=5060)
    body = b'v=0\r\n'
    m1 = sip_msg('INVITE sip:x SIP/2.0', cseq='1 INVITE').replace(
        b'Content-Length: 0', b'Content-Length: %d' % len(body)) + body
    m2 = sip_msg('OPTIONS sip:x SIP/2.0', cseq='2 OPTIONS')
    stream = m1 + m2 + m1
    frames = c.handshake() + [c.client(stream[:30]), c.client(stream[30:70]),
                              c.client(stream[70:])]
    frames.append(c.server(sip_msg('SIP/2.0 200 OK', cseq='1 INVITE')
                           + sip_msg('SIP/2.0 200 OK', cseq='2 OPTIONS')))
    t = P.totals(P.run(P.spec('tcp/5060=sip'), frames))
    assert t['sip.5060.requests.invite'] == 2
    assert t['sip.5060.requests.options'] == 1
    assert t['sip.5060.responses.2xx'] == 2
    assert t['sip.5060.malformed'] == 0


def test_http_on_the_sip_port_is_counted_as_http():
    c = P.TcpConn(port=5060)
    frames = c.handshake() + [
        c.client(b'GET / HTTP/1.1\r\nHost: x\r\n\r\n'),
        c.server(b'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok')]
    t = P.totals(P.run(P.spec('tcp/5060=sip'), frames))
    assert t['http.5060.requests.get'] == 1
    assert t['http.5060.responses.2xx'] == 1
    assert t['sip.5060.malformed'] == 0
    assert t['sip.5060.packets_in'] == 3     # packets belong to the service
