"""Real protocol peers around a namespace "VM", and a capture of its tap.

The exactness tests need traffic no one wrote by hand: real servers
(Kamailio, nginx, dnsmasq) run inside the VM's namespace, real clients
(SIPp, curl, wrk, dig) in the root namespace talk to them across the veth,
and the root end of the veth (named like a Nova tap) is captured exactly
where the agent captures a real VM. Every server runs in the foreground
with its files in a temporary directory; every client run is bounded in
count and time; only the addresses of the namespaces from
:mod:`tests.functional.netns` are ever used.
"""
import os
import re
import signal
import socket
import subprocess
import threading
import time
import uuid

START_TIMEOUT = 20
CLIENT_TIMEOUT = 60


class PeerError(RuntimeError):
    """A peer did not start, or did not do what it was asked."""


def wait_for(predicate, timeout, what, interval=0.05):
    """Return ``predicate()`` once it is true; raise after ``timeout`` s.

    A condition wait: the interval only paces the polling, nothing relies
    on it being long enough.
    """
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() > deadline:
            raise PeerError('timed out after %ss waiting for %s'
                            % (timeout, what))
        time.sleep(interval)


def free_subnet_octet(lo=160, hi=250):
    """A ``198.18.<n>.0/24`` not configured on this host right now.

    Other test runs may share the machine; each takes its own subnet.
    """
    used = subprocess.run(['ip', '-o', '-4', 'addr', 'show'],
                          capture_output=True, text=True).stdout
    taken = {int(m) for m in re.findall(r'198\.18\.(\d+)\.', used)}
    start = lo + os.getpid() % (hi - lo)
    for i in range(hi - lo):
        octet = lo + (start - lo + i) % (hi - lo)
        if octet not in taken:
            return octet
    raise PeerError('no free 198.18.x.0/24 subnet')


class _Process:
    """A foreground process whose stderr is collected by a thread."""

    def __init__(self, argv, ns=None, cwd=None):
        if ns:
            argv = ['ip', 'netns', 'exec', ns] + list(argv)
        self.argv = [str(a) for a in argv]
        self.name = self.argv[4] if ns else self.argv[0]
        self.lines = []
        self.proc = subprocess.Popen(
            self.argv, cwd=cwd, stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
            errors='replace')
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self):
        for line in self.proc.stderr:
            self.lines.append(line.rstrip('\n'))

    @property
    def output(self):
        return '\n'.join(self.lines)

    def check_alive(self):
        if self.proc.poll() is not None:
            self._reader.join(5)
            raise PeerError('%s exited with %s:\n%s'
                            % (self.name, self.proc.returncode,
                               self.output[-3000:]))
        return True

    def stop(self, sig=signal.SIGTERM, timeout=15):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout)
        self._reader.join(timeout)
        return self.proc.returncode


def _listening(vm, l4, port):
    """Whether something in the VM listens on ``l4``/``port``."""
    flag = '-Hlnt' if l4 == 'tcp' else '-Hlnu'
    out = vm.run('ss', flag, 'sport = :%d' % port, check=False).stdout
    return bool(out.strip())


def _wait_listening(vm, proc, sockets):
    for l4, port in sockets:
        wait_for(lambda: proc.check_alive() and _listening(vm, l4, port),
                 START_TIMEOUT, '%s/%d to listen in %s' % (l4, port, vm.ns))


class Capture:
    """dumpcap on the tap, the way the agent sees the VM's traffic.

    dumpcap ships with tshark, which the tests need anyway. ``stop()``
    first sends a marker datagram to the VM and waits until the marker is
    in the file: everything sent before it crossed the same tap, so the
    capture is complete without guessing how long to wait.
    """

    MARKER_PORT = 9  # discard: not a service, so never counted

    def __init__(self, vm, path):
        self.vm = vm
        self.path = str(path)
        self.proc = None
        self.drops = None

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop(sync=exc[0] is None)

    def start(self):
        self.proc = _Process(['dumpcap', '-n', '-P', '-i', self.vm.tap,
                              '-B', '32', '-w', self.path])
        wait_for(lambda: self.proc.check_alive() and
                 os.path.exists(self.path) and
                 os.path.getsize(self.path) >= 24,
                 START_TIMEOUT, 'dumpcap to open %s' % self.path)
        # dumpcap has created the file once its socket is bound; a first
        # marker proves packets are being recorded.
        self.sync()

    def sync(self):
        """Send a marker to the VM and wait until it is in the capture."""
        token = uuid.uuid4().hex.encode()
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.bind((self.vm.peer_ip, 0))

            def seen():
                sock.sendto(b'dpiaas-marker-' + token,
                            (self.vm.ip, self.MARKER_PORT))
                with open(self.path, 'rb') as f:
                    return token in f.read()

            wait_for(seen, START_TIMEOUT, 'the capture marker', interval=0.2)

    def stop(self, sync=True):
        if self.proc is None:
            return
        try:
            if sync:
                self.sync()
        finally:
            self.proc.stop(signal.SIGINT)
        m = re.search(r"dropped on interface '[^']*': \d+/(\d+)",
                      self.proc.output)
        self.drops = int(m.group(1)) if m else None
        self.proc = None


# --------------------------------------------------------------- SIP ----

KAMAILIO_CFG = """#!KAMAILIO
# Written by the dpiaas functional tests: a stateless SIP server.
debug=1
log_stderror=yes
children=2
tcp_children=2
listen=udp:%(ip)s:5060
listen=tcp:%(ip)s:5060
auto_aliases=no
dns=no
rev_dns=no
mpath="%(mpath)s"
loadmodule "sl.so"
loadmodule "textops.so"
loadmodule "siputils.so"
loadmodule "pv.so"

request_route {
    if (is_method("ACK")) {
        exit;
    }
    if (is_method("REGISTER|OPTIONS|BYE|MESSAGE")) {
        sl_send_reply("200", "OK");
        exit;
    }
    if (is_method("INVITE")) {
        if ($rU == "busy") {
            sl_send_reply("486", "Busy Here");
            exit;
        }
        if ($rU == "decline") {
            sl_send_reply("603", "Decline");
            exit;
        }
        if ($rU == "moved") {
            sl_send_reply("302", "Moved Temporarily");
            exit;
        }
        if ($rU == "broken") {
            sl_send_reply("500", "Server Internal Error");
            exit;
        }
        sl_send_reply("180", "Ringing");
        sl_send_reply("200", "OK");
        exit;
    }
    sl_send_reply("404", "Not Found");
}
"""


def kamailio_modules():
    for path in ('/usr/lib/x86_64-linux-gnu/kamailio/modules',
                 '/usr/lib/aarch64-linux-gnu/kamailio/modules',
                 '/usr/lib/kamailio/modules', '/usr/lib64/kamailio/modules'):
        if os.path.exists(os.path.join(path, 'sl.so')):
            return path
    raise PeerError('Kamailio modules (sl.so) not found')


class Kamailio:
    """Kamailio in the VM: 200 to REGISTER/OPTIONS/BYE, calls by user."""

    def __init__(self, vm, workdir):
        self.vm = vm
        self.workdir = str(workdir)
        self.proc = None

    def __enter__(self):
        cfg = os.path.join(self.workdir, 'kamailio.cfg')
        with open(cfg, 'w') as f:
            f.write(KAMAILIO_CFG % {'ip': self.vm.ip,
                                    'mpath': kamailio_modules()})
        rundir = os.path.join(self.workdir, 'kamailio-run')
        os.makedirs(rundir, exist_ok=True)
        self.proc = _Process(
            ['kamailio', '-f', cfg, '-DD', '-E', '-m', '32', '-M', '4',
             '-P', os.path.join(rundir, 'kamailio.pid'), '-Y', rundir,
             '-w', rundir], ns=self.vm.ns)
        _wait_listening(self.vm, self.proc, (('udp', 5060), ('tcp', 5060)))
        return self

    def __exit__(self, *exc):
        self.proc.stop()


# A SIPp client scenario: every request method and every response class
# the metrics know, one "call" at a time.
SIPP_SCENARIO = """<?xml version="1.0" encoding="ISO-8859-1" ?>
<!DOCTYPE scenario SYSTEM "sipp.dtd">
<scenario name="dpiaas exactness">
%(steps)s
</scenario>
"""

_SIPP_REQUEST = """  <send retrans="500">
    <![CDATA[
      %(method)s sip:%(user)s@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:sipp@[local_ip]:[local_port]>;tag=[pid]T%(n)02d[call_number]
      To: <sip:%(user)s@[remote_ip]:[remote_port]>
      Call-ID: [call_id]
      CSeq: %(cseq)d %(method)s
      Contact: <sip:sipp@[local_ip]:[local_port];transport=[transport]>
      Max-Forwards: 70
      Expires: 60
%(content_type)s      Content-Length: [len]

%(body)s    ]]>
  </send>
"""

_SIPP_ACK = """  <send>
    <![CDATA[
      ACK sip:%(user)s@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:sipp@[local_ip]:[local_port]>;tag=[pid]T%(n)02d[call_number]
      [last_To:]
      Call-ID: [call_id]
      CSeq: %(cseq)d ACK
      Max-Forwards: 70
      Content-Length: 0

    ]]>
  </send>
"""


def sipp_scenario():
    """The scenario XML and what one call sends: ``{method: n}``, codes.

    All requests of a call share its Call-ID (SIPp finds the call of a
    response by it) and have increasing CSeq numbers.
    """
    steps = []
    sent = {}
    codes = []

    def request(method, user, response, provisional=(), ack=False,
                body=''):
        n = len(steps)
        params = {'method': method, 'user': user, 'n': n, 'cseq': n + 1,
                  'body': body, 'content_type': (
                      '      Content-Type: text/plain\n' if body else '')}
        step = _SIPP_REQUEST % params
        for code in provisional:
            step += '  <recv response="%d" optional="true"/>\n' % code
            codes.append(code)
        step += '  <recv response="%d"/>\n' % response
        codes.append(response)
        if ack:
            step += _SIPP_ACK % params
            sent['ACK'] = sent.get('ACK', 0) + 1
        steps.append(step)
        sent[method] = sent.get(method, 0) + 1

    request('REGISTER', 'sipp', 200)
    request('OPTIONS', 'server', 200)
    request('INVITE', 'alice', 200, provisional=(180,), ack=True)
    request('BYE', 'alice', 200)
    request('INVITE', 'busy', 486, ack=True)
    request('INVITE', 'decline', 603, ack=True)
    request('INVITE', 'moved', 302, ack=True)
    request('INVITE', 'broken', 500, ack=True)
    request('MESSAGE', 'bob', 200)
    # Larger than one frame: IP fragments over UDP, several segments over
    # TCP.
    request('MESSAGE', 'carol', 200, body=''.join(
        '      line %02d of a long instant message %s\n' % (i, '.' * 30)
        for i in range(50)))
    request('SUBSCRIBE', 'bob', 404)
    return SIPP_SCENARIO % {'steps': ''.join(steps)}, sent, codes


def sipp(vm, workdir, transport, calls, rate=50):
    """Run ``calls`` SIPp calls of :func:`sipp_scenario`; return the screen.

    ``transport`` is ``u1`` (UDP) or ``t1`` (TCP, one connection). Returns
    ``(returncode, {message: count sent or received})`` from SIPp's final
    statistics screen.
    """
    xml, _, _ = sipp_scenario()
    scenario = os.path.join(workdir, 'dpiaas-%s.xml' % transport)
    screen = os.path.join(workdir, 'sipp-%s-screen.log' % transport)
    with open(scenario, 'w') as f:
        f.write(xml)
    argv = ['sipp', '%s:5060' % vm.ip, '-sf', scenario, '-t', transport,
            '-i', vm.peer_ip, '-p', str(_free_port(vm.peer_ip, transport)),
            '-m', str(calls), '-r', str(rate), '-l', '10',
            '-timeout', '%ds' % CLIENT_TIMEOUT, '-timeout_error',
            '-nostdin', '-trace_screen', '-screen_file', screen]
    proc = subprocess.run(argv, cwd=workdir, capture_output=True, text=True,
                          stdin=subprocess.DEVNULL,
                          timeout=CLIENT_TIMEOUT + 30)
    with open(screen, errors='replace') as f:
        text = f.read()
    return proc.returncode, _sipp_counts(text), text


def _sipp_counts(screen):
    """Messages on the wire per scenario line of SIPp's last screen.

    A line counts first sends and retransmissions in separate columns; both
    crossed the wire, so both are added.
    """
    last = screen.rsplit('Messages  Retrans', 1)[-1]
    counts = {}
    for m in re.finditer(r'^\s+(?:([A-Z]+) -+>|(\d{3}) <-+)'
                         r'\s+(?:E-RTD\d\s+)?(\d+)\s+(\d+)', last, re.M):
        name = m.group(1) or m.group(2)
        counts[name] = counts.get(name, 0) + int(m.group(3)) + int(
            m.group(4))
    return counts


def _free_port(ip, transport):
    kind = socket.SOCK_STREAM if transport.startswith('t') else \
        socket.SOCK_DGRAM
    with socket.socket(socket.AF_INET, kind) as sock:
        sock.bind((ip, 0))
        return sock.getsockname()[1]


# -------------------------------------------------------------- HTTP ----

NGINX_CONF = """# Written by the dpiaas functional tests.
daemon off;
master_process off;
worker_processes 1;
user root;
pid %(dir)s/nginx.pid;
error_log stderr warn;
events { worker_connections 256; }
http {
    access_log off;
    client_body_temp_path %(dir)s/body;
    proxy_temp_path %(dir)s/proxy;
    fastcgi_temp_path %(dir)s/fastcgi;
    uwsgi_temp_path %(dir)s/uwsgi;
    scgi_temp_path %(dir)s/scgi;
    keepalive_requests 100000;
    server {
        listen %(ip)s:80;
        root %(dir)s/www;
        location = /old { return 301 /index.html; }
        location = /fail { return 503; }
        location = /error { return 500; }
        location /api { return 200 "ok\\n"; }
    }
}
"""


class Nginx:
    """nginx in the VM: files (200/404), a redirect, 500, 503, an API."""

    def __init__(self, vm, workdir):
        self.vm = vm
        self.dir = os.path.join(str(workdir), 'nginx')
        self.proc = None

    def __enter__(self):
        www = os.path.join(self.dir, 'www')
        os.makedirs(www, exist_ok=True)
        with open(os.path.join(www, 'index.html'), 'w') as f:
            f.write('<html><body>%s</body></html>\n' % ('dpiaas ' * 50))
        with open(os.path.join(www, 'big.bin'), 'wb') as f:
            f.write(bytes(range(256)) * 400)
        conf = os.path.join(self.dir, 'nginx.conf')
        with open(conf, 'w') as f:
            f.write(NGINX_CONF % {'ip': self.vm.ip, 'dir': self.dir})
        self.proc = _Process(['nginx', '-c', conf, '-p', self.dir],
                             ns=self.vm.ns)
        _wait_listening(self.vm, self.proc, (('tcp', 80),))
        return self

    def __exit__(self, *exc):
        self.proc.stop(signal.SIGQUIT)


def curl(vm, requests):
    """Send ``requests`` (``(method, path, extra curl args)``) with curl.

    One curl process reuses one keep-alive connection for all of them
    (``--next``). Returns the status codes curl saw, in order, including
    interim ``100 Continue`` (curl writes every response head with -D).
    """
    argv = ['curl', '--silent', '--show-error', '--noproxy', '*',
            '--max-time', str(CLIENT_TIMEOUT), '--interface', vm.peer_ip,
            '--dump-header', '-', '--output', '/dev/null']
    first = True
    for method, path, extra in requests:
        if not first:
            argv += ['--next', '--noproxy', '*', '--interface', vm.peer_ip,
                     '--dump-header', '-', '--output', '/dev/null']
        first = False
        if method == 'HEAD':
            argv += ['--head']
        else:
            argv += ['--request', method]
        argv += list(extra) + ['http://%s%s' % (vm.ip, path)]
    env = {k: v for k, v in os.environ.items()
           if not k.lower().endswith('_proxy')}
    proc = subprocess.run(argv, capture_output=True, text=True, env=env,
                          timeout=CLIENT_TIMEOUT + 10)
    if proc.returncode != 0:
        raise PeerError('curl failed (%d): %s'
                        % (proc.returncode, proc.stderr.strip()))
    return [int(code) for code in
            re.findall(r'^HTTP/\d(?:\.\d)? (\d{3})', proc.stdout, re.M)]


WRK_SCRIPT = """-- Written by the dpiaas functional tests: bounded mixed load.
local paths = {"/index.html", "/missing", "/old", "/fail", "/api/x"}
local depth = %(depth)d
local n = 0
local sent = 0
local limit = %(limit)d

request = function()
  local reqs = {}
  for i = 1, depth do
    n = n + 1
    reqs[i] = wrk.format("GET", paths[(n %% #paths) + 1])
  end
  sent = sent + depth
  return table.concat(reqs)
end

delay = function()
  return %(delay_ms)d
end

response = function(status, headers, body)
  if sent >= limit then
    wrk.thread:stop()
  end
end

done = function(summary, latency, requests)
  io.write(string.format("DPIAAS requests=%%d status_errors=%%d\\n",
    summary.requests, summary.errors.status))
end
"""


def wrk(vm, workdir, duration_s=1, connections=2, depth=1, limit=2000,
        delay_ms=1):
    """Keep-alive load from wrk for at most ``duration_s`` seconds.

    ``depth`` > 1 pipelines that many requests per write. Each thread stops
    after about ``limit`` requests. Returns wrk's count of completed
    requests and of non-2xx/3xx responses.
    """
    script = os.path.join(str(workdir), 'wrk-%d.lua' % depth)
    with open(script, 'w') as f:
        f.write(WRK_SCRIPT % {'depth': depth, 'limit': limit,
                              'delay_ms': delay_ms})
    argv = ['wrk', '-t1', '-c%d' % connections, '-d%ds' % duration_s,
            '--timeout', '5s', '-s', script, 'http://%s/' % vm.ip]
    proc = subprocess.run(argv, capture_output=True, text=True,
                          timeout=duration_s + 30)
    m = re.search(r'DPIAAS requests=(\d+) status_errors=(\d+)', proc.stdout)
    if proc.returncode != 0 or not m:
        raise PeerError('wrk failed (%d): %s %s'
                        % (proc.returncode, proc.stdout, proc.stderr))
    return int(m.group(1)), int(m.group(2))


# --------------------------------------------------------------- DNS ----

class Dnsmasq:
    """dnsmasq in the VM, authoritative for ``example.test`` only.

    Known names answer NOERROR, other names of ``example.test`` NXDOMAIN
    (``--local``), everything else REFUSED (no upstream at all), also
    other opcodes and questionless queries. dnsmasq has no quick way to
    SERVFAIL without an upstream, so that class is left to the traces.
    """

    def __init__(self, vm, workdir):
        self.vm = vm
        self.dir = str(workdir)
        self.proc = None

    def __enter__(self):
        # 20 strings of 180 bytes: more than one Ethernet frame, so the UDP
        # answer leaves in IP fragments.
        big = ','.join(('x%02d' % i) * 60 for i in range(20))
        self.proc = _Process(
            ['dnsmasq', '--keep-in-foreground', '--no-daemon',
             '--conf-file=/dev/null', '--no-resolv', '--no-hosts',
             '--bind-interfaces', '--listen-address=%s' % self.vm.ip,
             '--except-interface=lo', '--port=53', '--user=root',
             '--pid-file=%s' % os.path.join(self.dir, 'dnsmasq.pid'),
             '--local=/example.test/',
             '--host-record=www.example.test,%s' % self.vm.ip,
             '--address=/wild.example.test/%s' % self.vm.ip,
             '--txt-record=big.example.test,%s' % big,
             '--edns-packet-max=4096',
             '--log-facility=-'],
            ns=self.vm.ns)
        _wait_listening(self.vm, self.proc, (('udp', 53), ('tcp', 53)))
        return self

    def __exit__(self, *exc):
        self.proc.stop()


def dig(vm, queries, tcp=False):
    """Ask ``queries`` with one dig; return the statuses dig reports.

    A query is ``(name, type, dig query options...)``.

    Over TCP (``+tcp +keepopen``) the queries share one connection.
    """
    argv = ['dig', '@%s' % vm.ip, '-b', vm.peer_ip, '+tries=1', '+time=5',
            '+bufsize=4096', '+nocookie']
    if tcp:
        argv += ['+tcp', '+keepopen']
    for name, qtype, *options in queries:
        argv += [name, qtype] + list(options)
    proc = subprocess.run(argv, capture_output=True, text=True,
                          timeout=CLIENT_TIMEOUT)
    statuses = re.findall(r'status: ([A-Z]+),', proc.stdout)
    if len(statuses) != len(queries):
        raise PeerError('dig got %d answers to %d queries:\n%s%s'
                        % (len(statuses), len(queries), proc.stdout,
                           proc.stderr))
    return statuses
