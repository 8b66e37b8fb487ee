"""A million malformed, truncated and mutated packets: nothing escapes.

Acceptance (issue "DPI collector", Robustness): no exception leaves the
pipeline, memory stays bounded, ``malformed`` counters rise.
"""
import resource

import numpy as np
import pytest
from scapy.all import DNS, DNSQR, Ether, IP, IPv6, Raw, TCP, UDP, fuzz, raw

from dpiaas.dpi import batch as batch_mod
from dpiaas.dpi import pipeline
from dpiaas.dpi import spec as spec_mod

SERVICES = ['udp/5060=sip', 'tcp/5060=sip', 'tcp/80=http', 'udp/53=dns',
            'tcp/53=dns']
VM = '198.18.0.10'


def _templates():
    """Well-formed frames of every decoded kind, to mutate."""
    sip = (b'INVITE sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP x\r\nCall-ID: '
           b'q@x\r\nCSeq: 1 INVITE\r\nContent-Length: 4\r\n\r\nv=0\n')
    http = (b'GET / HTTP/1.1\r\nHost: x\r\n\r\nHTTP/1.1 200 OK\r\n'
            b'Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n')
    eth = Ether(src='fa:16:3e:00:00:20', dst='fa:16:3e:00:00:10')
    out = [
        eth / IP(src='198.18.0.20', dst=VM) / UDP(sport=5060, dport=5060)
        / sip,
        eth / IP(src='198.18.0.20', dst=VM) / TCP(sport=4000, dport=5060,
                                                  flags='PA') / sip,
        eth / IP(src='198.18.0.20', dst=VM) / TCP(sport=4000, dport=80,
                                                  flags='PA') / http,
        eth / IP(src='198.18.0.20', dst=VM) / UDP(sport=4000, dport=53)
        / DNS(qd=DNSQR(qname='a.example.')),
        eth / IPv6(src='2001:db8::2', dst='2001:db8::1') /
        TCP(sport=4000, dport=80, flags='PA') / http,
        eth / IP(src='198.18.0.20', dst=VM, flags='MF') /
        UDP(sport=5060, dport=5060) / sip,
        eth / IP(src='198.18.0.20', dst=VM, frag=100) / Raw(sip),
    ]
    frames = [raw(p) for p in out]
    # scapy's own fuzzer: random field values within each layer's type
    for _ in range(300):
        frames.append(raw(eth / fuzz(IP(dst=VM)) / fuzz(UDP(dport=5060))
                          / sip[:40]))
        frames.append(raw(eth / IP(dst=VM) / fuzz(TCP(dport=80)) / http))
    return frames


def _mutated_batch(rng, templates, n, t0):
    """``n`` frames: templates with random bytes overwritten, cut short,
    or replaced by random bytes altogether."""
    width = 256
    buf = rng.integers(0, 256, size=n * width, dtype=np.uint8)
    caplen = rng.integers(0, width, size=n).astype(np.int32)
    kinds = rng.integers(0, 4, size=n)
    for i in np.nonzero(kinds != 0)[0]:
        t = templates[rng.integers(len(templates))]
        t = np.frombuffer(t[:width], dtype=np.uint8)
        buf[i * width:i * width + len(t)] = t
        if kinds[i] == 1:          # flip a few bytes anywhere
            pos = rng.integers(0, len(t), size=rng.integers(1, 6))
            buf[i * width + pos] = rng.integers(0, 256, size=len(pos))
        elif kinds[i] == 2:        # damage only the payload
            pos = rng.integers(min(54, len(t) - 1), len(t),
                               size=rng.integers(1, 12))
            buf[i * width + pos] = rng.integers(0, 256, size=len(pos))
        caplen[i] = rng.integers(0, len(t) + 1) if kinds[i] == 3 else len(t)
    off = np.arange(n, dtype=np.int64) * width
    ts = t0 + np.arange(n, dtype=np.int64) * 1000
    return batch_mod.PacketBatch(
        buf=buf, off=off, caplen=caplen, wirelen=caplen.copy(), ts_ns=ts,
        pkttype=rng.integers(-1, 5, size=n).astype(np.int8))


@pytest.mark.slow
def test_a_million_bad_packets_are_counted_not_fatal():
    rng = np.random.default_rng(2026)
    templates = _templates()
    spec = spec_mod.CollectorSpec(
        services=[spec_mod.Service.parse(s) for s in SERVICES],
        vm_ips=[VM, '2001:db8::1'])
    collector = pipeline.Collector(spec)
    total = 0
    malformed = 0
    messages = 0
    t0 = 1767225600 * 10 ** 9
    rss = []
    for k in range(100):
        b = _mutated_batch(rng, templates, 10000, t0 + k * 10 ** 7)
        for report in collector.feed(b):
            for name, value in report.metrics.items():
                if name.endswith('.malformed'):
                    malformed += value
                elif '.requests.' in name or '.responses.' in name or \
                        name.endswith('.queries'):
                    messages += value
        total += len(b)
        rss.append(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
    collector.flush()
    assert total >= 1000000
    assert malformed > 1000, 'malformed counters must rise'
    assert messages > 1000, 'intact messages among them are still counted'
    # memory: after warm-up, the peak does not keep growing
    assert rss[-1] - rss[10] < 64 * 1024, rss   # KiB
    stats = collector.stats()
    assert stats['packets'] == total


def test_cut_capture_file_replays_what_it_holds(tmp_path):
    import subprocess
    import sys
    data = open('dpiaas/dpi/samples/sample.pcap', 'rb').read()
    cut = tmp_path / 'cut.pcap'
    cut.write_bytes(data[:len(data) * 2 // 3])
    res = subprocess.run(
        [sys.executable, '-m', 'dpiaas.cmd.cli', 'replay', str(cut),
         '--service', 'udp/5060=sip'], capture_output=True, text=True)
    assert res.returncode == 0
    assert 'truncated' in res.stderr
    assert 'Traceback' not in res.stderr
    assert res.stdout.count('\n') > 3
