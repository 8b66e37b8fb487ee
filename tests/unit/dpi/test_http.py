from tests.unit.dpi import packets as P

GET = b'GET /a HTTP/1.1\r\nHost: vm\r\n\r\n'


def ok(body=b'', code=b'200 OK', extra=b''):
    return (b'HTTP/1.1 ' + code + b'\r\nContent-Length: %d\r\n' % len(body)
            + extra + b'\r\n' + body)


def totals(frames, service='tcp/80=http'):
    return P.totals(P.run(P.spec(service), frames))


def test_pipelined_requests_and_responses_in_one_segment_each():
    c = P.TcpConn()
    frames = c.handshake() + [
        c.client(GET + b'POST /b HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc'
                 + b'PUT /c HTTP/1.1\r\nContent-Length: 0\r\n\r\n'
                 + b'DELETE /d HTTP/1.1\r\n\r\n'
                 + b'PATCH /e HTTP/1.1\r\n\r\n'),
        c.server(ok(b'x' * 10) + ok(code=b'201 Created') + ok(
            code=b'301 Moved') + ok(code=b'404 Not Found')
            + ok(code=b'500 Oops'))]
    t = totals(frames)
    for method in ('get', 'post', 'put', 'delete', 'other'):
        assert t['http.80.requests.' + method] == 1, method
    assert t['http.80.responses.2xx'] == 2
    assert t['http.80.responses.3xx'] == 1
    assert t['http.80.responses.4xx'] == 1
    assert t['http.80.responses.5xx'] == 1
    assert t['http.80.malformed'] == 0


def test_header_split_across_segments_is_one_message():
    c = P.TcpConn()
    resp = ok(b'y' * 50)
    frames = c.handshake() + [c.client(GET[:7]), c.client(GET[7:20]),
                              c.client(GET[20:]), c.server(resp[:10]),
                              c.server(resp[10:40]), c.server(resp[40:])]
    t = totals(frames)
    assert t['http.80.requests.get'] == 1
    assert t['http.80.responses.2xx'] == 1


def test_body_that_looks_like_a_response_is_not_counted():
    c = P.TcpConn()
    body = ok(b'inner') * 3
    frames = c.handshake() + [c.client(GET), c.server(ok(body))]
    t = totals(frames)
    assert t['http.80.responses.2xx'] == 1


def test_chunked_body_with_trailer():
    c = P.TcpConn()
    resp = (b'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n'
            b'5\r\nhello\r\n1a;ext=1\r\n' + b'z' * 26 + b'\r\n0\r\n'
            b'X-Trailer: 1\r\n\r\n')
    frames = c.handshake() + [c.client(GET + GET), c.server(resp[:30]),
                              c.server(resp[30:]), c.server(ok())]
    t = totals(frames)
    assert t['http.80.responses.2xx'] == 2
    assert t['http.80.malformed'] == 0


def test_head_response_has_no_body_and_100_continue_is_1xx():
    c = P.TcpConn()
    frames = c.handshake() + [
        c.client(b'HEAD / HTTP/1.1\r\n\r\n'),
        c.server(b'HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n'),
        c.client(b'POST / HTTP/1.1\r\nExpect: 100-continue\r\n'
                 b'Content-Length: 2\r\n\r\n'),
        c.server(b'HTTP/1.1 100 Continue\r\n\r\n'),
        c.client(b'hi'),
        c.server(ok(b'done'))]
    t = totals(frames)
    assert t['http.80.requests.other'] == 1       # HEAD
    assert t['http.80.requests.post'] == 1
    assert t['http.80.responses.1xx'] == 1
    assert t['http.80.responses.2xx'] == 2


def test_retransmitted_segment_counts_its_message_once():
    c = P.TcpConn()
    frames = c.handshake()
    req = c.client(GET)
    frames += [req, req, c.server(ok())]
    t = totals(frames)
    assert t['http.80.requests.get'] == 1
    assert t['http.80.packets_in'] == 4     # but every packet counts


def test_lost_body_segment_does_not_lose_the_next_response():
    c = P.TcpConn()
    resp = ok(b'b' * 3000)
    frames = c.handshake() + [c.client(GET + GET), c.server(resp[:1000])]
    c.skip_server(1000)                      # segment lost before capture
    frames += [c.server(resp[2000:]), c.server(ok(code=b'404 Nope'))]
    t = totals(frames)
    assert t['http.80.responses.2xx'] == 1
    assert t['http.80.responses.4xx'] == 1


def test_latency_pairs_pipelined_requests_in_order():
    c = P.TcpConn()
    frames = c.handshake()
    frames = [(k * 1000, f) for k, f in enumerate(frames)]
    frames += [(10000000, c.client(GET + GET)),
               (20000000, c.server(ok())),       # 10 ms
               (40000000, c.server(ok()))]       # 30 ms
    reports = P.run(P.spec('tcp/80=http'), frames)
    m = reports[0].metrics
    assert m['http.80.latency_ms.p50'] == 20.0


def test_non_http_bytes_on_the_port_are_malformed_once():
    c = P.TcpConn()
    frames = c.handshake() + [c.client(b'\x16\x03\x01\x02\x00' + b'\x00' * 50),
                              c.client(b'\x00' * 40)]
    t = totals(frames)
    assert t['http.80.malformed'] == 1
    assert t['http.80.requests.get'] == 0


def test_connection_picked_up_mid_body_is_not_malformed():
    c = P.TcpConn()
    c.handshake()                            # not captured
    frames = [c.server(b'x' * 100), c.client(GET), c.server(ok())]
    t = totals(frames)
    assert t['http.80.malformed'] == 0
    assert t['http.80.requests.get'] == 1
    assert t['http.80.responses.2xx'] == 1


def test_upgrade_switches_the_connection_off():
    c = P.TcpConn()
    frames = c.handshake() + [
        c.client(b'GET /ws HTTP/1.1\r\nUpgrade: websocket\r\n\r\n'),
        c.server(b'HTTP/1.1 101 Switching Protocols\r\n\r\n'),
        c.server(b'\x81\x05HTTP/1.1 200 OK\r\n\r\n'),
        c.client(b'\x81\x85GET / HTTP/1.1\r\n\r\n')]
    t = totals(frames)
    assert t['http.80.requests.get'] == 1
    assert t['http.80.responses.1xx'] == 1
    assert t['http.80.responses.2xx'] == 0
    assert t['http.80.malformed'] == 0


def test_long_start_line_split_across_segments_keeps_its_tail():
    c = P.TcpConn(port=5060)
    uri = b'sip:' + b'u' * 700 + b'@x'
    req = (b'INVITE ' + uri + b' SIP/2.0\r\nCall-ID: 1\r\nCSeq: 1 INVITE\r\n'
           b'Content-Length: 0\r\n\r\n')
    frames = c.handshake() + [c.client(req[:300]), c.client(req[300:500]),
                              c.client(req[500:])]
    t = totals(frames, 'tcp/5060=sip')
    assert t['sip.5060.requests.invite'] == 1
    assert t['sip.5060.malformed'] == 0
