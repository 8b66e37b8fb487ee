"""Intervals, direction and service lookup of a collector."""
from scapy.all import Dot1Q, Ether, IP, IPv6, UDP, fragment, raw

from dpiaas.dpi import batch as batch_mod
from dpiaas.dpi import pipeline
from tests.unit.dpi import packets as P

REG = (b'REGISTER sip:x SIP/2.0\r\nCall-ID: a\r\nCSeq: 1 REGISTER\r\n'
       b'Content-Length: 0\r\n\r\n')
MS = 1000000


def test_intervals_are_aligned_and_quiet_ones_reported_with_zeros():
    frames = [(120 * MS, P.udp(REG)), (1730 * MS, P.udp(REG))]
    reports = P.run(P.spec('udp/5060=sip'), frames)
    starts = [r.ts - P.T0 / 1e9 for r in reports]
    assert starts == [0.0, 0.5, 1.0, 1.5]
    counts = [r.metrics['sip.5060.requests.register'] for r in reports]
    assert counts == [1, 0, 0, 1]
    assert all(r.interval_ms == 500 for r in reports)
    # a quiet interval still names every metric of the service
    assert set(reports[1].metrics) == set(reports[0].metrics) - {
        'sip.5060.latency_ms.p50', 'sip.5060.latency_ms.p95'}


def test_interval_length_is_configurable():
    frames = [(0, P.udp(REG)), (250 * MS, P.udp(REG))]
    reports = P.run(P.spec('udp/5060=sip', interval_ms=100), frames)
    assert len(reports) == 3
    assert [r.metrics['sip.5060.requests.register'] for r in reports] == \
        [1, 0, 1]


def test_live_advance_closes_intervals_without_packets():
    c = pipeline.Collector(P.spec('udp/5060=sip'), live=True)
    c.feed(batch_mod.PacketBatch.from_packets([(P.T0, P.udp(REG))]))
    reports = c.advance(P.T0 + 1600 * MS)
    assert len(reports) == 3
    assert reports[-1].metrics['sip.5060.packets_in'] == 0


def test_direction_from_vm_address_then_packet_type_then_ports():
    # with the VM's address: towards it is "in" whatever the ports say
    reports = P.run(P.spec('udp/5060=sip'), [P.udp(REG, inbound=False)])
    assert reports[0].metrics['sip.5060.packets_out'] == 1
    # without identity, on a tap: PACKET_OUTGOING (4) is into the VM
    c = pipeline.Collector(P.spec('udp/5060=sip', vm_ips=()))
    c.feed(batch_mod.PacketBatch.from_packets(
        [(P.T0, P.udp(REG, inbound=False), 4),
         (P.T0 + 1, P.udp(REG, inbound=False), 0)]))
    m = c.flush()[0].metrics
    assert (m['sip.5060.packets_in'], m['sip.5060.packets_out']) == (1, 1)
    # offline, no identity: the VM is the end with the offered port
    t = P.totals(P.run(P.spec('udp/5060=sip', vm_ips=()),
                       [P.udp(REG, sport=40000, dport=5060),
                        P.udp(REG, sport=5060, dport=40000)]))
    assert (t['sip.5060.packets_in'], t['sip.5060.packets_out']) == (1, 1)


def test_direction_by_mac_address():
    reports = P.run(P.spec('udp/5060=sip', vm_ips=(),
                           vm_macs=(P.VM_MAC,)), [P.udp(REG)])
    assert reports[0].metrics['sip.5060.packets_in'] == 1


def test_consumed_service_is_matched_on_the_remote_port():
    # the VM (client) talks to a remote database on 5432
    frames = [P.udp(b'q', sport=40000, dport=5432, inbound=False),
              P.udp(b'r', sport=5432, dport=40000, inbound=True),
              P.udp(b'x', sport=5432, dport=40001, inbound=False)]
    t = P.totals(P.run(P.spec('consumed:udp/5432'), frames))
    assert t['generic.5432.packets_out'] == 1
    assert t['generic.5432.packets_in'] == 1


def test_port_range_is_generic_and_other_ports_are_ignored():
    frames = [P.udp(REG, dport=10001, sport=4000),
              P.udp(REG, dport=10002, sport=4000),
              P.udp(REG, dport=9999, sport=4000)]
    t = P.totals(P.run(P.spec('udp/10000-20000=sip'), frames))
    assert t['generic.10000-20000.packets_in'] == 2
    assert not any(k.startswith('sip.') for k in t)


def test_bytes_are_wire_lengths():
    f = P.udp(REG)
    t = P.totals(P.run(P.spec('udp/5060=sip'), [f, f]))
    assert t['sip.5060.bytes_in'] == 2 * len(f)


def test_vlan_and_ipv6_are_decoded():
    vlan = raw(Ether(src=P.PEER_MAC, dst=P.VM_MAC) / Dot1Q(vlan=7) /
               Dot1Q(vlan=8) / IP(src=P.PEER, dst=P.VM) /
               UDP(sport=5060, dport=5060) / REG)
    v6 = P.udp(REG, v6=True)
    t = P.totals(P.run(P.spec('udp/5060=sip', vm_ips=(P.VM, '2001:db8::10')),
                       [vlan, v6]))
    assert t['sip.5060.requests.register'] == 2
    assert t['sip.5060.packets_in'] == 2


def test_fragmented_datagram_is_reassembled_and_counted_once():
    big = REG.replace(b'Content-Length: 0\r\n\r\n',
                      b'Content-Length: 3000\r\n\r\n' + b'v' * 3000)
    pkt = Ether(src=P.PEER_MAC, dst=P.VM_MAC) / IP(src=P.PEER, dst=P.VM) / \
        UDP(sport=5060, dport=5060) / big
    frags = [raw(f) for f in fragment(pkt, fragsize=1000)]
    assert len(frags) == 4
    frames = frags[::-1]          # out of order, too
    reports = P.run(P.spec('udp/5060=sip'), frames)
    t = P.totals(reports)
    assert t['sip.5060.requests.register'] == 1
    assert t['sip.5060.packets_in'] == 4
    assert t['sip.5060.bytes_in'] == sum(len(f) for f in frags)


def test_ipv6_fragments_are_reassembled():
    from scapy.all import IPv6ExtHdrFragment, fragment6
    big = REG + b'v' * 2500
    pkt = Ether(src=P.PEER_MAC, dst=P.VM_MAC) / IPv6(
        src='2001:db8::20', dst='2001:db8::10') / IPv6ExtHdrFragment() / \
        UDP(sport=5060, dport=5060) / big
    frags = [raw(f) for f in fragment6(pkt, 1280)]
    assert len(frags) >= 2
    t = P.totals(P.run(P.spec('udp/5060=sip', vm_ips=('2001:db8::10',)),
                       frags))
    assert t['sip.5060.requests.register'] == 1
    assert t['sip.5060.packets_in'] == len(frags)


def test_capture_packets_counts_everything_read():
    junk = b'\x00' * 60
    reports = P.run(P.spec('udp/5060=sip'), [P.udp(REG), junk, junk[:5]])
    assert reports[0].metrics['capture.packets'] == 3
    assert reports[0].metrics['capture.drops'] == 0


def test_flows_after_an_interval_boundary_keep_their_application():
    # one batch across three intervals: the flow accounting of every
    # segment gets the application the kernel found for its packets
    frames = [(k * 10 * MS, P.udp(REG, sport=40000 + k)) for k in range(150)]
    reports = P.run(P.spec('udp/5060=sip'), frames)
    assert len(reports) == 3
    flows = [f for r in reports for f in r.flows]
    assert sorted(f['sport'] if f['sport'] != 5060 else f['dport']
                  for f in flows) == [40000 + k for k in range(150)]
    assert {f['app'] for f in flows} == {pipeline.m.APP_SIP}
    hh = [f for r in reports for f in r.heavy_hitters['packets']]
    assert hh and {f['app'] for f in hh} == {pipeline.m.APP_SIP}
