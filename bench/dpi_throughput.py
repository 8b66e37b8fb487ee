# Licensed under the Apache License, Version 2.0 (the "License"); you may
# not use this file except in compliance with the License. You may obtain
# a copy of the License at
#
#      http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
# WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the
# License for the specific language governing permissions and limitations
# under the License.
"""Issue 2's speed acceptance in one command: dpiaas against scapy.

``python -m bench.dpi_throughput [--packets 1000000]
[--baseline-packets 20000]`` generates (or reuses, under
``/tmp/dpiaas-bench``) the mixed capture of :mod:`bench.mixed_capture`, then
in the same process measures packets per CPU second of

(a) dpiaas's offline pipeline (``replay_files``: every metric, TCP streams,
    latency, fragments, flow table and heavy hitters) over the whole file,
(b) the paper's scapy approach (:mod:`bench.scapy_baseline`) over the first
    ``--baseline-packets`` packets (at ~4 kpps a million would take minutes
    and says nothing more),

and prints a table with the ratio. CPU time (``time.process_time``), not
wall time: the machine is shared, and the target is per core. Each side
runs ``--repeat`` times, the two in turns, and the best run counts, since
neighbours on shared cores only ever slow a run down. One warm-up replay
of a small capture runs first so that numba's compilation is not
measured. dpiaas's totals are
then checked against the generator's ground truth, metric by metric: a fast
collector that counts wrong is no result.

Exit status: 1 if a total differs from the ground truth (or, with
``--strict``, if a speed target is missed), else 0.
"""
import argparse
import collections
import json
import math
import os
import sys
import time

from bench import mixed_capture
from bench import scapy_baseline

CACHE_DIR = '/tmp/dpiaas-bench'
TARGET_MPPS = 2.0
TARGET_RATIO = 500.0
WARMUP_PACKETS = 5000


def cached_capture(packets, seed, cache_dir=CACHE_DIR, log=print,
                   duration_s=None):
    """Path and truth of the mixed capture, generated on first use.

    Keyed by size, seed and generator version, so a changed generator never
    reuses a stale file.
    """
    os.makedirs(cache_dir, exist_ok=True)
    path = os.path.join(cache_dir, 'mixed-v%d-n%d-s%d%s.pcap' % (
        mixed_capture.GENERATOR_VERSION, packets, seed,
        '' if duration_s is None else '-d%g' % duration_s))
    tpath = mixed_capture.truth_path(path)
    if os.path.exists(path) and os.path.exists(tpath):
        with open(tpath) as f:
            return path, json.load(f)
    log('generating %s (%d packets) ...' % (path, packets))
    truth = mixed_capture.generate(path, packets, seed,
                                   duration_s=duration_s)
    log('  done in %.1f s' % truth['generate_s'])
    return path, truth


def make_spec(truth):
    """The collector spec of the capture's VM, from its truth file."""
    from dpiaas.dpi import spec as spec_mod
    return spec_mod.CollectorSpec(
        services=[spec_mod.Service.parse(s) for s in truth['services']],
        vm_ips=truth['vm_ips'], vm_macs=truth.get('vm_macs', []),
        interval_ms=truth['interval_ms'])


def run_dpiaas(path, spec, settings=None):
    """Replay ``path``; returns (reports, cpu seconds, collector stats)."""
    from dpiaas.dpi import replay
    started = time.process_time()
    reports = list(replay.replay_files([path], spec, settings))
    cpu = time.process_time() - started
    stats = getattr(replay.replay_files, 'last_stats', None) or {}
    return reports, cpu, stats


def breakdown(path):
    """CPU seconds of reading the file, and of reading plus header decode.

    Separate passes over the file with the pipeline's own reader and header
    decoder, so that the rest (services, application decoders, streams,
    flows) is the full replay minus these. Internals may move: any import
    or attribute error just skips the breakdown.
    """
    try:
        from dpiaas.dpi import headers
        from dpiaas.dpi import pcapfile
        from dpiaas.dpi import settings as settings_mod
        batch_size = settings_mod.DpiSettings().batch_size
        started = time.process_time()
        for b in pcapfile.read_batches(path, batch_size):
            len(b)
        read = time.process_time() - started
        h = headers.Headers(batch_size)
        started = time.process_time()
        for b in pcapfile.read_batches(path, batch_size):
            h.decode(b)
        decode = time.process_time() - started
    except (ImportError, AttributeError, TypeError) as exc:
        return None, None, 'breakdown skipped: %s' % exc
    return read, decode, None


def compare(truth, reports):
    """Check summed interval metrics against the ground truth.

    Returns ``(mismatches, unexpected, notes)``: ``[(name, expected, got)]``
    for every ground-truth metric that differs (missing counts as absent,
    which differs from an expected zero only in name), ``[(name, total)]``
    for non-zero counters the truth has no name for (latency and
    ``capture.*`` excluded), and other observations as text.
    """
    totals = collections.Counter()
    present = set()
    for r in reports:
        for name, value in r.metrics.items():
            if '.latency_ms.' in name:
                continue
            present.add(name)
            totals[name] += value
    mismatches = []
    for name, expected in sorted(truth['totals'].items()):
        got = totals.get(name) if name in present else None
        if got != expected:
            mismatches.append((name, expected, got))
    unexpected = sorted((n, v) for n, v in totals.items()
                        if n not in truth['totals'] and v
                        and not n.startswith('capture.'))
    notes = []
    if totals.get('capture.packets') != truth['packets']:
        notes.append('capture.packets totals %s, the file has %d packets'
                     % (totals.get('capture.packets'), truth['packets']))
    step = truth['interval_ms'] / 1000.0
    if truth.get('first_ts') is not None and reports:
        want = (int(math.floor(truth['last_ts'] / step))
                - int(math.floor(truth['first_ts'] / step)) + 1)
        if len(reports) != want:
            notes.append('%d intervals reported, the capture spans %d'
                         % (len(reports), want))
        starts = [r.ts for r in reports]
        if any(abs(b - a - step) > 1e-6 for a, b in zip(starts, starts[1:])):
            notes.append('interval starts are not contiguous')
    per = truth.get('interval_packets')
    if per and reports:
        counts = per['counts']
        wrong = []
        for r in reports:
            k = int(round((r.ts - per['first_start']) / step))
            want = counts[k] if 0 <= k < len(counts) else 0
            got = r.metrics.get('capture.packets')
            if got != want:
                wrong.append('%.1f: %s instead of %d' % (r.ts, got, want))
        if wrong:
            notes.append('capture.packets differs in %d of %d intervals '
                         '(%s%s)' % (len(wrong), len(reports),
                                     '; '.join(wrong[:3]),
                                     ' ...' if len(wrong) > 3 else ''))
    return mismatches, unexpected, notes


def _row(label, n, cpus):
    """A table row from the CPU seconds of repeated runs (best counts)."""
    cpu = min(cpus)
    pps = n / cpu if cpu > 0 else float('inf')
    spread = ('%.3f-%.3f' % (cpu, max(cpus))) if len(cpus) > 1 else ''
    return '%-34s %10d %9.3f %15s %10.4f  %s' % (
        label, n, cpu, '{:,.0f}'.format(pps), pps / 1e6, spread), pps


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog='python -m bench.dpi_throughput',
        description='Packets per CPU-second of dpiaas against the scapy '
                    'baseline on a generated mixed capture, with an '
                    'exactness check against its ground truth.')
    parser.add_argument('--packets', type=int,
                        default=mixed_capture.DEFAULT_PACKETS,
                        help='packets in the capture (default 1000000)')
    parser.add_argument('--baseline-packets', type=int, default=20000,
                        help='packets the scapy baseline processes '
                             '(default 20000)')
    parser.add_argument('--seed', type=int,
                        default=mixed_capture.DEFAULT_SEED)
    parser.add_argument('--repeat', type=int, default=3,
                        help='runs of (a) and (b); the best counts '
                             '(default 3)')
    parser.add_argument('--cache-dir', default=CACHE_DIR)
    parser.add_argument('--no-breakdown', action='store_true',
                        help='skip the read/decode passes')
    parser.add_argument('--json', metavar='FILE',
                        help='also write the results as JSON')
    parser.add_argument('--duration', type=float, metavar='SECONDS',
                        help='spread the generated traffic over this many '
                             'seconds (default: packets / 25,000, 10 to '
                             '60): a shorter span is a busier VM, whose '
                             'per-interval work weighs less per packet')
    parser.add_argument('--strict', action='store_true',
                        help='exit 1 when a speed target is missed')
    args = parser.parse_args(argv)
    if min(args.packets, args.baseline_packets, args.repeat) < 1:
        parser.error('--packets, --baseline-packets and --repeat must be '
                     'positive')

    path, truth = cached_capture(args.packets, args.seed, args.cache_dir,
                                 duration_s=args.duration)
    spec = make_spec(truth)
    warm_path, _ = cached_capture(WARMUP_PACKETS, args.seed, args.cache_dir,
                                  log=lambda *a: None)
    t0 = time.monotonic()
    run_dpiaas(warm_path, spec)
    print('warm-up (numba compile or cache load): %.1f s'
          % (time.monotonic() - t0))

    # Best of --repeat runs: the host's cores are shared, and other
    # tenants only ever make a run slower, never faster. (a) and (b)
    # take turns, so that both meet the same phases of a host whose speed
    # drifts by tens of percent over minutes (measured: the same code
    # 0.46 and 0.71 CPU-seconds per million packets ten minutes apart);
    # one after the other, a slow phase could fall on one side only.
    cpus_a = []
    cpus_b = []
    for _ in range(args.repeat):
        reports, cpu, stats = run_dpiaas(path, spec)
        cpus_a.append(cpu)
        _, n_b, cpu = scapy_baseline.count(path, args.baseline_packets)
        cpus_b.append(cpu)
    cpu_a = min(cpus_a)
    cpu_b = min(cpus_b)
    n_a = truth['packets']
    # The same pipeline with the flow table counting every packet exactly
    # (no FlowRegulator in front), and with no flow table at all: where
    # the time of (a) goes.
    from dpiaas.dpi import settings as settings_mod
    variants = []
    for label, settings in (
            ("(a') same, exact flow counts",
             settings_mod.DpiSettings(flow_regulator=False)),
            ("(a'') same, no flow table",
             settings_mod.DpiSettings(flow_table_size=0))):
        cpus = [run_dpiaas(path, spec, settings)[1]
                for _ in range(args.repeat)]
        variants.append(_row(label, n_a, cpus)[0])
    read = decode = None
    skipped = None
    if not args.no_breakdown:
        read, decode, skipped = breakdown(path)

    line_a, pps_a = _row('(a) dpiaas replay, all metrics', n_a, cpus_a)
    line_b, pps_b = _row('(b) scapy baseline (paper)', n_b, cpus_b)
    ratio = pps_a / pps_b if pps_b else float('inf')
    print()
    print('capture: %s (%d packets, %.0f MB, %.1f s of traffic)'
          % (path, n_a, os.path.getsize(path) / 1e6,
             truth['last_ts'] - truth['first_ts']))
    kinds = truth.get('packets_by_kind') or {}
    print('mix (share of packets): %s' % ', '.join(
        '%s %.0f%%' % (k, 100.0 * v / n_a)
        for k, v in sorted(kinds.items(), key=lambda kv: -kv[1])))
    print('%-34s %10s %9s %15s %10s  %s' % (
        '', 'packets', 'CPU s', 'packets/CPU-s', 'Mpps',
        'range of %d runs' % args.repeat if args.repeat > 1 else ''))
    print(line_a)
    for line in variants:
        print(line)
    print(line_b)
    rounds = sorted((n_a / a) / (n_b / b) for a, b in zip(cpus_a, cpus_b))
    print('%-34s %10.0fx %s' % (
        'ratio a/b', ratio, ' ' * 36 + 'each round %.0f-%.0fx' % (
            rounds[0], rounds[-1]) if len(rounds) > 1 else ''))
    if read is not None:
        print('breakdown of (a), separate passes:')
        rest = cpu_a - decode
        for label, sec in (('  file read (pcap -> batches)', read),
                           ('  header decode (L2-L4)', decode - read),
                           ('  the rest (apps, streams, flows)', rest)):
            print('%-34s %10s %9.3f %14.1f%%' % (label, '', sec,
                                                 100.0 * sec / cpu_a))
    elif skipped:
        print(skipped)
    ok_speed = pps_a / 1e6 >= TARGET_MPPS
    ok_ratio = ratio >= TARGET_RATIO
    print('target (a) >= %.0f Mpps per core: %s; a/b >= %.0fx: %s'
          % (TARGET_MPPS, 'met' if ok_speed else 'MISSED', TARGET_RATIO,
             'met' if ok_ratio else 'MISSED'))

    flows = sum(len(r.flows or ()) for r in reports)
    hh = sum(1 for r in reports if r.heavy_hitters)
    print('intervals %d, flow records %d, intervals with heavy hitters %d'
          % (len(reports), flows, hh))
    if not flows or not hh:
        print('WARNING: no flow records or no heavy hitters: (a) did not '
              'run the whole pipeline')
    if stats:
        print('collector stats: %s' % ', '.join(
            '%s=%s' % kv for kv in sorted(stats.items())
            if not isinstance(kv[1], (dict, list))))

    mismatches, unexpected, notes = compare(truth, reports)
    print()
    print('ground truth: %d metrics, %d differ'
          % (len(truth['totals']), len(mismatches)))
    if mismatches:
        print('  %-34s %12s %12s %10s' % ('metric', 'expected', 'dpiaas',
                                          'diff'))
        for name, expected, got in mismatches:
            diff = '' if got is None else '%+d' % (got - expected)
            print('  %-34s %12d %12s %10s' % (
                name, expected, 'absent' if got is None else got, diff))
    for name, value in unexpected:
        print('  not in the ground truth: %s = %s' % (name, value))
    for note in notes:
        print('  note: %s' % note)

    if args.json:
        with open(args.json, 'w') as f:
            json.dump({
                'capture': path, 'packets': n_a,
                'dpiaas': {'packets': n_a, 'cpu_s': cpu_a, 'runs': cpus_a,
                           'packets_per_cpu_s': pps_a,
                           'read_cpu_s': read, 'decode_cpu_s': decode},
                'scapy': {'packets': n_b, 'cpu_s': cpu_b, 'runs': cpus_b,
                          'packets_per_cpu_s': pps_b},
                'ratio': ratio,
                'mismatches': [{'metric': n, 'expected': e, 'got': g}
                               for n, e, g in mismatches],
                'unexpected': dict(unexpected), 'notes': notes,
            }, f, indent=1)
    if mismatches or unexpected:
        return 1
    if args.strict and not (ok_speed and ok_ratio):
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
