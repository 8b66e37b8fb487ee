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


def test_members_advertise_the_rpc_version_they_serve(tmp_path):
    """A peer forwards samples packed only to engines that said they
    take 1.4; an engine that advertised nothing (older than 1.4) gets
    1.1 dicts."""
    url = 'file://%s' % tmp_path
    new = coordination.Coordinator(url, 'engine-new')
    old = coordination.Coordinator(url, 'engine-old', rpc_version='1.3')
    new.start(refresh_thread=False)
    old.start(refresh_thread=False)
    try:
        new.refresh()
        assert new.rpc_version('engine-new') >= (1, 4)
        assert new.rpc_version('engine-old') == (1, 3)
        assert new.rpc_version('engine-gone') == (1, 1)
    finally:
        new.stop()
        old.stop()


def test_version_of_a_member_without_capabilities_is_1_1(tmp_path):
    from tooz import coordination as tooz_coordination
    url = 'file://%s' % tmp_path
    bare = tooz_coordination.get_coordinator(url, b'engine-bare')
    bare.start()
    c = coordination.Coordinator(url, 'engine-a')
    c.start(refresh_thread=False)
    try:
        bare.join_group(c.group).get()
        c.refresh()
        assert 'engine-bare' in c.members
        assert c.rpc_version('engine-bare') == (1, 1)
    finally:
        c.stop()
        bare.stop()


def test_a_worker_waits_for_its_siblings_before_owning(tmp_path):
    """Started first, a worker would own every monitor until the others
    join; it waits for the members it expects instead."""
    import threading
    url = 'file://%s' % tmp_path
    a = coordination.Coordinator(url, 'h.0', heartbeat_interval=0.1,
                                 expect=['h.0', 'h.1'])
    b = coordination.Coordinator(url, 'h.1', heartbeat_interval=0.1)
    later = threading.Timer(0.5, b.start, kwargs={'refresh_thread': False})
    later.start()
    try:
        a.start(refresh_thread=False)
        assert a.members == ['h.0', 'h.1']
        assert not all(a.owns(m) for m in MONITORS)
    finally:
        later.join()
        a.stop()
        b.stop()


def test_a_missing_sibling_delays_the_start_only_so_long(tmp_path):
    url = 'file://%s' % tmp_path
    a = coordination.Coordinator(url, 'h.0', heartbeat_interval=0.1,
                                 expect=['h.0', 'h.1'], expect_timeout=0.3)
    t0 = time.monotonic()
    a.start(refresh_thread=False)
    try:
        assert 0.3 <= time.monotonic() - t0 < 5
        assert a.members == ['h.0']
        assert all(a.owns(m) for m in MONITORS)
    finally:
        a.stop()


def test_a_restarted_member_replaces_its_dead_entry(tmp_path):
    """A worker killed and started again under the same member id finds
    its old entry: it must take it over, or its heartbeats never touch
    it and the others drop it from the ring again and again."""
    url = 'file://%s?timeout=1' % tmp_path
    other = coordination.Coordinator(url, 'h.1', heartbeat_interval=0.1)
    dead = coordination.Coordinator(url, 'h.0', heartbeat_interval=0.1)
    other.start(refresh_thread=False)
    dead.start(refresh_thread=False)
    dead._coord.heart.stop()        # SIGKILL: no leave, no heartbeat
    dead._coord.heart.wait()
    again = coordination.Coordinator(url, 'h.0', heartbeat_interval=0.1)
    again.start(refresh_thread=False)
    try:
        time.sleep(2.5)             # past the member timeout, heartbeats on
        other.refresh()
        assert other.members == ['h.0', 'h.1']
        assert again.members == ['h.0', 'h.1']
    finally:
        for c in (again, other):
            c.stop()
        dead._coord.stop()
