"""Reading captures: formats, compression, damage."""
import gzip
import logging
import struct

import pytest
from scapy.all import PcapNgWriter, PcapWriter, Ether, IP, UDP

from dpiaas.dpi import batch as batch_mod
from dpiaas.dpi import pcapfile

SAMPLE = 'dpiaas/dpi/samples/sample.pcap'


def _packets(n=5):
    out = []
    for k in range(n):
        p = Ether() / IP(src='198.18.0.1', dst='198.18.0.2') / \
            UDP(sport=1000 + k, dport=53) / (b'x' * k)
        p.time = 1700000000 + k * 0.25
        out.append(p)
    return out


def _read(path, batch_size=8192):
    cf = pcapfile.CaptureFile(path, batch_size)
    batches = list(cf)
    return cf, batches


def _flat(batches):
    out = []
    for b in batches:
        for i in range(len(b)):
            s = int(b.off[i])
            out.append((int(b.ts_ns[i]), bytes(b.buf[s:s + b.caplen[i]])))
    return out


@pytest.mark.parametrize('nano', [False, True])
def test_pcap_timestamps_and_bytes(tmp_path, nano):
    path = tmp_path / 'x.pcap'
    w = PcapWriter(str(path), nano=nano)
    pk = _packets()
    w.write(pk)
    w.close()
    cf, batches = _read(path)
    got = _flat(batches)
    assert [g[1] for g in got] == [bytes(p) for p in pk]
    assert got[2][0] == 1700000000500000000
    assert batches[0].linktype == batch_mod.LINKTYPE_ETHERNET
    assert not cf.truncated


def test_big_endian_pcap(tmp_path):
    path = tmp_path / 'be.pcap'
    pk = _packets(3)
    with open(path, 'wb') as f:
        f.write(struct.pack('>IHHiIII', 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1))
        for p in pk:
            data = bytes(p)
            sec = int(p.time)
            f.write(struct.pack('>IIII', sec, int((p.time - sec) * 1e6),
                                len(data), len(data)) + data)
    _, batches = _read(path)
    assert [g[1] for g in _flat(batches)] == [bytes(p) for p in pk]


def test_pcapng_and_gzip(tmp_path):
    path = tmp_path / 'x.pcapng'
    pk = _packets()
    w = PcapNgWriter(str(path))
    w.write(pk)
    w.close()
    gz = tmp_path / 'x.pcapng.gz'
    gz.write_bytes(gzip.compress(path.read_bytes()))
    for p in (path, gz):
        got = _flat(_read(p)[1])
        assert [g[1] for g in got] == [bytes(x) for x in pk]
        assert got[1][0] == 1700000000250000000


def test_batches_split_a_large_file(tmp_path):
    path = tmp_path / 'x.pcap'
    w = PcapWriter(str(path))
    w.write(_packets(50))
    w.close()
    _, batches = _read(path, batch_size=8)
    assert [len(b) for b in batches] == [8] * 6 + [2]


def test_truncated_last_record_keeps_the_rest_and_warns(tmp_path, caplog):
    path = tmp_path / 'cut.pcap'
    w = PcapWriter(str(path))
    w.write(_packets(4))
    w.close()
    data = path.read_bytes()
    path.write_bytes(data[:-3])
    with caplog.at_level(logging.WARNING):
        cf, batches = _read(path)
    assert sum(len(b) for b in batches) == 3
    assert cf.truncated
    assert 'truncated' in caplog.text


def test_cut_gzip_stream_keeps_what_was_decompressed(tmp_path):
    data = open(SAMPLE, 'rb').read()
    gz = gzip.compress(data)
    path = tmp_path / 'cut.pcap.gz'
    path.write_bytes(gz[:len(gz) // 2])
    cf, batches = _read(path)
    assert cf.truncated
    assert 0 < sum(len(b) for b in batches) < 55


@pytest.mark.parametrize('content,message', [
    (b'', 'not a pcap'),
    (b'hello world, not a capture at all', 'not a pcap'),
    (b'\xd4\xc3\xb2\xa1\x02\x00', 'header cut short'),
])
def test_not_a_capture_is_one_clear_error(tmp_path, content, message):
    path = tmp_path / 'bad.pcap'
    path.write_bytes(content)
    with pytest.raises(pcapfile.CaptureFileError, match=message):
        _read(path)


def test_impossible_record_length_is_an_error(tmp_path):
    path = tmp_path / 'corrupt.pcap'
    w = PcapWriter(str(path))
    w.write(_packets(2))
    w.close()
    data = bytearray(path.read_bytes())
    struct.pack_into('<I', data, 24 + 8, 10 ** 9)   # first record's length
    path.write_bytes(bytes(data))
    with pytest.raises(pcapfile.CaptureFileError, match='corrupt record'):
        _read(path)


def test_unsupported_link_type_is_named(tmp_path):
    path = tmp_path / 'lt.pcap'
    path.write_bytes(struct.pack('<IHHiIII', 0xa1b2c3d4, 2, 4, 0, 0, 65535,
                                 147))
    with pytest.raises(pcapfile.CaptureFileError, match='link type 147'):
        _read(path)
