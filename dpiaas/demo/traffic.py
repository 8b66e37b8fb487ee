"""Steady client traffic towards the demo VM, from the host namespace.

Real requests to the real servers in the VM: HTTP over one keep-alive
connection (mostly 200, a few 404 and 503), DNS queries (NOERROR and
NXDOMAIN) and SIP REGISTER/OPTIONS over UDP. Arrivals are Poisson at a
modest rate so that the metrics look like a small production service, not
a benchmark. Each client is a daemon thread that survives its server being
down (the demo may be used to show an anomaly by stopping one).
"""
import http.client
import logging
import random
import socket
import struct
import threading
import uuid

LOG = logging.getLogger(__name__)


class Client(threading.Thread):
    """Calls ``self.once()`` at Poisson arrivals of ``rate`` per second."""

    def __init__(self, vm, rate, stop):
        super().__init__(daemon=True, name='demo-' + type(self).__name__)
        self.vm = vm
        self.rate = rate
        self.stop_event = stop
        self.random = random.Random()
        self.errors = 0

    def run(self):
        while not self.stop_event.wait(self.random.expovariate(self.rate)):
            try:
                self.once()
            except OSError as exc:
                self.errors += 1
                if self.errors in (1, 100, 10000):
                    LOG.info('demo %s: %s', self.name, exc)
                self.reset()

    def reset(self):
        pass


class HttpClient(Client):
    PATHS = (['/'] * 10 + ['/api'] * 8 + ['/missing'] + ['/fail'])

    def __init__(self, vm, rate, stop):
        super().__init__(vm, rate, stop)
        self.conn = None

    def once(self):
        if self.conn is None:
            self.conn = http.client.HTTPConnection(
                self.vm.ip, 80, timeout=2,
                source_address=(self.vm.host_ip, 0))
        self.conn.request('GET', self.random.choice(self.PATHS))
        self.conn.getresponse().read()

    def reset(self):
        if self.conn is not None:
            self.conn.close()
        self.conn = None


def dns_query(qid, name):
    """A standard recursive A query for ``name``."""
    labels = b''.join(bytes([len(p)]) + p.encode()
                      for p in name.split('.')) + b'\0'
    return struct.pack('!HHHHHH', qid, 0x0100, 1, 0, 0, 0) + labels + \
        struct.pack('!HH', 1, 1)


class DnsClient(Client):
    NAMES = ['www.demo.test'] * 9 + ['nope.demo.test']

    def once(self):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.bind((self.vm.host_ip, 0))
            s.settimeout(2)
            s.sendto(dns_query(self.random.getrandbits(16),
                               self.random.choice(self.NAMES)),
                     (self.vm.ip, 53))
            s.recv(4096)


SIP_REQUEST = (
    '%(method)s sip:%(vm)s SIP/2.0\r\n'
    'Via: SIP/2.0/UDP %(me)s:%(port)d;branch=z9hG4bK%(branch)s\r\n'
    'From: <sip:demo@%(me)s>;tag=%(tag)s\r\n'
    'To: <sip:demo@%(vm)s>\r\n'
    'Call-ID: %(callid)s\r\n'
    'CSeq: 1 %(method)s\r\n'
    'Contact: <sip:demo@%(me)s:%(port)d>\r\n'
    'Max-Forwards: 70\r\n'
    'Expires: 60\r\n'
    'Content-Length: 0\r\n\r\n')


class SipClient(Client):
    METHODS = ['REGISTER'] * 3 + ['OPTIONS']

    def once(self):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.bind((self.vm.host_ip, 0))
            s.settimeout(2)
            msg = SIP_REQUEST % {
                'method': self.random.choice(self.METHODS),
                'vm': self.vm.ip, 'me': self.vm.host_ip,
                'port': s.getsockname()[1], 'branch': uuid.uuid4().hex,
                'tag': uuid.uuid4().hex[:8],
                'callid': uuid.uuid4().hex}
            s.sendto(msg.encode(), (self.vm.ip, 5060))
            s.recv(4096)


CLIENTS = {'nginx': (HttpClient, 20.0), 'dnsmasq': (DnsClient, 8.0),
           'kamailio': (SipClient, 8.0)}


def start(vm, servers, stop):
    """Start a client for each running server; returns the threads."""
    threads = []
    for server in servers:
        cls, rate = CLIENTS[server.name]
        t = cls(vm, rate, stop)
        t.start()
        threads.append(t)
    return threads
