"""Kernel filters built from services: expressions, compilation, semantics.

The semantics tests run the compiled program on crafted frames with a small
classic-BPF interpreter written here from the instruction set definition
(linux/filter.h), independent of libpcap, so a wrong expression or a wrong
decoding of libpcap's output makes them fail. The functional capture tests
check the same programs inside the kernel.
"""
import socket
import struct

import pytest

from dpiaas.dpi.capture import bpf
from dpiaas.dpi.capture import CaptureError
from dpiaas.dpi import spec

SNAPLEN = 262144


def run_cbpf(insns, pkt):
    """Return value of classic BPF program ``insns`` on bytes ``pkt``.

    Out-of-bounds loads end the program with 0 (drop), as in the kernel.
    """
    a = x = 0
    mem = [0] * 16
    pc = 0
    while True:
        code, jt, jf, k = insns[pc]
        pc += 1
        cls = code & 0x07
        if cls in (0x00, 0x01):            # LD, LDX
            size = code & 0x18
            mode = code & 0xe0
            width = {0x00: 4, 0x08: 2, 0x10: 1}[size]
            if mode == 0x00:               # IMM
                val = k
            elif mode == 0x80:             # LEN
                val = len(pkt)
            elif mode == 0x60:             # MEM
                val = mem[k]
            elif mode == 0xa0:             # MSH: 4 * (pkt[k] & 0xf)
                if k >= len(pkt):
                    return 0
                val = (pkt[k] & 0x0f) * 4
            else:                          # ABS, IND
                off = k + (x if mode == 0x40 else 0)
                if off + width > len(pkt):
                    return 0
                val = int.from_bytes(pkt[off:off + width], 'big')
            if cls == 0x00:
                a = val
            else:
                x = val
        elif cls == 0x02:                  # ST
            mem[k] = a
        elif cls == 0x03:                  # STX
            mem[k] = x
        elif cls == 0x04:                  # ALU
            op = code & 0xf0
            src = x if code & 0x08 else k
            if op == 0x80:
                a = -a
            elif op in (0x30, 0x90) and src == 0:
                return 0
            else:
                a = {0x00: lambda: a + src, 0x10: lambda: a - src,
                     0x20: lambda: a * src, 0x30: lambda: a // src,
                     0x40: lambda: a | src, 0x50: lambda: a & src,
                     0x60: lambda: a << src, 0x70: lambda: a >> src,
                     0x90: lambda: a % src, 0xa0: lambda: a ^ src}[op]()
            a &= 0xffffffff
        elif cls == 0x05:                  # JMP
            op = code & 0xf0
            if op == 0x00:
                pc += k
                continue
            src = x if code & 0x08 else k
            cond = {0x10: a == src, 0x20: a > src, 0x30: a >= src,
                    0x40: bool(a & src)}[op]
            pc += jt if cond else jf
        elif cls == 0x06:                  # RET
            rval = code & 0x18
            return {0x00: k, 0x08: x, 0x10: a}[rval]
        elif cls == 0x07:                  # MISC
            if code & 0xf8 == 0x00:
                x = a
            else:
                a = x
        else:
            raise AssertionError('opcode %#x' % code)


# -- frame builders ------------------------------------------------------

MAC_A = bytes.fromhex('fa163e000001')
MAC_B = bytes.fromhex('fa163e000002')


def eth(ethertype, payload, vlan=None):
    hdr = MAC_A + MAC_B
    if vlan is not None:
        hdr += struct.pack('!HH', 0x8100, vlan)
    return hdr + struct.pack('!H', ethertype) + payload


def l4(proto, sport, dport, payload=b'x' * 20):
    if proto == 17:
        return struct.pack('!HHHH', sport, dport, 8 + len(payload), 0) + \
            payload
    return struct.pack('!HHIIBBHHH', sport, dport, 1, 0, 0x50, 0x18, 1024,
                       0, 0) + payload


def ipv4(proto, body, frag_off=0, more=False):
    flags = (0x2000 if more else 0) | (frag_off // 8)
    hdr = struct.pack('!BBHHHBBH4s4s', 0x45, 0, 20 + len(body), 7, flags,
                      64, proto, 0, bytes([10, 0, 0, 1]),
                      bytes([10, 0, 0, 2]))
    return eth(0x0800, hdr + body)


def ipv6(nexthdr, body):
    hdr = struct.pack('!IHBB16s16s', 0x60000000, len(body), nexthdr, 64,
                      b'\xfd' + b'\x00' * 14 + b'\x01',
                      b'\xfd' + b'\x00' * 14 + b'\x02')
    return eth(0x86dd, hdr + body)


def ipv6_frag(proto, body, offset=0):
    frag = struct.pack('!BBHI', proto, 0, offset & 0xfff8, 42)
    return ipv6(44, frag + body)


def tagged(frame, tag=100):
    return frame[:12] + struct.pack('!HH', 0x8100, tag) + frame[12:]


ARP = eth(0x0806, b'\x00\x01\x08\x00\x06\x04\x00\x01' + b'\x00' * 20)

SERVICES = [spec.Service('udp', 5060, 5060, 'sip'),
            spec.Service('tcp', 80, 80, 'http', spec.ROLE_CONSUMED),
            spec.Service('tcp', 8000, 8080)]

CASES = [
    ('udp dst 5060', ipv4(17, l4(17, 40000, 5060)), True),
    ('udp src 5060', ipv4(17, l4(17, 5060, 40000)), True),
    ('tcp dst 80 (consumed)', ipv4(6, l4(6, 40000, 80)), True),
    ('tcp src 80', ipv4(6, l4(6, 80, 40000)), True),
    ('tcp in range', ipv4(6, l4(6, 40000, 8080)), True),
    ('tcp above range', ipv4(6, l4(6, 40000, 8081)), False),
    ('udp 53 not a service', ipv4(17, l4(17, 40000, 53)), False),
    ('tcp 5060: only udp is', ipv4(6, l4(6, 40000, 5060)), False),
    ('v4 later fragment', ipv4(17, b'y' * 40, frag_off=1480), True),
    ('v4 first fragment, other port',
     ipv4(17, l4(17, 40000, 9999), more=True), False),
    ('v4 first fragment, service port',
     ipv4(17, l4(17, 40000, 5060), more=True), True),
    ('v6 udp 5060', ipv6(17, l4(17, 40000, 5060)), True),
    ('v6 tcp 80', ipv6(6, l4(6, 80, 40000)), True),
    ('v6 udp 53', ipv6(17, l4(17, 40000, 53)), False),
    ('v6 first fragment', ipv6_frag(17, l4(17, 40000, 53)), True),
    ('v6 later fragment', ipv6_frag(17, b'z' * 64, offset=1232), True),
    ('vlan udp 5060', tagged(ipv4(17, l4(17, 40000, 5060))), True),
    ('vlan udp 53', tagged(ipv4(17, l4(17, 40000, 53))), False),
    ('vlan v4 later fragment', tagged(ipv4(17, b'y' * 40, frag_off=8)),
     True),
    ('vlan v6 tcp 8000', tagged(ipv6(6, l4(6, 8000, 1234))), True),
    ('two vlan tags udp 5060',
     tagged(tagged(ipv4(17, l4(17, 1, 5060)), 7), 8), False),
    ('arp', ARP, False),
    ('truncated ethernet', MAC_A + MAC_B, False),
]


@pytest.fixture(scope='module')
def program():
    return bpf.compile_filter(bpf.filter_expression(SERVICES))


# -- expressions ---------------------------------------------------------

def test_expression_sip():
    expr = bpf.filter_expression([spec.Service('udp', 5060, 5060, 'sip')])
    inner = 'udp port 5060 or (ip[6:2] & 0x1fff != 0) or (ip6 proto 44)'
    assert expr == '(%s) or (vlan and (%s))' % (inner, inner)


def test_expression_merges_and_orders_ports():
    svcs = [spec.Service('tcp', 8080, 8080), spec.Service('tcp', 80, 80),
            spec.Service('tcp', 81, 90), spec.Service('udp', 53, 53, 'dns'),
            spec.Service('tcp', 53, 53, 'dns'),
            spec.Service('tcp', 85, 85, 'http', spec.ROLE_CONSUMED)]
    assert bpf.port_expression(svcs) == (
        'tcp port 53 or tcp portrange 80-90 or tcp port 8080 or '
        'udp port 53')


def test_expression_wide_range():
    expr = bpf.filter_expression([spec.Service('udp', 10000, 20000)])
    assert expr.startswith('(udp portrange 10000-20000 or ')


def test_expression_needs_services():
    with pytest.raises(bpf.FilterError, match='no services'):
        bpf.filter_expression([])


# -- compilation ---------------------------------------------------------

def test_compile_gives_instructions(program):
    assert 10 < len(program) < 200
    for code, jt, jf, k in program:
        assert 0 <= code < 0x10000 and 0 <= jt < 256 and 0 <= jf < 256
        assert 0 <= k < 2 ** 32
    assert program[-1] == (0x06, 0, 0, 0)          # ret #0
    assert (0x06, 0, 0, SNAPLEN) in program        # ret #snaplen


def test_compile_snaplen():
    prog = bpf.compile_filter('udp', snaplen=96)
    assert (0x06, 0, 0, 96) in prog


def test_bad_expression_is_clear():
    with pytest.raises(bpf.FilterError) as info:
        bpf.compile_filter('udp prot 5060')
    msg = str(info.value)
    assert 'udp prot 5060' in msg and 'syntax error' in msg
    assert isinstance(info.value, ValueError)
    assert isinstance(info.value, CaptureError)


def test_bad_port_is_clear():
    with pytest.raises(bpf.FilterError, match='port 70000'):
        bpf.compile_filter('tcp port 70000')


# -- semantics -----------------------------------------------------------

@pytest.mark.parametrize('name,frame,passes', CASES,
                         ids=[c[0] for c in CASES])
def test_program_filters(program, name, frame, passes):
    assert run_cbpf(program, frame) == (SNAPLEN if passes else 0)


def test_interpreter_discriminates():
    """The interpreter can say no: other programs give other answers."""
    sip = ipv4(17, l4(17, 40000, 5060))
    dns = ipv4(17, l4(17, 40000, 53))
    prog = bpf.compile_filter('udp dst port 53')
    assert run_cbpf(prog, dns) == SNAPLEN
    assert run_cbpf(prog, sip) == 0
    assert run_cbpf(list(bpf.DROP_ALL), sip) == 0
    prog = bpf.compile_filter('ip[6:2] & 0x1fff != 0')
    assert run_cbpf(prog, ipv4(17, b'y' * 40, frag_off=8)) == SNAPLEN
    assert run_cbpf(prog, dns) == 0


# -- attaching (any socket takes a classic filter; no root needed) -------

def _udp_pair():
    rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rx.bind(('127.0.0.1', 0))
    rx.settimeout(0.5)
    tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    return rx, tx


def test_attach_drop_all_then_accept_all():
    rx, tx = _udp_pair()
    with rx, tx:
        bpf.attach_filter(rx, bpf.DROP_ALL)
        tx.sendto(b'dropped', rx.getsockname())
        with pytest.raises(socket.timeout):
            rx.recv(100)
        bpf.attach_filter(rx, [(0x06, 0, 0, 0xffffffff)])
        tx.sendto(b'kept', rx.getsockname())
        assert rx.recv(100) == b'kept'
        bpf.attach_filter(rx, bpf.DROP_ALL)
        bpf.detach_filter(rx)
        tx.sendto(b'again', rx.getsockname())
        assert rx.recv(100) == b'again'


def test_attach_rejects_invalid_program():
    rx, tx = _udp_pair()
    with rx, tx:
        # A jump past the end: the kernel's verifier refuses it.
        with pytest.raises(bpf.FilterError, match='kernel rejected'):
            bpf.attach_filter(rx, [(0x15, 5, 0, 1), (0x06, 0, 0, 0)])
        with pytest.raises(bpf.FilterError):
            bpf.attach_filter(rx, [])
