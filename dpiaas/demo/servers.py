"""Real servers inside the demo VM: nginx, dnsmasq and Kamailio.

nginx is required (Debian ``nginx-light``); dnsmasq and Kamailio run when
installed, so the demo shows HTTP always and DNS and SIP where it can.
Each server's config is written to the state directory; each runs in the
foreground so that stopping the demo stops it.
"""
import glob
import logging
import os
import shutil
import signal
import subprocess
import time

from dpiaas.demo import vm as vm_mod

LOG = logging.getLogger(__name__)

NGINX_CONF = """# written by dpiaas-all-in-one --demo
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
    server {
        listen %(ip)s:80;
        root %(dir)s/www;
        location /api { return 200 "ok\\n"; }
        location = /fail { return 503; }
    }
}
"""

KAMAILIO_CFG = """#!KAMAILIO
# written by dpiaas-all-in-one --demo: a stateless registrar stand-in
debug=1
log_stderror=yes
children=1
tcp_children=1
listen=udp:%(ip)s:5060
auto_aliases=no
dns=no
rev_dns=no
mpath="%(mpath)s"
loadmodule "sl.so"
loadmodule "textops.so"
loadmodule "pv.so"
request_route {
    if (is_method("ACK")) { exit; }
    if (is_method("REGISTER|OPTIONS|INVITE|BYE")) {
        sl_send_reply("200", "OK");
        exit;
    }
    sl_send_reply("405", "Method Not Allowed");
}
"""


class Server:
    """One foreground server process in the VM."""

    def __init__(self, name, argv, vm, sockets, stop_signal=signal.SIGTERM):
        self.name = name
        self.argv = argv
        self.vm = vm
        self.sockets = sockets
        self.stop_signal = stop_signal
        self.proc = None

    def start(self, timeout=15):
        self.proc = self.vm.popen(self.argv, stdin=subprocess.DEVNULL,
                                  stdout=subprocess.DEVNULL,
                                  stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + timeout
        while not all(self.vm.listening(l4, port)
                      for l4, port in self.sockets):
            if self.proc.poll() is not None:
                raise vm_mod.DemoError('%s exited at start: %s' % (
                    self.name, self.proc.stderr.read()[-500:].strip()))
            if time.monotonic() > deadline:
                self.stop()
                raise vm_mod.DemoError('%s did not start listening on %s'
                                       % (self.name, self.sockets))
            time.sleep(0.1)
        LOG.info('demo VM runs %s on %s', self.name,
                 ', '.join('%s/%d' % s for s in self.sockets))
        return self

    def stop(self):
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(self.stop_signal)
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)


def nginx(vm, workdir):
    d = os.path.join(workdir, 'nginx')
    os.makedirs(os.path.join(d, 'www'), exist_ok=True)
    with open(os.path.join(d, 'www', 'index.html'), 'w') as f:
        f.write('<html><body>dpiaas demo</body></html>\n')
    conf = os.path.join(d, 'nginx.conf')
    with open(conf, 'w') as f:
        f.write(NGINX_CONF % {'ip': vm.ip, 'dir': d})
    return Server('nginx', ['nginx', '-c', conf, '-p', d], vm,
                  [('tcp', 80)], stop_signal=signal.SIGQUIT)


def dnsmasq(vm, workdir):
    return Server('dnsmasq', [
        'dnsmasq', '--keep-in-foreground', '--no-daemon',
        '--conf-file=/dev/null', '--no-resolv', '--no-hosts',
        '--bind-interfaces', '--listen-address=%s' % vm.ip,
        '--except-interface=lo', '--port=53', '--user=root',
        '--pid-file=%s' % os.path.join(workdir, 'dnsmasq.pid'),
        '--local=/demo.test/',
        '--host-record=www.demo.test,%s' % vm.ip], vm,
        [('udp', 53)])


def _kamailio_modules():
    for path in glob.glob('/usr/lib/*/kamailio/modules') + \
            ['/usr/lib/kamailio/modules']:
        if os.path.exists(os.path.join(path, 'sl.so')):
            return path
    return None


def kamailio(vm, workdir):
    mpath = _kamailio_modules()
    if mpath is None:
        return None
    d = os.path.join(workdir, 'kamailio')
    os.makedirs(d, exist_ok=True)
    conf = os.path.join(d, 'kamailio.cfg')
    with open(conf, 'w') as f:
        f.write(KAMAILIO_CFG % {'ip': vm.ip, 'mpath': mpath})
    return Server('kamailio', [
        'kamailio', '-f', conf, '-DD', '-E', '-m', '32', '-M', '4',
        '-P', os.path.join(d, 'kamailio.pid'), '-Y', d, '-w', d], vm,
        [('udp', 5060)])


def available(vm, workdir):
    """The servers this machine can run, nginx first (required)."""
    if not shutil.which('nginx'):
        raise vm_mod.DemoError('the demo needs nginx (apt-get install '
                               'nginx-light)')
    servers = [nginx(vm, workdir)]
    if shutil.which('dnsmasq'):
        servers.append(dnsmasq(vm, workdir))
    else:
        LOG.warning('dnsmasq not installed: the demo shows no DNS')
    if shutil.which('kamailio'):
        k = kamailio(vm, workdir)
        if k:
            servers.append(k)
    else:
        LOG.warning('kamailio not installed: the demo shows no SIP')
    return servers
