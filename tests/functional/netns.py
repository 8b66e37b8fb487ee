"""Real network namespaces for functional tests: "VMs" behind tap-like veths.

Each :class:`VethHost` is a namespace holding one end of a veth pair; the
other end stays in the root namespace, named like a Nova tap device
(``tap`` + 11 characters) so that it can be captured exactly as the agent
captures a real VM's tap. Everything is created with ``ip`` from iproute2 and
removed on exit, also when the test fails.
"""
import contextlib
import os
import shutil
import subprocess
import uuid

import pytest


def run(*cmd, ns=None, check=True, **kw):
    """Run a command (optionally inside namespace ``ns``) and return it."""
    argv = [str(c) for c in cmd]
    if ns:
        argv = ['ip', 'netns', 'exec', ns] + argv
    return subprocess.run(argv, check=check, capture_output=True, text=True,
                          **kw)


def require_root_net():
    """Skip the calling test when namespaces cannot be made here."""
    if os.geteuid() != 0:
        pytest.skip('needs root for network namespaces')
    if not shutil.which('ip'):
        pytest.skip('needs iproute2 (ip)')


class VethHost:
    """A namespace ``ns`` with ``eth0`` = ``ip``; root end is ``tap``."""

    def __init__(self, ns, tap, ip, peer_ip, prefix, mac):
        self.ns = ns
        self.tap = tap
        self.ip = ip
        self.peer_ip = peer_ip
        self.prefix = prefix
        self.mac = mac

    def run(self, *cmd, **kw):
        return run(*cmd, ns=self.ns, **kw)

    def popen(self, *cmd, **kw):
        argv = ['ip', 'netns', 'exec', self.ns] + [str(c) for c in cmd]
        return subprocess.Popen(argv, **kw)


@contextlib.contextmanager
def veth_host(subnet_octet, tap=None, prefix=24):
    """A namespace reachable from the root namespace over a veth pair.

    The namespace gets addresses from the
    198.18.0.0/15 benchmarking range (RFC 2544) so that nothing collides
    with real networks: root end ``198.18.<n>.1``, namespace end
    ``198.18.<n>.2``.
    """
    require_root_net()
    tag = uuid.uuid4().hex
    ns = 'dpiaas-' + tag[:8]
    tap = tap or 'tap' + tag[:8] + '-' + tag[8:10]
    peer = 'veth' + tag[:8]
    root_ip = '198.18.%d.1' % subnet_octet
    ns_ip = '198.18.%d.2' % subnet_octet
    mac = 'fa:16:3e:%s:%s:%s' % (tag[10:12], tag[12:14], tag[14:16])
    run('ip', 'netns', 'add', ns)
    try:
        run('ip', 'link', 'add', tap, 'type', 'veth', 'peer', 'name', peer)
        run('ip', 'link', 'set', peer, 'netns', ns)
        run('ip', 'link', 'set', 'dev', peer, 'name', 'eth0', ns=ns)
        run('ip', 'link', 'set', 'dev', 'eth0', 'address', mac, ns=ns)
        run('ip', 'addr', 'add', '%s/%d' % (ns_ip, prefix), 'dev', 'eth0',
            ns=ns)
        run('ip', 'link', 'set', 'eth0', 'up', ns=ns)
        run('ip', 'link', 'set', 'lo', 'up', ns=ns)
        run('ip', 'addr', 'add', '%s/%d' % (root_ip, prefix), 'dev', tap)
        run('ip', 'link', 'set', tap, 'up')
        # Offloads would hand AF_PACKET 64 KB super-frames: a real tap
        # does too, but tests compare against per-packet tools.
        for dev, where in ((tap, None), ('eth0', ns)):
            run('ethtool', '-K', dev, 'tso', 'off', 'gso', 'off', 'gro',
                'off', ns=where, check=False)
        yield VethHost(ns, tap, ns_ip, root_ip, prefix, mac)
    finally:
        run('ip', 'link', 'del', tap, check=False)
        run('ip', 'netns', 'del', ns, check=False)


@contextlib.contextmanager
def veth_pair():
    """A bare veth pair in the root namespace (``a`` -> ``b``), both up.

    For replaying captures with tcpreplay into ``a`` and capturing on
    ``b``: nothing answers, nothing is routed.
    """
    require_root_net()
    tag = uuid.uuid4().hex[:8]
    a, b = 'dpa' + tag, 'dpb' + tag
    run('ip', 'link', 'add', a, 'type', 'veth', 'peer', 'name', b)
    try:
        for dev in (a, b):
            run('ip', 'link', 'set', dev, 'up')
            run('ethtool', '-K', dev, 'tso', 'off', 'gso', 'off', 'gro',
                'off', check=False)
        yield a, b
    finally:
        run('ip', 'link', 'del', a, check=False)
