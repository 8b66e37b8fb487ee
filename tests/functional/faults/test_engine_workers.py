"""``[engine] workers = 2``: one ``dpiaas-engine`` whose two worker
processes share the monitors; a worker killed is started again and the
monitor is evaluated again within 30 s; SIGTERM stops every worker.

Real parts as in :mod:`test_engine_takeover`: RabbitMQ, a SQLite file,
tooz's ``file://`` backend, one ``dpiaas-agent`` capturing a veth whose
"VM" answers SIP OPTIONS sent all along. The agent's samples reach
either worker (one queue, two consumers); the one that does not own the
monitor stores them and forwards them to the owner packed (RPC 1.4, as
both advertise 1.4 in the group).
"""
import os
import re
import signal
import time

import pytest
from dpiaas.engine import workers
from tests.functional import service_process
from tests.functional.faults import test_engine_takeover as takeover
from tests.functional.sip_probe import wait_for

pytestmark = [pytest.mark.root, pytest.mark.slow]

HOST = 'workers-engine'
MEMBERS = tuple(workers.member_id(HOST, i) for i in range(2))


class OneEngineTwoWorkers(takeover.Pair):
    """The takeover test's set-up with one engine of two workers."""

    def __init__(self, tmp_path, broker, vm):
        super().__init__(tmp_path, broker, vm)
        pair_conf = next(iter(self.engines.values())).conf.read_text()
        conf = pair_conf.replace('host = %s\n' % takeover.ENGINES[0],
                                 'host = %s\n' % HOST)
        conf = conf.replace('[engine]\n', '[engine]\nworkers = 2\n')
        self.engine = service_process.Proc(tmp_path, 'engine', conf)
        self.engines = {HOST: self.engine}
        self.procs = [self.engine, self.agent]
        self.members = MEMBERS

    def worker_pids(self):
        """{index: pid} of the workers started last, from the log."""
        pids = {}
        for m in re.finditer(r'engine worker (\d+) started \(pid (\d+)\)',
                             self.engine.text()):
            pids[int(m.group(1))] = int(m.group(2))
        return pids


@pytest.fixture
def engine(tmp_path, broker, vm):
    yield from takeover.running(OneEngineTwoWorkers, tmp_path, broker, vm)


def _gone(pid):
    try:
        with open('/proc/%d/stat' % pid) as f:
            return f.read().split(') ')[-1].startswith('Z')
    except FileNotFoundError:
        return True


def test_workers_share_monitors_and_a_killed_one_comes_back(engine):
    p = engine
    owner = p.owner()
    index = MEMBERS.index(owner)
    pids = p.worker_pids()
    assert sorted(pids) == [0, 1], p.logs()
    first = wait_for(p.state, 60, 'the owner to save detector state\n'
                     + p.logs())
    wait_for(lambda: p.state() != first, 30,
             'the owner to keep scoring\n' + p.logs())

    os.kill(pids[index], signal.SIGKILL)
    killed_at = time.monotonic()
    wait_for(lambda: p.worker_pids()[index] != pids[index], 30,
             'the supervisor to start the worker again\n' + p.logs())
    last = p.state()
    wait_for(lambda: p.state() != last, takeover.TAKEOVER_LIMIT,
             'the monitor to be evaluated again\n' + p.logs())
    back = time.monotonic() - killed_at
    print('\nworker %s killed; its monitor scored again %.1f s later'
          % (owner, back))
    assert back <= takeover.TAKEOVER_LIMIT
    assert re.search(r'engine worker %d \(pid %d\) exited with code -9'
                     % (index, pids[index]), p.engine.text()), p.logs()
    assert p.engine.alive() and p.agent.alive(), p.logs()
    assert p.engine.text().count('Traceback') == 0, p.logs()

    # SIGTERM to the engine stops every worker, and nothing is orphaned
    now = p.worker_pids()
    p.engine.stop()
    assert p.engine.proc.returncode == 0, p.logs()
    wait_for(lambda: all(_gone(pid) for pid in now.values()), 30,
             'every worker to exit\n' + p.logs())
    for member in MEMBERS:
        assert 'dpiaas-engine %s stopped' % member in p.engine.text(), \
            p.logs()
