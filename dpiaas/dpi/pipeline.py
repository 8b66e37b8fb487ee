"""A collector's pipeline: batches in, one report per interval out.

:class:`Collector` owns all state of one collector (counters, TCP streams,
pending requests, latency samples, fragments, flow table) and drives the
numba kernels over each batch, cutting it at interval boundaries. Intervals
are aligned to the clock (wall clock live, the capture's clock offline) and
every interval is reported, an idle one with zeros: a drop to zero is
exactly the anomaly a monitor must see.
"""
import dataclasses
import ipaddress
import logging

import numpy as np

from dpiaas.dpi import flowaccounting
from dpiaas.dpi import fragments
from dpiaas.dpi import headers as hdr
from dpiaas.dpi import kernel
from dpiaas.dpi import latency
from dpiaas.dpi import metrics as m
from dpiaas.dpi import settings as settings_mod
from dpiaas.dpi import streams

LOG = logging.getLogger(__name__)
NS = 1000000000


@dataclasses.dataclass
class IntervalReport:
    """The counters of one interval of one collector."""

    ts: float                # interval start, epoch seconds
    interval_ms: int
    metrics: dict
    flows: list = dataclasses.field(default_factory=list)
    heavy_hitters: dict = dataclasses.field(default_factory=dict)
    # raw latency samples by metric prefix, only when asked for (to merge
    # the reports of several fanout workers exactly)
    samples: dict = None

    def to_dict(self, with_flows=False):
        out = {'ts': self.ts, 'interval_ms': self.interval_ms,
               'metrics': self.metrics}
        if with_flows:
            out['flows'] = list(self.flows)
            out['heavy_hitters'] = self.heavy_hitters
        return out


class ServiceMap:
    """Port -> metrics row lookups for the kernel, built from a spec."""

    def __init__(self, services):
        self.row_keys = []
        rows = {}
        self.offered = np.full((2, 65536), -1, dtype=np.int32)
        self.consumed = np.full((2, 65536), -1, dtype=np.int32)
        for svc in services:
            row = rows.get(svc.key)
            if row is None:
                row = rows[svc.key] = len(self.row_keys)
                self.row_keys.append(svc.key)
            table = self.offered if svc.role == 'offered' else self.consumed
            li = 0 if svc.l4 == 'tcp' else 1
            part = table[li, svc.port_min:svc.port_max + 1]
            taken = part >= 0
            if taken.any():
                LOG.warning('%s/%s overlaps an earlier service; the earlier '
                            'one keeps the shared ports', svc.l4,
                            svc.port_label)
            part[~taken] = row
        self.row_app = np.array([m.APP_IDS[app] for app, _ in self.row_keys],
                                dtype=np.int8)
        self.names = m.RowNames(self.row_keys)


def _identity(spec):
    hi, lo = [], []
    for text in spec.vm_ips:
        ip = ipaddress.ip_address(text)
        if ip.version == 4:
            v = int(ipaddress.IPv6Address('::ffff:' + text))
        else:
            v = int(ip)
        hi.append(v >> 64)
        lo.append(v & ((1 << 64) - 1))
    macs = [int(mac.replace(':', ''), 16) for mac in spec.vm_macs]
    return (np.array(hi, dtype=np.uint64), np.array(lo, dtype=np.uint64),
            np.array(macs, dtype=np.uint64))


class Collector:
    """All state of one collector; feed it batches in time order."""

    def __init__(self, spec, settings=None, live=False, keep_samples=False):
        self.spec = spec
        self.keep_samples = keep_samples
        self.settings = s = settings or settings_mod.DpiSettings()
        self.live = live
        self.interval_ns = int(spec.interval_ms) * 1000000
        self.services = ServiceMap(spec.services)
        self.vm_hi, self.vm_lo, self.vm_mac = _identity(spec)
        nrows = len(self.services.row_keys)
        self.cnt = np.zeros((nrows, m.NCOLS), dtype=np.int64)
        self.seen = self.services.names.declared.copy()
        self.st, self.lb, self.ststats = streams.new_table(
            s.stream_table_size)
        self.pend = latency.new_pending(s.pending_table_size)
        self.lat, self.latn = latency.new_samples(
            nrows * m.LAT_SLOTS_PER_ROW, s.latency_samples)
        self.pct = np.zeros((len(self.latn), 2))
        self.rng = np.array([0x9E3779B97F4A7C15], dtype=np.uint64)
        self.timeout_ns = int(s.pending_timeout_s * NS)
        self.headers = hdr.Headers(s.batch_size)
        self.app_col = np.zeros(s.batch_size, dtype=np.int8)
        # columns of reassembled datagrams (grown on demand, reused)
        self.frag_headers = hdr.Headers(64)
        self.reassembler = fragments.Reassembler(
            s.fragment_max_datagrams, s.fragment_timeout_s)
        self.flows = None
        if s.flow_table_size:
            self.flows = flowaccounting.FlowAccounting(
                s, exact=not s.flow_regulator)
        self.start_ns = None          # current interval start
        self.next_expiry_ns = 0       # next scan for idle flows
        self.packets = 0              # packets in the current interval
        self.capture_drops = 0
        self.kernel_packets = None
        self.total_packets = 0

    # ---- feeding
    def feed(self, b):
        """Process a batch; returns the reports of intervals it closed."""
        n = len(b)
        if n == 0:
            return []
        reports = []
        h = self.headers
        h.decode(b)
        if len(self.app_col) < n:
            self.app_col = np.zeros(h.capacity, dtype=np.int8)
        i = 0
        ts = b.ts_ns
        while i < n:
            t = int(ts[i])
            if self.start_ns is None:
                self.start_ns = t - t % self.interval_ns
            reports.extend(self._close_until(t))
            end = self.start_ns + self.interval_ns
            j = self._run(b, h, i, n, end)
            self.packets += j - i
            self.total_packets += j - i
            self._after_segment(b, h, i, j)
            i = j
        return reports

    def advance(self, now_ns):
        """Close the intervals that ended by ``now_ns`` (live: wall clock)."""
        if self.start_ns is None:
            self.start_ns = now_ns - now_ns % self.interval_ns
            return []
        return self._close_until(now_ns)

    def flush(self):
        """End of input: report the interval in progress, expire all flows."""
        if self.start_ns is None:
            return []
        report = self._close_interval(final=True)
        self.start_ns = None
        return [report]

    def record_capture_stats(self, packets, drops):
        """Add kernel ring statistics (since the last call) from a live
        capture: they replace the offline count of packets read."""
        self.kernel_packets = (self.kernel_packets or 0) + packets
        self.capture_drops += drops

    # ---- internals
    def _run(self, b, h, i, n, end):
        sm = self.services
        return kernel.run(
            i, n, end, b.ts_ns, b.wirelen, b.weight, b.pkttype, b.buf,
            h.status, h.proto, h.frag, h.src_hi, h.src_lo, h.dst_hi,
            h.dst_lo, h.src_mac, h.dst_mac, h.sport, h.dport, h.tcp_flags,
            h.tcp_seq, h.pl_off, h.pl_len, h.fhash, h.fdir, sm.offered,
            sm.consumed, sm.row_app, self.vm_hi, self.vm_lo, self.vm_mac,
            self.cnt, self.st, self.lb, self.ststats, self.pend, self.lat,
            self.latn, self.rng, self.timeout_ns, self.app_col)

    def _after_segment(self, b, h, i, j):
        app = self.app_col[i:j]
        is_frag = app == kernel.PKT_FRAGMENT
        if self.flows is not None:
            # fragments are accounted once reassembled (they carry no
            # ports); flows store the application, not the kernel's marks.
            # account() slices the columns it is given at i:j, the
            # application column too: it must start at packet 0 (a column
            # starting at i read past its end for every segment after an
            # interval boundary, and the flows' "app" was garbage).
            status = np.where(is_frag, hdr.ST_BAD, h.status[i:j])
            self.flows.account(h, b, np.maximum(self.app_col[:j], 0), i, j,
                               status=status)
        frag_idx = np.nonzero(is_frag)[0]
        if len(frag_idx):
            done = self.reassembler.add_batch(b, h, frag_idx + i)
            if done is not None:
                # the datagrams belong to this interval: run them now
                h2 = self.frag_headers
                h2.decode(done)
                app2 = np.zeros(len(done), dtype=np.int8)
                saved = self.app_col
                self.app_col = app2
                try:
                    end = self.start_ns + self.interval_ns
                    done.ts_ns[:] = np.minimum(done.ts_ns, end - 1)
                    self._run(done, h2, 0, len(done), end)
                    if self.flows is not None:
                        self.flows.account(h2, done, np.maximum(app2, 0), 0,
                                           len(done))
                finally:
                    self.app_col = saved

    def _close_until(self, t):
        reports = []
        end = self.start_ns + self.interval_ns
        if t < end:
            return reports
        missing = (t - end) // self.interval_ns
        if not self.live and missing * self.interval_ns > \
                self.settings.max_gap_s * NS:
            reports.append(self._close_interval())
            LOG.warning('capture time jumps %.0f s ahead; restarting the '
                        'interval clock instead of reporting %d empty '
                        'intervals', (t - end) / NS, missing)
            self.start_ns = t - t % self.interval_ns
            return reports
        while t >= self.start_ns + self.interval_ns:
            reports.append(self._close_interval())
        return reports

    def _close_interval(self, final=False):
        start = self.start_ns
        end = start + self.interval_ns
        self.reassembler.expire(end)
        names = self.services.names
        cnt = self.cnt
        self.seen |= cnt != 0
        metrics = {}
        samples = {} if self.keep_samples else None
        # whole rows to Python ints at once: per-value int() of numpy
        # scalars was a visible part of closing an interval
        seen_cols = [np.flatnonzero(row).tolist() for row in self.seen]
        values_all = cnt.tolist()
        # every slot's p50/p95 in one compiled call (NaN: no sample)
        latency.percentiles_all(self.lat, self.latn, self.pct)
        pct_all = self.pct.tolist()
        for r, row_names in enumerate(names.names):
            values = values_all[r]
            for c in seen_cols[r]:
                metrics[row_names[c]] = values[c]
            app, port = names.row_keys[r]
            for app_id in (m.APP_SIP, m.APP_HTTP, m.APP_DNS):
                slot = r * m.LAT_SLOTS_PER_ROW + app_id
                p50, p95 = pct_all[slot]
                if p50 == p50:
                    prefix = '%s.%s.latency_ms.' % (m.APP_NAMES[app_id], port)
                    metrics[prefix + 'p50'] = round(p50, 3)
                    metrics[prefix + 'p95'] = round(p95, 3)
                    if samples is not None:
                        k = min(int(self.latn[slot]), self.lat.shape[1])
                        samples[prefix] = self.lat[slot, :k].copy()
        metrics['capture.packets'] = self.packets
        metrics['capture.drops'] = 0
        if self.kernel_packets is not None:
            metrics['capture.packets'] = int(self.kernel_packets)
            metrics['capture.drops'] = int(self.capture_drops)
            self.kernel_packets = None
            self.capture_drops = 0
        cnt[:] = 0
        self.latn[:] = 0
        self.packets = 0
        report = IntervalReport(ts=start / NS,
                                interval_ms=self.spec.interval_ms,
                                metrics=metrics, samples=samples)
        if self.flows is not None:
            report.heavy_hitters = self.flows.close_interval(
                self.settings.heavy_hitters)
            if final:
                report.flows = self.flows.flush_all()
            elif end >= self.next_expiry_ns:
                # a scan of the whole table: once a second is enough for
                # an idle timeout of tens of seconds
                report.flows = self.flows.expire(end)
                self.next_expiry_ns = end + NS
        self.start_ns = end
        return report

    def stats(self):
        """Internal counters, for logs, the agent's state report and tests."""
        out = {
            'packets': self.total_packets,
            'streams': int(self.ststats[streams.STAT_STREAMS]),
            'stream_evictions': int(self.ststats[streams.STAT_EVICTIONS]),
            'tcp_retransmitted_segments': int(
                self.ststats[streams.STAT_RETRANSMITTED]),
            'tcp_gaps': int(self.ststats[streams.STAT_GAPS]),
            'fragments_reassembled': self.reassembler.completed,
            'fragments_dropped': self.reassembler.dropped,
        }
        if self.flows is not None:
            f = self.flows
            out.update(flow_packets=int(f.packets_seen),
                       flow_table_updates=int(f.table_updates),
                       flow_evictions=int(f.evictions), flows=int(f.flows))
        return out
