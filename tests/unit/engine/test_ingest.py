import threading

import pytest

from dpiaas.engine import ingest as ingest_mod
from tests.unit.engine import fakes


def samples(n, start=0):
    return [{'collector_id': 'c1', 'monitor_id': 'm1', 'ts': float(i),
             'interval_ms': 500, 'metrics': {'generic.22.packets_in': i}}
            for i in range(start, start + n)]


def wait_for(predicate, timeout=10):
    ev = threading.Event()
    for _ in range(int(timeout / 0.01)):
        if predicate():
            return
        ev.wait(0.01)
    raise AssertionError('condition not met in %s s' % timeout)


@pytest.fixture
def storage():
    return fakes.FakeStorage()


@pytest.fixture
def make(storage):
    started = []

    def make(**kw):
        kw.setdefault('flush_interval', 0.05)
        kw.setdefault('retry_interval', 0.02)
        ing = ingest_mod.Ingest(storage, **kw)
        ing.start()
        started.append(ing)
        return ing
    yield make
    for ing in started:
        ing.stop()


def test_full_batches_are_written_in_one_call_each(storage, make):
    ing = make(batch_size=10, flush_interval=30)
    ing.add(samples(25))
    wait_for(lambda: len(storage.samples) == 20)
    assert storage.add_samples_calls == 2
    ing.stop()
    # the last 5 are written at stop, not lost
    assert [s['ts'] for s in storage.samples] == [float(i)
                                                  for i in range(25)]


def test_a_partial_batch_is_written_after_the_flush_interval(
        storage, make):
    ing = make(batch_size=1000, flush_interval=0.05)
    ing.add(samples(3))
    wait_for(lambda: len(storage.samples) == 3)
    assert storage.add_samples_calls == 1
    assert ing.stats()['written'] == 3


def test_database_outage_keeps_samples_and_retries(storage, make):
    storage.fail_writes = True
    ing = make(batch_size=10)
    ing.add(samples(35))
    wait_for(lambda: ing.write_errors >= 3)
    assert storage.samples == [] and ing.backlog == 35
    storage.fail_writes = False
    wait_for(lambda: len(storage.samples) == 35)
    assert [s['ts'] for s in storage.samples] == [float(i)
                                                  for i in range(35)]
    assert ing.dropped == 0 and ing.backlog == 0


def test_backlog_is_bounded_and_drops_the_oldest(storage, make):
    storage.fail_writes = True
    ing = make(batch_size=10, max_backlog=20)
    ing.add(samples(50))
    wait_for(lambda: ing.write_errors >= 1)
    assert ing.backlog == 20 and ing.dropped == 30
    storage.fail_writes = False
    wait_for(lambda: len(storage.samples) == 20)
    assert [s['ts'] for s in storage.samples] == [float(i)
                                                  for i in range(30, 50)]


def test_consumers_see_every_sample_once_even_during_an_outage(
        storage, make):
    seen = []
    storage.fail_writes = True
    ing = make(batch_size=10)
    ing.add_consumer(lambda batch: seen.extend(batch))
    ing.add_consumer(lambda batch: 1 / 0)    # a broken consumer is logged
    ing.add(samples(15))
    wait_for(lambda: len(seen) == 15 and ing.write_errors >= 3)
    storage.fail_writes = False
    wait_for(lambda: len(storage.samples) == 15)
    assert len(seen) == 15


def test_add_never_waits_for_the_database(storage, make):
    block = threading.Event()
    storage.add_samples = lambda batch: block.wait(10)
    ing = make(batch_size=1)
    for i in range(100):
        ing.add(samples(1, i))     # would hang if add() wrote itself
    block.set()
    assert ing.received == 100


def test_rows_are_written_as_rows_without_dicts(make):
    class RowStorage(fakes.FakeStorage):
        def add_sample_rows(self, rows):
            self.samples.extend(rows)

    storage = RowStorage()
    ing = ingest_mod.Ingest(storage, batch_size=10)
    names = ('a', 'b')
    ing.add([ingest_mod.Sample('c1', 'm1', 1.0, 500, names, [1, 2])])
    ing.add(samples(1))
    assert ing.flush()
    assert storage.samples[0] == ('c1', 'm1', 1.0, 500, names, [1, 2])
    assert storage.samples[1].metrics == {'generic.22.packets_in': 0}
    assert ing.stats()['written'] == 2


def test_a_bad_dict_sample_is_refused_whole(storage, make):
    ing = make(batch_size=10)
    with pytest.raises(ValueError, match='bad sample'):
        ing.add(samples(2) + [{'collector_id': 'c1'}])
    assert ing.stats()['received'] == 0
