"""Capture files (pcap, pcapng, either gzip-compressed) as packet batches.

The file is read in large chunks and its record headers are indexed by a
numba loop, so offline replay runs the same batch pipeline as live capture
with no per-packet Python. A truncated last record (a capture cut short)
ends the file with a warning; a file that is not a capture, or whose record
headers are impossible, raises :class:`CaptureFileError` with one line that
says what is wrong.
"""
import io
import logging
import mmap
import os
import struct
import zlib

import numba
import numpy as np

from dpiaas.dpi import batch as batch_mod
from dpiaas.dpi import bytescan

LOG = logging.getLogger(__name__)

CHUNK = 8 << 20
PREFETCH = 4096
MAX_RECORD = 1 << 18          # larger than any snaplen a tool writes
PCAP_MAGICS = {
    b'\xd4\xc3\xb2\xa1': ('<', 1000), b'\xa1\xb2\xc3\xd4': ('>', 1000),
    b'\x4d\x3c\xb2\xa1': ('<', 1), b'\xa1\xb2\x3c\x4d': ('>', 1),
}
PCAPNG_SHB = b'\x0a\x0d\x0d\x0a'


class CaptureFileError(Exception):
    """A capture file that cannot be read; the message says why."""


@numba.njit(cache=True)
def _u32(buf, i, big):
    if big:
        return (np.int64(buf[i]) << 24) | (np.int64(buf[i + 1]) << 16) \
            | (np.int64(buf[i + 2]) << 8) | np.int64(buf[i + 3])
    return (np.int64(buf[i + 3]) << 24) | (np.int64(buf[i + 2]) << 16) \
        | (np.int64(buf[i + 1]) << 8) | np.int64(buf[i])


@numba.njit(cache=True)
def index_pcap(buf, pos, end, big, ns_per_tick, off, caplen, wirelen, ts):
    """Index classic pcap records in buf[pos:end].

    Returns (count, next position, error): error 1 = impossible record.
    """
    n = 0
    cap = off.shape[0]
    # Records are found one after the other (each header gives the next
    # one's place), so every header would be a wait on memory: fetch the
    # file PREFETCH bytes ahead instead. The decoders then find the
    # batch's bytes in cache too.
    pf = pos
    while n < cap and end - pos >= 16:
        ahead = min(pos + PREFETCH, end)
        while pf < ahead:
            bytescan.prefetch(buf, pf)
            pf += 64
        incl = _u32(buf, pos + 8, big)
        if incl > 262144:
            return n, pos, 1
        if end - pos - 16 < incl:
            break
        sec = _u32(buf, pos, big)
        frac = _u32(buf, pos + 4, big)
        ts[n] = sec * 1000000000 + frac * ns_per_tick
        off[n] = pos + 16
        caplen[n] = incl
        orig = _u32(buf, pos + 12, big)
        wirelen[n] = orig if orig >= incl else incl
        n += 1
        pos += 16 + incl
    return n, pos, 0


@numba.njit(cache=True)
def index_pcapng(buf, pos, end, big, if_linktype, if_tick_ns, linktype,
                 off, caplen, wirelen, ts):
    """Index pcapng packet blocks of ``linktype`` in buf[pos:end].

    Stops before any block that needs Python (section or interface block,
    a packet of another link type) or that is incomplete. Returns
    (count, next position, status): status 0 = need more data or done,
    1 = impossible block, 2 = stopped at a block for Python.
    """
    n = 0
    cap = off.shape[0]
    while n < cap and end - pos >= 12:
        btype = _u32(buf, pos, big)
        blen = _u32(buf, pos + 4, big)
        if blen < 12 or blen % 4 != 0 or blen > (1 << 26):
            return n, pos, 1
        if end - pos < blen:
            break
        if btype == 6:      # Enhanced Packet Block
            if blen < 32:
                return n, pos, 1
            ifid = _u32(buf, pos + 8, big)
            if ifid >= if_linktype.shape[0]:
                return n, pos, 1
            if if_linktype[ifid] != linktype:
                return n, pos, 2
            incl = _u32(buf, pos + 20, big)
            if incl > blen - 32:
                return n, pos, 1
            ticks = (_u32(buf, pos + 12, big) << 32) | \
                _u32(buf, pos + 16, big)
            tick = if_tick_ns[ifid]
            if tick == np.floor(tick):       # exact for ms/us/ns units
                ts[n] = ticks * np.int64(tick)
            else:
                ts[n] = np.int64(ticks * tick)
            off[n] = pos + 28
            caplen[n] = incl
            orig = _u32(buf, pos + 24, big)
            wirelen[n] = orig if orig >= incl else incl
            n += 1
        elif btype == 3:    # Simple Packet Block (interface 0)
            if if_linktype.shape[0] == 0:
                return n, pos, 1
            if if_linktype[0] != linktype:
                return n, pos, 2
            orig = _u32(buf, pos + 8, big)
            incl = min(orig, blen - 16)
            ts[n] = 0
            off[n] = pos + 12
            caplen[n] = incl
            wirelen[n] = orig
            n += 1
        elif btype == 1 or btype == 0x0A0D0D0A:
            return n, pos, 2
        pos += blen
    return n, pos, 0


class _GunzipReader:
    """Decompress a gzip file as it is read, keeping every byte that was
    decompressed when the stream turns out to be cut short (``gzip``'s own
    reader raises and loses the whole read). Concatenated members work."""

    def __init__(self, raw):
        self.raw = raw
        self.z = zlib.decompressobj(wbits=31)
        self.pending = b''
        self.cut = False

    def read(self, size):
        out = [self.pending]
        have = len(self.pending)
        while have < size:
            data = self.raw.read(1 << 20)
            if not data:
                if not self.z.eof and self.z.unconsumed_tail == b'':
                    self.cut = True
                break
            try:
                chunk = self.z.decompress(data)
            except zlib.error as exc:
                raise OSError('gzip data corrupt: %s' % exc)
            while self.z.eof and self.z.unused_data:
                rest = self.z.unused_data
                self.z = zlib.decompressobj(wbits=31)
                chunk += self.z.decompress(rest)
            out.append(chunk)
            have += len(chunk)
        data = b''.join(out)
        self.pending = data[size:]
        return data[:size]

    def close(self):
        self.raw.close()


def _open(path):
    try:
        f = open(path, 'rb')
    except OSError as exc:
        raise CaptureFileError('cannot open %s: %s' % (path, exc.strerror))
    head = f.read(2)
    f.seek(0)
    if head == b'\x1f\x8b':
        return _GunzipReader(f)
    return f


class CaptureFile:
    """Iterate over a capture file's packets as PacketBatch objects."""

    def __init__(self, path, batch_size=8192):
        self.path = str(path)
        self.batch_size = batch_size
        self.truncated = False
        self.packets = 0

    def __iter__(self):
        f = _open(self.path)
        try:
            try:
                magic = f.read(4)
            except (OSError, EOFError) as exc:
                raise CaptureFileError('%s: %s' % (self.path, exc))
            if magic in PCAP_MAGICS:
                yield from self._pcap(f, magic)
            elif magic == PCAPNG_SHB:
                yield from self._pcapng(f, magic)
            else:
                raise CaptureFileError(
                    '%s is not a pcap or pcapng capture (magic %s)'
                    % (self.path, magic.hex() or 'empty'))
        finally:
            f.close()

    def _next_buffer(self, f, carry):
        """The next bytes to index, with ``carry`` (an unfinished record)
        in front, and whether more may follow.

        A plain file is memory-mapped whole: records are indexed where the
        page cache holds them, and the kernels read only the bytes they
        need. A compressed stream is read in chunks.
        """
        if isinstance(f, io.BufferedReader):
            start = f.tell() - len(carry)
            size = os.fstat(f.fileno()).st_size
            f.seek(size)
            if size - start <= 0:
                return np.frombuffer(b'', dtype=np.uint8), False
            try:
                # copy-on-write: a writable array type, like every other
                # batch's, so the kernels are compiled once (nothing
                # writes to it)
                mm = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_COPY)
            except (OSError, ValueError):
                f.seek(start)
                data = f.read()
                return np.frombuffer(data, dtype=np.uint8), False
            if hasattr(mm, 'madvise'):
                mm.madvise(mmap.MADV_SEQUENTIAL)
            return np.frombuffer(mm, dtype=np.uint8)[start:], False
        try:
            more = f.read(CHUNK)
        except (OSError, EOFError) as exc:
            LOG.warning('%s: %s; using the packets read so far',
                        self.path, exc)
            self.truncated = True
            more = b''
        if getattr(f, 'cut', False) and not more and not self.truncated:
            LOG.warning('%s: gzip stream cut short; using what it held',
                        self.path)
            self.truncated = True
        return np.frombuffer(carry + more, dtype=np.uint8), more

    def _columns(self):
        n = self.batch_size
        return (np.empty(n, np.int64), np.empty(n, np.int32),
                np.empty(n, np.int32), np.empty(n, np.int64))

    def _pcap(self, f, magic):
        order, tick = PCAP_MAGICS[magic]
        rest = f.read(20)
        if len(rest) < 20:
            raise CaptureFileError('%s: pcap header cut short' % self.path)
        linktype = struct.unpack(order + 'HHiIII', rest)[5] & 0x0FFFFFFF
        self._check_linktype(linktype)
        big = order == '>'
        carry = b''
        while True:
            buf, more = self._next_buffer(f, carry)
            pos = 0
            while True:
                off, cap, wire, ts = self._columns()
                n, pos, err = index_pcap(buf, pos, len(buf), big, tick, off,
                                         cap, wire, ts)
                if n:
                    self.packets += n
                    yield self._batch(buf, n, off, cap, wire, ts, linktype)
                if err:
                    raise CaptureFileError(
                        '%s: corrupt record after packet %d (length field '
                        'impossible)' % (self.path, self.packets))
                if n < self.batch_size:
                    break
            carry = bytes(buf[pos:])
            if not more:
                if carry:
                    self.truncated = True
                    LOG.warning('%s: last record cut short (%d bytes); '
                                'capture truncated', self.path, len(carry))
                return

    def _pcapng(self, f, magic):
        big = False
        if_linktype = []
        if_tick = []
        carry = magic
        while True:
            buf, more = self._next_buffer(f, carry)
            eof = not more
            pos = 0
            while True:
                if len(buf) - pos < 12:
                    break
                btype_raw = bytes(buf[pos:pos + 4])
                if btype_raw == PCAPNG_SHB:
                    if len(buf) - pos < 12:
                        break
                    bom = bytes(buf[pos + 8:pos + 12])
                    if bom == b'\x1a\x2b\x3c\x4d':
                        big = True
                    elif bom == b'\x4d\x3c\x2b\x1a':
                        big = False
                    else:
                        raise CaptureFileError(
                            '%s: bad pcapng byte-order magic' % self.path)
                    blen = struct.unpack((">" if big else "<") + 'I',
                                         bytes(buf[pos + 4:pos + 8]))[0]
                    if blen < 28 or blen % 4:
                        raise CaptureFileError(
                            '%s: corrupt pcapng section header' % self.path)
                    if len(buf) - pos < blen:
                        break
                    if_linktype, if_tick = [], []
                    pos += blen
                    continue
                o = '>' if big else '<'
                btype, blen = struct.unpack(o + 'II',
                                            bytes(buf[pos:pos + 8]))
                if blen < 12 or blen % 4:
                    raise CaptureFileError(
                        '%s: corrupt pcapng block after packet %d'
                        % (self.path, self.packets))
                if len(buf) - pos < blen:
                    break
                if btype == 1:
                    lt = struct.unpack(o + 'H',
                                       bytes(buf[pos + 8:pos + 10]))[0]
                    if_linktype.append(lt)
                    if_tick.append(_tsresol_ns(
                        bytes(buf[pos + 16:pos + blen - 4]), o))
                    pos += blen
                    continue
                lts = np.array(if_linktype, dtype=np.int64)
                ticks = np.array(if_tick, dtype=np.float64)
                want = self._linktype_at(buf, pos, o, lts)
                off, cap, wire, ts = self._columns()
                n, pos, st = index_pcapng(buf, pos, len(buf), big, lts,
                                          ticks, want, off, cap, wire, ts)
                if n:
                    self.packets += n
                    yield self._batch(buf, n, off, cap, wire, ts, want)
                if st == 1:
                    raise CaptureFileError(
                        '%s: corrupt pcapng block after packet %d'
                        % (self.path, self.packets))
                if st == 0 and n < self.batch_size:
                    break
            carry = bytes(buf[pos:])
            if eof:
                if carry:
                    self.truncated = True
                    LOG.warning('%s: last block cut short (%d bytes); '
                                'capture truncated', self.path, len(carry))
                return

    def _linktype_at(self, buf, pos, o, lts):
        btype = struct.unpack(o + 'I', bytes(buf[pos:pos + 4]))[0]
        if btype == 6 and len(buf) - pos >= 12:
            ifid = struct.unpack(o + 'I', bytes(buf[pos + 8:pos + 12]))[0]
            if ifid < len(lts):
                lt = int(lts[ifid])
                self._check_linktype(lt)
                return lt
        if len(lts):
            return int(lts[0])
        return -1

    def _check_linktype(self, lt):
        if lt not in batch_mod.SUPPORTED_LINKTYPES:
            raise CaptureFileError(
                '%s: link type %d is not supported (Ethernet, Linux '
                'cooked, raw IP and loopback are)' % (self.path, lt))

    def _batch(self, buf, n, off, cap, wire, ts, linktype):
        return batch_mod.PacketBatch(
            buf=buf, off=off[:n], caplen=cap[:n], wirelen=wire[:n],
            ts_ns=ts[:n],
            pkttype=np.full(n, batch_mod.PKTTYPE_UNKNOWN, np.int8),
            linktype=linktype)


def _tsresol_ns(options, o):
    """Nanoseconds per timestamp tick from an IDB's if_tsresol option."""
    pos = 0
    while pos + 4 <= len(options):
        code, length = struct.unpack_from(o + 'HH', options, pos)
        if code == 0:
            break
        if code == 9 and length >= 1:
            v = options[pos + 4]
            if v & 0x80:
                return 1e9 / (2 ** (v & 0x7F))
            return 1e9 / (10 ** v)
        pos += 4 + ((length + 3) & ~3)
    return 1000.0


def read_batches(path, batch_size=8192):
    """Batches of the capture at ``path`` (see :class:`CaptureFile`)."""
    return iter(CaptureFile(path, batch_size))
