"""Per-flow packet and byte accounting: regulator in front of the table.

:func:`account_batch` is what the packet kernel calls once per batch. In
regulated mode (the default) a packet touches the flow table only when

- it is its flow's first packet of the epoch (the presence filter in
  :mod:`dpiaas.dpi.regulator`): the flow gets its entry, ``first_seen``,
  ``last_seen`` to within one epoch, its application id, and this packet
  is counted exactly; or
- the sketch passes a saturation event on for the flow: the event's
  estimated packets and bytes are added.

Every other packet only updates the 128 KB sketch, which stays in cache.
Counts still in the sketch are read back ("harvested") when a flow leaves
the table and, for every flow active since the last read, when an interval
closes; the sketch is then cleared, which keeps its noise bounded. In exact
mode every packet updates the table: the reference the measurements in
``bench/flow_regulator.py`` compare with.

Expired and evicted flows become records (:class:`FlowAccounting`
turns them into dicts); the top flows of each interval come from
:mod:`dpiaas.dpi.heavyhitters`.

Which mode: the regulator pays where the table lives in DRAM. On the
development machine the whole default table (32 MiB) fits the 300 MiB
last-level cache and the exact mode is the faster one (about 25 against
70-90 ns per packet; doc/source/flow-regulator.rst).

Like the sketch's, these njit functions take the state namedtuples whole
and are compiled without NRT (``_nrt=False``): see :mod:`regulator`.
"""
import numba
import numpy as np

from dpiaas.dpi import flowtable
from dpiaas.dpi import headers
from dpiaas.dpi import heavyhitters
from dpiaas.dpi import regulator

# Indices into the ``stats`` array.
S_EXACT = 0        # 1: every packet updates the table
S_PACKETS = 1      # wire packets accounted
S_UPDATES = 2      # table touches from the packet path
S_PRESENCE = 3     # ... of which first packet of a flow in an epoch
S_LAST_TS = 4      # latest packet timestamp seen
S_READ_TS = 5      # S_LAST_TS when the sketch was last harvested
S_HARVESTS = 6     # flows whose sketch residue was read back
S_PK_EVENTS = 7    # table touches by a packet-layer saturation
S_BY_EVENTS = 8    # table touches by a byte-layer saturation
S_GEN = 9          # harvests so far
S_SIZE = 10

_NO_TS = np.iinfo(np.int64).min
# Flows ahead whose table rows a harvest prefetches.
HARVEST_AHEAD = 8
# Packets ahead whose flow's table rows the accounting prefetches.
TOUCH_AHEAD = 8


def new_stats(exact):
    stats = np.zeros(S_SIZE, np.int64)
    stats[S_EXACT] = 1 if exact else 0
    stats[S_LAST_TS] = _NO_TS
    stats[S_READ_TS] = _NO_TS
    return stats


@numba.njit(cache=True, _nrt=False, inline='always')
def _add(t, s, d, dp, db):
    flowtable.note_active(t, s)
    t.cnt[s, flowtable.C_PK + d] += dp
    t.cnt[s, flowtable.C_BY + d] += db
    t.cnt[s, flowtable.C_IVP] += dp
    t.cnt[s, flowtable.C_IVB] += db


@numba.njit(cache=True, _nrt=False, inline='always')
def _harvest(t, sk, s, clear):
    """Add the sketch residue of the flow in slot s to its counts.

    Only what the presence filter marked dirty (packets, bytes, per
    direction) is read: an untouched vector read back would only add
    noise, unbiased but clipped at zero in the flow's record.
    """
    h = t.key[s, flowtable.K_HASH]
    what = regulator.dirty(sk, h)
    for d in range(2):
        pk = what & (1 << (regulator.D_PACKETS + d))
        by = what & (1 << (regulator.D_BYTES + d))
        if pk or by:
            dp, db = regulator.held_packet(sk, regulator.key_of(h, d),
                                           clear, pk, by)
            if dp != 0.0 or db != 0.0:
                # nothing held (a foreign filter entry reads as dirty):
                # adding zeros would only list the flow as active
                _add(t, s, d, dp, db)
    regulator.harvested(sk, h)


@numba.njit(cache=True, _nrt=False)
def _evict(t, sk, stats, s, rec):
    # the flow's rows and those delete() will move are anywhere in the
    # table: ask for them all at once, not one miss after another
    flowtable.prefetch_delete(t, s)
    if stats[S_EXACT] == 0:
        _harvest(t, sk, s, True)
        regulator.forget(sk, t.key[s, flowtable.K_HASH])
    flowtable.emit(t, s, rec)
    flowtable.delete(t, s)


@numba.njit(cache=True, _nrt=False)
def _insert(t, sk, stats, rec, h, a_hi, a_lo, b_hi, b_lo, ppa, ts, app):
    """Insert a new flow, evicting one first if the table is at its limit."""
    if flowtable.full(t):
        v = flowtable.victim(t, h)
        if v >= 0:
            _evict(t, sk, stats, v, rec)
            t.ctl[flowtable.CTL_EVICTIONS] += 1
    return flowtable.insert(t, h, a_hi, a_lo, b_hi, b_lo, ppa, ts, app)


@numba.njit(cache=True, _nrt=False, inline='always')
def _touch(t, sk, stats, rec, h, a_hi, a_lo, b_hi, b_lo, ppa, ts, app):
    """Slot of the flow (inserted if new), or -1 if it could not be."""
    stats[S_UPDATES] += 1
    s = flowtable.lookup(t, h, a_hi, a_lo, b_hi, b_lo, ppa)
    if s < 0:
        return _insert(t, sk, stats, rec, h, a_hi, a_lo, b_hi, b_lo, ppa,
                       ts, app)
    flowtable.seen_at(t, s, ts)
    if t.cnt[s, flowtable.C_APP] == 0.0:
        t.cnt[s, flowtable.C_APP] = app
    return s


@numba.njit(cache=True, _nrt=False)
def account_batch(n, status, proto, src_hi, src_lo, dst_hi, dst_lo, sport,
                  dport, fhash, fdir, ts_ns, wirelen, weight, app_of_packet,
                  t, sk, evicted, stats):
    """Account packets 0..n-1 of a batch (columns as in headers.Headers).

    Only packets with ``status == ST_OK`` count. ``weight`` is wire packets
    per row, ``app_of_packet`` the caller's application id (0 generic).
    ``t``, ``sk``, ``evicted`` and ``stats`` are the state arrays of a
    :class:`FlowAccounting` (its ``table``, ``sketch``, ``evicted``,
    ``stats``). Flows evicted to make room are appended to ``evicted``,
    which must have room for n records (:meth:`FlowAccounting.reserve`).
    """
    exact = stats[S_EXACT] != 0
    last = stats[S_LAST_TS]
    epoch_ns = sk.par[regulator.P_EPOCH_NS]
    ep_lo = np.int64(1)
    ep_hi = np.int64(0)     # empty: the first packet computes its epoch
    ep = np.int64(0)
    for i in range(n):
        if i + TOUCH_AHEAD < n:
            # a packet that touches the table finds its rows anywhere in
            # tens of megabytes: fetch a later packet's flow's rows now
            # (wasted for the packets the regulator stops, cheap for them)
            flowtable.prefetch_home(t, fhash[i + TOUCH_AHEAD])
        if status[i] != headers.ST_OK:
            continue
        h = fhash[i]
        d = np.int64(fdir[i])
        ts = np.int64(ts_ns[i])
        if ts > last:
            last = ts
        w = np.int64(weight[i])
        stats[S_PACKETS] += w
        dp = np.float64(w)
        db = np.float64(wirelen[i])
        if not exact:
            if ts < ep_lo or ts >= ep_hi:
                ep = ts // epoch_ns
                ep_lo = ep * epoch_ns
                ep_hi = ep_lo + epoch_ns
            if regulator.first_in_epoch(sk, h, ep):
                stats[S_PRESENCE] += 1
            else:
                r = regulator.packet_random(sk, i)
                units = regulator.byte_units(sk, db, r)
                regulator.mark_dirty(sk, h, d, units > 0)
                dp, db = regulator.count_packet(
                    sk, regulator.key_of(h, d), w, units, r)
                if dp == 0.0 and db == 0.0:
                    continue
                if dp != 0.0:
                    stats[S_PK_EVENTS] += 1
                if db != 0.0:
                    stats[S_BY_EVENTS] += 1
        a_hi, a_lo, b_hi, b_lo, pa, pb = flowtable.canonical(
            src_hi[i], src_lo[i], dst_hi[i], dst_lo[i], sport[i], dport[i],
            d)
        s = _touch(t, sk, stats, evicted, h, a_hi, a_lo, b_hi, b_lo,
                   flowtable.pack_ppa(pa, pb, proto[i]), ts,
                   app_of_packet[i])
        if s >= 0:
            _add(t, s, d, dp, db)
    regulator.end_batch(sk, n)
    stats[S_LAST_TS] = last


@numba.njit(cache=True, _nrt=False)
def harvest_all(t, sk, stats):
    """Read back the residue of every flow that has some, clear the sketch.

    Those flows are on the sketch's dirty list, so the cost follows the
    flows active since the last harvest, not the table's size. If the list
    overflowed, every flow seen since one epoch before the last harvest is
    read (it has touched the table since, through the presence filter).
    Residues are read without clearing (the sketch is cleared after), so
    the order of the flows does not matter; a stamp per flow makes each
    read once.
    """
    if stats[S_EXACT] != 0:
        return
    stats[S_GEN] += 1
    gen = np.float64(stats[S_GEN])
    if sk.ndirty[1] == 0:
        nd = sk.ndirty[0]
        for j in range(nd):
            if j + HARVEST_AHEAD < nd:
                # the table is far larger than the cache and the listed
                # flows are anywhere in it: ask for a later flow's rows
                # now, so that its misses overlap this flow's work
                flowtable.prefetch_home(t, sk.dirty[j + HARVEST_AHEAD])
            s = flowtable.find_hash(t, sk.dirty[j])
            if s >= 0 and t.cnt[s, flowtable.C_STAMP] != gen:
                t.cnt[s, flowtable.C_STAMP] = gen
                _harvest(t, sk, s, False)
                stats[S_HARVESTS] += 1
    else:
        since = stats[S_READ_TS]
        if since != _NO_TS:
            since -= sk.par[regulator.P_EPOCH_NS]
        for s in range(len(t.key)):
            if (flowtable.used(t, s) and flowtable.last_ns(t, s) >= since
                    and regulator.dirty(
                        sk, t.key[s, flowtable.K_HASH]) != 0):
                _harvest(t, sk, s, False)
                stats[S_HARVESTS] += 1
    regulator.clear_counters(sk)
    stats[S_READ_TS] = stats[S_LAST_TS]


@numba.njit(cache=True, _nrt=False)
def expire_flows(t, sk, stats, rec, cutoff_ns):
    """Move flows last seen before ``cutoff_ns`` into ``rec``.

    Returns False when ``rec`` filled up before the scan ended (drain it
    and call again). Deleting shifts later entries back into the slot, so
    the scan re-examines a slot after a deletion. The scan reads the
    table's 8-byte ``last`` column, not its 128-byte slots.
    """
    s = 0
    c = len(t.key)
    last = t.last      # NO_LAST for free slots: never below a cutoff
    while s < c:
        if last[s] < cutoff_ns:
            if rec.n[0] >= len(rec.key):
                return False
            _evict(t, sk, stats, s, rec)
        else:
            s += 1
    return True


class FlowAccounting(object):
    """Owns the flow table, the regulator and their counters.

    ``settings`` is a :class:`dpiaas.dpi.settings.DpiSettings`. ``exact``
    turns the regulator off. ``epoch_s`` is the presence epoch: a flow
    touches the table at least once per epoch it is active in, so
    ``last_seen`` is accurate to one epoch and an idle flow expires at most
    one epoch late; longer epochs mean fewer table updates.
    ``sketch_opts`` go to :func:`regulator.new_sketch` (measurements).

    From a numba packet kernel: ``reserve(n)``, then
    ``account_batch(n, <columns>, acc.table, acc.sketch, acc.evicted,
    acc.stats)`` inside the kernel, then ``collect_evicted()``. From
    Python, :meth:`account` does the three. Either way call
    :meth:`close_interval` every interval (it also bounds the sketch's
    noise) and :meth:`expire` every second or so: both scan the table.
    """

    def __init__(self, settings, exact=False, epoch_s=1.0, seed=1,
                 **sketch_opts):
        self.settings = settings
        self.exact = bool(exact)
        self.timeout_ns = int(settings.flow_idle_timeout_s * 1e9)
        epoch_ns = int(min(epoch_s, settings.flow_idle_timeout_s) * 1e9)
        self.table = flowtable.new_table(settings.flow_table_size)
        seen_slots = max(1024, settings.flow_table_size // 16)
        budget = settings.regulator_bytes
        if self.exact:
            budget, seen_slots = 64, 16
        self.sketch = regulator.new_sketch(
            budget, seen_slots, max(1, epoch_ns), seed=seed, **sketch_opts)
        self.evicted = flowtable.new_records(settings.batch_size)
        self.stats = new_stats(self.exact)
        self._pending = flowtable.FlowRecords()

    # -- counters --------------------------------------------------------
    @property
    def packets_seen(self):
        return int(self.stats[S_PACKETS])

    @property
    def table_updates(self):
        return int(self.stats[S_UPDATES])

    @property
    def presence_updates(self):
        return int(self.stats[S_PRESENCE])

    @property
    def evictions(self):
        return int(self.table.ctl[flowtable.CTL_EVICTIONS])

    @property
    def flows(self):
        return int(self.table.ctl[flowtable.CTL_COUNT])

    def memory(self):
        """Bytes held, by part: all allocated up front, never grown."""
        return {
            'table': flowtable.nbytes(self.table),
            'sketch': regulator.counter_bytes(self.sketch),
            'presence': self.sketch.seen.nbytes + self.sketch.dirty.nbytes,
            'records': flowtable.nbytes(self.evicted),
        }

    # -- packet path -----------------------------------------------------
    def reserve(self, n):
        """Make room for n eviction records before a batch of n packets."""
        self.collect_evicted()
        if len(self.evicted.key) < n:
            self.evicted = flowtable.new_records(n)

    def collect_evicted(self):
        """Take eviction records out of the buffer (after each batch)."""
        rec = self.evicted
        if rec.n[0]:
            self._pending.extend(flowtable.records_to_dicts(rec))
            rec.n[0] = 0

    def account(self, hdr, batch, app_col, start=0, stop=None,
                status=None):
        """Account packets start..stop-1 of a decoded batch.

        ``hdr`` is its :class:`headers.Headers`, ``app_col`` the
        application id per packet (0 generic). ``status``, if given,
        replaces ``hdr.status[start:stop]`` (a caller that accounts some
        packets later, e.g. fragments once reassembled, marks them not
        OK). Slices are views: nothing is copied.
        """
        stop = len(batch) if stop is None else stop
        n = stop - start
        if n <= 0:
            return
        self.reserve(n)
        sl = slice(start, stop)
        if status is None:
            status = hdr.status[sl]
        account_batch(n, status, hdr.proto[sl], hdr.src_hi[sl],
                      hdr.src_lo[sl], hdr.dst_hi[sl], hdr.dst_lo[sl],
                      hdr.sport[sl], hdr.dport[sl], hdr.fhash[sl],
                      hdr.fdir[sl], batch.ts_ns[sl], batch.wirelen[sl],
                      batch.weight[sl], app_col[sl], self.table,
                      self.sketch, self.evicted, self.stats)
        self.collect_evicted()

    # -- control path ------------------------------------------------------
    def _drain(self, cutoff_ns):
        out, self._pending = self._pending, flowtable.FlowRecords()
        while True:
            done = expire_flows(self.table, self.sketch, self.stats,
                                self.evicted, cutoff_ns)
            out.extend(flowtable.records_to_dicts(self.evicted))
            self.evicted.n[0] = 0
            if done:
                return out

    def expire(self, now_ns):
        """Records of flows idle longer than the timeout, and evicted ones."""
        self.collect_evicted()
        return self._drain(int(now_ns) - self.timeout_ns)

    def close_interval(self, k=None):
        """Top-k flows of the interval by packets and bytes; new interval."""
        k = self.settings.heavy_hitters if k is None else k
        harvest_all(self.table, self.sketch, self.stats)
        return heavyhitters.top(self.table, k)

    def flush_all(self):
        """Records of every flow (end of input); the table is left empty."""
        self.collect_evicted()
        harvest_all(self.table, self.sketch, self.stats)
        return self._drain(np.iinfo(np.int64).max)
