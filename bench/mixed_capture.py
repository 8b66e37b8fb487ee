# Licensed under the Apache License, Version 2.0 (the "License"); you may
# not use this file except in compliance with the License. You may obtain
# a copy of the License at
#
#      http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
# WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the
# License for the specific language governing permissions and limitations
# under the License.
"""A deterministic mixed capture, and the metric totals it must produce.

The speed acceptance of issue 2 needs a large capture that looks like one
VM's real traffic (SIP over UDP and TCP, HTTP keep-alive with pipelining,
DNS over UDP and TCP, background noise, VLAN tags, IPv6, IP fragments) and
whose DESIGN.md 4.2 totals are known without trusting any decoder: the
generator counts every message as it writes it, so the capture doubles as an
exactness check of the fast path.

scapy builds about ten thousand packets a second, far too slow for a million,
so it only builds templates (link/IP/L4 headers per address family, VLAN and
direction; DNS messages). Packets are copies of those bytes with lengths,
addresses, ports and TCP sequence numbers patched in. IPv4 header and L4
checksums are left at zero, as on a tap device with checksum offload.

Counting rules of the ground truth (what a correct collector reports):

* a packet belongs to a service when the VM's end of it is the service's
  port (services are offered by the VM); the VM's own client traffic to
  remote port 80 or 53 is not ``http.80`` or ``dns.53`` traffic;
* ``packets_*`` count frames on the wire (each IP fragment is one), and
  ``bytes_*`` their length on the wire (pcap ``orig_len``: Ethernet header,
  VLAN tag and any padding included);
* requests and responses are messages on the wire: SIP retransmissions count
  again, TCP segments carrying parts of a message do not; HTTP ``100
  Continue`` is a response; HEAD and OPTIONS are ``requests.other``;
* DNS rcodes other than NOERROR, NXDOMAIN, SERVFAIL and REFUSED are
  ``responses.other``;
* nothing here is malformed, so every ``malformed`` total is zero.

Latency percentiles are not totals and are not part of the ground truth.
"""
import argparse
import collections
import ipaddress
import json
import os
import random
import struct
import sys
import time

import numpy as np

VM_IP4 = '198.18.0.10'
VM_IP6 = '2001:db8:18::10'
VM_MAC = 'fa:16:3e:12:00:10'
ROUTER_MAC = 'fa:16:3e:00:00:01'
ROUTER_IP4 = '198.18.0.1'
SERVICES = ('udp/5060=sip', 'tcp/5060=sip', 'tcp/80=http', 'udp/53=dns',
            'tcp/53=dns', 'tcp/22')
INTERVAL_MS = 500
# Capture clock origin (2023-11-14T22:13:20Z): whole seconds, so intervals
# of the capture's clock start on round numbers.
EPOCH = 1700000000
DEFAULT_PACKETS = 1000000
DEFAULT_SEED = 1
# Bump whenever the bytes or the truth for a given size and seed change:
# the benchmark's cache of generated captures is keyed by it.
GENERATOR_VERSION = 4

SIP = 'sip.5060'
HTTP = 'http.80'
DNS = 'dns.53'
SSH = 'generic.22'

COMMON_METRICS = ('packets_in', 'packets_out', 'bytes_in', 'bytes_out')
APP_METRICS = {
    'sip': ('requests.register', 'requests.invite', 'requests.ack',
            'requests.bye', 'requests.options', 'requests.other',
            'responses.1xx', 'responses.2xx', 'responses.3xx',
            'responses.4xx', 'responses.5xx', 'responses.6xx',
            'malformed'),
    'http': ('requests.get', 'requests.post', 'requests.put',
             'requests.delete', 'requests.other', 'responses.1xx',
             'responses.2xx', 'responses.3xx', 'responses.4xx',
             'responses.5xx', 'malformed'),
    'dns': ('queries', 'responses.noerror', 'responses.nxdomain',
            'responses.servfail', 'responses.refused', 'responses.other',
            'malformed'),
    'generic': (),
}

# Share of packets per kind of session: roughly a busy SIP edge proxy that
# also serves a web site and a DNS zone, with its own client traffic, media
# and administration on top.
MIX = (
    ('sip_udp', 0.20), ('sip_tcp', 0.08), ('http', 0.29),
    ('dns_udp', 0.10), ('dns_tcp', 0.03), ('ssh', 0.05), ('rtp', 0.12),
    ('client_http', 0.03), ('client_dns', 0.01), ('tls', 0.06),
    ('misc', 0.03),
)
IPV6_SHARE = 0.1
VLAN_SHARE = 0.05
VLAN_ID = 100

FIN, SYN, RST, PSH, ACK = 0x01, 0x02, 0x04, 0x08, 0x10
MSS = {4: 1460, 6: 1440}
FRAG_PAYLOAD = 1480      # IPv4 fragment payload for a 1500 byte MTU
EPHEMERAL = (32768, 60999)
MS = 1000                # timestamps are integer microseconds

_FILLER_WORDS = (b'lorem ipsum dolor sit amet consectetur adipiscing elit '
                 b'sed do eiusmod tempor incididunt ut labore et dolore '
                 b'magna aliqua ut enim ad minim veniam quis nostrud').split()


def parse_service(text):
    """``'udp/5060=sip'`` -> ``('udp', 5060, 'sip')`` (app defaults generic).

    Deliberately not :class:`dpiaas.dpi.spec.Service`: the ground truth and
    the baseline must not depend on the code they check.
    """
    l4, _, rest = text.partition('/')
    port, _, app = rest.partition('=')
    return l4, int(port), app or 'generic'


def metric_names(services=SERVICES):
    """Every metric name the ground truth gives a total for."""
    names = {}
    for text in services:
        _, port, app = parse_service(text)
        for m in COMMON_METRICS + APP_METRICS[app]:
            names['%s.%d.%s' % (app, port, m)] = None
    return list(names)


def truth_path(pcap_path):
    """Where the ground truth of ``pcap_path`` is written."""
    return os.path.splitext(pcap_path)[0] + '.truth.json'


def _checksum(data):
    """The Internet checksum (RFC 1071) of ``data``."""
    if len(data) & 1:
        data = bytes(data) + b'\0'
    total = int.from_bytes(data, 'big')
    # The one's complement sum of 16-bit words is the big number taken
    # modulo 0xFFFF (with 0 written as 0xFFFF): 2**16 == 1 (mod 0xFFFF).
    total %= 0xFFFF
    return (~(total or 0xFFFF)) & 0xFFFF


def _tls_records(ctype, size, blob):
    """``size`` bytes of opaque TLS 1.2 records of content type ``ctype``."""
    out = []
    while size > 0:
        n = min(size, 16384)
        out.append(struct.pack('!BHH', ctype, 0x0303, n) + blob[:n])
        size -= n
    return b''.join(out)


def _mac(text):
    return bytes.fromhex(text.replace(':', ''))


class _Template(object):
    """Header bytes of one (family, VLAN, L4, direction) combination."""

    def __init__(self, family, vlan, l4, to_vm):
        # Imported here: the module (and its CLI help) loads without the
        # few hundred milliseconds scapy takes to import.
        from scapy.layers import inet
        from scapy.layers import inet6
        from scapy.layers import l2

        src, dst = (ROUTER_MAC, VM_MAC) if to_vm else (VM_MAC, ROUTER_MAC)
        pkt = l2.Ether(src=src, dst=dst)
        if vlan:
            pkt = pkt / l2.Dot1Q(vlan=VLAN_ID)
        proto = {'tcp': 6, 'udp': 17, 'icmp': 1 if family == 4 else 58}[l4]
        if family == 4:
            pkt = pkt / inet.IP(src='0.0.0.0', dst='0.0.0.0', flags='DF',
                                proto=proto, chksum=0)
        else:
            pkt = pkt / inet6.IPv6(src='::', dst='::', nh=proto)
        if l4 == 'tcp':
            pkt = pkt / inet.TCP(sport=1, dport=1, flags='A', window=64240,
                                 chksum=0)
        elif l4 == 'udp':
            pkt = pkt / inet.UDP(sport=1, dport=1, chksum=0)
        self.raw = bytes(pkt)
        self.l3 = 14 + (4 if vlan else 0)
        self.l4 = self.l3 + (20 if family == 4 else 40)


class _Flow(object):
    """One 5-tuple: prebuilt headers per direction, TCP state, truth keys.

    Direction ``d`` is the sending end: 0 the initiator, 1 the responder.
    """

    def __init__(self, cap, l4, family, vlan, addrs, ports, vm_end, svc):
        self.cap = cap
        self.v4 = family == 4
        self.family = family
        self.svc = svc
        self.hdr = []
        self.keys = []
        for d in (0, 1):
            to_vm = d != vm_end
            tmpl = cap.template(family, vlan, l4, to_vm)
            h = bytearray(tmpl.raw)
            src, dst = addrs[d], addrs[1 - d]
            if self.v4:
                h[tmpl.l3 + 12:tmpl.l3 + 20] = src + dst
            else:
                h[tmpl.l3 + 8:tmpl.l3 + 40] = src + dst
            if l4 in ('tcp', 'udp'):
                struct.pack_into('!HH', h, tmpl.l4, ports[d], ports[1 - d])
            self.hdr.append(bytes(h))
            if svc:
                way = 'in' if to_vm else 'out'
                self.keys.append(('%s.packets_%s' % (svc, way),
                                  '%s.bytes_%s' % (svc, way)))
            else:
                self.keys.append(None)
        self.l3 = tmpl.l3
        self.l4 = tmpl.l4
        # Frames from a VLAN trunk crossed a physical wire: padded to the
        # Ethernet minimum, which decoders must not count as payload.
        self.minlen = 64 if vlan else 0
        rnd = cap.rnd
        self.seq = [rnd.getrandbits(32), rnd.getrandbits(32)]
        self.mss = MSS[family]

    def _emit(self, t, h, d):
        if len(h) < self.minlen:
            h += bytes(self.minlen - len(h))
        self.cap.emit(t, bytes(h), self.keys[d])

    def count(self, metric):
        """Count one message of this flow's service (if it has one)."""
        if self.svc:
            self.cap.truth['%s.%s' % (self.svc, metric)] += 1

    # ---- TCP
    def seg(self, t, d, payload=b'', flags=ACK | PSH):
        h = bytearray(self.hdr[d])
        n = len(payload)
        if self.v4:
            struct.pack_into('!H', h, self.l3 + 2, 40 + n)
        else:
            struct.pack_into('!H', h, self.l3 + 4, 20 + n)
        ack = self.seq[1 - d] if flags & ACK else 0
        struct.pack_into('!II', h, self.l4 + 4, self.seq[d], ack)
        h[self.l4 + 13] = flags
        if flags & (SYN | FIN):
            n += 1
        self.seq[d] = (self.seq[d] + n) & 0xFFFFFFFF
        h += payload
        self._emit(t, h, d)

    def open(self, t, rtt):
        self.seg(t, 0, flags=SYN)
        self.seg(t + rtt, 1, flags=SYN | ACK)
        self.seg(t + 2 * rtt, 0, flags=ACK)
        return t + 2 * rtt + 50

    def close(self, t, rtt, closer=0):
        self.seg(t, closer, flags=FIN | ACK)
        self.seg(t + rtt, 1 - closer, flags=FIN | ACK)
        self.seg(t + 2 * rtt, closer, flags=ACK)
        return t + 2 * rtt

    def run(self, t, msgs):
        """Send ``(delay_us, d, [segment, ...])`` items with their ACKs.

        The receiver ACKs every second segment of a burst and, unless its
        own answer follows within 40 ms (then the answer carries the ACK),
        the end of the burst.
        """
        for i, (delay, d, segs) in enumerate(msgs):
            t += delay
            last = len(segs) - 1
            for k, s in enumerate(segs):
                self.seg(t, d, s, ACK | PSH if k == last else ACK)
                t += 12
                if k % 2 == 1 and k < last:
                    self.seg(t, 1 - d, flags=ACK)
                    t += 3
            nxt = msgs[i + 1] if i + 1 < len(msgs) else None
            if nxt is None or nxt[1] == d or nxt[0] > 40 * MS:
                t += 150
                self.seg(t, 1 - d, flags=ACK)
        return t

    def split(self, data):
        """``data`` as the segments a sender with this flow's MSS makes."""
        m = self.mss
        return [data[i:i + m] for i in range(0, len(data), m)] or [b'']

    # ---- UDP
    def dgram(self, t, d, payload):
        n = len(payload)
        if self.v4 and n + 28 > 1500:
            return self._fragments(t, d, payload)
        h = bytearray(self.hdr[d])
        if self.v4:
            struct.pack_into('!H', h, self.l3 + 2, 28 + n)
        else:
            struct.pack_into('!H', h, self.l3 + 4, 8 + n)
        struct.pack_into('!H', h, self.l4 + 4, 8 + n)
        h += payload
        if not self.v4:
            # Zero means "no checksum", which IPv6 forbids for UDP.
            struct.pack_into('!H', h, self.l4 + 6,
                             self._l4_checksum(h, 17) or 0xFFFF)
        self._emit(t, h, d)
        return t

    def _l4_checksum(self, h, proto):
        """RFC 768/8200 checksum of the L4 message at the end of ``h``."""
        seg = h[self.l4:]
        if self.v4:
            pseudo = bytes(h[self.l3 + 12:self.l3 + 20])
        else:
            pseudo = bytes(h[self.l3 + 8:self.l3 + 40])
        pseudo += struct.pack('!IxxxB', len(seg), proto)
        return _checksum(pseudo + seg)

    def _fragments(self, t, d, payload):
        udp = bytearray(self.hdr[d][self.l4:self.l4 + 8])
        struct.pack_into('!H', udp, 4, 8 + len(payload))
        udp += payload
        ip_id = self.cap.next_ip_id()
        base = self.hdr[d][:self.l4]
        for off in range(0, len(udp), FRAG_PAYLOAD):
            part = udp[off:off + FRAG_PAYLOAD]
            more = off + FRAG_PAYLOAD < len(udp)
            h = bytearray(base)
            struct.pack_into('!HHH', h, self.l3 + 2, 20 + len(part), ip_id,
                             (0x2000 if more else 0) | (off >> 3))
            h += part
            self._emit(t, h, d)
            t += 25
        return t

    # ---- anything else (ICMP): the payload is the whole L4 message
    def raw(self, t, d, payload):
        h = bytearray(self.hdr[d])
        n = len(payload)
        if self.v4:
            struct.pack_into('!H', h, self.l3 + 2, 20 + n)
        else:
            struct.pack_into('!H', h, self.l3 + 4, n)
        h += payload
        # ICMP sums the message alone, ICMPv6 with the pseudo-header.
        csum = (_checksum(h[self.l4:]) if self.v4
                else self._l4_checksum(h, 58))
        struct.pack_into('!H', h, self.l4 + 2, csum)
        self._emit(t, h, d)


class _Sip(object):
    """Messages of one SIP dialog between a client and the VM (a proxy)."""

    def __init__(self, rnd, transport, client, cport, vm, user):
        self.rnd = rnd
        self.tr = transport
        self.client = client
        self.cport = cport
        self.vm = vm
        self.user = user
        self.peer = 'u%04d' % rnd.randrange(10000)
        self.call_id = '%016x@%s' % (rnd.getrandbits(64), client.strip('[]'))
        self.ftag = '%08x' % rnd.getrandbits(32)
        self.ttag = '%08x' % rnd.getrandbits(32)
        self.cseq = rnd.randrange(1, 100)

    def request(self, method, from_vm=False, cseq=None, body=b'',
                extra='', to_tag=True, branch=None):
        host, port = ((self.vm, 5060) if from_vm
                      else (self.client, self.cport))
        if cseq is None:
            self.cseq += 1
            cseq = self.cseq
        branch = branch or '%012x' % self.rnd.getrandbits(48)
        user = self.user if method == 'REGISTER' else self.peer
        frm, to = ((self.peer, self.user) if from_vm
                   else (self.user, user))
        text = (
            '%s sip:%s@example.net SIP/2.0\r\n'
            'Via: SIP/2.0/%s %s:%d;branch=z9hG4bK%s;rport\r\n'
            'Max-Forwards: 70\r\n'
            'From: <sip:%s@example.net>;tag=%s\r\n'
            'To: <sip:%s@example.net>%s\r\n'
            'Call-ID: %s\r\n'
            'CSeq: %d %s\r\n'
            'Contact: <sip:%s@%s:%d;transport=%s>\r\n'
            'User-Agent: dpiaas-bench/1.0\r\n'
            '%s'
            'Content-Length: %d\r\n\r\n'
            % (method, to, self.tr, host, port, branch, frm, self.ftag, to,
               ';tag=%s' % self.ttag if to_tag else '', self.call_id, cseq,
               method, frm, host, port, self.tr.lower(), extra, len(body)))
        return text.encode() + body, (cseq, method, branch, from_vm)

    def response(self, req, code, reason, body=b'', extra=''):
        cseq, method, branch, from_vm = req
        host, port = ((self.vm, 5060) if from_vm
                      else (self.client, self.cport))
        frm, to = ((self.peer, self.user) if from_vm
                   else (self.user, self.peer))
        text = (
            'SIP/2.0 %d %s\r\n'
            'Via: SIP/2.0/%s %s:%d;branch=z9hG4bK%s;rport\r\n'
            'From: <sip:%s@example.net>;tag=%s\r\n'
            'To: <sip:%s@example.net>;tag=%s\r\n'
            'Call-ID: %s\r\n'
            'CSeq: %d %s\r\n'
            'Server: dpiaas-bench-proxy\r\n'
            '%s'
            'Content-Length: %d\r\n\r\n'
            % (code, reason, self.tr, host, port, branch, frm, self.ftag,
               to, self.ttag, self.call_id, cseq, method, extra, len(body)))
        return text.encode() + body

    def sdp(self, big=False):
        ip = self.client.strip('[]')
        kind = 'IP6' if ':' in ip else 'IP4'
        origin = 'o=- %d 1 IN %s %s' % (self.rnd.getrandbits(31), kind, ip)
        lines = ['v=0', origin,
                 's=call', 'c=IN %s %s' % (kind, ip), 't=0 0',
                 'm=audio %d RTP/AVP 0 8 101' % (10000 + 2 * (
                     self.rnd.randrange(5000))),
                 'a=rtpmap:0 PCMU/8000', 'a=rtpmap:8 PCMA/8000',
                 'a=rtpmap:101 telephone-event/8000', 'a=sendrecv']
        if big:
            # A video offer with many codecs and ICE candidates: larger
            # than one 1500 byte datagram, so it travels in IP fragments.
            lines.append('m=video %d RTP/AVP %s' % (
                20000 + 2 * self.rnd.randrange(1000),
                ' '.join(str(96 + i) for i in range(24))))
            for i in range(24):
                lines.append('a=rtpmap:%d H264/90000' % (96 + i))
                lines.append('a=fmtp:%d profile-level-id=42e01f;'
                             'packetization-mode=%d' % (96 + i, i % 2))
            for i in range(8):
                lines.append('a=candidate:%d 1 UDP %d %s %d typ host'
                             % (i, 2130706431 - i, ip, 30000 + i))
        return ('\r\n'.join(lines) + '\r\n').encode()


# (code, reason) per response class used by the SIP and HTTP sessions.
_SIP_REASON = {100: 'Trying', 180: 'Ringing', 183: 'Session Progress',
               200: 'OK', 202: 'Accepted', 302: 'Moved Temporarily',
               401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found',
               486: 'Busy Here', 487: 'Request Terminated',
               503: 'Service Unavailable', 603: 'Decline'}
_SIP_METHOD_METRIC = {'REGISTER': 'requests.register',
                      'INVITE': 'requests.invite', 'ACK': 'requests.ack',
                      'BYE': 'requests.bye', 'OPTIONS': 'requests.options'}
_HTTP_REASON = {100: 'Continue', 200: 'OK', 201: 'Created',
                204: 'No Content', 206: 'Partial Content',
                301: 'Moved Permanently', 302: 'Found',
                304: 'Not Modified', 400: 'Bad Request',
                401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found',
                409: 'Conflict', 500: 'Internal Server Error',
                502: 'Bad Gateway', 503: 'Service Unavailable'}
_HTTP_METHOD_METRIC = {'GET': 'requests.get', 'POST': 'requests.post',
                       'PUT': 'requests.put', 'DELETE': 'requests.delete'}
_HTTP_STATUS = {
    'GET': ((200, 70), (304, 8), (404, 7), (301, 2), (302, 2), (206, 1),
            (401, 2), (403, 2), (500, 3), (502, 1), (503, 2)),
    'POST': ((200, 50), (201, 25), (400, 10), (401, 5), (500, 7),
             (503, 3)),
    'PUT': ((200, 40), (201, 20), (204, 25), (409, 10), (500, 5)),
    'DELETE': ((204, 60), (200, 20), (404, 15), (500, 5)),
    'HEAD': ((200, 80), (404, 15), (500, 5)),
    'OPTIONS': ((204, 70), (200, 30)),
    'PATCH': ((200, 70), (204, 20), (400, 10)),
}
_DNS_NAMES = (
    ['www.example.com', 'api.example.com', 'mail.example.com',
     'sip.example.net', 'cdn.example.org', 'static.example.org',
     'ns1.example.net', 'vpn.example.com']
    + ['host%02d.example.org' % i for i in range(16)]
    + ['nonexistent-%d.example.com' % i for i in range(6)])
_DNS_QTYPES = (('A', 60), ('AAAA', 25), ('MX', 5), ('TXT', 5), ('SRV', 5))
_DNS_RCODES = ((0, 75), (3, 15), (2, 4), (5, 4), (1, 1), (4, 1))
_DNS_RCODE_METRIC = {0: 'responses.noerror', 3: 'responses.nxdomain',
                     2: 'responses.servfail', 5: 'responses.refused'}


def _pick(rnd, table):
    """A weighted choice from ``((value, weight), ...)``."""
    total = sum(w for _, w in table)
    x = rnd.random() * total
    for value, w in table:
        x -= w
        if x < 0:
            return value
    return table[-1][0]


class MixedCapture(object):
    """Builds the packets of a mixed capture and its ground truth.

    :param packets: exact number of packets of the capture.
    :param seed: the same seed gives the same bytes.
    :param simple: leave out what a per-packet decoder without stream
        reassembly cannot count (several messages in one TCP segment, DNS
        responses spanning segments); for checking the scapy baseline.
    """

    def __init__(self, packets=DEFAULT_PACKETS, seed=DEFAULT_SEED,
                 simple=False, duration_s=None):
        self.packets = int(packets)
        self.seed = seed
        self.simple = simple
        self.rnd = random.Random(seed)
        # Seconds of traffic: long enough for many 500 ms intervals, dense
        # enough (about 25 kpps) to look like a busy VM; or as asked (a
        # shorter span is a busier VM: per-interval work weighs less).
        if duration_s is None:
            duration_s = min(60.0, max(10.0, self.packets / 25000.0))
        self.duration_us = int(duration_s * 1e6)
        self._templates = {}
        self._dns_templates = {}
        self._ip_id = self.rnd.randrange(65536)
        self.ts = []
        self.frames = []
        self.truth = collections.Counter()
        self.totals = collections.Counter()
        self.sessions = collections.Counter()
        self.session_packets = collections.Counter()
        rnd = self.rnd
        self._v4_clients = [
            ipaddress.IPv4Address(0x64400000 + rnd.randrange(1, 1 << 20))
            for _ in range(4096)]
        self._v6_clients = [
            ipaddress.IPv6Address(
                (0x20010db800c0 << 80) | rnd.getrandbits(64))
            for _ in range(1024)]
        self._remotes4 = [ipaddress.IPv4Address('192.0.2.%d' % i)
                          for i in range(1, 255)]
        self._vm = {4: ipaddress.IPv4Address(VM_IP4),
                    6: ipaddress.IPv6Address(VM_IP6)}
        words = [rnd.choice(_FILLER_WORDS) for _ in range(20000)]
        self._filler = b' '.join(words)[:100000]
        from scapy.layers import l2
        self._arp = bytes(l2.Ether(src=ROUTER_MAC, dst='ff:ff:ff:ff:ff:ff')
                          / l2.ARP(op=1, hwsrc=ROUTER_MAC, psrc=ROUTER_IP4,
                                   pdst=VM_IP4))
        self._arp_reply = bytes(l2.Ether(src=VM_MAC, dst=ROUTER_MAC)
                                / l2.ARP(op=2, hwsrc=VM_MAC, psrc=VM_IP4,
                                         hwdst=ROUTER_MAC, pdst=ROUTER_IP4))

    # ---- plumbing
    def template(self, family, vlan, l4, to_vm):
        key = (family, vlan, l4, to_vm)
        t = self._templates.get(key)
        if t is None:
            t = self._templates[key] = _Template(family, vlan, l4, to_vm)
        return t

    def next_ip_id(self):
        self._ip_id = (self._ip_id + 1) & 0xFFFF
        return self._ip_id

    def emit(self, t, frame, keys):
        self.ts.append(t)
        self.frames.append(frame)
        if keys is not None:
            truth = self.truth
            truth[keys[0]] += 1
            truth[keys[1]] += len(frame)

    def _client(self, v6_share=IPV6_SHARE):
        """A remote peer: (family, packed address, printable host)."""
        rnd = self.rnd
        if rnd.random() < v6_share:
            a = rnd.choice(self._v6_clients)
            return 6, a.packed, '[%s]' % a
        a = rnd.choice(self._v4_clients)
        return 4, a.packed, str(a)

    def _flow(self, l4, family, peer, peer_port, vm_port, svc,
              vm_initiates=False, vlan=None):
        """A flow between ``peer`` and the VM; the VM end offers ``svc``."""
        if vlan is None:
            vlan = self.rnd.random() < VLAN_SHARE
        vm = self._vm[family].packed
        if vm_initiates:
            addrs, ports, vm_end = (vm, peer), (vm_port, peer_port), 0
        else:
            addrs, ports, vm_end = (peer, vm), (peer_port, vm_port), 1
        return _Flow(self, l4, family, vlan, addrs, ports, vm_end, svc)

    def _eph(self):
        return self.rnd.randint(*EPHEMERAL)

    def _cut(self, data, margin):
        """Where to split a message in two segments.

        Anywhere, start line included; in the simple mix only after the
        start line, which is all a per-packet decoder looks at.
        """
        lo = margin
        if self.simple:
            lo = max(lo, data.index(b'\r\n') + 2)
        return self.rnd.randint(lo, len(data) - margin)

    def _rtt(self):
        return self.rnd.randint(200, 40 * MS)

    # ---- SIP
    def _sip_scenario(self, sip, udp):
        """One SIP transaction set as ``[(delay_us, d, bytes, metric)]``.

        ``d`` is 0 from the client, 1 from the VM. Over UDP, requests are
        sometimes retransmitted (timer A/E, 500 ms) before the answer.
        """
        rnd = self.rnd
        kind = _pick(rnd, (('register', 35), ('call', 30), ('options', 25),
                           ('other', 10)))
        steps = []

        def req(delay, method, from_vm=False, **kw):
            data, r = sip.request(method, from_vm=from_vm, **kw)
            d = 1 if from_vm else 0
            steps.append((delay, d, data, _SIP_METHOD_METRIC.get(
                method, 'requests.other')))
            if udp and method != 'ACK' and rnd.random() < 0.04:
                steps.append((500 * MS, d, data, steps[-1][3]))
            return r

        def resp(delay, r, code, body=b'', again=False):
            data = sip.response(r, code, _SIP_REASON[code], body)
            d = 0 if r[3] else 1
            metric = 'responses.%dxx' % (code // 100)
            steps.append((delay, d, data, metric))
            if again:
                steps.append((500 * MS, d, data, metric))

        def server_ms(lo=1, hi=30):
            return rnd.randint(lo * MS, hi * MS)

        if kind == 'register':
            r = req(0, 'REGISTER', to_tag=False, extra='Expires: 3600\r\n')
            resp(server_ms(), r, 401)
            r = req(server_ms(), 'REGISTER', to_tag=False,
                    extra='Expires: 3600\r\nAuthorization: Digest '
                          'username="%s", realm="example.net", '
                          'nonce="%08x", response="%032x"\r\n'
                          % (sip.user, rnd.getrandbits(32),
                             rnd.getrandbits(128)))
            resp(server_ms(2, 80), r, 403 if rnd.random() < 0.05 else 200)
        elif kind == 'call':
            big = udp and sip.client[0] != '[' and rnd.random() < 0.06
            r = req(0, 'INVITE', to_tag=False, body=sip.sdp(big),
                    extra='Content-Type: application/sdp\r\n')
            resp(server_ms(1, 5), r, 100)
            outcome = _pick(rnd, (('answer', 76), ('busy', 8),
                                  ('unavailable', 3), ('decline', 3),
                                  ('redirect', 2), ('cancel', 8)))
            if outcome == 'answer':
                resp(server_ms(5, 200), r, 180)
                resp(server_ms(300, 3000), r, 200, body=sip.sdp(),
                     again=udp and rnd.random() < 0.03)
                req(server_ms(), 'ACK', cseq=r[0])
                bye_from_vm = rnd.random() < 0.5
                b = req(rnd.randint(500 * MS, 8000 * MS), 'BYE',
                        from_vm=bye_from_vm)
                resp(server_ms(), b, 200)
            elif outcome == 'cancel':
                resp(server_ms(5, 200), r, 180)
                c, _ = sip.request('CANCEL', cseq=r[0], to_tag=False,
                                   branch=r[2])
                steps.append((server_ms(500, 3000), 0, c, 'requests.other'))
                resp(server_ms(), (r[0], 'CANCEL', r[2], False), 200)
                resp(server_ms(1, 3), r, 487)
                req(server_ms(), 'ACK', cseq=r[0], branch=r[2])
            else:
                code = {'busy': 486, 'unavailable': 503, 'decline': 603,
                        'redirect': 302}[outcome]
                resp(server_ms(20, 2000), r, code)
                req(server_ms(), 'ACK', cseq=r[0], branch=r[2])
        elif kind == 'options':
            from_vm = rnd.random() < 0.3
            r = req(0, 'OPTIONS', from_vm=from_vm)
            resp(server_ms(), r, 200 if rnd.random() < 0.95 else 404)
        else:
            method = _pick(rnd, (('MESSAGE', 40), ('SUBSCRIBE', 30),
                                 ('INFO', 15), ('UPDATE', 15)))
            body = b'hello' if method == 'MESSAGE' else b''
            r = req(0, method, body=body)
            resp(server_ms(), r, 202 if method == 'MESSAGE' else 200)
            if method == 'SUBSCRIBE':
                n = req(server_ms(), 'NOTIFY', from_vm=True)
                resp(server_ms(), n, 200)
        return steps

    def _sip_udp(self, t):
        rnd = self.rnd
        family, peer, host = self._client()
        cport = 5060 if rnd.random() < 0.5 else self._eph()
        flow = self._flow('udp', family, peer, cport, 5060, SIP)
        sip = _Sip(rnd, 'UDP', host, cport, VM_IP4 if family == 4
                   else '[%s]' % VM_IP6, 'user%05d' % rnd.randrange(100000))
        for delay, d, data, metric in self._sip_scenario(sip, udp=True):
            t += delay
            t = flow.dgram(t, d, data) + 10
            flow.count(metric)

    def _sip_tcp(self, t):
        rnd = self.rnd
        family, peer, host = self._client()
        cport = self._eph()
        flow = self._flow('tcp', family, peer, cport, 5060, SIP)
        rtt = self._rtt()
        t = flow.open(t, rtt)
        sip = _Sip(rnd, 'TCP', host, cport, VM_IP4 if family == 4
                   else '[%s]' % VM_IP6, 'user%05d' % rnd.randrange(100000))
        msgs = []
        pause = 0
        for _ in range(rnd.randint(1, 4)):
            for delay, d, data, metric in self._sip_scenario(sip, udp=False):
                flow.count(metric)
                delay += pause
                pause = 0
                prev = msgs[-1] if msgs else None
                if (not self.simple and prev and prev[1] == d
                        and delay < 50 * MS and rnd.random() < 0.4
                        and len(prev[2][-1]) + len(data) <= flow.mss):
                    # The stack packed this message behind the previous
                    # one (or behind the tail of a split one).
                    prev[2][-1] += data
                    continue
                segs = flow.split(data)
                if len(segs) == 1 and len(data) > 200 and rnd.random() < 0.15:
                    cut = self._cut(data, 20)
                    segs = [data[:cut], data[cut:]]
                msgs.append((delay, d, segs))
            sip.call_id = '%016x@%s' % (rnd.getrandbits(64), host.strip('[]'))
            pause = rnd.randint(100 * MS, 3000 * MS)
        t = flow.run(t, msgs)
        if rnd.random() < 0.7:
            flow.close(t + self._rtt(), rtt, closer=0)

    # ---- HTTP
    def _http_exchange(self, method):
        """Request and response bytes (and what to count) of one exchange."""
        rnd = self.rnd
        path = '/%s/%d' % (rnd.choice(('index', 'api/v1/items', 'static',
                                       'img', 'login')), rnd.randrange(1000))
        req_body = b''
        headers = ['Host: www.example.com', 'User-Agent: curl/8.5.0',
                   'Accept: */*']
        expect = False
        if method in ('POST', 'PUT', 'PATCH'):
            size = (rnd.randint(20, 900) if rnd.random() < 0.8
                    else rnd.randint(2000, 20000))
            o = rnd.randrange(len(self._filler) - size)
            req_body = self._filler[o:o + size]
            headers.append('Content-Type: application/json')
            headers.append('Content-Length: %d' % size)
            expect = rnd.random() < 0.15
            if expect:
                headers.append('Expect: 100-continue')
        req = ('%s %s HTTP/1.1\r\n%s\r\n\r\n'
               % (method, path, '\r\n'.join(headers))).encode()
        code = _pick(rnd, _HTTP_STATUS[method])
        rh = ['Server: nginx/1.24.0',
              'Date: Tue, 14 Nov 2023 22:13:20 GMT',
              'Content-Type: text/html']
        body = b''
        no_body = method == 'HEAD' or code in (204, 304)
        size = (rnd.randint(100, 1000) if rnd.random() < 0.45 else
                rnd.randint(1000, 8000) if rnd.random() < 0.8 else
                rnd.randint(8000, 64000))
        o = rnd.randrange(len(self._filler) - size)
        content = self._filler[o:o + size]
        if code in (204, 304):
            pass
        elif rnd.random() < 0.08 and method != 'HEAD':
            rh.append('Transfer-Encoding: chunked')
            parts = []
            pos = 0
            while pos < size:
                n = min(size - pos, rnd.randint(50, 5000))
                parts.append(b'%x\r\n%s\r\n' % (n, content[pos:pos + n]))
                pos += n
            parts.append(b'0\r\n\r\n')
            body = b''.join(parts)
        else:
            rh.append('Content-Length: %d' % size)
            if not no_body:
                body = content
        resp = ('HTTP/1.1 %d %s\r\n%s\r\n\r\n'
                % (code, _HTTP_REASON[code], '\r\n'.join(rh))).encode()
        return req, req_body, expect, resp, body, code

    def _http(self, t, vm_is_client=False):
        rnd = self.rnd
        if vm_is_client:
            family = 4
            peer = rnd.choice(self._remotes4).packed
            flow = self._flow('tcp', 4, peer, 80, self._eph(), None,
                              vm_initiates=True)
        else:
            family, peer, _ = self._client()
            flow = self._flow('tcp', family, peer, self._eph(), 80, HTTP)
        rtt = self._rtt()
        t = flow.open(t, rtt)
        n = 1 + min(int(rnd.expovariate(1 / 4.0)), 30)
        pipelined = not self.simple and rnd.random() < 0.2
        msgs = []
        i = 0
        methods = (('GET', 62), ('POST', 13), ('PUT', 5), ('DELETE', 5),
                   ('HEAD', 8), ('OPTIONS', 4), ('PATCH', 3))
        while i < n:
            think = rnd.randint(1 * MS, 1500 * MS) if msgs else 0
            server = rnd.randint(200, 30 * MS)
            if pipelined and rnd.random() < 0.6:
                # Several idempotent requests in one segment; the answers
                # follow in order, packed back to back by the server's TCP.
                k = rnd.randint(2, 4)
                reqs, resps = [], []
                for _ in range(k):
                    m = 'GET' if rnd.random() < 0.85 else 'HEAD'
                    req, _, _, resp, body, code = self._http_exchange(m)
                    flow.count(_HTTP_METHOD_METRIC.get(m, 'requests.other'))
                    flow.count('responses.%dxx' % (code // 100))
                    reqs.append(req)
                    resps.append(resp + body)
                msgs.append((think, 0, flow.split(b''.join(reqs))))
                msgs.append((server, 1, flow.split(b''.join(resps))))
                i += k
                continue
            m = _pick(rnd, methods)
            req, req_body, expect, resp, body, code = self._http_exchange(m)
            flow.count(_HTTP_METHOD_METRIC.get(m, 'requests.other'))
            flow.count('responses.%dxx' % (code // 100))
            if expect:
                flow.count('responses.1xx')
                msgs.append((think, 0, flow.split(req)))
                msgs.append((server, 1, [b'HTTP/1.1 100 Continue\r\n\r\n']))
                msgs.append((rtt, 0, flow.split(req_body)))
            elif rnd.random() < 0.05 and len(req) > 60:
                # Request headers written in two pieces.
                cut = self._cut(req, 10)
                msgs.append((think, 0, [req[:cut]]))
                msgs.append((100, 0, flow.split(req[cut:] + req_body)))
            else:
                msgs.append((think, 0, flow.split(req + req_body)))
            if body and rnd.random() < 0.2:
                # Headers flushed before the body is ready.
                msgs.append((server, 1, [resp]))
                msgs.append((rnd.randint(100, 5 * MS), 1, flow.split(body)))
            else:
                msgs.append((server, 1, flow.split(resp + body)))
            i += 1
        t = flow.run(t, msgs)
        if rnd.random() < 0.8:
            flow.close(t + rnd.randint(1 * MS, 2000 * MS), rtt,
                       closer=0 if rnd.random() < 0.6 else 1)

    # ---- DNS
    def _dns_template(self, name, qtype, answers):
        """Query and NOERROR response bytes (id 0) built by scapy, cached."""
        key = (name, qtype, answers)
        hit = self._dns_templates.get(key)
        if hit is not None:
            return hit
        from scapy.layers import dns
        qd = dns.DNSQR(qname=name, qtype=qtype)
        query = bytes(dns.DNS(id=0, rd=1, qd=[qd]))
        an = []
        if answers:
            for i in range(answers):
                if qtype == 'AAAA':
                    an.append(dns.DNSRR(rrname=name, type='AAAA', ttl=300,
                                        rdata='2001:db8:ff::%x' % (i + 1)))
                elif qtype == 'MX':
                    an.append(dns.DNSRRMX(rrname=name, ttl=300,
                                          preference=10 * (i + 1),
                                          exchange='mx%d.example.com' % i))
                elif qtype == 'TXT':
                    an.append(dns.DNSRR(rrname=name, type='TXT', ttl=300,
                                        rdata=['v=spf1 ip4:192.0.2.%d -all'
                                               % i]))
                elif qtype == 'SRV':
                    an.append(dns.DNSRRSRV(rrname=name, ttl=300, priority=10,
                                           weight=i, port=5060,
                                           target='sip%d.example.net' % i))
                else:
                    an.append(dns.DNSRR(rrname=name, type='A', ttl=300,
                                        rdata='192.0.2.%d' % (i + 1)))
        response = bytes(dns.DNS(id=0, qr=1, rd=1, ra=1, qd=[qd], an=an))
        hit = self._dns_templates[key] = (query, response)
        return hit

    def _dns_pair(self, big=False):
        """A query and its response with a fresh id, and the rcode."""
        rnd = self.rnd
        name = rnd.choice(_DNS_NAMES)
        qtype = _pick(rnd, _DNS_QTYPES)
        if name.startswith('nonexistent'):
            rcode = 3
        else:
            rcode = _pick(rnd, _DNS_RCODES)
        answers = 90 if big else rnd.choice((0, 1, 1, 1, 2, 4))
        if rcode:
            answers = 0
        query, response = self._dns_template(name, qtype, answers)
        ident = struct.pack('!H', rnd.randrange(65536))
        if rcode:
            # Same message with the RCODE nibble set: no scapy build per
            # error variant.
            response = (response[:3] + bytes([(response[3] & 0xF0) | rcode])
                        + response[4:])
        return ident + query[2:], ident + response[2:], rcode

    def _count_dns(self, flow, rcode):
        flow.count('queries')
        flow.count(_DNS_RCODE_METRIC.get(rcode, 'responses.other'))

    def _dns_udp(self, t, vm_is_client=False):
        rnd = self.rnd
        if vm_is_client:
            peer = rnd.choice(self._remotes4).packed
            flow = self._flow('udp', 4, peer, 53, self._eph(), None,
                              vm_initiates=True)
        else:
            family, peer, _ = self._client()
            flow = self._flow('udp', family, peer, self._eph(), 53, DNS)
        for _ in range(rnd.choice((1, 1, 1, 2, 2, 3))):
            query, response, rcode = self._dns_pair()
            self._count_dns(flow, rcode)
            flow.dgram(t, 0, query)
            if rnd.random() < 0.03:
                # No answer in time: the stub resolver asks again.
                t += 1000 * MS
                flow.dgram(t, 0, query)
                flow.count('queries')
            t += rnd.randint(150, 60 * MS)
            flow.dgram(t, 1, response)
            t += rnd.randint(20, 5 * MS)

    def _dns_tcp(self, t):
        rnd = self.rnd
        family, peer, _ = self._client()
        flow = self._flow('tcp', family, peer, self._eph(), 53, DNS)
        rtt = self._rtt()
        t = flow.open(t, rtt)
        pairs = [self._dns_pair(big=not self.simple and rnd.random() < 0.2)
                 for _ in range(rnd.choice((1, 1, 2, 3)))]
        framed = []
        for query, response, rcode in pairs:
            self._count_dns(flow, rcode)
            framed.append((struct.pack('!H', len(query)) + query,
                           struct.pack('!H', len(response)) + response))
        msgs = []
        if len(pairs) > 1 and not self.simple and rnd.random() < 0.5:
            # Pipelined (RFC 7766): every query in one segment, then the
            # answers, each in its own write.
            msgs.append((0, 0, [b''.join(q for q, _ in framed)]))
            for _, r in framed:
                msgs.append((rnd.randint(100, 20 * MS), 1, flow.split(r)))
        else:
            for q, r in framed:
                msgs.append((rnd.randint(50, 200 * MS) if msgs else 0, 0,
                             [q]))
                msgs.append((rnd.randint(100, 20 * MS), 1, flow.split(r)))
        t = flow.run(t, msgs)
        flow.close(t + rnd.randint(100, 50 * MS), rtt,
                   closer=rnd.choice((0, 1)))

    # ---- background
    def _ssh(self, t):
        rnd = self.rnd
        family, peer, _ = self._client()
        flow = self._flow('tcp', family, peer, self._eph(), 22, SSH)
        rtt = self._rtt()
        t = flow.open(t, rtt)
        msgs = [(0, 1, [b'SSH-2.0-OpenSSH_9.6\r\n']),
                (rtt, 0, [b'SSH-2.0-OpenSSH_9.2p1\r\n'])]
        for _ in range(rnd.randint(4, 60)):
            d = rnd.random() < 0.5
            size = rnd.randint(36, 3000)
            msgs.append((rnd.randint(1 * MS, 400 * MS), int(d),
                         flow.split(bytes(rnd.getrandbits(8)
                                          for _ in range(16)) * (
                             size // 16 + 1))))
        t = flow.run(t, msgs)
        flow.close(t + rtt, rtt)

    def _rtp(self, t):
        rnd = self.rnd
        family, peer, _ = self._client(v6_share=0.05)
        vm_port = 10000 + 2 * rnd.randrange(5000)
        flow = self._flow('udp', family, peer, 10000 + 2 * rnd.randrange(5000),
                          vm_port, None, vlan=False)
        ssrc = [rnd.getrandbits(32), rnd.getrandbits(32)]
        seq = [rnd.randrange(65536), rnd.randrange(65536)]
        voice = self._filler[:160]
        skew = rnd.randint(0, 19 * MS)
        for k in range(rnd.randint(100, 400)):
            for d in (0, 1):
                hdr = struct.pack('!BBHII', 0x80, 0, (seq[d] + k) & 0xFFFF,
                                  160 * k, ssrc[d])
                flow.dgram(t + k * 20 * MS + d * skew, d, hdr + voice)

    def _tls(self, t):
        rnd = self.rnd
        peer = rnd.choice(self._remotes4).packed
        flow = self._flow('tcp', 4, peer, 443, self._eph(), None,
                          vm_initiates=True)
        rtt = self._rtt()
        t = flow.open(t, rtt)
        blob = bytes(rnd.getrandbits(8) for _ in range(256)) * 256
        msgs = [(0, 0, [_tls_records(22, 512, blob)]),
                (rtt, 1, flow.split(_tls_records(22, 4000, blob)))]
        for _ in range(rnd.randint(1, 6)):
            msgs.append((rnd.randint(1 * MS, 300 * MS), 0,
                         [_tls_records(23, rnd.randint(50, 600), blob)]))
            msgs.append((rtt, 1, flow.split(
                _tls_records(23, rnd.randint(1000, 60000), blob))))
        t = flow.run(t, msgs)
        flow.close(t + rtt, rtt)

    def _misc(self, t):
        rnd = self.rnd
        kind = rnd.randrange(4)
        if kind == 0:
            family, peer, _ = self._client()
            flow = self._flow('icmp', family, peer, 0, 0, None)
            ident = rnd.randrange(65536)
            for k in range(rnd.randint(1, 10)):
                for d in (0, 1):
                    typ = (8, 0)[d] if family == 4 else (128, 129)[d]
                    flow.raw(t + k * 1000 * MS + d * 300, d,
                             struct.pack('!BBHHH', typ, 0, 0, ident, k)
                             + self._filler[:56])
        elif kind == 1:
            peer = rnd.choice(self._remotes4).packed
            flow = self._flow('udp', 4, peer, 123, 123, None,
                              vm_initiates=True)
            flow.dgram(t, 0, b'\x23' + bytes(47))
            flow.dgram(t + self._rtt(), 1, b'\x24' + bytes(47))
        elif kind == 2:
            family, peer, _ = self._client()
            port = rnd.choice((8080, 3389, 5061, 443, 8443, 23))
            flow = self._flow('tcp', family, peer, self._eph(), port, None)
            flow.seg(t, 0, flags=SYN)
            flow.seg(t + 100, 1, flags=RST | ACK)
        else:
            self.emit(t, self._arp, None)
            self.emit(t + 150, self._arp_reply, None)

    # ---- the whole capture
    def build(self):
        """Generate every packet; returns the ground truth totals."""
        rnd = self.rnd
        kinds = [k for k, _ in MIX]
        share = dict(MIX)
        runners = {
            'sip_udp': self._sip_udp, 'sip_tcp': self._sip_tcp,
            'http': self._http, 'dns_udp': self._dns_udp,
            'dns_tcp': self._dns_tcp, 'ssh': self._ssh, 'rtp': self._rtp,
            'client_http': lambda t: self._http(t, vm_is_client=True),
            'client_dns': lambda t: self._dns_udp(t, vm_is_client=True),
            'tls': self._tls, 'misc': self._misc,
        }
        got = collections.Counter()
        rejected = 0
        while len(self.frames) < self.packets and rejected < 50:
            # Deficit scheduling: the kind furthest below its share goes
            # next, so the mix is right at any size.
            total = len(self.frames) + 1
            kind = max(kinds, key=lambda k: share[k] * total - got[k])
            mark = len(self.frames)
            self.truth = collections.Counter()
            runners[kind](rnd.randrange(self.duration_us))
            made = len(self.frames) - mark
            if len(self.frames) > self.packets:
                del self.frames[mark:]
                del self.ts[mark:]
                rejected += 1
                got[kind] += made   # try the others first next time
                continue
            got[kind] += made
            self.sessions[kind] += 1
            self.session_packets[kind] += made
            self.totals.update(self.truth)
        while len(self.frames) < self.packets:
            # Top up to the exact size with ARP requests (never counted).
            self.emit(rnd.randrange(self.duration_us), self._arp, None)
            self.session_packets['arp_fill'] += 1
        totals = {name: self.totals.get(name, 0) for name in metric_names()}
        return totals

    def write(self, path):
        """Generate and write the capture and its ground truth JSON."""
        started = time.time()
        totals = self.build()
        ts = np.asarray(self.ts, dtype=np.int64)
        # Stable: packets of one flow keep their order on equal stamps.
        order = np.argsort(ts, kind='stable')
        ts = ts[order]
        sec = (ts // 1000000 + EPOCH).tolist()
        usec = (ts % 1000000).tolist()
        frames = self.frames
        pack = struct.Struct('<IIII').pack
        tmp = path + '.tmp'
        with open(tmp, 'wb') as f:
            f.write(struct.pack('<IHHiIII', 0xA1B2C3D4, 2, 4, 0, 0, 65535,
                                1))
            chunk = []
            for j, i in enumerate(order.tolist()):
                fr = frames[i]
                n = len(fr)
                chunk.append(pack(sec[j], usec[j], n, n))
                chunk.append(fr)
                if len(chunk) >= 65536:
                    f.write(b''.join(chunk))
                    chunk = []
            f.write(b''.join(chunk))
        os.replace(tmp, path)
        first = EPOCH + int(ts[0]) / 1e6 if len(ts) else None
        last = EPOCH + int(ts[-1]) / 1e6 if len(ts) else None
        # Packets per interval of the capture's clock, idle ones included:
        # what ``capture.packets`` of each interval report must say.
        step = INTERVAL_MS * 1000
        per_interval = np.bincount((ts - ts[0] // step * step) // step)
        truth = {
            'pcap': os.path.basename(path),
            'packets': self.packets,
            'seed': self.seed,
            'generator_version': GENERATOR_VERSION,
            'simple': self.simple,
            'first_ts': first,
            'last_ts': last,
            'interval_ms': INTERVAL_MS,
            'vm_ips': [VM_IP4, VM_IP6],
            'vm_macs': [VM_MAC],
            'services': list(SERVICES),
            'bytes': 'frame length on the wire (pcap orig_len)',
            'sessions': dict(self.sessions),
            'packets_by_kind': dict(self.session_packets),
            'generate_s': round(time.time() - started, 2),
            'totals': totals,
            'interval_packets': {
                'first_start': EPOCH + int(ts[0] // step * step) / 1e6,
                'counts': per_interval.tolist()},
        }
        with open(truth_path(path), 'w') as f:
            json.dump(truth, f, indent=1, sort_keys=True)
        return truth


def generate(path, packets=DEFAULT_PACKETS, seed=DEFAULT_SEED, simple=False,
             duration_s=None):
    """Write a mixed capture to ``path`` and its truth beside it.

    Returns the ground truth dict (also in :func:`truth_path` ``(path)``).
    """
    return MixedCapture(packets, seed, simple, duration_s).write(path)


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog='python -m bench.mixed_capture',
        description='Write a deterministic mixed capture (pcap) and its '
                    'ground truth metric totals (<out>.truth.json).')
    parser.add_argument('--packets', type=int, default=DEFAULT_PACKETS)
    parser.add_argument('--seed', type=int, default=DEFAULT_SEED)
    parser.add_argument('--simple', action='store_true',
                        help='only traffic a per-packet decoder can count '
                             '(no pipelining or packed TCP messages)')
    parser.add_argument('--out', required=True, help='pcap file to write')
    args = parser.parse_args(argv)
    if args.packets < 1:
        parser.error('--packets must be positive')
    truth = generate(args.out, args.packets, args.seed, args.simple)
    print('%s: %d packets in %.1f s, truth in %s'
          % (args.out, truth['packets'], truth['generate_s'],
             truth_path(args.out)))
    return 0


if __name__ == '__main__':
    sys.exit(main())
