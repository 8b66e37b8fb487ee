"""Building packets and running a collector over them, for unit tests."""
from scapy.all import Ether, IP, IPv6, TCP, UDP, raw

from dpiaas.dpi import batch as batch_mod
from dpiaas.dpi import pipeline
from dpiaas.dpi import spec as spec_mod

VM = '198.18.0.10'
PEER = '198.18.0.20'
VM_MAC = 'fa:16:3e:00:00:10'
PEER_MAC = 'fa:16:3e:00:00:20'
T0 = 1767225600 * 10 ** 9       # aligned to every interval length used


def spec(*services, vm_ips=(VM,), interval_ms=500, vm_macs=()):
    return spec_mod.CollectorSpec(
        services=[spec_mod.Service.parse(s) for s in services],
        vm_ips=list(vm_ips), vm_macs=list(vm_macs), interval_ms=interval_ms)


def udp(payload, inbound=True, sport=5060, dport=5060, v6=False):
    src, dst = (PEER, VM) if inbound else (VM, PEER)
    smac, dmac = (PEER_MAC, VM_MAC) if inbound else (VM_MAC, PEER_MAC)
    if v6:
        ip = IPv6(src='2001:db8::20', dst='2001:db8::10') if inbound else \
            IPv6(src='2001:db8::10', dst='2001:db8::20')
    else:
        ip = IP(src=src, dst=dst)
    return raw(Ether(src=smac, dst=dmac) / ip /
               UDP(sport=sport, dport=dport) / payload)


class TcpConn:
    """A TCP connection from PEER:cport to VM:port, as raw frames."""

    def __init__(self, port=80, cport=40000, vm=VM, peer=PEER):
        self.port, self.cport = port, cport
        self.vm, self.peer = vm, peer
        self.cseq, self.sseq = 1000, 9000

    def _frame(self, inbound, flags, seq, ack, payload=b''):
        src, dst = (self.peer, self.vm) if inbound else (self.vm, self.peer)
        sp, dp = (self.cport, self.port) if inbound else (self.port,
                                                          self.cport)
        smac, dmac = (PEER_MAC, VM_MAC) if inbound else (VM_MAC, PEER_MAC)
        return raw(Ether(src=smac, dst=dmac) / IP(src=src, dst=dst) /
                   TCP(sport=sp, dport=dp, flags=flags, seq=seq, ack=ack)
                   / payload)

    def handshake(self):
        out = [self._frame(True, 'S', self.cseq, 0),
               self._frame(False, 'SA', self.sseq, self.cseq + 1),
               self._frame(True, 'A', self.cseq + 1, self.sseq + 1)]
        self.cseq += 1
        self.sseq += 1
        return out

    def client(self, payload, advance=True):
        f = self._frame(True, 'PA', self.cseq, self.sseq, payload)
        if advance:
            self.cseq += len(payload)
        return f

    def server(self, payload, advance=True):
        f = self._frame(False, 'PA', self.sseq, self.cseq, payload)
        if advance:
            self.sseq += len(payload)
        return f

    def skip_server(self, nbytes):
        """Lose ``nbytes`` of the server's stream (a dropped segment)."""
        self.sseq += nbytes


def run(collector_spec, frames, step_ns=1000000, settings=None):
    """Feed ``frames`` (bytes, or (offset_ns, bytes)) and flush.

    Returns the list of interval reports.
    """
    c = pipeline.Collector(collector_spec, settings)
    pk = []
    t = T0
    for f in frames:
        if isinstance(f, tuple):
            t = T0 + f[0]
            f = f[1]
        pk.append((t, f))
        t += step_ns
    reports = c.feed(batch_mod.PacketBatch.from_packets(pk))
    reports += c.flush()
    return reports


def totals(reports):
    out = {}
    for r in reports:
        for k, v in r.metrics.items():
            if 'latency' not in k:
                out[k] = out.get(k, 0) + v
    return out
