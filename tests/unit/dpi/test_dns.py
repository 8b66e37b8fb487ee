import struct

from tests.unit.dpi import packets as P


def dns(ident, response=False, rcode=0, qname=b'\x03www\x04test\x00'):
    flags = (0x8180 if response else 0x0100) | rcode
    return struct.pack('!HHHHHH', ident, flags, 1, 0, 0, 0) + qname + \
        b'\x00\x01\x00\x01'


def test_queries_and_responses_by_rcode():
    frames = [P.udp(dns(k), sport=30000 + k, dport=53) for k in range(6)]
    for k, rcode in enumerate((0, 3, 2, 5, 4, 0)):
        frames.append(P.udp(dns(k, True, rcode), inbound=False, sport=53,
                            dport=30000 + k))
    t = P.totals(P.run(P.spec('udp/53=dns'), frames))
    assert t['dns.53.queries'] == 6
    assert t['dns.53.responses.noerror'] == 2
    assert t['dns.53.responses.nxdomain'] == 1
    assert t['dns.53.responses.servfail'] == 1
    assert t['dns.53.responses.refused'] == 1
    assert t['dns.53.responses.other'] == 1


def test_short_message_is_malformed():
    t = P.totals(P.run(P.spec('udp/53=dns'),
                       [P.udp(b'\x00\x01\x02', sport=3000, dport=53)]))
    assert t['dns.53.malformed'] == 1
    assert t['dns.53.queries'] == 0


def test_latency_pairs_by_flow_and_id():
    frames = [(0, P.udp(dns(7), sport=3000, dport=53)),
              (1000, P.udp(dns(7), sport=3001, dport=53)),
              (4000000, P.udp(dns(7, True), False, sport=53, dport=3000)),
              (9000000, P.udp(dns(7, True), False, sport=53, dport=3001))]
    reports = P.run(P.spec('udp/53=dns'), frames)
    m = reports[0].metrics
    assert m['dns.53.latency_ms.p50'] == 6.5


def test_dns_over_tcp_with_length_prefix_split_anywhere():
    c = P.TcpConn(port=53)
    q1, q2 = dns(1), dns(2)
    stream = struct.pack('!H', len(q1)) + q1 + struct.pack('!H', len(q2)) + q2
    r = dns(1, True, 3)
    resp = struct.pack('!H', len(r)) + r
    frames = c.handshake() + [c.client(stream[:1]), c.client(stream[1:9]),
                              c.client(stream[9:]), c.server(resp)]
    t = P.totals(P.run(P.spec('tcp/53=dns'), frames))
    assert t['dns.53.queries'] == 2
    assert t['dns.53.responses.nxdomain'] == 1
    assert t['dns.53.malformed'] == 0
