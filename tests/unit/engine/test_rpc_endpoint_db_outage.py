"""Heartbeats and statuses during a database outage: one line, no raise."""
import sqlalchemy.exc

from dpiaas.engine import rpc_endpoint


class BrokenStorage:
    def __getattr__(self, name):
        def fail(*args, **kwargs):
            raise sqlalchemy.exc.OperationalError(
                'UPDATE agents', {}, Exception('database is locked'))
        return fail


def test_report_state_and_status_survive_a_dead_database(caplog):
    ep = rpc_endpoint.EngineEndpoint(BrokenStorage(), ingest=None,
                                     agent_api=None)
    assert ep.report_state(None, 'compute-1', {'collectors': []}) is None
    assert ep.collector_status(None, 'compute-1', 'c1', 'running',
                               None) is None
    lines = [r.getMessage() for r in caplog.records]
    assert any('report_state from compute-1 not recorded' in m
               for m in lines), lines
    assert not any(r.exc_info for r in caplog.records)
