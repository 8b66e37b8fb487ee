"""Give up every Linux capability the agent does not need.

The agent starts as root (or with capabilities granted by systemd) only so
that it can open ``AF_PACKET`` sockets on tap devices, which needs
``CAP_NET_RAW``, and set their buffer sizes past the sysctl limits, which
needs ``CAP_NET_ADMIN``. Collectors come and go while it runs, so these two
stay; everything else (``CAP_SYS_ADMIN``, ``CAP_DAC_OVERRIDE``,
``CAP_SYS_MODULE``, ...) is dropped from the bounding, ambient, permitted,
effective and inheritable sets once the configuration and log files are
open. Processes it starts later (capture workers, ``ovs-vsctl``) inherit
the reduced sets, and an ``execve`` as root cannot regain what left the
bounding set.

A small ctypes module on libc's ``capset`` and ``prctl`` rather than
python-prctl (unmaintained) or libcap-ng (one more system library).
Capabilities belong to a thread: call :func:`drop_capabilities` before
the agent starts any thread.
"""
import collections
import ctypes
import ctypes.util
import errno
import logging
import os
import threading

LOG = logging.getLogger(__name__)

CAP_SETPCAP = 8
CAP_NET_ADMIN = 12
CAP_NET_RAW = 13
KEEP = (CAP_NET_ADMIN, CAP_NET_RAW)

# include/uapi/linux/capability.h, in bit order
CAP_NAMES = (
    'chown', 'dac_override', 'dac_read_search', 'fowner', 'fsetid', 'kill',
    'setgid', 'setuid', 'setpcap', 'linux_immutable', 'net_bind_service',
    'net_broadcast', 'net_admin', 'net_raw', 'ipc_lock', 'ipc_owner',
    'sys_module', 'sys_rawio', 'sys_chroot', 'sys_ptrace', 'sys_pacct',
    'sys_admin', 'sys_boot', 'sys_nice', 'sys_resource', 'sys_time',
    'sys_tty_config', 'mknod', 'lease', 'audit_write', 'audit_control',
    'setfcap', 'mac_override', 'mac_admin', 'syslog', 'wake_alarm',
    'block_suspend', 'audit_read', 'perfmon', 'bpf', 'checkpoint_restore')

PR_CAPBSET_DROP = 24
PR_CAP_AMBIENT = 47
PR_CAP_AMBIENT_LOWER = 3
_LINUX_CAPABILITY_VERSION_3 = 0x20080522

# the current thread's sets; /proc/self is the main thread's
STATUS_PATHS = ('/proc/thread-self/status', '/proc/self/status')
SETS = ('CapInh', 'CapPrm', 'CapEff', 'CapBnd', 'CapAmb')

CapState = collections.namedtuple('CapState', 'inh prm eff bnd amb')
Outcome = collections.namedtuple('Outcome', 'kept dropped left')
"""``kept``: names still permitted; ``dropped``: names given up;
``left``: names beyond KEEP that could not be dropped (bounding set
without CAP_SETPCAP); all sorted lists of ``cap_*`` names."""


class _Header(ctypes.Structure):
    _fields_ = [('version', ctypes.c_uint32), ('pid', ctypes.c_int)]


class _Data(ctypes.Structure):
    _fields_ = [('effective', ctypes.c_uint32),
                ('permitted', ctypes.c_uint32),
                ('inheritable', ctypes.c_uint32)]


def cap_name(bit):
    if 0 <= bit < len(CAP_NAMES):
        return 'cap_' + CAP_NAMES[bit]
    return 'cap_%d' % bit


def names(mask):
    """``0x3000`` -> ``['cap_net_admin', 'cap_net_raw']``."""
    return [cap_name(bit) for bit in range(64) if mask >> bit & 1]


def mask_of(bits):
    out = 0
    for bit in bits:
        out |= 1 << bit
    return out


def read_state(paths=STATUS_PATHS):
    """The current thread's capability sets, as 64-bit masks."""
    for path in paths:
        try:
            with open(path) as f:
                text = f.read()
        except OSError:
            continue
        values = {}
        for line in text.splitlines():
            key, _, value = line.partition(':')
            if key in SETS:
                values[key] = int(value.strip(), 16)
        return CapState(*(values.get(key, 0) for key in SETS))
    raise OSError(errno.ENOENT, 'no readable %s' % ' or '.join(paths))


class Libc:
    """The two system calls, raising ``OSError`` with errno on failure."""

    def __init__(self, libc=None):
        self._libc = libc or ctypes.CDLL(ctypes.util.find_library('c'),
                                         use_errno=True)

    def _check(self, ret, what):
        if ret != 0:
            err = ctypes.get_errno()
            raise OSError(err, '%s: %s' % (what, os.strerror(err)))

    def prctl(self, option, arg2, arg3=0):
        self._check(self._libc.prctl(
            ctypes.c_int(option), ctypes.c_ulong(arg2), ctypes.c_ulong(arg3),
            ctypes.c_ulong(0), ctypes.c_ulong(0)), 'prctl(%d)' % option)

    def capset(self, effective, permitted, inheritable):
        header = _Header(_LINUX_CAPABILITY_VERSION_3, 0)
        data = (_Data * 2)()
        for i in (0, 1):
            data[i].effective = effective >> (32 * i) & 0xffffffff
            data[i].permitted = permitted >> (32 * i) & 0xffffffff
            data[i].inheritable = inheritable >> (32 * i) & 0xffffffff
        self._check(self._libc.capset(ctypes.byref(header), data), 'capset')


def drop_capabilities(keep=KEEP, libc=None, state_reader=read_state):
    """Keep only ``keep`` (default CAP_NET_RAW and CAP_NET_ADMIN).

    Never raises: an agent without capabilities (not root, or already
    limited by systemd) has nothing to drop and goes on; a failure is
    logged with what is still held. Returns an :class:`Outcome`.
    """
    keep_mask = mask_of(keep)
    try:
        before = state_reader()
    except OSError as exc:
        LOG.warning('cannot read this process\'s capabilities (%s); none '
                    'dropped', exc)
        return Outcome([], [], [])
    extra = (before.inh | before.prm | before.eff | before.bnd
             | before.amb) & ~keep_mask
    if not extra:
        _log_result(before, keep_mask, [])
        return Outcome(names(before.prm & keep_mask), [], [])
    if threading.active_count() > 1:
        LOG.warning('dropping capabilities with %d threads running: '
                    'only this thread loses them',
                    threading.active_count())
    libc = libc or Libc()
    for bit in _bits(before.amb & ~keep_mask):
        _try(libc.prctl, PR_CAP_AMBIENT, PR_CAP_AMBIENT_LOWER, bit)
    if before.eff >> CAP_SETPCAP & 1:  # the bounding set needs it
        for bit in _bits(before.bnd & ~keep_mask):
            _try(libc.prctl, PR_CAPBSET_DROP, bit)
    try:
        libc.capset(before.eff & keep_mask, before.prm & keep_mask,
                    before.inh & keep_mask)
    except OSError as exc:
        LOG.error('could not drop capabilities (%s)', exc)
    try:
        after = state_reader()
    except OSError:
        after = before
    left = (after.prm | after.eff | after.amb | after.bnd) & ~keep_mask
    dropped = (before.prm | before.eff | before.bnd) & ~(
        after.prm | after.eff | after.bnd)
    _log_result(after, keep_mask, names(dropped), left)
    others = threads_holding(keep_mask)
    if others:
        LOG.warning('%d threads started before the drop (native ones, '
                    'e.g. an OpenBLAS pool: OPENBLAS_NUM_THREADS=1) still '
                    'hold other capabilities; bound the service instead '
                    '(systemd CapabilityBoundingSet)', len(others))
    return Outcome(names(after.prm & keep_mask), names(dropped),
                   names(left))


def threads_holding(keep_mask=mask_of(KEEP), task_dir='/proc/self/task'):
    """Ids of this process's threads whose effective, permitted or
    bounding set holds more than ``keep_mask``: capabilities belong to a
    thread, and a thread started before the drop keeps its own."""
    out = []
    try:
        tids = os.listdir(task_dir)
    except OSError:
        return out
    for tid in sorted(tids):
        try:
            state = read_state([os.path.join(task_dir, tid, 'status')])
        except (OSError, ValueError):
            continue  # the thread ended meanwhile
        if (state.eff | state.prm | state.bnd) & ~keep_mask:
            out.append(int(tid))
    return out


def _bits(mask):
    return [bit for bit in range(64) if mask >> bit & 1]


def _try(call, *args):
    try:
        call(*args)
    except OSError as exc:
        if exc.errno != errno.EINVAL:  # EINVAL: unknown to this kernel
            LOG.debug('%s', exc)


def _log_result(state, keep_mask, dropped, left=0):
    kept = names(state.prm & keep_mask)
    if dropped:
        LOG.info('dropped %d capabilities; kept %s', len(dropped),
                 ', '.join(kept) or 'none')
    else:
        LOG.debug('no capabilities to drop; holding %s',
                  ', '.join(kept) or 'none')
    if left & ~state.bnd:
        LOG.error('could not drop %s: the agent still holds them',
                  ', '.join(names(left & ~state.bnd)))
    elif left:
        LOG.warning('capabilities still in the bounding set (no '
                    'CAP_SETPCAP to drop them): %s; a setuid program the '
                    'agent runs could regain them (systemd: '
                    'CapabilityBoundingSet, NoNewPrivileges)',
                    ', '.join(names(left)))
    missing = names(keep_mask & ~state.eff)
    if missing:
        LOG.warning('running without %s: opening packet sockets on tap '
                    'devices will fail (run the agent as root or grant '
                    'them, e.g. systemd AmbientCapabilities=CAP_NET_RAW '
                    'CAP_NET_ADMIN)', ', '.join(missing))
