import time
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


def test_owner_names_the_engine_that_owns(pair):
    a, b = pair
    for m in MONITORS[:50]:
        assert a.owner(m) == b.owner(m)
        assert a.owner(m) == ('engine-a' if a.owns(m) else 'engine-b')


def test_no_owner_without_a_backend():
    assert coordination.Coordinator(None, 'solo').owner(MONITORS[0]) is None


def test_a_killed_engine_is_dropped_when_its_heartbeat_expires(tmp_path):
    """SIGKILL leaves no chance to leave the group: the survivor takes
    every monitor once the dead member's heartbeat is older than the
    backend's timeout."""
    url = 'file://%s?timeout=1' % tmp_path
    a = coordination.Coordinator(url, 'engine-a', heartbeat_interval=0.1)
    b = coordination.Coordinator(url, 'engine-b', heartbeat_interval=0.1)
    a.start(refresh_thread=False)
    b.start(refresh_thread=False)
    try:
        a.refresh()
        assert a.members == ['engine-a', 'engine-b']
        # "kill" b: stop its heart without leaving the group
        b._coord.heart.stop()
        b._coord.heart.wait()
        deadline = time.monotonic() + 10
        while a.members != ['engine-a'] and time.monotonic() < deadline:
            time.sleep(0.2)
            a.refresh()
        assert a.members == ['engine-a']
        assert all(a.owns(m) for m in MONITORS)
    finally:
        a.stop()
        b.stop()
