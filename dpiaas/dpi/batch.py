"""A batch of packets: the unit every capture backend hands to the pipeline.

Packets are never Python objects on the hot path. A backend (pcap reader,
AF_PACKET ring) exposes a contiguous byte buffer and per-packet columns that
point into it; the numba kernels walk those columns.
"""
import dataclasses

import numpy as np

# Link types (pcap LINKTYPE_* values) the decoders understand.
LINKTYPE_NULL = 0
LINKTYPE_ETHERNET = 1
LINKTYPE_RAW = 101
LINKTYPE_LOOP = 108
LINKTYPE_LINUX_SLL = 113
LINKTYPE_IPV4 = 228
LINKTYPE_IPV6 = 229
LINKTYPE_LINUX_SLL2 = 276
SUPPORTED_LINKTYPES = frozenset((
    LINKTYPE_NULL, LINKTYPE_ETHERNET, LINKTYPE_RAW, LINKTYPE_LOOP,
    LINKTYPE_LINUX_SLL, LINKTYPE_IPV4, LINKTYPE_IPV6, LINKTYPE_LINUX_SLL2))

# Linux sll_pkttype values; on a tap device PACKET_OUTGOING means the host
# sent the frame into the tap, i.e. towards the VM.
PKTTYPE_UNKNOWN = -1
PACKET_HOST = 0
PACKET_OUTGOING = 4


@dataclasses.dataclass
class PacketBatch:
    """Packets ``0..n-1`` of one link type, in arrival order.

    ``buf[off[i]:off[i] + caplen[i]]`` are the captured bytes of packet i,
    ``wirelen[i]`` its length on the wire, ``ts_ns[i]`` its timestamp in
    nanoseconds since the epoch, ``pkttype[i]`` the Linux packet type
    (``PKTTYPE_UNKNOWN`` offline), ``weight[i]`` how many wire packets it
    stands for (more than one only for a reassembled IP datagram).
    """

    buf: np.ndarray          # uint8, contiguous
    off: np.ndarray          # int64
    caplen: np.ndarray       # int32
    wirelen: np.ndarray      # int32
    ts_ns: np.ndarray        # int64
    pkttype: np.ndarray      # int8
    linktype: int = LINKTYPE_ETHERNET
    weight: np.ndarray = None  # int32; None means all ones

    def __post_init__(self):
        if self.weight is None:
            self.weight = np.ones(len(self.off), dtype=np.int32)

    def __len__(self):
        return len(self.off)

    @classmethod
    def from_packets(cls, packets, linktype=LINKTYPE_ETHERNET):
        """A batch from ``(ts_ns, bytes)`` or ``(ts_ns, bytes, pkttype)``.

        For tests, the slow path (reassembled datagrams) and small tools:
        not for the capture hot path.
        """
        packets = list(packets)
        n = len(packets)
        lens = np.fromiter((len(p[1]) for p in packets), dtype=np.int32,
                           count=n)
        off = np.zeros(n, dtype=np.int64)
        if n:
            off[1:] = np.cumsum(lens[:-1], dtype=np.int64)
        buf = np.frombuffer(b''.join(p[1] for p in packets),
                            dtype=np.uint8).copy()
        ts = np.fromiter((p[0] for p in packets), dtype=np.int64, count=n)
        pkttype = np.fromiter(
            (p[2] if len(p) > 2 else PKTTYPE_UNKNOWN for p in packets),
            dtype=np.int8, count=n)
        return cls(buf=buf, off=off, caplen=lens, wirelen=lens.copy(),
                   ts_ns=ts, pkttype=pkttype, linktype=linktype)
