"""Which engine owns which monitor: a tooz hash ring over the live engines.

With ``[coordination] backend_url`` set, every engine joins the group
``dpiaas-engines`` and builds a consistent hash ring of its members; a
monitor belongs to exactly one member, and when an engine leaves (or its
heartbeat expires) the others take its monitors at their next refresh.
Without a backend, one engine owns everything (aodh's fallback).

Each member advertises the engine RPC API version it serves
(``capabilities={'rpc': '1.4'}``), read once per new member: a peer
forwards samples to it in the newest form it takes (packed since 1.4),
older engines of a ring being upgraded get the form they know.

Membership is re-read every ``heartbeat_interval`` rather than followed
through watch callbacks, so that a member that died without leaving is
dropped as soon as the backend forgets it, and a backend outage keeps the
last ring instead of leaving the monitors ownerless.
"""
import threading
import time

from oslo_log import log as logging
from tooz import coordination
from tooz import hashring

from dpiaas.rpc import engine_api

LOG = logging.getLogger(__name__)


class Coordinator:
    def __init__(self, backend_url=None, member_id='engine',
                 group='dpiaas-engines', heartbeat_interval=1.0,
                 rpc_version=None, expect=(), expect_timeout=30.0):
        self.backend_url = backend_url
        # members to wait for at start (the other workers of this host):
        # an engine alone in a ring that is still forming takes every
        # monitor, loads their detectors and hands most of them over
        # seconds later (tens of seconds of work at 10,000 monitors)
        self.expect = frozenset(m.encode('utf-8') for m in expect)
        self.expect_timeout = expect_timeout
        self.rpc_version_served = rpc_version or engine_api.RPC_API_VERSION
        self._versions = {}     # member id (bytes) -> (major, minor)
        self.member_id = member_id.encode('utf-8')
        self.group = group.encode('utf-8')
        self.heartbeat_interval = heartbeat_interval
        self._coord = None
        self._ring = None
        self._members = frozenset()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = None

    @classmethod
    def from_conf(cls, conf, member_id=None, backend_url=None, expect=()):
        """``member_id`` defaults to ``[DEFAULT] host``; ``backend_url``
        to ``[coordination] backend_url`` (the workers of one host pass
        their own ring when none is configured, and ``expect`` their
        siblings' member ids)."""
        group = conf.coordination
        return cls(backend_url or group.backend_url, member_id or conf.host,
                   group.group, group.heartbeat_interval, expect=expect)

    @property
    def enabled(self):
        return bool(self.backend_url)

    @property
    def members(self):
        """The member ids (str) of the current ring."""
        return sorted(m.decode('utf-8') for m in self._members)

    def start(self, refresh_thread=True):
        if not self.enabled:
            LOG.info('no [coordination] backend_url: this engine owns every '
                     'monitor; run only one engine')
            return
        self._coord = coordination.get_coordinator(self.backend_url,
                                                   self.member_id)
        self._coord.start(start_heart=True)
        try:
            self._coord.create_group(self.group).get()
        except coordination.GroupAlreadyExist:
            pass
        self._join()
        self.refresh()
        self._wait_for_expected()
        if refresh_thread:
            self._stop.clear()
            self._thread = threading.Thread(
                target=self._run, name='dpiaas-engine-coordination',
                daemon=True)
            self._thread.start()

    def _join(self):
        caps = {'rpc': self.rpc_version_served}
        try:
            self._coord.join_group(self.group, capabilities=caps).get()
        except coordination.MemberAlreadyExist:
            # the entry of an earlier process with our member id (a
            # worker killed and started again): this process never
            # joined it, so its heartbeats would not keep it alive and
            # it would expire again and again. Replace it.
            try:
                self._coord.leave_group(self.group).get()
            except (coordination.MemberNotJoined,
                    coordination.GroupNotCreated):
                pass
            self._coord.join_group(self.group, capabilities=caps).get()
        LOG.info('engine %s joined group %s', self.member_id.decode(),
                 self.group.decode())

    def stop(self):
        self._stop.set()
        if self._thread:
            self._thread.join(10)
            self._thread = None
        if self._coord is None:
            return
        try:
            self._coord.leave_group(self.group).get()
        except (coordination.MemberNotJoined, coordination.GroupNotCreated):
            pass
        except coordination.ToozError as exc:
            LOG.warning('could not leave group %s: %s', self.group, exc)
        finally:
            self._coord.stop()
            self._coord = None

    def refresh(self):
        """Re-read the members and rebuild the ring if they changed."""
        if not self.enabled or self._coord is None:
            return
        members = frozenset(self._coord.get_members(self.group).get())
        if self.member_id not in members:
            # our membership expired (backend restarted, long pause)
            self._join()
            members = members | {self.member_id}
        with self._lock:
            changed = members != self._members
            if changed:
                LOG.info('engines in %s: %s', self.group.decode(),
                         ', '.join(sorted(m.decode() for m in members)))
                self._ring = hashring.HashRing(members)
                self._members = members
        if changed:
            self._read_versions(members)

    def _wait_for_expected(self):
        missing = self.expect - self._members
        if not missing:
            return
        deadline = time.monotonic() + self.expect_timeout
        while missing and time.monotonic() < deadline:
            time.sleep(min(self.heartbeat_interval, 0.2))
            self.refresh()
            missing = self.expect - self._members
        if missing:
            LOG.warning('%s not in group %s after %.0f s; starting without '
                        'them', ', '.join(sorted(m.decode() for m in
                                                 missing)),
                        self.group.decode(), self.expect_timeout)

    def _read_versions(self, members):
        """The RPC version each new member advertised (a member that
        advertised none is an engine older than 1.4: 1.1)."""
        known = dict(self._versions)
        for member in members - set(known):
            try:
                caps = self._coord.get_member_capabilities(
                    self.group, member).get()
            except coordination.ToozError as exc:
                LOG.debug('capabilities of %s unknown: %s', member, exc)
                continue
            known[member] = _version(
                caps.get('rpc') if isinstance(caps, dict) else None)
        self._versions = {m: v for m, v in known.items() if m in members}

    def rpc_version(self, member):
        """(major, minor) of the engine RPC API ``member`` (str) serves;
        (1, 1) when unknown."""
        return self._versions.get(member.encode('utf-8'), (1, 1))

    def owns(self, monitor_id):
        """True when this engine is the one to reconcile ``monitor_id``."""
        if not self.enabled:
            return True
        with self._lock:
            ring = self._ring
        if ring is None:
            return False
        return self.member_id in ring.get_nodes(
            str(monitor_id).encode('utf-8'))

    def owner(self, monitor_id):
        """The member id (str) that owns ``monitor_id``; None without a
        ring (no backend: this engine, the only one, owns everything)."""
        if not self.enabled:
            return None
        with self._lock:
            ring = self._ring
        if ring is None:
            return None
        nodes = ring.get_nodes(str(monitor_id).encode('utf-8'))
        return next(iter(nodes)).decode('utf-8') if nodes else None

    def _run(self):
        while not self._stop.wait(self.heartbeat_interval):
            try:
                self.refresh()
            except Exception as exc:
                LOG.warning('coordination backend unreachable, keeping '
                            'the last ring (%s): %s',
                            ', '.join(self.members), exc)


def _version(text):
    try:
        major, minor = str(text).split('.')
        return int(major), int(minor)
    except (TypeError, ValueError):
        return (1, 1)
