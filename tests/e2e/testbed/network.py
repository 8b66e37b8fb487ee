"""The testbed's "VMs": namespaces behind veths named like Nova taps.

Each VM is a network namespace whose ``eth0`` is one end of a veth pair;
the other end stays in the root namespace, named exactly as Nova names a
tap (``tap`` + the first 11 characters of the port id), so dpiaas captures
it where it captures a real VM. Every VM has its own /24 from the RFC 2544
benchmarking range (``198.18.<n>.0/24``): the root end is ``.1`` and the
VM's default gateway, the VM is ``.2``. VMs reach each other through the
root namespace, so a packet from the client to bono crosses the client's
tap and then bono's tap, as between two VMs on one hypervisor.

Forwarding is enabled per tap (``net.ipv4.conf.<tap>.forwarding``), not
with the global ``ip_forward``: nothing outside the testbed changes, and
the setting disappears with the tap.
"""
import os
import re
import uuid

from tests.e2e.testbed import procs

SUBNET_RANGE = (100, 160)   # third octets of 198.18.x.0/24 this may use


class VM:
    """One namespace "VM": its port id, tap, MAC and address."""

    def __init__(self, role, ns, port_id, octet):
        self.role = role
        self.ns = ns
        self.port_id = port_id
        self.server_id = str(uuid.uuid5(uuid.NAMESPACE_URL, port_id))
        self.tap = 'tap' + port_id[:11]
        self.mac = 'fa:16:3e:%s:%s:%s' % (port_id[24:26], port_id[26:28],
                                          port_id[28:30])
        self.subnet = '198.18.%d.0/24' % octet
        self.ip = '198.18.%d.2' % octet
        self.gateway = '198.18.%d.1' % octet
        # tests.functional.dpi.peers names the root-side address peer_ip
        self.peer_ip = self.gateway
        self.created = False

    def __repr__(self):
        return '<VM %s %s %s %s>' % (self.role, self.ip, self.mac, self.tap)

    def run(self, *cmd, **kw):
        """Run a command inside this VM's namespace."""
        return procs.run(*cmd, ns=self.ns, **kw)

    def describe(self):
        return {'role': self.role, 'namespace': self.ns, 'tap': self.tap,
                'port_id': self.port_id, 'server_id': self.server_id,
                'mac': self.mac, 'ip': self.ip, 'gateway': self.gateway}

    def create(self):
        ns, tap = self.ns, self.tap
        peer = 'veth' + self.port_id[:11]
        procs.run('ip', 'netns', 'add', ns)
        self.created = True
        procs.run('ip', 'link', 'add', tap, 'type', 'veth', 'peer', 'name',
                  peer)
        procs.run('ip', 'link', 'set', peer, 'netns', ns)
        self.run('ip', 'link', 'set', 'dev', peer, 'name', 'eth0')
        self.run('ip', 'link', 'set', 'dev', 'eth0', 'address', self.mac)
        self.run('ip', 'addr', 'add', self.ip + '/24', 'dev', 'eth0')
        self.run('ip', 'link', 'set', 'eth0', 'up')
        self.run('ip', 'link', 'set', 'lo', 'up')
        self.run('ip', 'route', 'add', 'default', 'via', self.gateway)
        procs.run('ip', 'addr', 'add', self.gateway + '/24', 'dev', tap)
        procs.run('ip', 'link', 'set', tap, 'up')
        procs.run('sysctl', '-q', '-w',
                  'net.ipv4.conf.%s.forwarding=1' % tap)
        # A real tap hands AF_PACKET whole segments too, but the metrics
        # count packets: keep one packet one frame, as on the wire.
        for dev, where in ((tap, None), ('eth0', ns)):
            procs.run('ethtool', '-K', dev, 'tso', 'off', 'gso', 'off',
                      'gro', 'off', ns=where, check=False)

    def destroy(self):
        """Remove the namespace and the veth; stop what still runs in it."""
        if not self.created:
            return
        procs.kill_namespace_processes(self.ns)
        procs.run('ip', 'link', 'del', self.tap, check=False)
        procs.run('ip', 'netns', 'del', self.ns, check=False)
        self.created = False


def free_octets(count):
    """``count`` third octets of 198.18.x.0/24 not configured on this host.

    Other runs may share the machine: each takes subnets nobody uses now.
    """
    used = procs.run('ip', '-o', '-4', 'addr', 'show').stdout
    taken = {int(m) for m in re.findall(r'198\.18\.(\d+)\.', used)}
    lo, hi = SUBNET_RANGE
    start = lo + os.getpid() % (hi - lo)
    found = []
    for i in range(hi - lo):
        octet = lo + (start - lo + i) % (hi - lo)
        if octet not in taken:
            found.append(octet)
            if len(found) == count:
                return found
    raise procs.TestbedError('no %d free 198.18.x.0/24 subnets in %s'
                             % (count, SUBNET_RANGE))


class Network:
    """All VMs of one testbed, created together and removed together."""

    def __init__(self, roles, tag=None):
        # the pid in every namespace name lets a later run find and remove
        # what a killed run left behind (cleanup_stale)
        self.tag = tag or '%d-%s' % (os.getpid(), uuid.uuid4().hex[:4])
        self.vms = {}
        octets = free_octets(len(roles))
        for role, octet in zip(roles, octets):
            port_id = str(uuid.uuid4())
            ns = 'dpiaas-e2e-%s-%s' % (self.tag, role)
            self.vms[role] = VM(role, ns, port_id, octet)

    def create(self):
        try:
            for vm in self.vms.values():
                vm.create()
        except Exception:
            self.destroy()
            raise

    def destroy(self):
        for vm in self.vms.values():
            vm.destroy()

    def __getitem__(self, role):
        return self.vms[role]


_NS_RE = re.compile(r'^dpiaas-e2e-(\d+)-[0-9a-f]{4}-[a-z]+$')


def cleanup_stale():
    """Remove testbed namespaces whose creating process no longer runs.

    A run killed with SIGKILL cannot tear down; its namespaces (and the
    processes still in them, and so their veths) go here. Namespaces of
    live runs are left alone.
    """
    out = procs.run('ip', 'netns', 'list', check=False).stdout
    for line in out.splitlines():
        name = line.split()[0] if line.split() else ''
        m = _NS_RE.match(name)
        if not m or procs.pid_alive(int(m.group(1))):
            continue
        procs.kill_namespace_processes(name)
        procs.run('ip', 'netns', 'del', name, check=False)
