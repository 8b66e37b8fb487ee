"""The benchmark's capture generator and scapy baseline agree on small input.

The speed acceptance compares dpiaas against the scapy baseline and checks
dpiaas against the generator's ground truth; both comparisons mean something
only if the generator's truth is what an independent decoder counts. A
per-packet decoder can count the simple mix exactly, so baseline == truth
there, metric by metric.
"""
import json
import os
import struct

import pytest

from bench import mixed_capture
from bench import scapy_baseline

pytest.importorskip('scapy')

PACKETS = 200


@pytest.fixture(scope='module')
def simple_capture(tmp_path_factory):
    path = str(tmp_path_factory.mktemp('bench') / 'simple.pcap')
    truth = mixed_capture.generate(path, PACKETS, seed=7, simple=True)
    return path, truth


def _pcap_records(path):
    with open(path, 'rb') as f:
        data = f.read()
    magic, _, _, _, _, _, linktype = struct.unpack_from('<IHHiIII', data)
    assert (magic, linktype) == (0xA1B2C3D4, 1)
    pos, stamps = 24, []
    while pos < len(data):
        sec, usec, incl, orig = struct.unpack_from('<IIII', data, pos)
        assert incl == orig
        stamps.append(sec * 1000000 + usec)
        pos += 16 + incl
    assert pos == len(data)
    return stamps


def test_capture_has_exactly_the_packets_asked_in_time_order(simple_capture):
    path, truth = simple_capture
    stamps = _pcap_records(path)
    assert len(stamps) == PACKETS == truth['packets']
    assert stamps == sorted(stamps)


def test_truth_is_written_beside_the_capture(simple_capture):
    path, truth = simple_capture
    with open(mixed_capture.truth_path(path)) as f:
        assert json.load(f) == truth
    assert set(truth['totals']) == set(mixed_capture.metric_names())


def test_same_seed_gives_the_same_bytes(tmp_path, simple_capture):
    path, truth = simple_capture
    again = str(tmp_path / 'again.pcap')
    assert mixed_capture.generate(again, PACKETS, seed=7,
                                  simple=True)['totals'] == truth['totals']
    with open(path, 'rb') as a, open(again, 'rb') as b:
        assert a.read() == b.read()


def test_baseline_counts_equal_the_ground_truth(simple_capture):
    path, truth = simple_capture
    totals, packets, cpu = scapy_baseline.count(path, None)
    assert packets == PACKETS
    assert cpu > 0
    assert totals == truth['totals']
    # Not vacuous: the tiny capture has messages of every protocol.
    for name in ('sip.5060.packets_in', 'http.80.packets_in',
                 'dns.53.queries'):
        assert truth['totals'][name] > 0, name


def test_baseline_stops_after_max_packets(simple_capture):
    path, _ = simple_capture
    _, packets, _ = scapy_baseline.count(path, 50)
    assert packets == 50


def test_full_mix_is_exact_size_and_deterministic(tmp_path):
    path = str(tmp_path / 'mixed.pcap')
    truth = mixed_capture.generate(path, 500, seed=3)
    assert len(_pcap_records(path)) == 500
    assert os.path.exists(mixed_capture.truth_path(path))
    assert truth['totals']['sip.5060.malformed'] == 0
