"""One real ``dpiaas-agent`` with many taps, each with real traffic.

``--taps`` veth pairs: the host ends are named like Nova taps (``tap`` +
11 characters of a port id), the peer ends all live in one network
namespace where a small sender writes SIP REGISTER / 200 OK frames (built
with scapy, as a VM and its clients would exchange them) to every peer at
``--pps`` packets per second per tap, so that each frame crosses its veth
and is seen on the tap. The bench plays the engine on a private RabbitMQ
virtual host: an RPC server on ``dpiaas-engine`` answers the agent's
``get_desired`` with one collector per tap (the spec the engine's
scheduler gives a SIP port) and counts what comes back.

Measured over the window: the agent's CPU and RSS (its process and the
capture workers it starts, psutil), samples/s received, packets counted
by the collectors and the kernel's drops (``capture.drops``).
Every veth and the namespace are removed on exit, also on Ctrl-C.
"""
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import uuid

NS = 'dpiaas-load-vms'
SENDER = r'''
import json, socket, sys, time
cfg = json.load(open(sys.argv[1]))
frames = [bytes.fromhex(h) for h in cfg['frames']]
socks = []
for ifname in cfg['ifaces']:
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    s.bind((ifname, 0))
    socks.append(s)
print('ready', flush=True)
period = 1.0 / cfg['pps']
sent = 0
k = 0
nxt = time.monotonic()
while True:
    for s in socks:
        try:
            s.send(frames[k % len(frames)])
            sent += 1
        except OSError:
            pass
    k += 1
    nxt += period
    delay = nxt - time.monotonic()
    if delay > 0:
        time.sleep(delay)
'''


def run(*argv, check=True):
    return subprocess.run([str(a) for a in argv], check=check,
                          capture_output=True, text=True)


def frames(vm_ip, vm_mac, client_ip, client_mac):
    """A REGISTER and its 200 OK, as hex Ethernet frames."""
    from scapy.all import Ether, IP, UDP, Raw
    reg = ('REGISTER sip:load.example SIP/2.0\r\n'
           'Via: SIP/2.0/UDP %s:5060;branch=z9hG4bK-%%d\r\n'
           'From: <sip:user@load.example>;tag=1\r\n'
           'To: <sip:user@load.example>\r\nCall-ID: %%d@load\r\n'
           'CSeq: 1 REGISTER\r\nContent-Length: 0\r\n\r\n' % client_ip)
    ok = ('SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP %s:5060;branch=z9hG4bK-%%d\r\n'
          'From: <sip:user@load.example>;tag=1\r\n'
          'To: <sip:user@load.example>;tag=2\r\nCall-ID: %%d@load\r\n'
          'CSeq: 1 REGISTER\r\nContent-Length: 0\r\n\r\n' % client_ip)
    out = []
    for i in range(50):
        out.append(bytes(Ether(src=client_mac, dst=vm_mac) /
                         IP(src=client_ip, dst=vm_ip) /
                         UDP(sport=5060, dport=5060) /
                         Raw((reg % (i, i)).encode())).hex())
        out.append(bytes(Ether(src=vm_mac, dst=client_mac) /
                         IP(src=vm_ip, dst=client_ip) /
                         UDP(sport=5060, dport=5060) /
                         Raw((ok % (i, i)).encode())).hex())
    return out


class Taps:
    """``n`` veth pairs, peers in namespace :data:`NS`; a context manager
    that removes them whatever happens."""

    def __init__(self, n):
        self.n = n
        self.taps = []
        self.peers = []
        self.port_ids = []

    def __enter__(self):
        try:
            run('ip', 'netns', 'add', NS)
            run('ip', '-n', NS, 'link', 'set', 'lo', 'up')
            for i in range(self.n):
                port = str(uuid.uuid4())
                tap = ('tap' + port)[:14]
                peer = 'lv%d' % i
                run('ip', 'link', 'add', tap, 'type', 'veth', 'peer', 'name',
                    peer, 'netns', NS)
                self.taps.append(tap)
                self.peers.append(peer)
                self.port_ids.append(port)
                run('ip', 'link', 'set', tap, 'up')
                run('ip', '-n', NS, 'link', 'set', peer, 'up')
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc):
        for tap in self.taps:
            run('ip', 'link', 'del', tap, check=False)
        run('ip', 'netns', 'del', NS, check=False)
        self.taps = []


class FakeEngine:
    """Answers get_desired, counts samples (the bench's engine)."""

    def __init__(self, host, collectors):
        import oslo_messaging as messaging
        self.target = messaging.Target(version='1.2')
        self.host = host
        self.collectors = collectors
        self.lock = threading.Lock()
        self.samples = 0
        self.packets = 0
        self.drops = 0
        self.first_ts = {}
        self.statuses = {}
        self.state = None

    def get_desired(self, ctxt, host):
        return self.collectors if host == self.host else []

    def report_samples(self, ctxt, host, samples=None, compact=None):
        from dpiaas.engine import ingest
        rows = ingest.as_samples(samples or [])
        rows += ingest.samples_of_compact(compact)
        with self.lock:
            for s in rows:
                self.samples += 1
                m = dict(zip(s.names, s.values))
                self.packets += int(m.get('capture.packets', 0) or 0)
                self.drops += int(m.get('capture.drops', 0) or 0)

    def report_flows(self, ctxt, host, reports):
        pass

    def report_state(self, ctxt, host, state):
        with self.lock:
            self.state = state

    def collector_status(self, ctxt, host, collector_id, status,
                         reason=None):
        with self.lock:
            self.statuses[collector_id] = (status, reason)

    def snapshot(self):
        with self.lock:
            running = {cid for cid, (s, _) in self.statuses.items()
                       if s == 'running'}
            for c in (self.state or {}).get('collectors') or []:
                if c.get('status') == 'running':
                    running.add(c.get('id'))
            return {'samples': self.samples, 'packets': self.packets,
                    'drops': self.drops, 'running': len(running)}


def collector(host, port_id, tap, vm_ip):
    return {'id': str(uuid.uuid4()), 'monitor_id': str(uuid.uuid4()),
            'project_id': 'load-project', 'port_id': port_id, 'host': host,
            'tap_device': tap, 'generation': 1, 'status': 'scheduled',
            'spec': {'services': [{'l4': 'udp', 'port_min': 5060,
                                   'port_max': 5060, 'app': 'sip',
                                   'role': 'offered'}],
                     'vm_ips': [vm_ip], 'vm_macs': [], 'interval_ms': 500,
                     'name': tap}}


def measure(args, transport_url, log):
    """Run the agent bench; returns the result dict."""
    import oslo_messaging as messaging
    import psutil
    from oslo_config import cfg
    from dpiaas.rpc import transport as rpc_transport

    if os.geteuid() != 0:
        raise RuntimeError('the agent bench needs root (namespaces, '
                           'AF_PACKET)')
    work = tempfile.mkdtemp(prefix='dpiaas-load-agent-')
    host = 'load-agent-' + uuid.uuid4().hex[:6]
    vm_ip, client_ip = '10.99.0.10', '10.99.0.20'
    procs = []
    server = None
    transport = None
    with Taps(args.taps) as taps:
        try:
            log('%d veth pairs in namespace %s' % (len(taps.taps), NS))
            cols = [collector(host, p, t, vm_ip)
                    for p, t in zip(taps.port_ids, taps.taps)]
            engine = FakeEngine(host, cols)
            conf = cfg.ConfigOpts()
            conf([], project='dpiaas')
            transport = rpc_transport.get_rpc_transport(conf,
                                                        url=transport_url)
            server = rpc_transport.get_rpc_server(
                transport, messaging.Target(topic='dpiaas-engine',
                                            server='load-engine'), [engine])
            server.start()
            cfg_path = os.path.join(work, 'sender.json')
            with open(cfg_path, 'w') as f:
                json.dump({'ifaces': taps.peers, 'pps': args.pps,
                           'frames': frames(vm_ip, '02:00:00:00:00:0a',
                                            client_ip, '02:00:00:00:00:14')},
                          f)
            sender = subprocess.Popen(
                ['ip', 'netns', 'exec', NS, sys.executable, '-c', SENDER,
                 cfg_path], stdout=subprocess.PIPE)
            procs.append(sender)
            if sender.stdout.readline().strip() != b'ready':
                raise RuntimeError('traffic sender did not start')
            agent_conf = os.path.join(work, 'agent.conf')
            with open(agent_conf, 'w') as f:
                f.write('[DEFAULT]\nhost = %s\ntransport_url = %s\n'
                        'log_file = %s\n[agent]\nreport_interval = 5\n'
                        % (host, transport_url,
                           os.path.join(work, 'agent.log')))
                if getattr(args, 'ring_mb', None):
                    f.write('capture_ring_mb = %d\n' % args.ring_mb)
            exe = os.path.join(os.path.dirname(sys.executable),
                               'dpiaas-agent')
            agent = subprocess.Popen([exe, '--config-file', agent_conf],
                                     stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
            procs.append(agent)
            t_agent = time.time()
            deadline = t_agent + 300
            while engine.snapshot()['running'] < len(cols):
                if agent.poll() is not None:
                    raise RuntimeError('dpiaas-agent exited (%s)'
                                       % agent.returncode)
                if time.time() > deadline:
                    raise RuntimeError('only %d of %d collectors running '
                                       'after 300 s'
                                       % (engine.snapshot()['running'],
                                          len(cols)))
                time.sleep(0.5)
            started_s = time.time() - t_agent
            log('agent: %d collectors running after %.0f s; warm-up %d s'
                % (len(cols), started_s, args.agent_warmup))
            time.sleep(args.agent_warmup)
            ps = psutil.Process(agent.pid)

            def tree():
                out = [ps]
                try:
                    out += ps.children(recursive=True)
                except psutil.Error:
                    pass
                return out

            def cpu_of(procs_):
                total = 0.0
                for p in procs_:
                    try:
                        t = p.cpu_times()
                        total += t.user + t.system + t.children_user \
                            + t.children_system
                    except psutil.Error:
                        pass
                return total
            members = tree()
            c0, s0, t0 = cpu_of(members), engine.snapshot(), time.time()
            rss = []
            while time.time() < t0 + args.agent_duration:
                total = 0
                for p in tree():
                    try:
                        total += p.memory_info().rss
                    except psutil.Error:
                        pass
                rss.append(total)
                time.sleep(1.0)
            c1, s1, t1 = cpu_of(members), engine.snapshot(), time.time()
            dt = t1 - t0
            state = engine.state or {}
            return {
                'taps': len(cols), 'pps_per_tap_offered': args.pps,
                'duration_s': round(dt, 1),
                'all_running_after_s': round(started_s, 1),
                'agent_processes': len(members),
                'agent_cpu_cores': (c1 - c0) / dt,
                'agent_rss_max': max(rss) if rss else None,
                'samples_per_s': (s1['samples'] - s0['samples']) / dt,
                'packets_per_s': (s1['packets'] - s0['packets']) / dt,
                'capture_drops': s1['drops'] - s0['drops'],
                'buffer': state.get('buffer'),
            }
        finally:
            for p in procs:
                if p.poll() is None:
                    p.terminate()
            for p in procs:
                try:
                    p.wait(30)
                except subprocess.TimeoutExpired:
                    p.kill()
            if server is not None:
                server.stop()
                server.wait()
            if transport is not None:
                transport.cleanup()
            if not args.keep:
                import shutil
                shutil.rmtree(work, ignore_errors=True)
