"""DNS: queries, responses by rcode and latency, over UDP and TCP.

Only the fixed 12-byte header is needed for the counters (QR bit, rcode,
id), so a message whose later sections are damaged is still counted, as
tshark does; a message shorter than its header is ``malformed``. Latency
pairs a query and its response by connection (the canonical flow hash) and
DNS id.
"""
import numba
import numpy as np

from dpiaas.dpi import headers as hdr
from dpiaas.dpi import latency
from dpiaas.dpi import metrics as m


@numba.njit(cache=True, inline='always', _nrt=False)
def message(a, s, e, cnt, row, fkey, ts, pend, lat, latn, rng,
            timeout_ns):
    """Count the DNS message whose header starts at a[s] (e: its end)."""
    if e - s < 12:
        cnt[row, m.DNS_BASE + m.DNS_MALFORMED] += 1
        return
    ident = hdr.be16(a, s)
    flags = hdr.be16(a, s + 2)
    key = np.int64(hdr.mix64(np.uint64(fkey) ^ np.uint64(ident + 1)))
    if (flags & 0x8000) == 0:
        cnt[row, m.DNS_BASE + m.DNS_QUERIES] += 1
        latency.pending_put(pend, key, ts)
        return
    rcode = flags & 0x000F
    if rcode == 0:
        k = m.DNS_NOERROR
    elif rcode == 3:
        k = m.DNS_NXDOMAIN
    elif rcode == 2:
        k = m.DNS_SERVFAIL
    elif rcode == 5:
        k = m.DNS_REFUSED
    else:
        k = m.DNS_OTHER
    cnt[row, m.DNS_BASE + k] += 1
    dt = latency.pending_take(pend, key, ts, timeout_ns)
    if dt >= 0:
        latency.add_sample(lat, latn, row * m.LAT_SLOTS_PER_ROW + m.APP_DNS,
                           dt / 1e6, rng)
