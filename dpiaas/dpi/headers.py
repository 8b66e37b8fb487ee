"""Link, network and transport headers of a batch, decoded into columns.

One numba loop walks every packet of a batch once and writes fixed-width
columns (addresses, ports, payload position, flow hash). Everything after it
(service lookup, flow table, application decoders) reads these columns and
never re-parses L2-L4. numba rather than numpy vector code: the header chain
(VLAN tags, IPv6 extension headers, fragments) is data dependent per packet,
which vectorises badly, while a compiled loop does it in tens of ns.

IPv4 addresses are stored IPv4-mapped (``::ffff:a.b.c.d``) in two uint64
halves so that one code path serves both families.
"""
import numba
import numpy as np

from dpiaas.dpi import batch as batch_mod
from dpiaas.dpi import bytescan

# Values of the ``frag`` column.
FRAG_NONE = 0
FRAG_FIRST = 1   # offset 0, more fragments follow: has the L4 header
FRAG_LATER = 2   # offset > 0: no L4 header

# Values of the ``status`` column.
ST_OK = 0          # L4 decoded (or not TCP/UDP: proto says which)
ST_NOT_IP = 1      # ARP, LLDP, ...
ST_TRUNCATED = 2   # captured bytes end inside a header
ST_BAD = 3         # header fields impossible (bad IHL, data offset ...)

# Packets ahead whose first bytes the decoder asks the CPU to fetch.
PREFETCH_AHEAD = 8

V4_MAPPED_HI = np.uint64(0)
V4_MAPPED_LO = np.uint64(0x0000FFFF00000000)

_ETH_IPV4 = 0x0800
_ETH_IPV6 = 0x86DD
_ETH_VLAN = (0x8100, 0x88A8, 0x9100)


class Headers:
    """The decoded columns of a batch (reused from batch to batch)."""

    def __init__(self, capacity):
        self.capacity = capacity
        c = capacity
        self.status = np.zeros(c, np.int8)
        self.ipver = np.zeros(c, np.int8)
        self.proto = np.zeros(c, np.uint8)
        self.frag = np.zeros(c, np.int8)
        self.ip_id = np.zeros(c, np.uint32)
        self.l3_off = np.zeros(c, np.int64)
        self.src_hi = np.zeros(c, np.uint64)
        self.src_lo = np.zeros(c, np.uint64)
        self.dst_hi = np.zeros(c, np.uint64)
        self.dst_lo = np.zeros(c, np.uint64)
        self.src_mac = np.zeros(c, np.uint64)
        self.dst_mac = np.zeros(c, np.uint64)
        self.sport = np.zeros(c, np.int32)
        self.dport = np.zeros(c, np.int32)
        self.tcp_flags = np.zeros(c, np.uint8)
        self.tcp_seq = np.zeros(c, np.uint32)
        self.pl_off = np.zeros(c, np.int64)
        self.pl_len = np.zeros(c, np.int32)
        self.fhash = np.zeros(c, np.uint64)
        self.fdir = np.zeros(c, np.int8)   # 0: src is the flow's lower end

    def ensure(self, n):
        if n > self.capacity:
            self.__init__(max(n, 2 * self.capacity))

    def decode(self, b):
        """Fill the columns for batch ``b`` (a :class:`PacketBatch`)."""
        self.ensure(len(b))
        decode_headers(b.buf, b.off, b.caplen, len(b), b.linktype,
                       self.status, self.ipver, self.proto, self.frag,
                       self.ip_id, self.l3_off, self.src_hi, self.src_lo,
                       self.dst_hi, self.dst_lo, self.src_mac, self.dst_mac,
                       self.sport, self.dport, self.tcp_flags, self.tcp_seq,
                       self.pl_off, self.pl_len, self.fhash, self.fdir)


@numba.njit(cache=True, inline='always', _nrt=False)
def be16(buf, i):
    return (np.int64(buf[i]) << 8) | np.int64(buf[i + 1])


@numba.njit(cache=True, inline='always', _nrt=False)
def be32(buf, i):
    return ((np.int64(buf[i]) << 24) | (np.int64(buf[i + 1]) << 16)
            | (np.int64(buf[i + 2]) << 8) | np.int64(buf[i + 3]))


@numba.njit(cache=True, inline='always', _nrt=False)
def be64(buf, i):
    v = np.uint64(0)
    for k in range(8):
        v = (v << np.uint64(8)) | np.uint64(buf[i + k])
    return v


@numba.njit(cache=True, inline='always', _nrt=False)
def mix64(x):
    """splitmix64 finaliser: a cheap, well-spread 64-bit hash step."""
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


@numba.njit(cache=True, inline='always', _nrt=False)
def flow_hash(a_hi, a_lo, b_hi, b_lo, pa, pb, proto):
    """Hash of a flow's canonical (lower end first) 5-tuple."""
    h = mix64(a_hi ^ np.uint64(0x9E3779B97F4A7C15))
    h = mix64(h ^ a_lo)
    h = mix64(h ^ b_hi)
    h = mix64(h ^ b_lo)
    return mix64(h ^ (np.uint64(pa) << np.uint64(24))
                 ^ (np.uint64(pb) << np.uint64(8)) ^ np.uint64(proto))


@numba.njit(cache=True, _nrt=False)
def decode_headers(buf, off, caplen, n, linktype, status, ipver, proto, frag,
                   ip_id, l3_off, src_hi, src_lo, dst_hi, dst_lo, src_mac,
                   dst_mac, sport, dport, tcp_flags, tcp_seq, pl_off, pl_len,
                   fhash, fdir):
    for i in range(n):
        if i + PREFETCH_AHEAD < n:
            # the header lines of a later packet: its load overlaps this
            # packet's work instead of stalling the next iteration
            bytescan.prefetch(buf, off[i + PREFETCH_AHEAD])
        p = off[i]
        end = p + caplen[i]
        status[i] = ST_NOT_IP
        ipver[i] = 0
        proto[i] = 0
        frag[i] = FRAG_NONE
        ip_id[i] = 0
        sport[i] = 0
        dport[i] = 0
        tcp_flags[i] = 0
        tcp_seq[i] = 0
        pl_off[i] = end
        pl_len[i] = 0
        src_mac[i] = 0
        dst_mac[i] = 0
        src_hi[i] = 0
        src_lo[i] = 0
        dst_hi[i] = 0
        dst_lo[i] = 0
        fhash[i] = 0
        fdir[i] = 0
        # ---- link layer -> ethertype at q
        etype = -1
        q = p
        if linktype == 1:  # Ethernet
            if end - p < 14:
                status[i] = ST_TRUNCATED
                continue
            dm = np.uint64(0)
            sm = np.uint64(0)
            for k in range(6):
                dm = (dm << np.uint64(8)) | np.uint64(buf[p + k])
                sm = (sm << np.uint64(8)) | np.uint64(buf[p + 6 + k])
            dst_mac[i] = dm
            src_mac[i] = sm
            etype = be16(buf, p + 12)
            q = p + 14
            while etype == 0x8100 or etype == 0x88A8 or etype == 0x9100:
                if end - q < 4:
                    etype = -2
                    break
                etype = be16(buf, q + 2)
                q += 4
            if etype == -2:
                status[i] = ST_TRUNCATED
                continue
        elif linktype == 113:  # Linux cooked v1
            if end - p < 16:
                status[i] = ST_TRUNCATED
                continue
            etype = be16(buf, p + 14)
            q = p + 16
        elif linktype == 276:  # Linux cooked v2
            if end - p < 20:
                status[i] = ST_TRUNCATED
                continue
            etype = be16(buf, p)
            q = p + 20
        elif linktype == 0 or linktype == 108:  # BSD loopback
            if end - p < 4:
                status[i] = ST_TRUNCATED
                continue
            fam = np.int64(buf[p]) | (np.int64(buf[p + 1]) << 8) \
                | (np.int64(buf[p + 2]) << 16) | (np.int64(buf[p + 3]) << 24)
            if fam > 0xFFFF:   # written big-endian
                fam = be32(buf, p)
            if fam == 2:
                etype = _ETH_IPV4
            elif fam == 10 or fam == 24 or fam == 28 or fam == 30:
                etype = _ETH_IPV6
            q = p + 4
        else:  # raw IP (101, 228, 229)
            if end - p < 1:
                status[i] = ST_TRUNCATED
                continue
            v = buf[p] >> 4
            etype = _ETH_IPV4 if v == 4 else (_ETH_IPV6 if v == 6 else -1)
        l3_off[i] = q
        # ---- network layer
        l4 = 0
        l4end = end
        pr = 0
        if etype == _ETH_IPV4:
            if end - q < 20:
                status[i] = ST_TRUNCATED
                continue
            ihl = (buf[q] & 0x0F) * 4
            if (buf[q] >> 4) != 4 or ihl < 20:
                status[i] = ST_BAD
                continue
            if end - q < ihl:
                status[i] = ST_TRUNCATED
                continue
            ipver[i] = 4
            tot = be16(buf, q + 2)
            if tot >= ihl and q + tot < end:
                l4end = q + tot      # drop Ethernet padding
            fo = be16(buf, q + 6)
            ip_id[i] = be16(buf, q + 4)
            pr = buf[q + 9]
            src_lo[i] = V4_MAPPED_LO | np.uint64(be32(buf, q + 12))
            dst_lo[i] = V4_MAPPED_LO | np.uint64(be32(buf, q + 16))
            if (fo & 0x1FFF) != 0:
                frag[i] = FRAG_LATER
            elif (fo & 0x2000) != 0:
                frag[i] = FRAG_FIRST
            l4 = q + ihl
        elif etype == _ETH_IPV6:
            if end - q < 40:
                status[i] = ST_TRUNCATED
                continue
            if (buf[q] >> 4) != 6:
                status[i] = ST_BAD
                continue
            ipver[i] = 6
            plen = be16(buf, q + 4)
            if plen > 0 and q + 40 + plen < end:
                l4end = q + 40 + plen
            src_hi[i] = be64(buf, q + 8)
            src_lo[i] = be64(buf, q + 16)
            dst_hi[i] = be64(buf, q + 24)
            dst_lo[i] = be64(buf, q + 32)
            nh = buf[q + 6]
            r = q + 40
            ok = True
            # extension headers: hop-by-hop, routing, fragment, dest opts
            for _ in range(8):
                if nh == 0 or nh == 43 or nh == 60:
                    if l4end - r < 8:
                        ok = False
                        break
                    nh2 = buf[r]
                    r += (np.int64(buf[r + 1]) + 1) * 8
                    nh = nh2
                elif nh == 44:
                    if l4end - r < 8:
                        ok = False
                        break
                    fo = be16(buf, r + 2)
                    ip_id[i] = be32(buf, r + 4)
                    if (fo & 0xFFF8) != 0:
                        frag[i] = FRAG_LATER
                    elif (fo & 1) != 0:
                        frag[i] = FRAG_FIRST
                    nh = buf[r]
                    r += 8
                else:
                    break
            if not ok or r > l4end:
                status[i] = ST_TRUNCATED
                continue
            pr = nh
            l4 = r
        else:
            continue  # not IP: status stays ST_NOT_IP
        proto[i] = pr
        status[i] = ST_OK
        sp = 0
        dp = 0
        if frag[i] == FRAG_LATER:
            pl_off[i] = l4
            pl_len[i] = l4end - l4
        elif pr == 6:
            if l4end - l4 < 20:
                status[i] = ST_TRUNCATED
            else:
                doff = (buf[l4 + 12] >> 4) * 4
                if doff < 20:
                    status[i] = ST_BAD
                elif l4end - l4 < doff:
                    status[i] = ST_TRUNCATED
                else:
                    sp = be16(buf, l4)
                    dp = be16(buf, l4 + 2)
                    tcp_seq[i] = be32(buf, l4 + 4)
                    tcp_flags[i] = buf[l4 + 13]
                    pl_off[i] = l4 + doff
                    pl_len[i] = l4end - l4 - doff
        elif pr == 17:
            if l4end - l4 < 8:
                status[i] = ST_TRUNCATED
            else:
                sp = be16(buf, l4)
                dp = be16(buf, l4 + 2)
                pl_off[i] = l4 + 8
                ulen = be16(buf, l4 + 4)
                avail = l4end - l4 - 8
                if ulen >= 8 and ulen - 8 < avail and frag[i] == FRAG_NONE:
                    avail = ulen - 8
                pl_len[i] = avail
        else:
            pl_off[i] = l4
            pl_len[i] = l4end - l4
        sport[i] = sp
        dport[i] = dp
        a_hi = src_hi[i]
        a_lo = src_lo[i]
        b_hi = dst_hi[i]
        b_lo = dst_lo[i]
        lower_first = (a_hi < b_hi) or (a_hi == b_hi and (
            a_lo < b_lo or (a_lo == b_lo and sp <= dp)))
        if lower_first:
            fdir[i] = 0
            fhash[i] = flow_hash(a_hi, a_lo, b_hi, b_lo, sp, dp, pr)
        else:
            fdir[i] = 1
            fhash[i] = flow_hash(b_hi, b_lo, a_hi, a_lo, dp, sp, pr)


def supported(linktype):
    return linktype in batch_mod.SUPPORTED_LINKTYPES
