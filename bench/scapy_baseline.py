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
"""The 2017 paper's collector: scapy, one packet at a time.

This is the yardstick of issue 2's speed target (dpiaas must be at least
500 times faster), so it is written the way the paper's agent was: scapy
reads and dissects every packet (Ether, Dot1Q, IP, IPv6, TCP, UDP, DNS),
the service comes from the ports, SIP and HTTP messages are classified by the
first line of each payload, DNS by scapy's own DNS layer, and counters are
kept per 500 ms interval. No stream reassembly: straightforward is the point,
and it is exact only on traffic where every TCP segment starts with a whole
message (``MixedCapture(simple=True)``), which the smoke test checks.

Only IPv4 fragments get a little help (the first fragment's service is
remembered for the rest) so that packet and byte counts stay right for the
fragmented SIP INVITEs of the mixed capture.
"""
import argparse
import collections
import ipaddress
import json
import sys
import time

from bench import mixed_capture

_SIP_METHODS = {b'REGISTER': 'requests.register', b'INVITE': 'requests.invite',
                b'ACK': 'requests.ack', b'BYE': 'requests.bye',
                b'OPTIONS': 'requests.options'}
_HTTP_METHODS = {b'GET': 'requests.get', b'POST': 'requests.post',
                 b'PUT': 'requests.put', b'DELETE': 'requests.delete'}
_DNS_RCODES = {0: 'responses.noerror', 3: 'responses.nxdomain',
               2: 'responses.servfail', 5: 'responses.refused'}


def _first_line(data):
    return data.split(b'\r\n', 1)[0]


def _sip(c, prefix, data, udp):
    line = _first_line(data)
    if line.startswith(b'SIP/2.0 '):
        code = line[8:11]
        if len(code) == 3 and code.isdigit() and b'1' <= code[:1] <= b'6':
            c[prefix + 'responses.%sxx' % code[:1].decode()] += 1
            return
    else:
        parts = line.split(b' ')
        if len(parts) == 3 and parts[2] == b'SIP/2.0' and parts[0].isalpha():
            c[prefix + _SIP_METHODS.get(parts[0], 'requests.other')] += 1
            return
    if udp:
        # A datagram is a whole message: one that does not parse is
        # malformed. A TCP segment may just continue a message.
        c[prefix + 'malformed'] += 1


def _http(c, prefix, data):
    line = _first_line(data)
    if line.startswith(b'HTTP/1.'):
        code = line[9:12]
        if len(code) == 3 and code.isdigit() and b'1' <= code[:1] <= b'5':
            c[prefix + 'responses.%sxx' % code[:1].decode()] += 1
        return
    parts = line.split(b' ')
    if (len(parts) == 3 and parts[2].startswith(b'HTTP/1.')
            and parts[0].isalpha() and parts[0].isupper()):
        c[prefix + _HTTP_METHODS.get(parts[0], 'requests.other')] += 1


def _dns(c, prefix, pkt, dns_layer, has_payload, udp):
    if dns_layer in pkt:
        d = pkt[dns_layer]
        if d.qr == 0:
            c[prefix + 'queries'] += 1
        else:
            c[prefix + _DNS_RCODES.get(d.rcode, 'responses.other')] += 1
    elif has_payload and udp:
        c[prefix + 'malformed'] += 1


def count(path, max_packets=None, services=mixed_capture.SERVICES,
          vm_ips=(mixed_capture.VM_IP4, mixed_capture.VM_IP6),
          interval_ms=mixed_capture.INTERVAL_MS):
    """Count DESIGN.md 4.2 metrics of ``path`` the paper's way.

    :returns: ``(totals, packets, cpu_seconds)``: metric name -> total over
        all intervals (every metric of the services, zeros included), the
        number of packets read, and the CPU time (``time.process_time``) of
        reading, dissecting and counting them.
    """
    from scapy.layers import dns as scapy_dns
    from scapy.layers import inet
    from scapy.layers import inet6
    from scapy.layers import l2  # noqa: F401 (binds Ether and Dot1Q)
    from scapy import packet as scapy_packet
    from scapy import utils

    IP, IPv6, TCP, UDP = inet.IP, inet6.IPv6, inet.TCP, inet.UDP
    DNS, Raw = scapy_dns.DNS, scapy_packet.Raw
    table = {}
    for text in services:
        l4, port, app = mixed_capture.parse_service(text)
        table[(l4, port)] = (app, '%s.%d.' % (app, port))
    vm = {str(ipaddress.ip_address(a)) for a in vm_ips}
    intervals = collections.defaultdict(collections.Counter)
    fragments = {}
    n = 0
    started = time.process_time()
    with utils.PcapReader(path) as reader:
        for pkt in reader:
            if max_packets is not None and n >= max_packets:
                break
            n += 1
            c = intervals[int(float(pkt.time) * 1000) // interval_ms]
            if IP in pkt:
                ip = pkt[IP]
                frag_key = (ip.src, ip.dst, ip.id, ip.proto)
                fragmented = ip.frag > 0 or ip.flags.MF
            elif IPv6 in pkt:
                ip = pkt[IPv6]
                fragmented = False
            else:
                continue
            size = pkt.wirelen or len(pkt)
            if TCP in pkt:
                l4, seg = 'tcp', pkt[TCP]
            elif UDP in pkt:
                l4, seg = 'udp', pkt[UDP]
            else:
                if fragmented and frag_key in fragments:
                    key = fragments[frag_key]
                    c[key[0]] += 1
                    c[key[1]] += size
                continue
            if ip.dst in vm and (l4, seg.dport) in table:
                app, prefix = table[(l4, seg.dport)]
                way = 'in'
            elif ip.src in vm and (l4, seg.sport) in table:
                app, prefix = table[(l4, seg.sport)]
                way = 'out'
            else:
                continue
            key = (prefix + 'packets_' + way, prefix + 'bytes_' + way)
            c[key[0]] += 1
            c[key[1]] += size
            if fragmented:
                fragments[frag_key] = key
            udp = l4 == 'udp'
            if app == 'dns':
                _dns(c, prefix, pkt, DNS, len(seg.payload) > 0, udp)
                continue
            if app not in ('sip', 'http') or Raw not in pkt:
                continue
            data = pkt[Raw].load
            if app == 'sip':
                _sip(c, prefix, data, udp)
            else:
                _http(c, prefix, data)
    cpu = time.process_time() - started
    totals = dict.fromkeys(mixed_capture.metric_names(services), 0)
    for counters in intervals.values():
        for name, value in counters.items():
            totals[name] = totals.get(name, 0) + value
    return totals, n, cpu


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog='python -m bench.scapy_baseline',
        description='Count metrics of a capture with scapy (the paper\'s '
                    'approach) and print the totals as JSON.')
    parser.add_argument('pcap')
    parser.add_argument('--packets', type=int, default=None,
                        help='stop after this many packets')
    args = parser.parse_args(argv)
    totals, n, cpu = count(args.pcap, args.packets)
    json.dump({'packets': n, 'cpu_s': round(cpu, 3),
               'packets_per_cpu_s': round(n / cpu) if cpu else None,
               'totals': totals}, sys.stdout, indent=1, sort_keys=True)
    sys.stdout.write('\n')
    return 0


if __name__ == '__main__':
    sys.exit(main())
