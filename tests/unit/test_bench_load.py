"""The pure helpers of bench/load.py: percentiles, the 24 h
extrapolation of the database size, py-spy's raw output."""
import pytest

from bench import load


def test_percentile_interpolates():
    assert load.percentile([], 50) is None
    assert load.percentile([3.0], 99) == 3.0
    assert load.percentile([1, 2, 3, 4], 50) == 2.5
    assert load.percentile([4, 1, 3, 2], 100) == 4
    assert load.percentile(list(range(101)), 99) == pytest.approx(99.0)


def test_parse_rollups():
    assert load.parse_rollups(['10:172800', ' 300 : 2592000']) == [
        (10, 172800), (300, 2592000)]


def test_extrapolate_is_bounded_by_retention():
    rollups = [(10, 172800), (300, 2592000)]
    day = load.extrapolate(10000, 300.0, 320.0, 7200, rollups)
    # raw: 2 h at 2 samples/s per collector, never more
    assert day['raw'] == 10000 * 7200 * 2 * 300.0
    # 10 s tier: 24 h of buckets so far (it keeps 48 h)
    assert day['10s'] == 10000 * 8640 * 320.0
    assert day['300s'] == 10000 * 288 * 320.0
    assert day['total'] == day['raw'] + day['10s'] + day['300s']
    month = load.extrapolate(10000, 300.0, 320.0, 7200, rollups,
                             horizon_s=40 * 86400)
    assert month['raw'] == day['raw']
    assert month['10s'] == 10000 * 17280 * 320.0
    assert month['300s'] == 10000 * 8640 * 320.0


def test_human_bytes_and_table():
    assert load.human_bytes(None) == '-'
    assert load.human_bytes(512) == '512 B'
    assert load.human_bytes(3 * 1024 ** 3) == '3.0 GiB'
    text = load.table([('a', '1'), ('longer', '2')])
    assert text.splitlines() == ['a       1', 'longer  2']


def test_top_frames(tmp_path):
    raw = tmp_path / 'spy.txt'
    raw.write_text('main (a.py:1);write (db.py:2) 3\n'
                   'main (a.py:1);score (d.py:5) 1\n'
                   'not a stack line\n')
    top = dict(load.top_frames(str(raw)))
    assert top['main'] == 100.0
    assert top['write'] == 75.0
    assert top['score'] == 25.0


def test_anomaly_at_first_is_an_interval_start():
    assert load.anomaly_at_first(100.0) == 100.0
    assert load.anomaly_at_first(100.2) == 100.5
    assert load.anomaly_at_first(100.6) == 101.0


def test_bad_arguments_exit_with_a_message(capsys):
    with pytest.raises(SystemExit):
        load.parse_args(['--monitors', '0'])
    assert 'must be positive' in capsys.readouterr().err


def test_focus_picks_the_engine_parts():
    top = [('Connection.drain_events', 40.0), ('loads', 30.0),
           ('SamplesMixin.add_samples', 12.5)]
    got = dict(load.focus(top))
    assert got['AMQP receive (kombu/amqp)'] == 40.0
    assert got['  of which JSON decoding'] == 30.0
    assert got['ingest: Storage.add_samples'] == 12.5
    assert got['detector: Detection.run_once'] == 0.0


def test_engine_log_figures_are_the_largest_logged(tmp_path):
    log = tmp_path / 'engine.log'
    log.write_text('ingest backlog full now 120 dropped in all\n'
                   'detector queue full a 7 dropped in all\n'
                   'detector behind: scoring samples 3.5 s after\n'
                   'ingest backlog full now 90 dropped in all\n')
    assert load.engine_drops(str(log)) == (120, 7)
    assert load.engine_max_lag(str(log)) == 3.5
    assert load.engine_drops(str(tmp_path / 'none')) == (None, None)
    assert load.engine_max_lag(str(tmp_path / 'none')) is None
