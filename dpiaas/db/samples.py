"""Samples (packed, one row per collector interval), flows, detector state.

Ingest is the hot path of storage (10,000 collectors at 2 Hz is 20,000
samples/s): a batch is one statement of small rows (binary COPY on
PostgreSQL, a multi-row INSERT elsewhere: :mod:`dpiaas.db.bulk`), and the
only per-sample work is packing the values. A collector's metric names
are stored once per change in ``metric_layouts`` and cached here.
"""
import hashlib
import json
import threading

import numpy as np
import sqlalchemy as sa
from sqlalchemy import exc as sa_exc

from dpiaas.db import base
from dpiaas.db import bulk
from dpiaas.db import models
from dpiaas.db import packing

SAMPLES = models.Sample.__table__
ROLLUPS = models.SampleRollup.__table__
LAYOUTS = models.MetricLayout.__table__
FLOWS = models.FlowRecord.__table__
HITTERS = models.HeavyHitters.__table__
DETECTOR = models.DetectorState.__table__
SAMPLE_COLUMNS = ('monitor_id', 'layout_id', 'ts', 'interval_ms', 'vals')
LAYOUT_COLUMNS = ('collector_id', 'monitor_id', 'names_hash', 'names',
                  'created_at')


def names_hash(names):
    return hashlib.sha1('\n'.join(names).encode()).hexdigest()


class SamplesMixin:
    def _init_samples(self):
        self._layout_lock = threading.Lock()
        self._layout_ids = {}     # (collector_id, names) -> layout id
        self._layouts = {}        # layout id -> (names, latency mask)

    def _forget_monitor(self, monitor_id):
        # its layouts are gone; a rare event, so forget them all
        with self._layout_lock:
            self._layout_ids.clear()
            self._layouts.clear()

    # ingest

    def add_samples(self, samples):
        """Store a batch of samples in one transaction; returns how many."""
        try:
            rows = [(s['collector_id'], s['monitor_id'], s['ts'],
                     s.get('interval_ms', 500), tuple(s['metrics']),
                     s['metrics'].values()) for s in samples]
        except (KeyError, TypeError, ValueError, AttributeError) as e:
            raise ValueError('bad sample (needs collector_id, monitor_id, '
                             'ts and a metrics dict of numbers): %s: %s'
                             % (type(e).__name__, e))
        return self.add_sample_rows(rows)

    def add_sample_rows(self, samples):
        """Like :meth:`add_samples` with each sample as a sequence
        ``(collector_id, monitor_id, ts, interval_ms, names, values)``:
        ``names`` a tuple of metric names, ``values`` the numbers in that
        order (what RPC 1.2 carries; no dict per sample)."""
        rows, keys, monitors = [], [], {}
        ids = self._layout_ids
        pack = packing.pack
        try:
            for cid, mid, ts, interval_ms, names, values in samples:
                if type(names) is not tuple:
                    names = tuple(names)
                if len(names) != len(values):
                    raise ValueError('%d values for %d names'
                                     % (len(values), len(names)))
                key = (cid, names)
                keys.append(key)
                layout_id = ids.get(key)
                if layout_id is None:
                    monitors[key] = mid
                # in SAMPLE_COLUMNS order
                rows.append([mid, layout_id, float(ts),
                             int(interval_ms or 500), pack(values)])
        except (KeyError, TypeError, ValueError, AttributeError) as e:
            raise ValueError('bad sample (needs collector_id, monitor_id, '
                             'ts and a metrics dict of numbers): %s: %s'
                             % (type(e).__name__, e))
        if not rows:
            return 0
        for attempt in (1, 2):
            try:
                self._insert_samples(rows, keys, monitors)
                return len(rows)
            except sa_exc.IntegrityError:
                # another process stored the same new layout: take theirs
                if attempt == 2:
                    raise
        return len(rows)

    def _insert_samples(self, rows, keys, monitors):
        missing = {k for k, r in zip(keys, rows) if r[1] is None}
        new = {}
        with self._write() as conn:
            if missing:
                new = self._resolve_layouts(conn, missing, monitors)
                for key, row in zip(keys, rows):
                    if row[1] is None:
                        row[1] = new[key]
            bulk.insert_rows(conn, SAMPLES, SAMPLE_COLUMNS, rows)
        with self._layout_lock:
            self._layout_ids.update(new)

    def _resolve_layouts(self, conn, keys, monitors):
        """Layout ids of ``keys``, stored first where new (one INSERT)."""
        wanted = {k: names_hash(k[1]) for k in keys}
        known = self._known_layouts(conn, {k[0] for k in keys})
        new = [k for k, digest in wanted.items()
               if (k[0], digest) not in known]
        if new:
            now = base.now_or(None)
            bulk.insert_rows(conn, LAYOUTS, LAYOUT_COLUMNS, [
                (k[0], monitors[k], wanted[k], list(k[1]), now)
                for k in new])
            known = self._known_layouts(conn, {k[0] for k in new}, known)
        return {k: known[(k[0], digest)] for k, digest in wanted.items()}

    @staticmethod
    def _known_layouts(conn, collectors, known=None):
        known = dict(known or {})
        collectors = sorted(collectors)
        for i in range(0, len(collectors), 500):
            query = sa.select(LAYOUTS.c.id, LAYOUTS.c.collector_id,
                              LAYOUTS.c.names_hash).where(
                LAYOUTS.c.collector_id.in_(collectors[i:i + 500]))
            for r in conn.execute(query):
                known[(r.collector_id, r.names_hash)] = r.id
        return known

    def _layouts_of(self, conn, monitor_id):
        """{layout id: (names, latency mask, monitor id)} of a monitor."""
        out = {}
        rows = conn.execute(sa.select(LAYOUTS.c.id, LAYOUTS.c.names).where(
            LAYOUTS.c.monitor_id == monitor_id))
        for lid, names in rows:
            entry = self._layouts.get(lid)
            if entry is None:
                if isinstance(names, str):
                    names = json.loads(names)
                names = tuple(names)
                entry = (names, packing.latency_mask(names), monitor_id)
                self._layouts[lid] = entry
            out[lid] = entry
        return out

    # reading

    def _rows(self, conn, monitor_id, start, end, res, layout_ids, limit,
              columns=None):
        """``(ts, layout id, vals)`` tuples in time order.

        With ``columns`` ({layout id: index of a value}) ``vals`` is that
        one value's 8 bytes, cut out by the database: a series reads a
        thirtieth of the bytes a matrix does.
        """
        table = ROLLUPS if res else SAMPLES
        vals = table.c.vals
        if columns:
            offsets = {lid: col * packing.DTYPE.itemsize + 1
                       for lid, col in columns.items()}
            vals = sa.func.substr(
                vals, sa.case(offsets, value=table.c.layout_id),
                packing.DTYPE.itemsize, type_=sa.LargeBinary)
        query = sa.select(table.c.ts, table.c.layout_id, vals).where(
            table.c.monitor_id == monitor_id)
        if res:
            query = query.where(table.c.resolution == res)
        if start is not None:
            query = query.where(table.c.ts >= start)
        if end is not None:
            query = query.where(table.c.ts < end)
        if layout_ids is not None:
            query = query.where(table.c.layout_id.in_(sorted(layout_ids)))
        # (monitor_id, ts) is the index's order: a plan by the ts index
        # alone would scan every monitor's rows for a LIMIT
        query = query.order_by(table.c.monitor_id, table.c.ts)
        if limit is not None:
            query = query.limit(int(limit))
        # the driver's tuples: an hour is 7,200 rows, and a Row object and
        # a bytes copy of each cost a third of the read (``vals`` may be
        # a memoryview, which packing.unpack takes as it is)
        result = conn.execute(query)
        try:
            return result.cursor.fetchall()
        finally:
            result.close()

    @staticmethod
    def _by_layout(rows):
        """{layout id: (ts list, blob list)} of (ts, layout id, blob) rows.
        """
        if not rows:
            return {}
        tss, lids, blobs = zip(*rows)
        first = lids[0]
        if lids.count(first) == len(lids):     # the usual case
            return {first: (tss, blobs)}
        groups = {}
        for ts, lid, vals in rows:
            g = groups.get(lid)
            if g is None:
                g = groups[lid] = ([], [])
            g[0].append(ts)
            g[1].append(vals)
        return groups

    def get_series(self, monitor_id, name, start, end, resolution=None,
                   limit=10000):
        """``[(ts, value), ...]`` of one metric, ``start <= ts < end``.

        Summed over the monitor's collectors (``latency_ms`` metrics: the
        maximum). With ``resolution`` (seconds) the points come from the
        coarsest table at least that fine and are bucketed to
        ``resolution``; without, from the finest table that still holds
        ``start``; ``resolution=0`` reads raw samples.
        """
        res = self._pick_level(start, resolution)
        with self._read() as conn:
            layouts = self._layouts_of(conn, monitor_id)
            cols = {lid: e[0].index(name) for lid, e in layouts.items()
                    if name in e[0]}
            if not cols:
                return []
            rows = self._rows(conn, monitor_id, start, end, res, cols,
                              None if limit is None
                              else int(limit) * len(cols), columns=cols)
        latency = packing.is_latency(name)
        ts_parts, val_parts = [], []
        for tss, blobs in self._by_layout(rows).values():
            ts_parts.append(np.asarray(tss, dtype=float))
            val_parts.append(packing.unpack(blobs, 1)[:, 0])
        if not ts_parts:
            return []
        ts, vals = packing.reduce_by_ts(np.concatenate(ts_parts),
                                        np.concatenate(val_parts), latency)
        if resolution and resolution > res:
            ts, vals = packing.reduce_by_ts(
                np.floor(ts / resolution) * resolution, vals, latency)
        if limit is not None:
            ts, vals = ts[:int(limit)], vals[:int(limit)]
        return list(zip(ts.tolist(), vals.tolist()))

    def get_matrix(self, monitor_id, start, end, resolution=None):
        """``(names, ts, values)``: every metric of a monitor as arrays.

        ``names`` (sorted, str), ``ts`` (float64, ascending, unique) and
        ``values`` (float64, ``len(ts) x len(names)``), combined over
        collectors like :meth:`get_series`; NaN where no collector had
        the metric at that time.
        """
        res = self._pick_level(start, resolution)
        with self._read() as conn:
            # rows first: a layout is committed before its samples
            rows = self._rows(conn, monitor_id, start, end, res, None, None)
            layouts = self._layouts_of(conn, monitor_id)
        names, ts, values = self._matrix_of(rows, layouts)
        if resolution and resolution > res:
            ts, values = packing.reduce_by_ts(
                np.floor(ts / resolution) * resolution, values,
                packing.latency_mask(names))
        return np.array(names, dtype=str), ts, values

    def latest_metrics(self, monitor_id, window=60.0):
        """``{name: (ts, value)}``: each metric's newest combined value
        (within ``window`` seconds of the monitor's newest sample)."""
        with self._read() as conn:
            newest = conn.execute(sa.select(sa.func.max(SAMPLES.c.ts)).where(
                SAMPLES.c.monitor_id == monitor_id)).scalar()
            if newest is None:
                return {}
            rows = self._rows(conn, monitor_id, newest - window, None, 0,
                              None, None)
            layouts = self._layouts_of(conn, monitor_id)
        names, ts, values = self._matrix_of(rows, layouts)
        out = {}
        present = ~np.isnan(values)
        for j, name in enumerate(names):
            idx = np.flatnonzero(present[:, j])
            if len(idx):
                out[name] = (float(ts[idx[-1]]), float(values[idx[-1], j]))
        return out

    def _matrix_of(self, rows, layouts):
        groups = self._by_layout(rows)
        names = sorted({n for lid in groups for n in layouts[lid][0]})
        index = {n: i for i, n in enumerate(names)}
        if not rows:
            return names, np.zeros(0), np.zeros((0, len(names)))
        ts = np.empty(len(rows))
        values = np.full((len(rows), len(names)), np.nan)
        at = 0
        for lid, (tss, blobs) in groups.items():
            lnames = layouts[lid][0]
            n = len(tss)
            ts[at:at + n] = tss
            values[at:at + n, [index[x] for x in lnames]] = packing.unpack(
                blobs, len(lnames))
            at += n
        ts, values = packing.reduce_by_ts(ts, values,
                                          packing.latency_mask(names))
        return names, ts, values

    # flows

    def add_flow_reports(self, reports):
        """Store flow records; keep each collector's latest heavy hitters."""
        flows, latest = [], {}
        try:
            for rep in reports:
                ts = float(rep['ts'])
                for f in rep.get('flows') or ():
                    flows.append({'monitor_id': rep['monitor_id'],
                                  'collector_id': rep['collector_id'],
                                  'ts': ts, 'record': dict(f)})
                hh = rep.get('heavy_hitters')
                cid = rep['collector_id']
                if hh and (cid not in latest or latest[cid]['ts'] <= ts):
                    latest[cid] = {'collector_id': cid, 'ts': ts,
                                   'monitor_id': rep['monitor_id'],
                                   'hitters': hh}
        except (KeyError, TypeError, ValueError) as e:
            raise ValueError('bad flow report (needs collector_id, '
                             'monitor_id, ts): %s: %s'
                             % (type(e).__name__, e))
        with self._write() as conn:
            if flows:
                conn.execute(FLOWS.insert(), flows)
            if latest:
                old = dict(conn.execute(sa.select(
                    HITTERS.c.collector_id, HITTERS.c.ts).where(
                    HITTERS.c.collector_id.in_(sorted(latest)))).all())
                fresh = [v for k, v in latest.items()
                         if k not in old or old[k] <= v['ts']]
                stale = [v['collector_id'] for v in fresh
                         if v['collector_id'] in old]
                if stale:
                    conn.execute(HITTERS.delete().where(
                        HITTERS.c.collector_id.in_(stale)))
                if fresh:
                    conn.execute(HITTERS.insert(), fresh)
        return len(flows)

    def list_flows(self, monitor_id, limit=100):
        """Newest flow records first, each with collector_id and ts."""
        query = (sa.select(FLOWS.c.collector_id, FLOWS.c.ts, FLOWS.c.record)
                 .where(FLOWS.c.monitor_id == monitor_id)
                 .order_by(FLOWS.c.ts.desc(), FLOWS.c.id.desc())
                 .limit(int(limit)))
        with self._read() as conn:
            return [dict(r.record, collector_id=r.collector_id, ts=r.ts)
                    for r in conn.execute(query)]

    def list_heavy_hitters(self, monitor_id, limit=10):
        """The top flows of the monitor's latest intervals, by bytes.

        Each collector's latest ``{'packets': [...], 'bytes': [...]}``
        lists merged (a flow in both once), with collector_id and ts.
        """
        query = sa.select(HITTERS).where(HITTERS.c.monitor_id == monitor_id)
        with self._read() as conn:
            rows = conn.execute(query).all()
        merged = {}
        for r in rows:
            for kind in ('bytes', 'packets'):
                for f in (r.hitters or {}).get(kind) or ():
                    key = (r.collector_id, f.get('src'), f.get('dst'),
                           f.get('sport'), f.get('dport'), f.get('proto'))
                    merged.setdefault(key, dict(
                        f, collector_id=r.collector_id, ts=r.ts))
        top = sorted(merged.values(),
                     key=lambda f: (f.get('bytes', 0), f.get('packets', 0)),
                     reverse=True)
        return top[:int(limit)]

    # detector state

    def save_detector_state(self, monitor_id, state, meta):
        self.save_detector_states([(monitor_id, state, meta)])

    def save_detector_states(self, states):
        """``save_detector_state`` of each ``(monitor_id, state, meta)``
        in one transaction (a detector saving thousands of states one
        transaction each waited for the database's write lock each
        time)."""
        now = base.now_or(None)
        with self._write() as conn:
            for monitor_id, state, meta in states:
                values = {'state': bytes(state), 'meta': meta,
                          'updated_at': now}
                done = conn.execute(DETECTOR.update().where(
                    DETECTOR.c.monitor_id == monitor_id).values(
                    **values)).rowcount
                if not done:
                    conn.execute(DETECTOR.insert(),
                                 dict(values, monitor_id=monitor_id))

    def load_detector_state(self, monitor_id):
        """``(bytes, meta)`` or None."""
        with self._read() as conn:
            row = conn.execute(sa.select(DETECTOR.c.state, DETECTOR.c.meta)
                               .where(DETECTOR.c.monitor_id == monitor_id)
                               ).first()
        if row is None:
            return None
        return bytes(row.state), row.meta

    def load_detector_states(self, monitor_ids):
        """``{monitor_id: (bytes, meta)}`` of those of ``monitor_ids``
        that have a saved state, 500 per query (an engine starting with
        thousands of monitors must not read them one query each)."""
        ids = sorted(set(monitor_ids))
        out = {}
        with self._read() as conn:
            for i in range(0, len(ids), 500):
                query = sa.select(DETECTOR.c.monitor_id, DETECTOR.c.state,
                                  DETECTOR.c.meta).where(
                    DETECTOR.c.monitor_id.in_(ids[i:i + 500]))
                for row in conn.execute(query):
                    out[row.monitor_id] = (bytes(row.state), row.meta)
        return out
