"""Which kernel network device carries a Neutron port's traffic.

os-vif plugs a VM's port into Open vSwitch with
``external_ids:iface-id=<port id>``, so OVS knows the real name whatever
Nova called it. Without OVS (Linux bridge, tests) the inventory's
``tap_device`` hint is taken, then Nova's own rule, ``tap`` + the first 11
characters of the port id. A name counts only if the device exists now
(``/sys/class/net``): a stopped VM has no tap.
"""
import json
import logging
import os
import re
import shutil
import subprocess

LOG = logging.getLogger(__name__)

SYSFS_NET = '/sys/class/net'
_IFNAME = re.compile(r'^[^/\s:]{1,15}$')


def nova_tap_name(port_id):
    """Nova's name of a port's tap device (``tap`` + 11 characters)."""
    return ('tap' + port_id)[:14]


class TapNotFound(Exception):
    """No device of a port exists; ``str()`` says what was tried."""


class TapFinder:
    """Finds the tap of a port, asking Open vSwitch first."""

    def __init__(self, ovs_vsctl='ovs-vsctl', ovs_timeout=5.0,
                 sysfs=SYSFS_NET):
        self.ovs_vsctl = ovs_vsctl
        self.ovs_timeout = ovs_timeout
        self.sysfs = sysfs

    def exists(self, name):
        return bool(name) and bool(_IFNAME.match(name)) and os.path.exists(
            os.path.join(self.sysfs, name))

    def from_ovs(self, port_id):
        """The OVS interface whose iface-id is ``port_id``, or None (no
        ovs-vsctl, no database, no such interface)."""
        exe = shutil.which(self.ovs_vsctl) if self.ovs_vsctl else None
        if not exe or not re.fullmatch(r'[0-9A-Za-z_.-]+', port_id or ''):
            return None
        timeout = max(1, int(self.ovs_timeout))
        argv = [exe, '--timeout=%d' % timeout, '--columns=name',
                '--format=json', 'find', 'Interface',
                'external_ids:iface-id=%s' % port_id]
        try:
            proc = subprocess.run(argv, capture_output=True, text=True,
                                  timeout=self.ovs_timeout + 1)
        except (OSError, subprocess.TimeoutExpired) as exc:
            LOG.debug('ovs-vsctl did not answer: %s', exc)
            return None
        if proc.returncode != 0:
            LOG.debug('ovs-vsctl failed (%d): %s', proc.returncode,
                      proc.stderr.strip())
            return None
        try:
            rows = json.loads(proc.stdout)['data']
            names = [row[0] for row in rows if row and
                     isinstance(row[0], str)]
        except (ValueError, KeyError, TypeError, IndexError):
            LOG.debug('ovs-vsctl answered no JSON: %r', proc.stdout[:200])
            return None
        return names[0] if names else None

    def candidates(self, port_id, hint=None):
        """Names to try, best first, without duplicates."""
        out = []
        for name in (self.from_ovs(port_id), hint,
                     nova_tap_name(port_id) if port_id else None):
            if name and name not in out:
                out.append(name)
        return out

    def find(self, port_id, hint=None):
        """The existing device of ``port_id``; raises TapNotFound."""
        names = self.candidates(port_id, hint)
        for name in names:
            if self.exists(name):
                return name
        raise TapNotFound('no tap device of port %s exists (tried %s)'
                          % (port_id, ', '.join(names) or 'nothing'))
