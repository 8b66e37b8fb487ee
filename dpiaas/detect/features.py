"""Metric dicts -> feature vectors, with names that map back to metrics.

A monitor reports one dict of counts per interval (DESIGN.md 4.2). Raw
counts are a poor input for a detector: their scale depends on the interval
length, a ratio such as "error share of responses" carries the meaning an
operator looks for, and "no traffic at all" must be a value of its own and
not a silent row of zeros. The extractor therefore produces, per interval:

* ``<metric>`` for every count metric: the rate per second;
* ``<metric>`` for latency percentiles (ms; NaN when nothing was answered);
* per decoded service ``<app>.<port>``: ``error_share`` (4xx-6xx of final
  responses; DNS: servfail + refused), ``success_ratio`` (2xx / requests),
  ``register_2xx_ratio`` (SIP: 2xx / REGISTER), ``unanswered`` (requests
  without a response, as a share of requests), ``zero_traffic`` (1 when the
  service saw no packet);
* ``zero_traffic`` for the whole monitor;
* short rolling windows over the last ``window`` intervals of each of the
  above: ``@mean``, ``@max`` and ``@spread`` (max - min).

Ratios are NaN when undefined (no requests); the scaler turns NaN into "as
expected" so that the explicit zero-traffic and unanswered features carry
that information instead of a made-up number.
"""
import operator
import warnings
import weakref

import numpy as np

LATENCY = 'latency_ms'
GAUGE_PREFIX = 'gauge.'
# Ratios pooled over a window of a few dozen events move by several
# points when answers straddle interval edges (a slow host): 8 points.
RATIO_FLOOR = 0.08
# Scaled values are clipped to this many robust deviations.
CLIP = 50.0
GAUGE_FLOOR = 0.01
# A ratio of fewer events than this is noise, not information: NaN.
MIN_DENOMINATOR = 5
LATENCY_FLOOR_MS = 15.0
HEALTH_PREFIX = 'capture.'
BYTES_FLOOR = 0.15
GENERIC_PREFIX = 'generic.'
# Packets of one TCP connection's life on an opaque (generic) service:
# handshake, a protocol greeting, teardown. Clients and pools open and
# close connections with nothing wrong (Kamailio's workers reconnect to
# their database one by one for a minute after it restarts): a change of
# less than one connection per interval is not news on such a link.
CONNECTION_PACKETS = 8

WINDOW_STATS = ('mean', 'max', 'spread')
_FINAL = {
    'sip': ('2xx', '3xx', '4xx', '5xx', '6xx'),
    'http': ('1xx', '2xx', '3xx', '4xx', '5xx'),
    'dns': ('noerror', 'nxdomain', 'servfail', 'refused', 'other'),
}
_ERRORS = {
    'sip': ('4xx', '5xx', '6xx'),
    'http': ('4xx', '5xx'),
    'dns': ('servfail', 'refused'),
}
_OK = {'sip': '2xx', 'http': '2xx', 'dns': 'noerror'}


class BadInterval(ValueError):
    """An interval whose values cannot be used (not numbers, negative)."""


def is_latency(metric):
    return '.%s.' % LATENCY in metric


def is_gauge(metric):
    """Values that are levels, not counts per interval: latency
    percentiles, and anything under ``gauge.`` (used for series from
    elsewhere, e.g. NAB's, and for future level metrics)."""
    return is_latency(metric) or metric.startswith(GAUGE_PREFIX)


def _service_of(metric):
    parts = metric.split('.')
    if len(parts) >= 3 and parts[1].isdigit():
        return parts[0], parts[1]
    return None, None


class FeatureSchema(object):
    """The fixed list of features of one monitor, learned from its baseline.

    ``base`` features are computed from one interval; the full vector is
    ``base`` followed by ``window`` statistics of each base feature. For
    each feature, ``metrics[i]`` is the metric (or derived quantity) an
    explanation names, ``kinds[i]`` one of ``rate``, ``latency``,
    ``ratio``, ``flag`` (used for scale floors and units).
    """

    def __init__(self, metric_names, window=3, stats=WINDOW_STATS):
        self.window = int(window)
        self.stats = tuple(stats)
        # capture.* are the collector's own health (kernel drops, packets
        # seen before decoding), not the service's behaviour: left out
        self.metric_names = sorted(m for m in set(metric_names)
                                   if not m.startswith(HEALTH_PREFIX))
        self.counts = [m for m in self.metric_names if not is_gauge(m)]
        self.latencies = [m for m in self.metric_names if is_latency(m)]
        self.gauges = [m for m in self.metric_names
                       if is_gauge(m) and not is_latency(m)]
        services = {}
        for m in self.metric_names:
            app, port = _service_of(m)
            if app is not None:
                services.setdefault('%s.%s' % (app, port), app)
        self.services = sorted(services.items())
        base, kinds = [], []
        base += self.counts
        kinds += ['rate'] * len(self.counts)
        base += self.latencies
        kinds += ['latency'] * len(self.latencies)
        base += self.gauges
        kinds += ['gauge'] * len(self.gauges)
        # ratios, then flags: each kind contiguous (cheap windows)
        for prefix, app in self.services:
            if app in _FINAL:
                names = ['error_share', 'success_ratio', 'unanswered']
                if app == 'sip':
                    names.append('register_2xx_ratio')
                for n in names:
                    base.append('%s.%s' % (prefix, n))
                    kinds.append('ratio')
        for prefix, app in self.services:
            # an application service is silent when no message of its
            # protocol is seen, even if its port still sees packets
            # (a stopped server answers SYNs with RSTs)
            base.append('%s.%s' % (prefix, 'no_messages' if app in _FINAL
                                   else 'zero_traffic'))
            kinds.append('flag')
        base.append('zero_traffic')
        kinds.append('flag')
        self.base = base
        self.base_kinds = kinds
        self.n_base = len(base)
        self.cont_idx = np.array([i for i, k in enumerate(kinds)
                                  if k in ('rate', 'latency', 'gauge')],
                                 int)
        self.ratio_idx = np.array([i for i, k in enumerate(kinds)
                                   if k == 'ratio'], int)
        self.flag_idx = np.array([i for i, k in enumerate(kinds)
                                  if k == 'flag'], int)
        names, metrics, all_kinds = list(base), list(base), list(kinds)

        def add(idx, label, kind=None):
            for i in idx:
                names.append('%s@%s%d' % (base[i], label, self.window))
                metrics.append(base[i])
                all_kinds.append(kind or kinds[i])

        if self.window > 1:
            for stat in self.stats:
                add(self.cont_idx, stat)
            add(self.ratio_idx, 'mean')
            # no window over flags: a share of empty intervals would echo
            # one empty interval for ``window`` intervals, enough for a
            # k-of-n alarm; the hysteresis itself asks for persistence
        self.names = names
        self.metrics = metrics
        self.kinds = all_kinds
        self.size = len(names)
        self.key = (tuple(self.metric_names), self.window, self.stats)
        self.n_ratio = len(self.ratio_idx)
        self.n_counts = len(self.counts)
        self.n_cont = len(self.cont_idx)
        assert (self.cont_idx == np.arange(self.n_cont)).all()
        self.flag_start = self.n_base - len(self.flag_idx)
        self._compile()

    def to_dict(self):
        return {'metric_names': self.metric_names, 'window': self.window,
                'stats': list(self.stats)}

    @classmethod
    def from_dict(cls, d):
        return cls.shared(d['metric_names'], d['window'], d['stats'])

    # equal schemas -> one object (weak: gone with their last monitor)
    _shared = weakref.WeakValueDictionary()

    @classmethod
    def shared(cls, metric_names, window=3, stats=WINDOW_STATS):
        """The schema of these metrics, one object for all monitors
        that have it: thousands of monitors of the same kind of server
        need not hold thousands of copies of the same name lists and
        matrices, and a :class:`FeatureBank` groups them by it."""
        key = (tuple(sorted(m for m in set(metric_names)
                            if not m.startswith(HEALTH_PREFIX))),
               int(window), tuple(stats))
        schema = cls._shared.get(key)
        if schema is None:
            schema = cls(metric_names, window, stats)
            cls._shared[key] = schema
        return schema

    def _compile(self):
        """Index arrays and small matrices so that one interval costs a
        handful of numpy operations whatever the number of services."""
        self.levels = self.latencies + self.gauges
        nc = len(self.counts)
        col = {m: i for i, m in enumerate(self.counts)}
        rows_num, rows_den, rows_pkt = [], [], []

        def vec(names, sign=1.0, into=None):
            v = np.zeros(nc) if into is None else into
            for n in names:
                if n in col:
                    v[col[n]] += sign
            return v

        for prefix, app in self.services:
            if app in _FINAL:
                if app == 'dns':
                    req = [prefix + '.queries']
                else:
                    req = [m for m in self.counts
                           if m.startswith(prefix + '.requests.')]
                fin = ['%s.responses.%s' % (prefix, c) for c in _FINAL[app]]
                err = ['%s.responses.%s' % (prefix, c)
                       for c in _ERRORS[app]]
                ok = ['%s.responses.%s' % (prefix, _OK[app])]
                rows_num += [vec(err), vec(ok), vec(fin, -1.0, vec(req))]
                rows_den += [vec(fin), vec(req), vec(req)]
                if app == 'sip':
                    rows_num.append(vec(ok))
                    rows_den.append(vec([prefix + '.requests.register']))
            if app in _FINAL:
                rows_pkt.append(vec([
                    m for m in self.counts
                    if m.startswith((prefix + '.requests.',
                                     prefix + '.responses.')) or
                    m == prefix + '.queries']))
            else:
                rows_pkt.append(vec([prefix + '.packets_in',
                                     prefix + '.packets_out']))
        self._a_num = np.array(rows_num, float).reshape(len(rows_num), nc)
        self._a_den = np.array(rows_den, float).reshape(len(rows_den), nc)
        self._a_pkt = np.array(rows_pkt, float).reshape(len(rows_pkt), nc)
        self._nc = nc

    def base_vector(self, metrics, dt):
        """One interval's base features (rates per second, ratios...),
        and the numerators and denominators of its ratios."""
        get = metrics.get
        try:
            v = np.array([get(m, 0) for m in self.counts] +
                         [get(m) for m in self.levels], dtype=float)
        except (TypeError, ValueError):
            raise BadInterval('a metric value is not a number')
        c = v[:self._nc]
        if not ((c >= 0).all() and c.sum() < np.inf):
            c[np.isnan(c)] = 0.0          # a count reported as None
            if not ((c >= 0).all() and c.sum() < np.inf):
                raise BadInterval('negative or infinite count')
        num = self._a_num @ c
        den = self._a_den @ c
        ratio = np.where(den >= MIN_DENOMINATOR,
                         num / np.maximum(den, 1.0), np.nan)
        svc_zero = (self._a_pkt @ c) == 0
        out = np.concatenate((c * (1.0 / dt), v[self._nc:], ratio,
                              svc_zero, (not c.any(),)))
        return out, num, den


class _Rings(object):
    """The rolling windows of one or more extractors of equal schemas,
    one row each: a :class:`FeatureBank` updates all its rows at once,
    a lone extractor has a one-row store of its own."""

    def __init__(self, schema, rows=1):
        w = max(schema.window, 1)
        self.ring = np.full((rows, w, schema.n_base), np.nan)
        self.num = np.zeros((rows, w, schema.n_ratio))
        self.den = np.zeros((rows, w, schema.n_ratio))
        self.n = np.zeros(rows, dtype=np.int64)

    def grow(self, rows):
        for name, fill in (('ring', np.nan), ('num', 0.0), ('den', 0.0),
                           ('n', 0)):
            old = getattr(self, name)
            new = np.full((rows,) + old.shape[1:], fill, dtype=old.dtype)
            new[:len(old)] = old
            setattr(self, name, new)

    def reset(self, rows):
        self.ring[rows] = np.nan
        self.num[rows] = 0.0
        self.den[rows] = 0.0
        self.n[rows] = 0

    def copy_row(self, i, other, j):
        """Row ``i`` of this store := row ``j`` of ``other``."""
        self.ring[i] = other.ring[j]
        self.num[i] = other.num[j]
        self.den[i] = other.den[j]
        self.n[i] = other.n[j]


class FeatureExtractor(object):
    """Stateful per-monitor extractor: base vectors plus rolling windows.

    Window statistics: mean, max and spread of rates and latencies; for
    ratios the pooled ratio over the window (sum of numerators over sum of
    denominators: far less noisy than a mean of per-interval ratios when
    an interval holds a handful of requests); for zero-traffic flags the
    share of empty intervals. ``reset()`` forgets the window (after a gap
    or a collector restart) so that statistics never span missing
    intervals.

    The window lives in one row of a :class:`_Rings` store: the
    extractor's own, or a :class:`FeatureBank`'s once attached to one
    (then the bank's :meth:`FeatureBank.push` and this object's
    :meth:`push` update the same numbers).
    """

    def __init__(self, schema):
        self.schema = schema
        self._rings = _Rings(schema)
        self._row = 0

    @property
    def _ring(self):
        return self._rings.ring[self._row]

    @property
    def _num(self):
        return self._rings.num[self._row]

    @property
    def _den(self):
        return self._rings.den[self._row]

    @property
    def _n(self):
        return int(self._rings.n[self._row])

    @_n.setter
    def _n(self, value):
        self._rings.n[self._row] = value

    def reset(self):
        self._rings.reset(self._row)

    def push(self, metrics, dt):
        """Add one interval and return its full feature vector."""
        sc = self.schema
        base, nums, dens = sc.base_vector(metrics, dt)
        w = sc.window
        if w <= 1:
            return base
        rings, row = self._rings, self._row
        n = int(rings.n[row])
        slot = n % w
        ring, num_ring = rings.ring[row], rings.num[row]
        den_ring = rings.den[row]
        ring[slot] = base
        num_ring[slot] = nums
        den_ring[slot] = dens
        n += 1
        rings.n[row] = n
        if n < w:
            ring = ring[:n]
        # rates, latencies and gauges are the first columns, in order
        cont = ring[:, :sc.n_cont]
        parts = [base]
        hi = None
        for stat in sc.stats:
            if stat == 'mean':
                mean = cont.sum(axis=0) * (1.0 / len(cont))
                if sc.n_cont > sc.n_counts:
                    # only levels can be missing (NaN): mean of the rest
                    lv = cont[:, sc.n_counts:]
                    missing = np.isnan(lv)
                    n = len(lv) - missing.sum(axis=0)
                    total = np.where(missing, 0.0, lv).sum(axis=0)
                    mean[sc.n_counts:] = np.where(
                        n > 0, total / np.maximum(n, 1), np.nan)
                parts.append(mean)
                continue
            if stat == 'median':
                parts.append(window_median(cont, 0))
                continue
            if hi is None:
                hi = np.fmax.reduce(cont, axis=0)
            if stat == 'max':
                parts.append(hi)
            else:
                parts.append(hi - np.fmin.reduce(cont, axis=0))
        num = num_ring.sum(axis=0)
        den = den_ring.sum(axis=0)
        parts.append(np.where(den >= MIN_DENOMINATOR,
                              num / np.maximum(den, 1.0), np.nan))
        return np.concatenate(parts)


class FeatureBank(object):
    """Many monitors' extractors of one schema, their windows stacked.

    One interval of each of ``k`` monitors becomes a ``(k x counts)``
    matrix and goes through the arithmetic of
    :meth:`FeatureSchema.base_vector` and :meth:`FeatureExtractor.push`
    as a few matrix operations instead of a dozen small numpy calls per
    monitor (most of a tick's cost at thousands of monitors). Each row
    is still one monitor's own window, with the same numbers the
    one-by-one path gives; nothing is pooled across monitors.
    """

    def __init__(self, schema, rows=16):
        self.schema = schema
        self.rings = _Rings(schema, rows)
        self._free = list(range(rows - 1, -1, -1))
        self.members = {}         # row -> extractor
        names = list(schema.counts) + list(schema.levels)
        # one C call per monitor for the usual interval, which carries
        # every metric of its schema (a Python get per metric was 9 us of
        # the 55 us an engine spends on a monitor interval)
        self._getter = (operator.itemgetter(*names) if len(names) > 1
                        else None)

    def __len__(self):
        return len(self.members)

    def attach(self, extractor):
        """Move an extractor's window into the bank (its state goes
        along)."""
        if extractor._rings is self.rings:
            return
        if not self._free:
            old = len(self.rings.n)
            self.rings.grow(2 * old)
            self._free = list(range(2 * old - 1, old - 1, -1))
        row = self._free.pop()
        self.rings.copy_row(row, extractor._rings, extractor._row)
        extractor._rings, extractor._row = self.rings, row
        extractor.schema = self.schema
        self.members[row] = extractor

    def detach(self, extractor):
        """Give an extractor its window back as a store of its own."""
        if extractor._rings is not self.rings:
            return
        own = _Rings(self.schema)
        own.copy_row(0, self.rings, extractor._row)
        self.members.pop(extractor._row, None)
        self._free.append(extractor._row)
        extractor._rings, extractor._row = own, 0

    def _values(self, metrics):
        """``(k x (counts + levels))`` floats, and per row the reason it
        cannot be used (None when it can)."""
        sc = self.schema
        counts, levels = sc.counts, sc.levels
        getter = self._getter
        rows = []
        for d in metrics:
            if getter is not None:
                try:
                    rows.append(getter(d))
                    continue
                except KeyError:
                    pass        # a metric missing: counts 0, levels None
            get = d.get
            rows.append([get(m, 0) for m in counts] +
                        [get(m) for m in levels])
        problems = [None] * len(rows)
        try:
            return np.array(rows, dtype=float).reshape(
                len(rows), len(counts) + len(levels)), problems
        except (TypeError, ValueError):
            pass
        out = np.zeros((len(rows), len(counts) + len(levels)))
        for i, r in enumerate(rows):
            try:
                out[i] = np.array(r, dtype=float)
            except (TypeError, ValueError):
                problems[i] = 'a metric value is not a number'
        return out, problems

    @staticmethod
    def _median(cont):
        """:func:`window_median` along axis 1 of ``(k, window, n)``,
        the same numbers, without ``nanmedian``'s per-slice masked path
        (most of a batched tick's time when some windows hold NaN)."""
        s = np.sort(cont, axis=1)                 # NaN last
        v = (~np.isnan(cont)).sum(axis=1)
        lo = np.maximum((v - 1) // 2, 0)[:, None, :]
        hi = np.maximum(v // 2, 0)[:, None, :]
        a = np.take_along_axis(s, lo, axis=1)[:, 0, :]
        b = np.take_along_axis(s, hi, axis=1)[:, 0, :]
        with np.errstate(invalid='ignore', over='ignore'):
            mid = np.where(v % 2 == 1, a, (a + b) / 2.0)
        return np.where(v > 0, mid, np.nan)

    def push(self, extractors, metrics, dt, reset):
        """One interval for each of ``extractors`` (attached to this
        bank): ``metrics`` dicts, ``dt`` seconds, ``reset`` booleans
        (forget the window first: a gap). Returns the ``(k x size)``
        feature vectors and, per row, None or why the interval is bad
        (:class:`BadInterval`'s message; that row's window is reset, as
        :meth:`FeatureExtractor.push`'s caller does)."""
        sc = self.schema
        R = self.rings
        rows = np.fromiter((e._row for e in extractors), dtype=np.int64,
                           count=len(extractors))
        reset = np.asarray(reset, dtype=bool)
        if reset.any():
            R.reset(rows[reset])
        V, problems = self._values(metrics)
        nc = sc.n_counts
        c = V[:, :nc]
        c[np.isnan(c)] = 0.0              # a count reported as None
        with np.errstate(invalid='ignore', over='ignore'):
            ok = (c >= 0).all(axis=1) & (c.sum(axis=1) < np.inf)
        for i in np.flatnonzero(~ok):
            if problems[i] is None:
                problems[i] = 'negative or infinite count'
        bad = np.array([p is not None for p in problems], dtype=bool)
        if bad.any():
            R.reset(rows[bad])
            c[bad] = 0.0
        num = c @ sc._a_num.T
        den = c @ sc._a_den.T
        with np.errstate(invalid='ignore', divide='ignore'):
            ratio = np.where(den >= MIN_DENOMINATOR,
                             num / np.maximum(den, 1.0), np.nan)
        svc_zero = (c @ sc._a_pkt.T) == 0
        inv_dt = 1.0 / np.asarray(dt, dtype=float).reshape(-1, 1)
        base = np.concatenate((c * inv_dt, V[:, nc:], ratio, svc_zero,
                               ~c.any(axis=1)[:, None]), axis=1)
        w = sc.window
        if w <= 1:
            return base, problems
        good = ~bad
        g = rows[good]
        n = R.n[g]
        slot = n % w
        R.ring[g, slot] = base[good]
        R.num[g, slot] = num[good]
        R.den[g, slot] = den[good]
        n = n + 1
        R.n[g] = n
        k = len(rows)
        ring = np.full((k, w, sc.n_cont), np.nan)
        ring[good] = R.ring[g, :, :sc.n_cont]
        filled = np.zeros((k, w), dtype=bool)
        filled[good] = np.arange(w)[None, :] < n[:, None]
        cont = np.where(filled[:, :, None], ring, np.nan)
        count = np.maximum(filled.sum(axis=1), 1)
        parts = [base]
        hi = None
        with np.errstate(invalid='ignore', divide='ignore'):
            for stat in sc.stats:
                if stat == 'mean':
                    mean = np.where(filled[:, :, None], cont, 0.0).sum(
                        axis=1) * (1.0 / count)[:, None]
                    if sc.n_cont > sc.n_counts:
                        lv = cont[:, :, sc.n_counts:]
                        missing = np.isnan(lv)
                        nv = w - missing.sum(axis=1)
                        total = np.where(missing, 0.0, lv).sum(axis=1)
                        mean[:, sc.n_counts:] = np.where(
                            nv > 0, total / np.maximum(nv, 1), np.nan)
                    parts.append(mean)
                    continue
                if stat == 'median':
                    parts.append(self._median(cont))
                    continue
                if hi is None:
                    hi = np.fmax.reduce(cont, axis=1)
                if stat == 'max':
                    parts.append(hi)
                else:
                    parts.append(hi - np.fmin.reduce(cont, axis=1))
            wnum = np.zeros((k, sc.n_ratio))
            wden = np.zeros((k, sc.n_ratio))
            wnum[good] = R.num[g].sum(axis=1)
            wden[good] = R.den[g].sum(axis=1)
            parts.append(np.where(wden >= MIN_DENOMINATOR,
                                  wnum / np.maximum(wden, 1.0), np.nan))
        return np.concatenate(parts, axis=1), problems


def window_median(cont, axis):
    """Median over the window, missing (NaN) levels left out.

    Unlike the mean, the median of a few intervals does not echo a
    single-interval spike into the next ``window`` intervals (one
    database reconnection would otherwise look like a three-interval
    change to a k-of-n alarm), while a shift that lasts moves it at once.
    """
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', RuntimeWarning)
        return np.nanmedian(cont, axis=axis)


def scale_floor(schema, center, mean_counts_per_s, dt,
                latency_floor_ms=LATENCY_FLOOR_MS):
    """Smallest sensible spread per feature, so that a feature constant in
    the baseline (MAD 0) does not make every tiny change infinitely
    anomalous: one event per interval (Poisson std at least 1) for rates,
    one connection's packets for opaque services (and for their bytes,
    that times the mean packet size), ``latency_floor_ms`` or 25 % for
    latency (a p95 of a dozen samples jumps with the host's load), 1 % for
    gauges, 8 points for ratios, and for flags the Bernoulli spread of how
    often they were set."""
    floor = np.empty(schema.size)
    first = {}
    for i, name in enumerate(schema.names):
        first.setdefault(name, i)

    def count_floor(i):
        lam = max(mean_counts_per_s[i] * dt, 1.0)
        if schema.metrics[i].startswith(GENERIC_PREFIX):
            # an opaque service's traffic changes a connection at a time
            lam = max(lam, CONNECTION_PACKETS ** 2)
        return np.sqrt(lam) / dt

    for i, kind in enumerate(schema.kinds):
        c = abs(center[i]) if np.isfinite(center[i]) else 0.0
        if kind == 'rate':
            floor[i] = max(count_floor(i), 0.05 * c)
            if '.bytes_' in schema.metrics[i]:
                # bytes are packets times sizes that vary with the
                # message mix (a database link's periodic write-backs
                # move them 20 % with nothing wrong): not Poisson counts
                floor[i] = max(BYTES_FLOOR * c, 0.05 * c,
                               np.sqrt(max(mean_counts_per_s[i] * dt,
                                           1.0)) / dt)
                # an opaque service's bytes change a connection at a
                # time too: its packet floor times the mean packet size
                # (decoded services have their messages' own features)
                j = first.get(schema.names[i].replace('.bytes_',
                                                      '.packets_', 1))
                if (j is not None and mean_counts_per_s[j] > 0 and
                        schema.metrics[i].startswith(GENERIC_PREFIX)):
                    size = mean_counts_per_s[i] / mean_counts_per_s[j]
                    floor[i] = max(floor[i], size * count_floor(j))
        elif kind == 'latency':
            floor[i] = max(latency_floor_ms, 0.25 * c)
        elif kind == 'gauge':
            floor[i] = max(GAUGE_FLOOR * c, 1e-9)
        elif kind == 'flag':
            # Bernoulli spread of a flag set in a share p of the baseline
            # intervals: an idle interval of a quiet service is no news
            p = min(max(mean_counts_per_s[i], 0.0), 1.0)
            floor[i] = max(RATIO_FLOOR, np.sqrt(p * (1.0 - p)))
        else:
            floor[i] = RATIO_FLOOR
    return floor


class RobustScaler(object):
    """Median / MAD scaling learned from baseline rows; NaN -> 0 (expected).

    Scaled values are clipped to +-``clip`` so that one absurd value cannot
    dominate a multivariate distance.
    """

    def __init__(self, center=None, scale=None, clip=CLIP):
        self.center = center
        self.scale = scale
        self.clip = clip

    def fit(self, X, floor=None):
        with warnings.catch_warnings():
            warnings.simplefilter('ignore', RuntimeWarning)
            center = np.nanmedian(X, axis=0)
            mad = np.nanmedian(np.abs(X - center), axis=0) * 1.4826
            q75, q25 = np.nanpercentile(X, [75, 25], axis=0)
        iqr = (q75 - q25) / 1.349
        scale = np.fmax(mad, iqr)
        if floor is not None:
            scale = np.fmax(scale, floor)
        center = np.where(np.isfinite(center), center, 0.0)
        scale = np.where(np.isfinite(scale) & (scale > 0), scale, 1.0)
        self.center, self.scale = center, scale
        return self

    def transform(self, X):
        Z = (X - self.center) / self.scale
        Z = np.where(np.isnan(Z), 0.0, Z)
        return np.clip(Z, -self.clip, self.clip)
