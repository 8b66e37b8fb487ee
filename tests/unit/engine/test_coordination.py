import uuid

import pytest

from dpiaas.engine import coordination

MONITORS = [str(uuid.UUID(int=i)) for i in range(1, 201)]


@pytest.fixture
def pair(tmp_path):
    url = 'file://%s' % tmp_path
    a = coordination.Coordinator(url, 'engine-a', heartbeat_interval=0.1)
    b = coordination.Coordinator(url, 'engine-b', heartbeat_interval=0.1)
    a.start(refresh_thread=False)
    b.start(refresh_thread=False)
    a.refresh()
    yield a, b
    for c in (a, b):
        c.stop()


def test_without_backend_one_engine_owns_everything():
    c = coordination.Coordinator(None, 'solo')
    c.start()
    assert all(c.owns(m) for m in MONITORS)
    c.stop()


def test_each_monitor_is_owned_by_exactly_one_engine(pair):
    a, b = pair
    assert a.members == b.members == ['engine-a', 'engine-b']
    owners = [(a.owns(m), b.owns(m)) for m in MONITORS]
    assert all(x != y for x, y in owners)
    # the ring spreads the work (not everything on one engine)
    assert 40 < sum(x for x, _y in owners) < 160


def test_when_one_leaves_the_other_owns_all(pair):
    a, b = pair
    b.stop()
    a.refresh()
    assert a.members == ['engine-a']
    assert all(a.owns(m) for m in MONITORS)


def test_ownership_is_the_same_seen_from_either_engine(tmp_path, pair):
    a, b = pair
    mine = {m for m in MONITORS if a.owns(m)}
    # a third coordinator joining and leaving moves nothing back and forth
    c = coordination.Coordinator('file://%s' % tmp_path, 'engine-c')
    c.start(refresh_thread=False)
    c.stop()
    a.refresh()
    assert {m for m in MONITORS if a.owns(m)} == mine
