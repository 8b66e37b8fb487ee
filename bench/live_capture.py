#!/usr/bin/env python3
"""Live capture throughput: how fast can tcpreplay go before the ring drops?

One command, as root::

    .venv/bin/python bench/live_capture.py [--workers 1 2] [--packets N]
        [--consumer MODULE:FACTORY | --consumer spin:NS]

It creates a veth pair, generates a capture of many small UDP/5060 and
TCP/80 flows plus background traffic the kernel filter must discard,
measures the highest rate ``tcpreplay --topspeed`` reaches into one end,
then captures the other end with 1 and with 2 fanout workers: first at top
speed, then (if that drops packets) a search over ``--pps`` for the highest
rate with zero kernel drops. It prints one table row per run: packets
sent and the rate tcpreplay achieved, packets the filter should keep
(matched), packets the workers got (captured), kernel drops, and the
workers' CPU time per captured packet (ns/pkt: ring walk plus consumer,
idle polling included).

The per-batch consumer is pluggable: ``--consumer pkg.mod:factory`` calls
``factory()`` once in each worker and then the returned function on every
batch (default: counting only). ``--consumer spin:300`` burns 300 ns of CPU
per packet, a stand-in for a DPI pipeline to see what fanout buys.
"""
import argparse
import importlib
import os
import random
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from dpiaas.dpi.capture import bpf  # noqa: E402
from dpiaas.dpi.capture import fanout  # noqa: E402
from dpiaas.dpi import spec  # noqa: E402

SERVICES = [spec.Service('udp', 5060, 5060, 'sip'),
            spec.Service('tcp', 80, 80, 'http')]


# -- traffic -------------------------------------------------------------

def make_pcap(path, packets, flows, min_payload, max_payload, seed=7):
    """Write a pcap of ``packets`` frames; return how many the filter keeps.

    45 % UDP/5060, 45 % TCP/80, 10 % UDP/9999 (filtered out in the
    kernel), over ``flows`` client addresses and ports so that the fanout
    hash has something to spread.
    """
    rnd = random.Random(seed)
    kept = 0
    with open(path, 'wb') as f:
        f.write(struct.pack('<IHHiIII', 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1))
        for i in range(packets):
            flow = rnd.randrange(flows)
            cli = bytes([10, 1, flow >> 8, flow & 0xff])
            srv = bytes([10, 2, 0, 1])
            cport = 20000 + flow
            pick = rnd.random()
            payload = b'p' * rnd.randint(min_payload, max_payload)
            if pick < 0.45:
                proto, sport, dport = 17, cport, 5060
            elif pick < 0.9:
                proto, sport, dport = 6, cport, 80
            else:
                proto, sport, dport = 17, cport, 9999
            if rnd.random() < 0.5:      # both directions
                cli, srv = srv, cli
                sport, dport = dport, sport
            if proto == 17:
                l4 = struct.pack('!HHHH', sport, dport, 8 + len(payload), 0)
            else:
                l4 = struct.pack('!HHIIBBHHH', sport, dport, i, 0, 0x50,
                                 0x18, 4096, 0, 0)
            ip = struct.pack('!BBHHHBBH4s4s', 0x45, 0,
                             20 + len(l4) + len(payload), i & 0xffff, 0, 64,
                             proto, 0, cli, srv)
            frame = (b'\xfa\x16\x3e\x00\x00\x02\xfa\x16\x3e\x00\x00\x01'
                     b'\x08\x00' + ip + l4 + payload)
            f.write(struct.pack('<IIII', 1700000000, i % 1000000,
                                len(frame), len(frame)))
            f.write(frame)
            if dport != 9999 and sport != 9999:
                kept += 1
    return kept


_ACTUAL = re.compile(r'Actual: (\d+) packets \((\d+) bytes\) sent in '
                     r'([\d.]+) seconds')


def tcpreplay(iface, path, loops, pps=None):
    """Replay; returns (packets sent, seconds, achieved pps)."""
    argv = ['tcpreplay', '-q', '-K', '-i', iface, '--loop=%d' % loops]
    argv += ['--pps=%d' % pps] if pps else ['--topspeed']
    out = subprocess.run(argv + [path], capture_output=True, text=True,
                         check=True).stdout
    m = _ACTUAL.search(out)
    if not m:
        raise RuntimeError('cannot parse tcpreplay output: %r' % out)
    sent, secs = int(m.group(1)), float(m.group(3))
    return sent, secs, sent / secs if secs else 0.0


# -- consumers -----------------------------------------------------------

def _spin_factory(ns_per_packet):
    def consume(batch):
        end = time.perf_counter_ns() + ns_per_packet * len(batch)
        while time.perf_counter_ns() < end:
            pass
    return consume


def _count_factory():
    def consume(batch):
        pass
    return consume


def load_consumer(text):
    """``spin:NS``, ``count`` or ``module:factory`` -> factory()."""
    if text in (None, '', 'count'):
        return _count_factory()
    if text.startswith('spin:'):
        return _spin_factory(int(text.split(':', 1)[1]))
    mod, _sep, attr = text.partition(':')
    return getattr(importlib.import_module(mod), attr)()


class BenchWorker:
    """Runs the consumer on every batch; every 0.2 s reports packets and
    the CPU seconds the worker process spent (ring walk + consumer)."""

    def __init__(self, consumer):
        self.consumer = consumer

    def __call__(self, batches, index, results):
        consume = load_consumer(self.consumer)
        packets = 0
        last = time.monotonic()
        cpu = time.process_time()
        for batch in batches:
            n = len(batch)
            if n:
                consume(batch)
                packets += n
            now = time.monotonic()
            if packets and now - last >= 0.2:
                spent = time.process_time()
                results.put((index, packets, spent - cpu))
                packets = 0
                last, cpu = now, spent
        results.put((index, packets, time.process_time() - cpu))


# -- measuring -----------------------------------------------------------

class Run:
    def __init__(self, workers, target, sent, secs, rate, expected):
        self.workers = workers
        self.target = target
        self.sent = sent
        self.secs = secs
        self.rate = rate
        self.expected = expected
        self.captured = 0
        self.cpu_s = 0.0
        self.kernel = 0
        self.drops = 0
        self.per_worker = []


def measure(fc, tx, path, loops, kept_per_loop, pps, totals):
    """One replay at ``pps`` (None: top speed) while ``fc`` captures."""
    before = fc.stats()
    sent, secs, rate = tcpreplay(tx, path, loops, pps)
    run = Run(fc.workers, pps, sent, secs, rate, kept_per_loop * loops)
    captured = 0
    cpu = 0.0
    idle_since = time.monotonic()
    while True:
        got = 0
        for _index, n, spent in fc.drain():
            got += n
            cpu += spent
        captured += got
        now = time.monotonic()
        if got:
            idle_since = now
        st = fc.stats()
        done = captured + st['drops'] - before['drops'] >= run.expected
        if (done and now - idle_since > 0.3) or now - idle_since > 3.0:
            break
        time.sleep(0.05)    # polling progress, with a deadline above
    st = fc.stats()
    run.captured = captured
    run.cpu_s = cpu
    run.kernel = st['packets'] - before['packets']
    run.drops = st['drops'] - before['drops']
    run.per_worker = [w['packets'] - b['packets'] for w, b in
                      zip(st['workers'], before['workers'])]
    totals.append(run)
    return run


def print_header():
    print('%7s %10s %9s %10s %9s %9s %9s %7s %6s %7s  %s' % (
        'workers', 'target', 'sent', 'sent pps', 'matched', 'captured',
        'drops', 'loss%', 'secs', 'ns/pkt', 'kernel per worker'),
        flush=True)


def print_row(run):
    target = 'top' if run.target is None else '%d' % run.target
    loss = 100.0 * run.drops / run.expected if run.expected else 0.0
    nspp = 1e9 * run.cpu_s / run.captured if run.captured else 0.0
    print('%7d %10s %9d %10.0f %9d %9d %9d %7.3f %6.2f %7.0f  %s' % (
        run.workers, target, run.sent, run.rate, run.expected, run.captured,
        run.drops, loss, run.secs, nspp, '/'.join(map(str, run.per_worker))),
        flush=True)


def bench_workers(args, tx, rx, path, loops, kept, top_rate, expr, rows):
    fc = fanout.FanoutCapture(
        rx, BenchWorker(args.consumer), workers=args.workers_n,
        bpf_filter=expr, capture_opts={
            'block_size': args.block_kb << 10,
            'block_count': (args.ring_mb << 10) // args.block_kb,
            'block_timeout_ms': 20})
    with fc:
        run = measure(fc, tx, path, loops, kept, None, rows)
        print_row(run)
        best = run.rate if run.drops == 0 else 0.0
        if run.drops and args.search_steps:
            lo, hi = 0.0, min(run.rate, top_rate)
            for _step in range(args.search_steps):
                mid = (lo + hi) / 2 if lo else hi / 2
                run = measure(fc, tx, path, loops, kept, int(mid), rows)
                print_row(run)
                if run.drops == 0:
                    lo = best = max(best, run.rate)
                else:
                    hi = mid
                if lo and hi - lo < 0.05 * hi:
                    break
        errors = fc.errors()
    if errors:
        print('worker errors: %s' % errors, file=sys.stderr)
    return best


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--workers', type=int, nargs='+', default=[1, 2])
    parser.add_argument('--packets', type=int, default=1000000,
                        help='packets replayed per run')
    parser.add_argument('--file-packets', type=int, default=50000)
    parser.add_argument('--flows', type=int, default=1024)
    parser.add_argument('--payload', type=int, nargs=2, default=[16, 200],
                        metavar=('MIN', 'MAX'))
    parser.add_argument('--pcap', help='replay this file instead (every '
                        'packet is expected to pass: no filter)')
    parser.add_argument('--consumer', default='count',
                        help='count | spin:NS | module:factory')
    parser.add_argument('--ring-mb', type=int, default=32)
    parser.add_argument('--block-kb', type=int, default=1024)
    parser.add_argument('--search-steps', type=int, default=5)
    args = parser.parse_args(argv)
    if os.geteuid() != 0:
        parser.exit(2, 'live_capture: needs root (veth pair, AF_PACKET)\n')
    if not shutil.which('tcpreplay'):
        parser.exit(2, 'live_capture: needs tcpreplay (apt-get install '
                    'tcpreplay)\n')
    from tests.functional import netns

    with tempfile.TemporaryDirectory() as tmp:
        if args.pcap:
            path, expr = args.pcap, None
            kept = int(subprocess.run(
                ['capinfos', '-c', '-M', path], capture_output=True,
                text=True, check=True).stdout.split()[-1])
            file_packets = kept
        else:
            path = os.path.join(tmp, 'bench.pcap')
            file_packets = args.file_packets
            kept = make_pcap(path, file_packets, args.flows, *args.payload)
            expr = bpf.filter_expression(SERVICES)
        loops = max(1, args.packets // file_packets)
        print('capture: %d packets per loop (%d pass the filter), %d loops; '
              'consumer %s; ring %d MiB in %d KiB blocks; %d cores'
              % (file_packets, kept, loops, args.consumer, args.ring_mb,
                 args.block_kb, os.cpu_count()), flush=True)
        with netns.veth_pair() as (tx, rx):
            for dev in (tx, rx):
                netns.run('sysctl', '-qw',
                          'net.ipv6.conf.%s.disable_ipv6=1' % dev,
                          check=False)
            sent, secs, top = tcpreplay(tx, path, loops)
            print('tcpreplay --topspeed, nobody capturing: %d packets in '
                  '%.2f s = %.0f pps' % (sent, secs, top), flush=True)
            rows = []
            best = {}
            print_header()
            for n in args.workers:
                args.workers_n = n
                best[n] = bench_workers(args, tx, rx, path, loops, kept,
                                        top, expr, rows)
    print()
    for n in args.workers:
        print('max zero-drop rate, %d worker%s: %.0f pps%s' % (
            n, '' if n == 1 else 's', best[n],
            ' (tcpreplay top speed: capture is not the bottleneck)'
            if rows and any(r.workers == n and r.target is None
                            and r.drops == 0 for r in rows) else ''))
    return 0


if __name__ == '__main__':
    sys.exit(main())
