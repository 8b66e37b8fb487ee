#!/usr/bin/env python3
"""Write dpiaas/dpi/samples/sample.pcap: a small, deterministic capture of a
"VM" (198.18.0.10) serving SIP (udp/5060), HTTP (tcp/80) and DNS (udp/53)
for ten seconds, with one quiet second. It is the README's sample for
``dpiaas replay``; regenerate it with this script (needs scapy)."""
import os
import sys

from scapy.all import DNS, DNSQR, DNSRR, Ether, IP, TCP, UDP, wrpcap

VM = '198.18.0.10'
VM_MAC = 'fa:16:3e:00:00:10'
CLIENT_MAC = 'fa:16:3e:00:00:20'
T0 = 1767225600.0   # 2026-01-01T00:00:00Z


def sip(method_or_status, call, cseq, client, inbound, t):
    if method_or_status.isdigit():
        first = 'SIP/2.0 %s Reason' % method_or_status
        method = cseq[1]
    else:
        first = '%s sip:svc@%s SIP/2.0' % (method_or_status, VM)
        method = method_or_status
    msg = ('%s\r\nVia: SIP/2.0/UDP %s:5060;branch=z9hG4bK%s\r\n'
           'From: <sip:alice@x>;tag=1\r\nTo: <sip:svc@x>\r\n'
           'Call-ID: %s\r\nCSeq: %d %s\r\nContent-Length: 0\r\n\r\n'
           % (first, client, call, call, cseq[0], method))
    src, dst = (client, VM) if inbound else (VM, client)
    smac, dmac = (CLIENT_MAC, VM_MAC) if inbound else (VM_MAC, CLIENT_MAC)
    p = Ether(src=smac, dst=dmac) / IP(src=src, dst=dst) / \
        UDP(sport=5060, dport=5060) / msg.encode()
    p.time = T0 + t
    return p


def main(out):
    pkts = []
    client = '198.18.0.20'
    t = 0.05
    for k in range(8):
        call = 'c%d@sample' % k
        pkts.append(sip('REGISTER', call, (1, 'REGISTER'), client, True, t))
        pkts.append(sip('401', call, (1, 'REGISTER'), client, False,
                        t + 0.002))
        pkts.append(sip('REGISTER', call, (2, 'REGISTER'), client, True,
                        t + 0.01))
        pkts.append(sip('200', call, (2, 'REGISTER'), client, False,
                        t + 0.02 + 0.001 * k))
        t += 0.6 if k != 4 else 1.6    # one quiet second
    inv = 'invite1@sample'
    for dt, what, cseq, inbound in ((0.1, 'INVITE', (1, 'INVITE'), True),
                                    (0.11, '100', (1, 'INVITE'), False),
                                    (0.2, '180', (1, 'INVITE'), False),
                                    (0.9, '200', (1, 'INVITE'), False),
                                    (0.91, 'ACK', (1, 'ACK'), True),
                                    (3.0, 'BYE', (2, 'BYE'), True),
                                    (3.01, '200', (2, 'BYE'), False)):
        pkts.append(sip(what, inv, cseq, client, inbound, 1.0 + dt))
    # HTTP: one keep-alive connection with pipelined requests.
    web = '198.18.0.30'

    def tcp(inbound, flags, seq, ack, payload=b'', t=0.0):
        src, dst = (web, VM) if inbound else (VM, web)
        sport, dport = (40000, 80) if inbound else (80, 40000)
        smac, dmac = (CLIENT_MAC, VM_MAC) if inbound else (VM_MAC,
                                                           CLIENT_MAC)
        p = Ether(src=smac, dst=dmac) / IP(src=src, dst=dst) / \
            TCP(sport=sport, dport=dport, flags=flags, seq=seq, ack=ack) / \
            payload
        p.time = T0 + t
        return p
    c, s = 1000, 5000
    pkts.append(tcp(True, 'S', c, 0, t=2.0))
    pkts.append(tcp(False, 'SA', s, c + 1, t=2.001))
    pkts.append(tcp(True, 'A', c + 1, s + 1, t=2.002))
    c += 1
    s += 1
    reqs = (b'GET /index.html HTTP/1.1\r\nHost: vm\r\n\r\n'
            b'GET /missing HTTP/1.1\r\nHost: vm\r\n\r\n')
    pkts.append(tcp(True, 'PA', c, s, reqs, t=2.01))
    c += len(reqs)
    body = b'x' * 1000
    r1 = b'HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n' + body
    r2 = b'HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n'
    pkts.append(tcp(False, 'PA', s, c, r1[:600], t=2.03))
    pkts.append(tcp(False, 'PA', s + 600, c, r1[600:] + r2, t=2.031))
    s += len(r1) + len(r2)
    post = b'POST /api HTTP/1.1\r\nHost: vm\r\nContent-Length: 5\r\n\r\nhello'
    pkts.append(tcp(True, 'PA', c, s, post, t=4.0))
    c += len(post)
    r3 = b'HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n'
    pkts.append(tcp(False, 'PA', s, c, r3, t=4.2))
    s += len(r3)
    pkts.append(tcp(True, 'FA', c, s, t=6.0))
    pkts.append(tcp(False, 'FA', s, c + 1, t=6.001))
    pkts.append(tcp(True, 'A', c + 1, s + 1, t=6.002))
    # DNS: answered, NXDOMAIN, unanswered.
    resolver = '198.18.0.40'
    for k, (name, rcode, answered) in enumerate((
            ('www.example.test.', 0, True), ('nope.example.test.', 3, True),
            ('slow.example.test.', 0, False))):
        q = Ether(src=CLIENT_MAC, dst=VM_MAC) / IP(src=resolver, dst=VM) / \
            UDP(sport=33000 + k, dport=53) / \
            DNS(id=100 + k, rd=1, qd=DNSQR(qname=name))
        q.time = T0 + 7.0 + k * 0.3
        pkts.append(q)
        if answered:
            an = DNSRR(rrname=name, rdata='198.18.0.10') if rcode == 0 \
                else None
            r = Ether(src=VM_MAC, dst=CLIENT_MAC) / IP(src=VM, dst=resolver) \
                / UDP(sport=53, dport=33000 + k) / DNS(
                    id=100 + k, qr=1, rd=1, ra=1, rcode=rcode,
                    qd=DNSQR(qname=name), an=an)
            r.time = q.time + 0.004
            pkts.append(r)
    pkts.sort(key=lambda p: p.time)
    wrpcap(out, pkts)
    return len(pkts)


if __name__ == '__main__':
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.path.dirname(__file__), '..', 'dpiaas', 'dpi', 'samples',
        'sample.pcap')
    print('%d packets -> %s' % (main(out), out))
