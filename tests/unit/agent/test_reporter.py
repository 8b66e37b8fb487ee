"""The reporter keeps what it cannot send, within a bound."""
import oslo_messaging as messaging

from dpiaas.agent import reporter as reporter_mod
from dpiaas.dpi import pipeline


def report(ts, flows=()):
    return pipeline.IntervalReport(ts=ts, interval_ms=500,
                                   metrics={'generic.22.packets_in': 1},
                                   flows=list(flows))


def make(engine, **kw):
    kw.setdefault('buffer_samples', 100)
    return reporter_mod.Reporter(engine, 'h1', **kw)


def test_samples_are_sent_in_one_batch_with_collector_and_monitor(engine):
    rep = make(engine)
    for ts in (1.0, 1.5, 2.0):
        rep.add('c1', 'm1', report(ts))
    assert rep.flush()
    [(host, samples)] = engine.of('report_samples')
    assert host == 'h1'
    assert [s['ts'] for s in samples] == [1.0, 1.5, 2.0]
    assert samples[0] == {'collector_id': 'c1', 'monitor_id': 'm1',
                          'ts': 1.0, 'interval_ms': 500,
                          'metrics': {'generic.22.packets_in': 1}}
    assert rep.state() == {'queued': 0, 'dropped': 0}


def test_a_failing_cast_keeps_the_batch_for_the_next_flush(engine):
    rep = make(engine)
    rep.add('c1', 'm1', report(1.0))
    engine.fail = messaging.MessageDeliveryFailure('broker down')
    assert not rep.flush()
    assert rep.state() == {'queued': 1, 'dropped': 0}
    rep.add('c1', 'm1', report(1.5))
    engine.fail = None
    assert rep.flush()
    sent = [s['ts'] for _, batch in engine.of('report_samples')
            for s in batch]
    assert sent == [1.0, 1.5]


def test_timeouts_and_connection_errors_do_not_lose_a_batch(engine):
    rep = make(engine)
    rep.add('c1', 'm1', report(1.0))
    for exc in (messaging.MessagingTimeout('slow'),
                ConnectionRefusedError(111, 'refused'), OSError('gone')):
        engine.fail = exc
        assert not rep.flush()
    engine.fail = None
    assert rep.flush()
    assert len(engine.of('report_samples')) == 1


def test_beyond_the_bound_the_oldest_are_dropped_and_counted(engine):
    rep = make(engine, buffer_samples=10)
    engine.fail = messaging.MessageDeliveryFailure('broker down')
    for i in range(25):
        rep.add('c1', 'm1', report(float(i)))
        rep.flush()
    assert rep.state() == {'queued': 10, 'dropped': 15}
    engine.fail = None
    assert rep.flush()
    sent = [s['ts'] for _, batch in engine.of('report_samples')
            for s in batch]
    assert sent == [float(i) for i in range(15, 25)]
    assert rep.state()['dropped'] == 15


def test_batches_are_split_at_batch_max(engine):
    rep = make(engine, batch_max=4)
    for i in range(10):
        rep.add('c1', 'm1', report(float(i)))
    rep.flush()
    assert [len(b) for _, b in engine.of('report_samples')] == [4, 4, 2]


def test_flow_records_go_to_report_flows(engine):
    rep = make(engine)
    rep.add('c1', 'm1', report(1.0, flows=[{'packets': 3}]))
    rep.add('c1', 'm1', report(1.5))
    rep.flush()
    [(_, reports)] = engine.of('report_flows')
    assert reports == [{'collector_id': 'c1', 'monitor_id': 'm1', 'ts': 1.0,
                        'flows': [{'packets': 3}], 'heavy_hitters': {}}]


def test_numpy_numbers_become_plain_ones(engine):
    import numpy as np
    rep = make(engine)
    rep.add('c1', 'm1', pipeline.IntervalReport(
        ts=np.float64(1.0), interval_ms=500,
        metrics={'a': np.int64(3), 'b': np.float32(0.5)}))
    rep.flush()
    sample = engine.of('report_samples')[0][1][0]
    assert type(sample['metrics']['a']) is int
    assert type(sample['metrics']['b']) is float


def test_only_the_latest_unsent_status_of_a_collector_is_sent(engine):
    rep = make(engine)
    engine.fail = messaging.MessageDeliveryFailure('broker down')
    rep.add_status('c1', 'error', 'tap gone')
    assert not rep.flush()
    rep.add_status('c1', 'running', None)
    rep.add_status('c2', 'error', 'no tap')
    engine.fail = None
    assert rep.flush()
    assert engine.of('collector_status') == [
        ('h1', 'c1', 'running', None), ('h1', 'c2', 'error', 'no tap')]


def test_the_thread_sends_on_its_own_and_stops(engine):
    from tests.unit.agent.waiting import wait_for
    rep = make(engine, batch_interval=0.02)
    rep.start()
    try:
        rep.add('c1', 'm1', report(1.0))
        wait_for(lambda: engine.of('report_samples'), what='a batch')
    finally:
        rep.stop()
    assert not rep._thread.is_alive()


def test_an_unroutable_report_stays_in_the_buffer(engine):
    """Issue 7: after a broker restart, before the engine declared its
    queue again, the broker returns the (mandatory) cast: nothing lost."""
    rep = make(engine)
    rep.add('c1', 'm1', report(1.0))
    engine.fail = messaging.MessageUndeliverable(
        Exception('NO_ROUTE'), 'dpiaas', 'dpiaas-engine', {})
    assert not rep.flush()
    assert rep.state() == {'queued': 1, 'dropped': 0}
    engine.fail = None
    assert rep.flush()
    assert [s['ts'] for _, b in engine.of('report_samples')
            for s in b] == [1.0]


def test_a_batch_reaches_a_1_2_engine_compact_and_whole():
    """Through a real EngineAPI (fake:// transport): once the engine
    answered get_desired at 1.2 the batch goes compact, and the engine
    reads back exactly the samples the reporter was given."""
    import threading

    from oslo_config import cfg

    from dpiaas.engine import ingest
    from dpiaas.rpc import engine_api
    from dpiaas.rpc import transport as rpc_transport

    class Engine:
        target = messaging.Target(version='1.2')

        def __init__(self):
            self.got = []
            self.kwargs = []
            self.cond = threading.Condition()

        def get_desired(self, ctxt, host):
            return []

        def report_samples(self, ctxt, host, samples=None, compact=None):
            with self.cond:
                self.kwargs.append(sorted(k for k, v in (
                    ('samples', samples), ('compact', compact)) if v))
                self.got.extend(ingest.samples_of_compact(compact)
                                + ingest.as_samples(samples or []))
                self.cond.notify_all()

    conf = cfg.ConfigOpts()
    conf([], project='dpiaas')
    transport = rpc_transport.get_rpc_transport(conf, url='fake://')
    engine = Engine()
    server = rpc_transport.get_rpc_server(
        transport, messaging.Target(topic='dpiaas-engine', server='e1'),
        [engine])
    server.start()
    try:
        api = engine_api.EngineAPI(transport)
        assert api.get_desired(None, 'h1', timeout=5) == []
        rep = make(api)
        rep.add('c1', 'm1', report(1.0))
        rep.add('c2', 'm2', pipeline.IntervalReport(
            ts=1.0, interval_ms=250, metrics={'x': 2, 'y': 0.5}))
        rep.add('c1', 'm1', report(1.5))
        assert rep.flush()
        with engine.cond:
            assert engine.cond.wait_for(lambda: len(engine.got) == 3, 5)
    finally:
        server.stop()
        server.wait()
        transport.cleanup()
    assert engine.kwargs == [['compact']]
    assert [s.to_dict() for s in engine.got] == [
        {'collector_id': 'c1', 'monitor_id': 'm1', 'ts': 1.0,
         'interval_ms': 500, 'metrics': {'generic.22.packets_in': 1}},
        {'collector_id': 'c2', 'monitor_id': 'm2', 'ts': 1.0,
         'interval_ms': 250, 'metrics': {'x': 2, 'y': 0.5}},
        {'collector_id': 'c1', 'monitor_id': 'm1', 'ts': 1.5,
         'interval_ms': 500, 'metrics': {'generic.22.packets_in': 1}}]
