"""A network namespace behind a tap-named veth: the demo's "VM".

Created with iproute2 and removed on exit. The host end is named exactly as
Nova names a tap (``tap`` + the first 11 characters of the port id) so the
agent finds it the way it finds a real VM's tap.
"""
import logging
import os
import shutil
import subprocess

LOG = logging.getLogger(__name__)


class DemoError(RuntimeError):
    """The demo cannot be built here; the message says why."""


def run(*cmd, ns=None, check=True):
    argv = [str(c) for c in cmd]
    if ns:
        argv = ['ip', 'netns', 'exec', ns] + argv
    proc = subprocess.run(argv, capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise DemoError('%s failed: %s' % (' '.join(argv),
                                           proc.stderr.strip()))
    return proc


class DemoVM:
    """Namespace ``ns`` whose ``eth0`` has ``ip``; host end ``tap``."""

    def __init__(self, port_id, ns='dpiaas-demo-vm', subnet='198.18.250',
                 mac='fa:16:3e:de:00:01'):
        self.port_id = port_id
        self.ns = ns
        self.tap = 'tap' + port_id[:11]
        self.ip = subnet + '.2'
        self.host_ip = subnet + '.1'
        self.mac = mac
        self._peer = 'dpiaasdemo0'

    def create(self):
        if os.geteuid() != 0:
            raise DemoError('the demo needs root (network namespaces)')
        if not shutil.which('ip'):
            raise DemoError('the demo needs iproute2 (ip)')
        busy = self.pids()
        if busy:
            # a namespace with live processes is another demo's VM, not
            # leftovers: taking it over would cut that demo's capture
            raise DemoError('namespace %s is in use by processes %s (another '
                            'dpiaas-all-in-one --demo?); stop them first'
                            % (self.ns, ' '.join(map(str, busy))))
        self.destroy()          # leftovers of a run that was killed
        run('ip', 'netns', 'add', self.ns)
        run('ip', 'link', 'add', self.tap, 'type', 'veth', 'peer', 'name',
            self._peer)
        run('ip', 'link', 'set', self._peer, 'netns', self.ns)
        run('ip', 'link', 'set', 'dev', self._peer, 'name', 'eth0',
            ns=self.ns)
        run('ip', 'link', 'set', 'dev', 'eth0', 'address', self.mac,
            ns=self.ns)
        run('ip', 'addr', 'add', self.ip + '/24', 'dev', 'eth0', ns=self.ns)
        run('ip', 'link', 'set', 'eth0', 'up', ns=self.ns)
        run('ip', 'link', 'set', 'lo', 'up', ns=self.ns)
        run('ip', 'addr', 'add', self.host_ip + '/24', 'dev', self.tap)
        run('ip', 'link', 'set', self.tap, 'up')
        LOG.info('demo VM: namespace %s, %s on %s (host end %s)',
                 self.ns, self.ip, 'eth0', self.tap)
        return self

    def pids(self):
        """Processes running in the namespace (none if it is absent)."""
        out = run('ip', 'netns', 'pids', self.ns, check=False).stdout
        return [int(p) for p in out.split() if p.isdigit()]

    def destroy(self):
        run('ip', 'link', 'del', self.tap, check=False)
        run('ip', 'netns', 'del', self.ns, check=False)

    def popen(self, argv, **kw):
        return subprocess.Popen(['ip', 'netns', 'exec', self.ns] +
                                [str(a) for a in argv], **kw)

    def listening(self, l4, port):
        flag = '-Hlnt' if l4 == 'tcp' else '-Hlnu'
        out = run('ss', flag, 'sport = :%d' % port, ns=self.ns,
                  check=False).stdout
        return bool(out.strip())
