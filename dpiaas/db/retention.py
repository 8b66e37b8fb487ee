"""Retention and downsampling: every table that grows is bounded.

``expire(now)`` (the engine runs it periodically) first rolls complete
buckets up, finest resolution first, each from the level below it (raw
samples for the finest), then deletes what is older than its retention.
A level's mark (``rollup_marks``) says up to where it is complete, so a
crash or a second engine never rolls a bucket twice, and raw samples are
never deleted before they are rolled up.

Samples arriving more than ``ROLLUP_DELAY`` seconds after their bucket
closed miss the rollups (they stay in the raw table for its retention).
"""
import math

import numpy as np
from oslo_log import log as logging
import sqlalchemy as sa

from dpiaas.db import base
from dpiaas.db import models
from dpiaas.db import packing

LOG = logging.getLogger(__name__)

SAMPLES = models.Sample.__table__
ROLLUPS = models.SampleRollup.__table__
MARKS = models.RollupMark.__table__
ROLLUP_DELAY = 60.0
# deletes go in steps of this many seconds of data, so that SQLite's
# single writer is never held for long
DELETE_STEP = 300.0


class RetentionMixin:
    def _pick_level(self, start, resolution, now=None):
        """The resolution (0: raw) a query of ``start`` is served from."""
        levels = [(0, self.raw_retention)] + list(self.rollups)
        if resolution is None:
            now = base.now_or(now)
            for res, keep in levels:
                if start is None or start >= now - keep:
                    return res
            return levels[-1][0]
        best = 0
        for res, _keep in levels:
            if res <= resolution:
                best = res
        return best

    def expire(self, now=None):
        """Roll up, then delete expired rows; returns counts by kind."""
        now = base.now_or(now)
        counts = {'rolled_up': 0, 'samples': 0, 'rollups': 0, 'flows': 0,
                  'alarm_history': 0}
        source = 0
        for res, _keep in self.rollups:
            counts['rolled_up'] += self._roll_level(res, source, now)
            source = res
        marks = self._marks()
        levels = [(0, self.raw_retention)] + list(self.rollups)
        for i, (res, keep) in enumerate(levels):
            cutoff = now - keep
            if i + 1 < len(levels):
                # keep what the next level has not taken yet
                cutoff = min(cutoff, marks.get(levels[i + 1][0], -math.inf))
            table = ROLLUPS if res else SAMPLES
            where = [ROLLUPS.c.resolution == res] if res else []
            counts['rollups' if res else 'samples'] += self._delete_before(
                table, table.c.ts, cutoff, where)
        counts['flows'] = self._delete_before(
            models.FlowRecord.__table__, models.FlowRecord.ts,
            now - self.flow_retention)
        counts['alarm_history'] = self._delete_before(
            models.AlarmHistory.__table__, models.AlarmHistory.timestamp,
            now - self.alarm_history_retention)
        return counts

    def _marks(self):
        with self._read() as conn:
            return dict(conn.execute(
                sa.select(MARKS.c.resolution, MARKS.c.done_until)).all())

    def _delete_before(self, table, col, cutoff, where=()):
        if cutoff == -math.inf:
            return 0
        with self._read() as conn:
            low = conn.execute(sa.select(sa.func.min(col)).where(
                col < cutoff, *where)).scalar()
        deleted = 0
        # bounded transactions, each starting at the oldest row left (a
        # stray old timestamp must not make this walk the years between)
        while low is not None and low < cutoff:
            step = min(cutoff, low + DELETE_STEP)
            with self._write() as conn:
                deleted += conn.execute(table.delete().where(
                    col < step, *where)).rowcount
            if step >= cutoff:
                break
            with self._read() as conn:
                low = conn.execute(sa.select(sa.func.min(col)).where(
                    col < cutoff, *where)).scalar()
        return deleted

    # rollups

    def _roll_level(self, res, source, now):
        """Roll complete ``res`` buckets up from level ``source``."""
        upto = math.floor((now - ROLLUP_DELAY) / res) * res
        marks = self._marks()
        if source:
            if source not in marks:
                return 0        # nothing rolled at the finer level yet
            upto = min(upto, math.floor(marks[source] / res) * res)
        mark = marks.get(res)
        if mark is None:
            first = self._first_ts(source)
            if first is None:
                return 0
            mark = math.floor(first / res) * res
            self._init_mark(res, mark)
        written = 0
        while mark < upto:
            n, mark = self._roll_bucket(res, source, mark, upto)
            written += n
        return written

    def _init_mark(self, res, mark):
        with self._write() as conn:
            found = conn.execute(sa.select(MARKS.c.resolution).where(
                MARKS.c.resolution == res)).first()
            if found is None:
                try:
                    conn.execute(MARKS.insert(), {'resolution': res,
                                                  'done_until': mark})
                except sa.exc.IntegrityError:
                    # another engine made it at the same time
                    pass

    def _first_ts(self, source):
        table = ROLLUPS if source else SAMPLES
        query = sa.select(sa.func.min(table.c.ts))
        if source:
            query = query.where(table.c.resolution == source)
        with self._read() as conn:
            return conn.execute(query).scalar()

    def _roll_bucket(self, res, source, mark, upto):
        """Roll the bucket at ``mark`` (or skip empty ones); -> (rows, mark)
        """
        with self._write() as conn:
            done = conn.execute(self._for_update(
                sa.select(MARKS.c.done_until).where(
                    MARKS.c.resolution == res))).scalar()
            if done is not None and done > mark:
                return 0, done          # another engine did it
            end = mark + res
            rows = self._source_rows(conn, source, mark, end)
            if rows:
                out = self._aggregate(conn, rows, res, mark)
                if out:
                    conn.execute(ROLLUPS.insert(), out)
            else:
                nxt = self._next_ts(conn, source, end, upto)
                end = (upto if nxt is None
                       else math.floor(nxt / res) * res)
                out = ()
            conn.execute(MARKS.update().where(MARKS.c.resolution == res)
                         .values(done_until=end))
        return len(out), end

    @staticmethod
    def _source_rows(conn, source, start, end):
        if source:
            t = ROLLUPS
            query = sa.select(t.c.monitor_id, t.c.layout_id, t.c.count,
                              t.c.vals).where(t.c.resolution == source)
        else:
            t = SAMPLES
            query = sa.select(t.c.monitor_id, t.c.layout_id,
                              sa.literal(1).label('count'), t.c.vals)
        query = query.where(t.c.ts >= start, t.c.ts < end)
        return conn.execute(query.order_by(t.c.layout_id)).all()

    @staticmethod
    def _next_ts(conn, source, start, upto):
        t = ROLLUPS if source else SAMPLES
        query = sa.select(sa.func.min(t.c.ts)).where(t.c.ts >= start,
                                                     t.c.ts < upto)
        if source:
            query = query.where(t.c.resolution == source)
        return conn.execute(query).scalar()

    def _aggregate(self, conn, rows, res, bucket):
        """One rollup row per layout of the bucket's rows.

        Rows whose layout is gone are left out: a batch of a monitor
        deleted while it was in flight can be written after the delete
        (another process's cache still knew the layout); they expire with
        the raw window instead of stopping every later pass.
        """
        layouts = self._layout_names(conn, {r.layout_id for r in rows})
        out = []
        i = 0
        while i < len(rows):
            j = i
            lid = rows[i].layout_id
            while j < len(rows) and rows[j].layout_id == lid:
                j += 1
            if lid not in layouts:
                LOG.info('retention: %d sample(s) of a deleted monitor '
                         '(metric layout %s gone) left out of the %s s '
                         'rollup', j - i, lid, res)
                i = j
                continue
            names, latency = layouts[lid]
            block = packing.unpack([r.vals for r in rows[i:j]], len(names))
            vals = packing.reduce_rows(block, latency)
            out.append({'monitor_id': rows[i].monitor_id, 'layout_id': lid,
                        'resolution': res, 'ts': float(bucket),
                        'count': int(sum(r.count for r in rows[i:j])),
                        'vals': np.ascontiguousarray(
                            vals, dtype=packing.DTYPE).tobytes()})
            i = j
        return out

    def _layout_names(self, conn, ids):
        """{layout id: (names, latency mask)}, cached."""
        out, missing = {}, []
        for lid in ids:
            entry = self._layouts.get(lid)
            if entry is None:
                missing.append(lid)
            else:
                out[lid] = entry[:2]
        layouts = models.MetricLayout.__table__
        for i in range(0, len(missing), 500):
            query = sa.select(layouts.c.id, layouts.c.names,
                              layouts.c.monitor_id).where(
                layouts.c.id.in_(missing[i:i + 500]))
            for lid, names, monitor_id in conn.execute(query):
                names = tuple(names)
                entry = (names, packing.latency_mask(names), monitor_id)
                self._layouts[lid] = entry
                out[lid] = entry[:2]
        return out
