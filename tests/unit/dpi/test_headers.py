"""L2-L4 decoding into columns."""
import numpy as np
import pytest
from scapy.all import (CookedLinux, Dot1Q, Ether, IP, IPv6, IPv6ExtHdrFragment,
                       IPv6ExtHdrHopByHop, TCP, UDP, raw)

from dpiaas.dpi import batch as batch_mod
from dpiaas.dpi import headers as hdr


def decode(frames, linktype=batch_mod.LINKTYPE_ETHERNET):
    b = batch_mod.PacketBatch.from_packets(
        [(k, f) for k, f in enumerate(frames)], linktype=linktype)
    h = hdr.Headers(4)
    h.decode(b)
    return h


def test_ipv4_udp_ports_payload_and_mapped_addresses():
    h = decode([raw(Ether() / IP(src='10.1.2.3', dst='10.0.0.5') /
                    UDP(sport=1234, dport=53) / b'abcd')])
    assert h.status[0] == hdr.ST_OK
    assert (h.ipver[0], h.proto[0]) == (4, 17)
    assert (h.sport[0], h.dport[0], h.pl_len[0]) == (1234, 53, 4)
    assert h.src_lo[0] == 0x0000FFFF0A010203


def test_ethernet_padding_is_not_payload():
    frame = raw(Ether() / IP() / UDP(sport=1, dport=2) / b'x') + b'\0' * 20
    assert decode([frame]).pl_len[0] == 1


def test_stacked_vlan_tags_and_ipv6_extension_headers():
    h = decode([raw(Ether() / Dot1Q(vlan=1) / Dot1Q(vlan=2) / IPv6() /
                    IPv6ExtHdrHopByHop() / TCP(sport=80, dport=4000) /
                    b'HTTP')])
    assert (h.ipver[0], h.proto[0], h.sport[0], h.pl_len[0]) == (6, 6, 80, 4)


def test_fragments_are_marked():
    first = raw(Ether() / IP(flags='MF', id=7) / UDP(sport=1, dport=2) /
                (b'a' * 16))
    later = raw(Ether() / IP(frag=3, id=7, proto=17) / (b'b' * 8))
    v6 = raw(Ether() / IPv6() / IPv6ExtHdrFragment(offset=2, id=9, nh=17)
             / (b'c' * 8))
    h = decode([first, later, v6])
    assert list(h.frag[:3]) == [hdr.FRAG_FIRST, hdr.FRAG_LATER,
                                hdr.FRAG_LATER]
    assert (h.ip_id[1], h.ip_id[2]) == (7, 9)


def test_linux_cooked_capture():
    h = decode([raw(CookedLinux(proto=0x0800) / IP() / UDP(dport=5060))],
               linktype=batch_mod.LINKTYPE_LINUX_SLL)
    assert (h.status[0], h.dport[0]) == (hdr.ST_OK, 5060)


@pytest.mark.parametrize('cut', [5, 13, 20, 30, 40])
def test_truncated_headers_are_flagged_not_fatal(cut):
    frame = raw(Ether() / IP() / TCP(dport=80) / b'GET /')[:cut]
    h = decode([frame])
    assert h.status[0] in (hdr.ST_TRUNCATED, hdr.ST_NOT_IP)


def test_impossible_header_fields_are_bad():
    ip = bytearray(raw(Ether() / IP() / UDP()))
    ip[14] = 0x41                      # IHL 1
    h = decode([bytes(ip)])
    assert h.status[0] == hdr.ST_BAD


def test_both_directions_share_a_flow_hash():
    a = raw(Ether() / IP(src='1.1.1.1', dst='2.2.2.2') / TCP(sport=1,
                                                             dport=2))
    b = raw(Ether() / IP(src='2.2.2.2', dst='1.1.1.1') / TCP(sport=2,
                                                             dport=1))
    c = raw(Ether() / IP(src='2.2.2.2', dst='1.1.1.1') / TCP(sport=3,
                                                             dport=1))
    h = decode([a, b, c])
    assert h.fhash[0] == h.fhash[1] != h.fhash[2]
    assert h.fdir[0] != h.fdir[1]


def test_buffer_grows_for_large_batches():
    frames = [raw(Ether() / IP() / UDP())] * 10
    h = decode(frames)
    assert h.capacity >= 10
    assert np.all(h.status[:10] == hdr.ST_OK)
