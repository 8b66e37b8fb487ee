"""Live capture from one network interface through a TPACKET_V3 ring.

Why this shape:

- AF_PACKET with an mmap'ed TPACKET_V3 ring is the fastest capture Linux
  offers without a kernel bypass: the kernel writes packets back to back
  into large blocks and hands a whole block over at once (when it is full
  or after ``block_timeout_ms``), so user space pays one wake-up per block
  instead of one system call per packet.
- A block becomes one :class:`~dpiaas.dpi.batch.PacketBatch` whose ``buf``
  is a zero-copy view of the ring. The per-packet headers of the block are
  walked by one numba loop that writes the offset/length/timestamp/packet
  type columns; there is no per-packet Python.
- Because ``buf`` points into the ring, a block is given back to the kernel
  only when the consumer says it is done: :meth:`AfPacketCapture.read`
  hands out batches and :meth:`AfPacketCapture.release` (or the next
  ``read``) returns their blocks; :meth:`AfPacketCapture.batches` does this
  for a ``for`` loop, releasing the previous block when the next batch is
  asked for. Keep nothing that points into a batch after that, or ask for
  ``copy=True``.
- The kernel filter is attached before the socket is bound, as a drop-all
  program, and replaced by the real one only once the socket is bound and
  has joined its fanout group: no packet of another filter or another
  group member's share can slip in (libpcap closes the same race).
- Errors a collector must survive raise :class:`CaptureError` with one line
  saying what happened (interface missing or deleted, no privilege, ring
  too large), never a bare ``OSError``.

On a tap device ``PACKET_OUTGOING`` (4) in the ``pkttype`` column means the
host sent the frame into the tap, i.e. towards the VM.
"""
import errno
import logging
import mmap
import select
import socket
import struct

import numpy as np

from dpiaas.dpi import batch as batch_mod
from dpiaas.dpi.capture import bpf
from dpiaas.dpi.capture import ring
from dpiaas.dpi.capture import CaptureError

LOG = logging.getLogger(__name__)

SOL_PACKET = 263
PACKET_RX_RING = 5
PACKET_STATISTICS = 6
PACKET_VERSION = 10
PACKET_FANOUT = 18
TPACKET_V3 = 2
PACKET_FANOUT_HASH = 0
PACKET_FANOUT_FLAG_UNIQUEID = 0x2000
PACKET_FANOUT_FLAG_DEFRAG = 0x8000
FANOUT_AUTO = 'auto'
ETH_P_ALL = 0x0003

TP_STATUS_KERNEL = 0
TP_STATUS_USER = 1

ARPHRD_ETHER = 1
ARPHRD_LOOPBACK = 772

_GONE_ERRNOS = (errno.ENODEV, errno.ENXIO)


def _empty_batch():
    return batch_mod.PacketBatch(
        buf=np.zeros(0, np.uint8), off=np.zeros(0, np.int64),
        caplen=np.zeros(0, np.int32), wirelen=np.zeros(0, np.int32),
        ts_ns=np.zeros(0, np.int64), pkttype=np.zeros(0, np.int8))


class AfPacketCapture:
    """Packets of one interface, as batches, from a TPACKET_V3 ring.

    :param interface: device name (``tap6f1c2b9e-5d``).
    :param bpf_filter: a libpcap expression, a compiled program (list of
        ``(code, jt, jf, k)``) or None for every packet.
    :param block_size: ring block size in bytes (a multiple of the page
        size; a power of two avoids wasting kernel memory). Also the
        largest frame that can be captured whole.
    :param block_count: blocks in the ring; the ring is
        ``block_size * block_count`` bytes of unswappable kernel memory.
    :param block_timeout_ms: the kernel hands over a block that is not
        full after this long: the bound on capture latency.
    :param fanout_group: join this PACKET_FANOUT group (0..65535) in hash
        mode, so that the sockets of several processes on the same
        interface share its flows; ``'auto'`` to have the kernel pick an
        unused id (read it from :attr:`fanout_id` and give it to the other
        members); None for a lone socket.
    :param fanout_defrag: with fanout, have the kernel reassemble IPv4
        fragments before hashing (PACKET_FANOUT_FLAG_DEFRAG): a datagram
        then lands on one worker, as one reassembled packet.
    :param copy: give batches their own buffer and return each block to
        the kernel at once (costs a copy; for consumers that keep batches).
    """

    def __init__(self, interface, bpf_filter=None, block_size=1 << 20,
                 block_count=32, frame_size=2048, block_timeout_ms=50,
                 fanout_group=None, fanout_defrag=True,
                 snaplen=bpf.DEFAULT_SNAPLEN, copy=False):
        self._sock = None
        self._mm = None
        self._held = []
        self.interface = interface
        self.block_size = int(block_size)
        self.block_count = int(block_count)
        self.frame_size = int(frame_size)
        self.block_timeout_ms = int(block_timeout_ms)
        self.fanout_group = fanout_group
        self.fanout_id = None
        self.fanout_defrag = bool(fanout_defrag)
        self.copy = bool(copy)
        self._check_geometry()
        if isinstance(bpf_filter, str):
            bpf_filter = bpf.compile_filter(bpf_filter, snaplen=snaplen)
        self._filter = list(bpf_filter) if bpf_filter is not None else None
        self._ring8 = self._ring16 = self._ring32 = self._ring64 = None
        self._next = 0
        self._packets = 0
        self._drops = 0
        self._link_down = False
        ring.warm_up()
        self._open()

    # -- opening -------------------------------------------------------

    def _check_geometry(self):
        page = mmap.PAGESIZE
        if self.block_size <= 0 or self.block_size % page:
            raise CaptureError('block_size %d is not a multiple of the page '
                               'size %d' % (self.block_size, page))
        if self.block_count <= 0:
            raise CaptureError('block_count must be positive')
        if (self.frame_size < ring.MIN_FRAME or self.frame_size % 16
                or self.block_size % self.frame_size):
            raise CaptureError('frame_size %d must be a multiple of 16, at '
                               'least %d, dividing block_size'
                               % (self.frame_size, ring.MIN_FRAME))

    def _open(self):
        name = self.interface
        if not isinstance(name, str) or not 0 < len(name) < 16:
            raise CaptureError('bad interface name %r' % (name,))
        try:
            self._ifindex = socket.if_nametoindex(name)
        except OSError:
            raise CaptureError('interface %s does not exist' % name)
        try:
            # Protocol 0: the socket sees nothing until bind() below.
            self._sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)
        except PermissionError:
            raise CaptureError('capturing on %s needs CAP_NET_RAW (run the '
                               'agent as root)' % name)
        except OSError as exc:
            raise CaptureError('cannot open a packet socket for %s: %s'
                               % (name, exc.strerror or exc))
        try:
            self._setup()
        except BaseException:
            self.close()
            raise
        LOG.debug('capturing on %s: ring %d x %d bytes, fanout %s',
                  name, self.block_count, self.block_size, self.fanout_group)

    def _setup(self):
        sock, name = self._sock, self.interface
        bpf.attach_filter(sock, bpf.DROP_ALL)
        ring_bytes = self.block_size * self.block_count
        try:
            sock.setsockopt(SOL_PACKET, PACKET_VERSION, TPACKET_V3)
            req = struct.pack(
                '7I', self.block_size, self.block_count, self.frame_size,
                ring_bytes // self.frame_size, self.block_timeout_ms, 0, 0)
            sock.setsockopt(SOL_PACKET, PACKET_RX_RING, req)
            self._mm = mmap.mmap(sock.fileno(), ring_bytes, mmap.MAP_SHARED,
                                 mmap.PROT_READ | mmap.PROT_WRITE)
        except OSError as exc:
            raise CaptureError('cannot set up a %d MiB TPACKET_V3 ring on '
                               '%s: %s' % (ring_bytes >> 20, name,
                                           exc.strerror or exc))
        self._ring8 = np.frombuffer(self._mm, dtype=np.uint8)
        self._ring16 = self._ring8.view(np.uint16)
        self._ring32 = self._ring8.view(np.uint32)
        self._ring64 = self._ring8.view(np.uint64)
        try:
            sock.bind((name, ETH_P_ALL))
        except OSError as exc:
            if exc.errno in _GONE_ERRNOS:
                raise CaptureError('interface %s does not exist' % name)
            raise CaptureError('cannot bind to %s: %s'
                               % (name, exc.strerror or exc))
        hatype = sock.getsockname()[3]
        if hatype not in (ARPHRD_ETHER, ARPHRD_LOOPBACK):
            raise CaptureError('interface %s is not Ethernet (ARPHRD %d): '
                               'not supported' % (name, hatype))
        if self.fanout_group is not None:
            self._join_fanout()
        # Anything the drop-all program let in (nothing, unless the kernel
        # changes) must not be mistaken for filtered traffic.
        self._drain()
        if self._filter is None:
            bpf.detach_filter(sock)
        else:
            bpf.attach_filter(sock, self._filter)
        self._poll = select.poll()
        self._poll.register(sock.fileno(), select.POLLIN | select.POLLERR)

    def _join_fanout(self):
        mode = PACKET_FANOUT_HASH
        if self.fanout_defrag:
            mode |= PACKET_FANOUT_FLAG_DEFRAG
        if self.fanout_group == FANOUT_AUTO:
            group = 0
            mode |= PACKET_FANOUT_FLAG_UNIQUEID
        else:
            group = int(self.fanout_group)
            if not 0 <= group <= 0xffff:
                raise CaptureError('fanout group %d out of range 0..65535'
                                   % group)
        try:
            self._sock.setsockopt(SOL_PACKET, PACKET_FANOUT,
                                  struct.pack('I', group | (mode << 16)))
            self.fanout_id = self._sock.getsockopt(
                SOL_PACKET, PACKET_FANOUT) & 0xffff
        except OSError as exc:
            raise CaptureError('cannot join fanout group %d on %s: %s (is '
                               'the id used on another interface or with '
                               'another mode?)' % (group, self.interface,
                                                   exc.strerror or exc))

    def _drain(self):
        """Hand every block back; continue where the kernel writes next."""
        last = -1
        for idx in range(self.block_count):
            if self._ready(idx):
                self._set_kernel(idx)
                last = idx
        self._next = (last + 1) % self.block_count

    def _resync(self):
        """Find the oldest ready block if we lost step with the kernel.

        The kernel fills blocks in ring order and so do we; this is a net
        under that invariant, so that a slip can never leave the ring full
        while we wait on a block the kernel is not writing.
        """
        oldest = None
        for idx in range(self.block_count):
            if self._ready(idx):
                seq = int(self._ring64[(idx * self.block_size + ring.BD_SEQ)
                                       >> 3])
                if oldest is None or seq < oldest[0]:
                    oldest = (seq, idx)
        if oldest is not None:
            LOG.warning('%s: ring out of step, resuming at block %d (not %d)',
                        self.interface, oldest[1], self._next)
            self._next = oldest[1]

    # -- the ring ------------------------------------------------------

    def _ready(self, idx):
        base = idx * self.block_size
        status = self._ring32[(base + ring.BD_STATUS) >> 2]
        return bool(status & TP_STATUS_USER)

    def _set_kernel(self, idx):
        base = idx * self.block_size
        self._ring32[(base + ring.BD_STATUS) >> 2] = TP_STATUS_KERNEL

    def _batch(self, idx):
        base = idx * self.block_size
        size = self.block_size
        num = int(self._ring32[(base + ring.BD_NUM_PKTS) >> 2])
        first = int(self._ring32[(base + ring.BD_FIRST_PKT) >> 2])
        off, caplen, wirelen, ts_ns, pkttype, vlan = ring.columns(num)
        n, nvlan = ring.walk_block(
            self._ring8, self._ring16, self._ring32, base, size, num, first,
            off, caplen, wirelen, ts_ns, pkttype, vlan)
        if n < num:
            LOG.warning('%s: block %d is corrupt after %d of %d packets; '
                        'the rest is skipped', self.interface, idx, n, num)
            off, caplen, wirelen = off[:n], caplen[:n], wirelen[:n]
            ts_ns, pkttype, vlan = ts_ns[:n], pkttype[:n], vlan[:n]
        buf = self._ring8[base:base + size]
        if nvlan or self.copy:
            out = np.empty(int(caplen.sum()) + 4 * nvlan, np.uint8)
            ring.compact(buf, n, off, caplen, wirelen, vlan, out)
            buf = out
        return batch_mod.PacketBatch(
            buf=buf, off=off, caplen=caplen, wirelen=wirelen, ts_ns=ts_ns,
            pkttype=pkttype, linktype=batch_mod.LINKTYPE_ETHERNET)

    # -- reading -------------------------------------------------------

    def fileno(self):
        """The socket's descriptor, for an external poll/select loop."""
        self._check_open()
        return self._sock.fileno()

    def read(self, timeout_ms=100, max_blocks=None):
        """Batches of the blocks ready now, waiting up to ``timeout_ms``.

        At most ``max_blocks`` batches (default: up to the whole ring).
        Returns ``[]`` when nothing arrived in time. The returned batches
        are valid until :meth:`release` or the next ``read``, which first
        releases them (so a forgotten release never stalls the ring).
        Raises :class:`CaptureError` when the interface vanished.
        """
        self.release()
        self._check_open()
        if not self._ready(self._next):
            if self._wait(timeout_ms) and not self._ready(self._next):
                self._resync()
        # Never more than one lap: a held block still reads as ready.
        limit = min(max_blocks or self.block_count, self.block_count)
        out = []
        while len(out) < limit and self._ready(self._next):
            idx = self._next
            out.append(self._batch(idx))
            self._next = (idx + 1) % self.block_count
            if self.copy:
                self._set_kernel(idx)
            else:
                self._held.append(idx)
        return out

    def release(self):
        """Give the blocks behind the last ``read`` back to the kernel."""
        if self._ring32 is None:
            self._held = []
            return
        for idx in self._held:
            self._set_kernel(idx)
        self._held = []

    def batches(self, timeout_ms=100, stop=None):
        """Yield one batch per ring block until ``stop.is_set()``.

        The block behind a batch is released when the next batch is asked
        for (or the loop ends). When nothing arrives for ``timeout_ms`` an
        empty batch is yielded, so a consumer can close intervals on time
        (an interval without traffic is a measurement too). ``stop`` is
        anything with ``is_set()`` (threading or multiprocessing Event).
        """
        try:
            while stop is None or not stop.is_set():
                got = self.read(timeout_ms, max_blocks=1)
                yield got[0] if got else _empty_batch()
        finally:
            self.release()

    def _wait(self, timeout_ms):
        """poll(); True when the socket said data is ready."""
        try:
            events = self._poll.poll(timeout_ms)
        except OSError as exc:
            raise CaptureError('capture on %s failed: %s'
                               % (self.interface, exc.strerror or exc))
        bad = 0
        for _fd, ev in events:
            bad |= ev & (select.POLLERR | select.POLLHUP | select.POLLNVAL)
        if bad:
            self._on_error(bad)
            return False
        if not events or self._link_down:
            # Idle: make sure the interface is still there. An interface
            # deleted after going down reports no error of its own.
            self._check_link()
        return bool(events)

    def _on_error(self, revents):
        if revents & select.POLLNVAL:
            raise CaptureError('capture on %s: socket closed'
                               % self.interface)
        err = self._sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        self._check_link()
        if err == errno.ENETDOWN:
            # The kernel unhooks the socket while the link is down and
            # hooks it again when it comes back: keep waiting.
            if not self._link_down:
                LOG.warning('interface %s is down; waiting for it',
                            self.interface)
            self._link_down = True
        elif err in _GONE_ERRNOS:
            raise CaptureError('interface %s vanished while capturing'
                               % self.interface)
        elif err:
            raise CaptureError('capture on %s failed: %s'
                               % (self.interface, errno.errorcode.get(
                                   err, err)))

    def _check_link(self):
        try:
            name = socket.if_indextoname(self._ifindex)
        except OSError:
            raise CaptureError('interface %s vanished while capturing'
                               % self.interface)
        if name != self.interface:
            raise CaptureError('interface %s vanished while capturing (its '
                               'index now belongs to %s)'
                               % (self.interface, name))
        if self._link_down:
            self._link_down = False

    def _check_open(self):
        if self._sock is None:
            raise CaptureError('capture on %s is closed' % self.interface)

    # -- statistics and closing ----------------------------------------

    def stats(self):
        """Cumulative kernel counters: ``packets`` (passed the filter,
        including dropped ones) and ``drops`` (ring full).

        The kernel resets its counters on every read; they are summed
        here. After :meth:`close` the last totals stay readable.
        """
        if self._sock is not None:
            try:
                raw = self._sock.getsockopt(SOL_PACKET, PACKET_STATISTICS,
                                            12)
            except OSError as exc:
                LOG.debug('PACKET_STATISTICS on %s: %s', self.interface, exc)
            else:
                packets, drops, _freeze = struct.unpack('3I', raw)
                self._packets += packets
                self._drops += drops
        return {'packets': self._packets, 'drops': self._drops}

    def close(self):
        """Release the ring and the socket; safe to call twice."""
        if self._sock is not None:
            self.stats()
        self._held = []
        self._ring8 = self._ring16 = self._ring32 = self._ring64 = None
        if self._mm is not None:
            try:
                self._mm.close()
            except BufferError:
                # A batch still points into the ring: the mapping lives
                # on until the last view is gone, which is harmless.
                LOG.debug('%s: ring still referenced by a batch',
                          self.interface)
            self._mm = None
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        try:
            self.close()
        except Exception:  # noqa: S110 - interpreter shutdown
            pass
