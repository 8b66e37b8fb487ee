"""Kernel packet filters (classic BPF) built from a collector's services.

Only traffic of interest should cross into user space: a tap device carries
everything its VM sends and receives, and copying packets we will not count
is the most expensive thing a collector can do. The filter is written in
libpcap's language and compiled by libpcap itself (through ctypes, no build
step): it is the reference implementation of that language and knows the
kernel's quirks, and the same expression can be checked with tcpdump.

What passes, for every service, whatever its role (the filter cannot know
which end is the VM, so either port matches):

- TCP/UDP segments whose source or destination port is in the service,
- every IPv4 fragment after the first and every IPv6 fragment: they carry
  no ports, and the decoders reassemble datagrams whose first fragment
  matched,
- the same inside one 802.1Q tag. The kernel usually strips the tag into
  metadata before the filter runs (then the untagged part matches); the
  tagged part is for stacked tags or drivers that leave it in the frame.
"""
import ctypes
import ctypes.util
import logging
import socket
import threading

from dpiaas.dpi.capture import CaptureError

LOG = logging.getLogger(__name__)

SO_ATTACH_FILTER = 26
SO_DETACH_FILTER = 27
BPF_MAXINSNS = 4096
PCAP_NETMASK_UNKNOWN = 0xffffffff
DLT_EN10MB = 1
DEFAULT_SNAPLEN = 262144

# A program that drops every packet: ``ret #0``.
DROP_ALL = ((0x06, 0, 0, 0),)

# IPv4 fragments with a non-zero offset; IPv6 fragment header as the first
# extension header (libpcap's ``ip6 proto`` only looks at the fixed header).
_FRAGMENTS = '(ip[6:2] & 0x1fff != 0) or (ip6 proto 44)'

_LIB_NAMES = ('libpcap.so.0.8', 'libpcap.so.1', 'libpcap.so')


class FilterError(CaptureError, ValueError):
    """A filter expression or program the kernel or libpcap rejects."""


class _BpfInsn(ctypes.Structure):
    _fields_ = [('code', ctypes.c_ushort), ('jt', ctypes.c_ubyte),
                ('jf', ctypes.c_ubyte), ('k', ctypes.c_uint32)]


class _BpfProgram(ctypes.Structure):
    # struct bpf_program (libpcap) and struct sock_fprog (kernel) have the
    # same layout: a length and a pointer to the instructions.
    _fields_ = [('bf_len', ctypes.c_uint),
                ('bf_insns', ctypes.POINTER(_BpfInsn))]


_lib = None
# pcap_compile was not reentrant before libpcap 1.8 and Debian's soname
# does not tell the version: serialise it, it is not on any hot path.
_lock = threading.Lock()


def _libpcap():
    global _lib
    if _lib is not None:
        return _lib
    names = list(_LIB_NAMES)
    found = ctypes.util.find_library('pcap')
    if found:
        names.append(found)
    for name in names:
        try:
            lib = ctypes.CDLL(name)
        except OSError:
            continue
        lib.pcap_open_dead.restype = ctypes.c_void_p
        lib.pcap_open_dead.argtypes = [ctypes.c_int, ctypes.c_int]
        lib.pcap_compile.restype = ctypes.c_int
        lib.pcap_compile.argtypes = [
            ctypes.c_void_p, ctypes.POINTER(_BpfProgram), ctypes.c_char_p,
            ctypes.c_int, ctypes.c_uint32]
        lib.pcap_freecode.restype = None
        lib.pcap_freecode.argtypes = [ctypes.POINTER(_BpfProgram)]
        lib.pcap_geterr.restype = ctypes.c_char_p
        lib.pcap_geterr.argtypes = [ctypes.c_void_p]
        lib.pcap_close.restype = None
        lib.pcap_close.argtypes = [ctypes.c_void_p]
        _lib = lib
        return lib
    raise CaptureError('libpcap not found (tried %s): install libpcap0.8'
                       % ', '.join(names))


def _merge_ranges(ranges):
    """Sorted, merged (lo, hi) port ranges: a shorter program."""
    merged = []
    for lo, hi in sorted(ranges):
        if merged and lo <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(hi, merged[-1][1]))
        else:
            merged.append((lo, hi))
    return merged


def port_expression(services):
    """``tcp port 80 or udp portrange 10000-20000 ...`` for ``services``."""
    by_l4 = {}
    for svc in services:
        by_l4.setdefault(svc.l4, []).append((svc.port_min, svc.port_max))
    terms = []
    for l4 in sorted(by_l4):
        for lo, hi in _merge_ranges(by_l4[l4]):
            if lo == hi:
                terms.append('%s port %d' % (l4, lo))
            else:
                terms.append('%s portrange %d-%d' % (l4, lo, hi))
    return ' or '.join(terms)


def filter_expression(services):
    """The libpcap filter passing only the traffic of ``services``.

    ``services`` are :class:`dpiaas.dpi.spec.Service` objects (anything
    with ``l4``, ``port_min`` and ``port_max``). Fragments always pass (see
    the module docstring). ``vlan`` comes last because in libpcap's
    language it shifts the offsets of everything after it.
    """
    services = list(services)
    if not services:
        raise FilterError('no services: a collector filter needs at least '
                          'one tcp/udp port')
    inner = '%s or %s' % (port_expression(services), _FRAGMENTS)
    return '(%s) or (vlan and (%s))' % (inner, inner)


def compile_filter(expr, linktype=DLT_EN10MB, snaplen=DEFAULT_SNAPLEN):
    """Compile ``expr`` to a list of ``(code, jt, jf, k)`` instructions.

    Accepted packets are cut to ``snaplen`` bytes by the kernel (the
    program's ``ret`` value). Raises :class:`FilterError` carrying
    libpcap's own message for an expression it does not accept.
    """
    lib = _libpcap()
    with _lock:
        handle = lib.pcap_open_dead(int(linktype), int(snaplen))
        if not handle:
            raise CaptureError('pcap_open_dead(%s, %s) failed'
                               % (linktype, snaplen))
        try:
            prog = _BpfProgram()
            rc = lib.pcap_compile(handle, ctypes.byref(prog),
                                  expr.encode('utf-8'), 1,
                                  PCAP_NETMASK_UNKNOWN)
            if rc != 0:
                msg = lib.pcap_geterr(handle) or b'unknown error'
                raise FilterError('bad filter %r: %s'
                                  % (expr, msg.decode('utf-8', 'replace')))
            try:
                insns = [(prog.bf_insns[i].code, prog.bf_insns[i].jt,
                          prog.bf_insns[i].jf, prog.bf_insns[i].k)
                         for i in range(prog.bf_len)]
            finally:
                lib.pcap_freecode(ctypes.byref(prog))
        finally:
            lib.pcap_close(handle)
    if len(insns) > BPF_MAXINSNS:
        raise FilterError('filter %r compiles to %d instructions, the kernel '
                          'takes at most %d' % (expr, len(insns),
                                                BPF_MAXINSNS))
    LOG.debug('filter %r: %d instructions', expr, len(insns))
    return insns


def attach_filter(sock, insns):
    """Attach the program ``insns`` to ``sock`` (SO_ATTACH_FILTER).

    Replaces any filter already attached, atomically for the kernel.
    """
    insns = list(insns)
    if not 0 < len(insns) <= BPF_MAXINSNS:
        raise FilterError('a filter has 1 to %d instructions, not %d'
                          % (BPF_MAXINSNS, len(insns)))
    arr = (_BpfInsn * len(insns))(*[_BpfInsn(*i) for i in insns])
    fprog = _BpfProgram(len(insns),
                        ctypes.cast(arr, ctypes.POINTER(_BpfInsn)))
    try:
        sock.setsockopt(socket.SOL_SOCKET, SO_ATTACH_FILTER,
                        ctypes.string_at(ctypes.addressof(fprog),
                                         ctypes.sizeof(fprog)))
    except OSError as exc:
        raise FilterError('kernel rejected the filter (%d instructions): %s'
                          % (len(insns), exc.strerror or exc))
    # ``arr`` must outlive the setsockopt call; the kernel copied it.
    del arr


def detach_filter(sock):
    """Remove the socket's filter: every packet passes again."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, SO_DETACH_FILTER, 0)
    except OSError as exc:
        raise FilterError('cannot detach filter: %s' % (exc.strerror or exc))
