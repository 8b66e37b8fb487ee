"""Walking a TPACKET_V3 ring block into batch columns.

The kernel fills a block with ``tpacket3_hdr`` + ``sockaddr_ll`` + frame
records; one compiled loop turns a whole block into the offset, length,
timestamp and packet-type columns of a :class:`PacketBatch`, with no
per-packet Python. Kept apart from the socket handling of
:mod:`dpiaas.dpi.capture.afpacket`, whose constants it shares.
"""
import numba
import numpy as np

TP_STATUS_VLAN_VALID = 0x10
TP_STATUS_VLAN_TPID_VALID = 0x40

# struct tpacket_block_desc (version, offset_to_priv, then tpacket_hdr_v1).
BD_STATUS = 8
BD_NUM_PKTS = 12
BD_FIRST_PKT = 16
BD_SEQ = 24
# struct tpacket3_hdr, then struct sockaddr_ll at TPACKET_ALIGN(48).
TP_NEXT = 0
TP_SEC = 4
TP_NSEC = 8
TP_SNAPLEN = 12
TP_LEN = 16
TP_STATUS = 20
TP_MAC = 24
TP_VLAN_TCI = 32
TP_VLAN_TPID = 36
TP_HDRLEN = 48
SLL_PKTTYPE = TP_HDRLEN + 10
SLL_LEN = 20
MIN_FRAME = TP_HDRLEN + SLL_LEN


@numba.njit(cache=True, nogil=True)
def walk_block(ring8, ring16, ring32, base, size, num, first,
               off, caplen, wirelen, ts_ns, pkttype, vlan):
    """Columns of the ``num`` packets of the block at ``ring8[base:]``.

    Offsets are relative to the block. ``vlan[i]`` is ``tpid << 16 | tci``
    for a packet whose 802.1Q tag the kernel moved into metadata, else -1.
    Returns (packets walked, packets with a stripped tag); fewer packets
    than ``num`` means a header pointed outside the block (never seen from
    a sane kernel, but numba does not check bounds, so we do).
    """
    h = first
    nvlan = 0
    for i in range(num):
        if h < 0 or h % 4 != 0 or h + MIN_FRAME > size:
            return i, nvlan
        p = base + h
        mac = np.int64(ring16[(p + TP_MAC) >> 1])
        snap = np.int64(ring32[(p + TP_SNAPLEN) >> 2])
        if h + mac + snap > size:
            return i, nvlan
        off[i] = h + mac
        caplen[i] = snap
        wirelen[i] = ring32[(p + TP_LEN) >> 2]
        ts_ns[i] = (np.int64(ring32[(p + TP_SEC) >> 2]) * 1000000000
                    + np.int64(ring32[(p + TP_NSEC) >> 2]))
        pkttype[i] = ring8[p + SLL_PKTTYPE]
        status = ring32[(p + TP_STATUS) >> 2]
        if status & TP_STATUS_VLAN_VALID:
            tpid = np.int64(0x8100)
            if status & TP_STATUS_VLAN_TPID_VALID:
                tpid = np.int64(ring16[(p + TP_VLAN_TPID) >> 1])
            vlan[i] = (tpid << 16) | (np.int64(ring32[(p + TP_VLAN_TCI)
                                                      >> 2]) & 0xffff)
            nvlan += 1
        else:
            vlan[i] = -1
        h += np.int64(ring32[(p + TP_NEXT) >> 2])
    return num, nvlan


@numba.njit(cache=True, nogil=True)
def compact(blk, n, off, caplen, wirelen, vlan, out):
    """Copy packets into ``out`` back to back, re-inserting stripped tags.

    The kernel moves a VLAN tag into metadata before capture; putting it
    back makes a live frame byte-identical to the one on the wire (and to
    the same packet read from a capture file), as libpcap does.
    """
    pos = 0
    for i in range(n):
        o = off[i]
        c = caplen[i]
        off[i] = pos
        if vlan[i] >= 0 and c >= 12:
            out[pos:pos + 12] = blk[o:o + 12]
            tpid = (vlan[i] >> 16) & 0xffff
            tci = vlan[i] & 0xffff
            out[pos + 12] = tpid >> 8
            out[pos + 13] = tpid & 0xff
            out[pos + 14] = tci >> 8
            out[pos + 15] = tci & 0xff
            out[pos + 16:pos + c + 4] = blk[o + 12:o + c]
            caplen[i] = c + 4
            wirelen[i] += 4
            pos += c + 4
        else:
            out[pos:pos + c] = blk[o:o + c]
            pos += c
    return pos


_warmed = False


def warm_up():
    """Compile (or load from cache) the numba loops before packets flow."""
    global _warmed
    if _warmed:
        return
    ring = np.zeros(4096, np.uint8)
    cols = columns(0)
    walk_block(ring, ring.view(np.uint16), ring.view(np.uint32), 0, 4096,
               0, 48, *cols)
    compact(ring, 0, cols[0], cols[1], cols[2], cols[5],
            np.zeros(0, np.uint8))
    _warmed = True


def columns(n):
    return (np.empty(n, np.int64), np.empty(n, np.int32),
            np.empty(n, np.int32), np.empty(n, np.int64),
            np.empty(n, np.int8), np.empty(n, np.int64))
