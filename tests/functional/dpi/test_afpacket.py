"""Live capture on real interfaces: captures replayed into a veth pair.

tcpreplay sends the frames of a capture file into one end of a veth pair
and the AF_PACKET ring captures the other end; what arrives must be the
file, frame for frame, with no kernel drop. Needs root (CAP_NET_RAW and
veth pairs) and tcpreplay; skipped with the reason otherwise.
"""
import hashlib
import logging
import os
import queue
import shutil
import subprocess
import threading
import time

import pytest
from scapy import layers  # noqa: F401 - registers the layers used below
from scapy.layers import inet
from scapy.layers import l2
from scapy import utils as scapy_utils

from dpiaas.dpi import batch as batch_mod
from dpiaas.dpi.capture import afpacket
from dpiaas.dpi.capture import bpf
from dpiaas.dpi.capture import CaptureError
from dpiaas.dpi.capture import fanout
from dpiaas.dpi import spec
from tests import shared_data
from tests.functional import netns

PCAPS = os.path.join(shared_data.PCAPS, 'zeek')
HTTP_PCAP = os.path.join(PCAPS, 'http', 'bro.org.pcap')
SIP_PCAP = os.path.join(PCAPS, 'sip', 'wireshark.pcap')
PPS = 5000          # well below what this machine replays without loss
DEADLINE_S = 20.0


def _require_live():
    if os.geteuid() != 0:
        pytest.skip('needs root: AF_PACKET capture (CAP_NET_RAW) and veth '
                    'pairs')
    if not shutil.which('tcpreplay'):
        pytest.skip('needs tcpreplay (apt-get install tcpreplay)')
    for path in (HTTP_PCAP, SIP_PCAP):
        if not os.path.exists(path):
            pytest.skip('sample capture %s missing' % path)


@pytest.fixture
def pair():
    """A veth pair (a, b) on which nothing but the replay is sent."""
    _require_live()
    with netns.veth_pair() as (a, b):
        # Without this the kernel sends IPv6 DAD/MLD/RS frames of its own
        # for seconds after the link comes up, and counts would not match.
        for dev in (a, b):
            netns.run('sysctl', '-qw',
                      'net.ipv6.conf.%s.disable_ipv6=1' % dev, check=False)
        yield a, b


def frames_of(*paths):
    out = []
    for path in paths:
        with scapy_utils.RawPcapReader(path) as reader:
            out.extend(bytes(data) for data, _meta in reader)
    return out


def replay(iface, *paths, pps=PPS):
    """Send the files' frames into ``iface``; returns once all are sent."""
    proc = netns.run('tcpreplay', '-q', '-i', iface, '--pps=%d' % pps,
                     *paths, check=False, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def frames(batch):
    return [bytes(batch.buf[o:o + c])
            for o, c in zip(batch.off.tolist(), batch.caplen.tolist())]


def collect(cap, expected, deadline_s=DEADLINE_S):
    """Frames, wire lengths and packet types until ``expected`` arrived.

    Then one more read of a few ring timeouts, so that extra frames
    (duplicates, noise) would be seen too.
    """
    got, wire, kinds, stamps = [], [], [], []
    deadline = time.monotonic() + deadline_s

    def take(batches):
        for b in batches:
            got.extend(frames(b))
            wire.extend(b.wirelen.tolist())
            kinds.extend(b.pkttype.tolist())
            stamps.extend(b.ts_ns.tolist())

    while len(got) < expected and time.monotonic() < deadline:
        take(cap.read(100))
    take(cap.read(4 * cap.block_timeout_ms))
    cap.release()
    return got, wire, kinds, stamps


def test_missing_interface():
    with pytest.raises(CaptureError) as info:
        afpacket.AfPacketCapture('tapnothere-00')
    assert str(info.value) == 'interface tapnothere-00 does not exist'


def test_replay_captured_exactly(pair):
    a, b = pair
    http, sip = frames_of(HTTP_PCAP), frames_of(SIP_PCAP)
    t0 = time.time_ns()
    with afpacket.AfPacketCapture(b) as cap:
        replay(a, HTTP_PCAP)     # arrives on b from outside
        replay(b, SIP_PCAP)      # b sends: PACKET_OUTGOING on b
        got, wire, kinds, stamps = collect(cap, len(http) + len(sip))
        st = cap.stats()
    assert len(got) == len(http) + len(sip) == 832
    assert got == http + sip
    assert sum(map(len, got)) == sum(map(len, http + sip))
    assert wire == [len(f) for f in http + sip]
    assert st == {'packets': len(got), 'drops': 0}
    assert batch_mod.PACKET_OUTGOING not in kinds[:len(http)]
    assert kinds[len(http):] == [batch_mod.PACKET_OUTGOING] * len(sip)
    assert stamps == sorted(stamps)
    assert t0 <= stamps[0] and stamps[-1] <= time.time_ns()


def test_filter_passes_only_sip(pair):
    a, b = pair
    sip = frames_of(SIP_PCAP)
    expr = bpf.filter_expression([spec.Service('udp', 5060, 5060, 'sip')])
    with afpacket.AfPacketCapture(b, bpf_filter=expr) as cap:
        replay(a, HTTP_PCAP, SIP_PCAP, HTTP_PCAP)
        got, _wire, _kinds, _ts = collect(cap, len(sip))
        st = cap.stats()
    assert got == sip
    assert st == {'packets': len(sip), 'drops': 0}


def test_vlan_tag_restored(pair, tmp_path):
    """The kernel strips 802.1Q tags into metadata; frames get them back."""
    a, b = pair
    base = (l2.Ether(src='fa:16:3e:00:00:01', dst='fa:16:3e:00:00:02')
            / l2.Dot1Q(vlan=42, prio=5))
    pkts = [base / inet.IP(src='10.0.0.1', dst='10.0.0.2')
            / inet.UDP(sport=5060, dport=5060) / (b'OPTIONS %d' % i)
            for i in range(20)]
    pkts += [base / inet.IP(src='10.0.0.1', dst='10.0.0.2')
             / inet.UDP(sport=3333, dport=53) / b'not sip'] * 5
    pkts += [l2.Ether(src='fa:16:3e:00:00:01', dst='fa:16:3e:00:00:02')
             / inet.IP(src='10.0.0.1', dst='10.0.0.2')
             / inet.UDP(sport=5060, dport=5060) / b'untagged']
    path = str(tmp_path / 'vlan.pcap')
    scapy_utils.wrpcap(path, pkts)
    want = [bytes(p) for p in pkts if inet.UDP in p and p[inet.UDP].dport
            == 5060]
    expr = bpf.filter_expression([spec.Service('udp', 5060, 5060, 'sip')])
    with afpacket.AfPacketCapture(b, bpf_filter=expr) as cap:
        replay(a, path)
        got, wire, _kinds, _ts = collect(cap, len(want))
    assert got == want
    assert wire == [len(f) for f in want]


def test_full_ring_counts_drops(pair):
    """Nobody reads, the ring fills: the rest is counted as drops."""
    a, b = pair
    http = frames_of(HTTP_PCAP)
    with afpacket.AfPacketCapture(b, block_size=1 << 16, block_count=4,
                                  block_timeout_ms=10) as cap:
        replay(a, HTTP_PCAP)      # 494 kB into a 256 KiB ring
        got = cap.read(100)
        seen = [f for bt in got for f in frames(bt)]
        st = cap.stats()
    assert len(got) == 4          # one lap of the ring, not more
    assert 0 < len(seen) < len(http)
    assert seen == http[:len(seen)]
    assert st == {'packets': len(http), 'drops': len(http) - len(seen)}


def test_copy_mode_outlives_release(pair):
    a, b = pair
    sip = frames_of(SIP_PCAP)
    with afpacket.AfPacketCapture(b, copy=True, block_size=1 << 16,
                                  block_count=4) as cap:
        kept = []
        deadline = time.monotonic() + DEADLINE_S
        replay(a, SIP_PCAP)
        while sum(map(len, kept)) < len(sip) and \
                time.monotonic() < deadline:
            kept.extend(cap.read(100))
    # The ring is gone; copied batches still hold their frames.
    assert [f for bt in kept for f in frames(bt)] == sip


def test_link_down_is_not_fatal(pair):
    a, b = pair
    sip = frames_of(SIP_PCAP)
    with afpacket.AfPacketCapture(b) as cap:
        netns.run('ip', 'link', 'set', b, 'down')
        assert cap.read(100) == []
        netns.run('ip', 'link', 'set', b, 'up')
        deadline = time.monotonic() + DEADLINE_S
        while netns.run('cat', '/sys/class/net/%s/operstate' % a
                        ).stdout.strip() != 'up':
            assert time.monotonic() < deadline, 'veth did not come back up'
            cap.read(50)
        replay(a, SIP_PCAP)
        got, _wire, _kinds, _ts = collect(cap, len(sip))
    assert got == sip


def test_deleted_interface_raises(pair):
    a, b = pair
    deleter = None
    with afpacket.AfPacketCapture(b) as cap:
        with pytest.raises(CaptureError) as info:
            deadline = time.monotonic() + DEADLINE_S
            for batch in cap.batches(timeout_ms=50):
                assert time.monotonic() < deadline, 'no CaptureError'
                if deleter is None and not len(batch):
                    # Capturing and idle: delete the pair under it.
                    deleter = threading.Thread(
                        target=netns.run, args=('ip', 'link', 'del', a))
                    deleter.start()
        deleter.join()
    assert str(info.value) == 'interface %s vanished while capturing' % b


def _count_totals(reports):
    """Sum of every count metric over intervals (latency is timing)."""
    totals = {}
    for report in reports:
        for name, value in report.metrics.items():
            if name.endswith(('latency_ms.p50', 'latency_ms.p95')) or \
                    name.startswith('capture.'):
                continue
            totals[name] = totals.get(name, 0) + value
    return {k: v for k, v in totals.items() if v}


def test_live_metrics_equal_offline(pair):
    """Issue 2, Live: live counts equal ``dpiaas replay`` of the same files.

    The live side goes through the kernel filter built from the spec, the
    ring and the same pipeline; direction comes from the VM addresses on
    both sides (on a veth every replayed frame is "incoming").
    """
    from dpiaas.dpi import pipeline
    from dpiaas.dpi import replay as replay_mod
    a, b = pair
    cspec = spec.CollectorSpec(
        services=[spec.Service.parse('consumed:tcp/80=http'),
                  spec.Service.parse('udp/5060=sip')],
        vm_ips=['10.0.2.15', '192.168.1.2'])
    offline = _count_totals(replay_mod.replay_files(
        [HTTP_PCAP, SIP_PCAP], cspec))
    assert offline.get('sip.5060.packets_in') and \
        offline.get('http.80.packets_in')
    want = len(frames_of(HTTP_PCAP, SIP_PCAP))
    collector = pipeline.Collector(cspec, live=True)
    reports = []
    expr = bpf.filter_expression(cspec.services)
    with afpacket.AfPacketCapture(b, bpf_filter=expr) as cap:
        replay(a, HTTP_PCAP, SIP_PCAP)
        got = 0
        # The deadline runs while idle only: a first feed() may spend a
        # long time compiling the pipeline while the ring holds the rest.
        deadline = time.monotonic() + DEADLINE_S
        for batch in cap.batches(timeout_ms=100):
            if len(batch):
                reports.extend(collector.feed(batch))
                got += len(batch)
                deadline = time.monotonic() + DEADLINE_S
            if got >= want or time.monotonic() > deadline:
                break
        st = cap.stats()
    reports.extend(collector.flush())
    assert st == {'packets': want, 'drops': 0}
    assert _count_totals(reports) == offline


def test_ring_out_of_step_recovers(pair, caplog):
    """A reader that lost step with the kernel finds the oldest block."""
    a, b = pair
    sip = frames_of(SIP_PCAP)
    with afpacket.AfPacketCapture(b, block_size=1 << 16, block_count=8,
                                  block_timeout_ms=10) as cap:
        replay(a, SIP_PCAP)
        deadline = time.monotonic() + DEADLINE_S
        while not cap._ready(0):
            assert time.monotonic() < deadline, 'no block retired'
            cap._wait(50)
        cap._next = 5          # simulate the slip
        with caplog.at_level(logging.WARNING):
            got, _wire, _kinds, _ts = collect(cap, len(sip))
    assert got == sip
    assert 'ring out of step, resuming at block 0' in caplog.text


class DigestWorker:
    """Fanout worker for the tests: one digest per captured frame."""

    def __call__(self, batches, index, results):
        for batch in batches:
            if len(batch):
                results.put((index, [hashlib.sha1(f).hexdigest()
                                     for f in frames(batch)]))


def _fanout_collect(fc, expected, deadline_s=DEADLINE_S):
    digests = {}
    deadline = time.monotonic() + deadline_s
    while sum(map(len, digests.values())) < expected:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        try:
            index, items = fc.get(timeout=min(left, 0.5))
        except queue.Empty:
            continue
        digests.setdefault(index, []).extend(items)
    return digests


def test_fanout_every_packet_once(pair):
    a, b = pair
    want = frames_of(HTTP_PCAP, SIP_PCAP)
    fc = fanout.FanoutCapture(b, DigestWorker(), workers=2)
    with fc:
        assert fc.alive() == 2
        replay(a, HTTP_PCAP, SIP_PCAP)
        digests = _fanout_collect(fc, len(want))
        rest = fc.stop()
    for index, items in rest:
        digests.setdefault(index, []).extend(items)
    got = sorted(d for items in digests.values() for d in items)
    assert got == sorted(hashlib.sha1(f).hexdigest() for f in want)
    st = fc.stats()
    assert st['packets'] == len(want) and st['drops'] == 0
    assert [w['packets'] for w in st['workers']] == [
        len(digests.get(i, [])) for i in range(2)]
    assert fc.errors() == {}
    assert fc.alive() == 0


def test_fanout_deleted_interface_reported(pair, capfd):
    a, b = pair
    fc = fanout.FanoutCapture(b, fanout.CountWorker(), workers=2)
    with fc:
        netns.run('ip', 'link', 'del', a)
        deadline = time.monotonic() + DEADLINE_S
        while fc.alive() and time.monotonic() < deadline:
            fc.drain()
            fc.errors()
            time.sleep(0.05)   # polling a condition with a deadline
        errors = fc.errors()
    assert errors == {0: 'interface %s vanished while capturing' % b,
                      1: 'interface %s vanished while capturing' % b}
    assert 'Traceback' not in capfd.readouterr().err


def test_fanout_missing_interface():
    _require_live()
    fc = fanout.FanoutCapture('tapnothere-01', fanout.CountWorker())
    with pytest.raises(CaptureError, match='tapnothere-01 does not exist'):
        fc.start()
    assert fc.alive() == 0


def test_bad_filter_fails_in_caller():
    with pytest.raises(bpf.FilterError):
        fanout.FanoutCapture('lo', fanout.CountWorker(),
                             bpf_filter='udp prot 1')


def test_process_survives_and_prints_no_traceback(pair):
    """A collector process sees one clear line, not a traceback."""
    a, b = pair
    code = (
        'import sys\n'
        'from dpiaas.dpi.capture import afpacket, CaptureError\n'
        'cap = afpacket.AfPacketCapture(sys.argv[1])\n'
        'print("ready", flush=True)\n'
        'try:\n'
        '    for batch in cap.batches(50):\n'
        '        pass\n'
        'except CaptureError as exc:\n'
        '    print("stopped:", exc, flush=True)\n'
        'print("alive", flush=True)\n')
    proc = subprocess.Popen(
        [os.path.abspath('.venv/bin/python')
         if os.path.exists('.venv/bin/python') else 'python3', '-c', code,
         b], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        cwd=os.path.dirname(os.path.dirname(os.path.dirname(
            os.path.dirname(os.path.abspath(__file__))))))
    try:
        assert proc.stdout.readline().strip() == 'ready'
        netns.run('ip', 'link', 'del', a)
        out, err = proc.communicate(timeout=DEADLINE_S)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert out.splitlines() == [
        'stopped: interface %s vanished while capturing' % b, 'alive']
    assert 'Traceback' not in err
