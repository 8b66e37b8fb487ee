"""SIP: counting requests by method and responses by class, and latency.

Latency pairs a request with its first final response (>= 200) through
Call-ID + CSeq, the pair RFC 3261 makes unique per transaction; 1xx are
hop-by-hop and would measure the nearest proxy, not the service.
"""
import numba
import numpy as np

from dpiaas.dpi import bytescan
from dpiaas.dpi import latency
from dpiaas.dpi import metrics as m
from dpiaas.dpi.dissectors import textproto as tp

_SALT = np.uint64(0x5151515151515151)


@numba.njit(cache=True, inline='always', _nrt=False)
def count_message(cnt, row, kind, detail):
    """Count one SIP start line; False if it is not a valid one."""
    if kind == tp.LINE_SIP_REQUEST:
        k = m.SIP_REQ_OTHER if detail < 0 else detail
        cnt[row, m.SIP_BASE + k] += 1
        return True
    cls = detail // 100
    if 1 <= cls <= 6:
        cnt[row, m.SIP_BASE + m.SIP_RESP_1XX + cls - 1] += 1
        return True
    cnt[row, m.SIP_BASE + m.SIP_MALFORMED] += 1
    return False


@numba.njit(cache=True, inline='always', _nrt=False)
def transaction(pend, lat, latn, rng, slot, kind, detail, h_callid, h_cseq,
                ts, timeout_ns):
    """Latency bookkeeping for a counted SIP message."""
    if h_callid == 0 or h_cseq == 0:
        return
    key = np.int64(np.uint64(h_callid) ^ (np.uint64(h_cseq) * _SALT))
    if kind == tp.LINE_SIP_REQUEST:
        if detail != m.SIP_REQ_ACK:
            latency.pending_put(pend, key, ts)
    elif detail >= 200:
        dt = latency.pending_take(pend, key, ts, timeout_ns)
        if dt >= 0:
            latency.add_sample(lat, latn, slot, dt / 1e6, rng)


@numba.njit(cache=True, _nrt=False)
def datagram(a, s, e, cnt, row, ts, pend, lat, latn, rng,
             timeout_ns):
    """Decode one SIP message carried in a UDP datagram a[s:e]."""
    # RFC 5626 keep-alives (CRLF / CRLFCRLF) are not messages.
    p = s
    while p < e and (a[p] == 13 or a[p] == 10):
        p += 1
    if p >= e:
        return
    nl = bytescan.find_byte(a, p, e, 10)
    kind, detail = tp.classify_start_line(a, p, nl)
    if kind == tp.LINE_SIP_REQUEST or kind == tp.LINE_SIP_RESPONSE:
        if not count_message(cnt, row, kind, detail):
            return
    elif kind == tp.LINE_HTTP_REQUEST or kind == tp.LINE_HTTP_RESPONSE:
        # not SIP by its bytes: counted as what it is
        from_http_datagram(cnt, row, kind, detail)
        return
    else:
        cnt[row, m.SIP_BASE + m.SIP_MALFORMED] += 1
        return
    if (kind == tp.LINE_SIP_REQUEST and detail == m.SIP_REQ_ACK) or (
            kind == tp.LINE_SIP_RESPONSE and detail < 200):
        return           # neither opens nor closes a transaction
    h1 = np.uint64(0)
    h2 = np.uint64(0)
    q = nl + 1
    while q < e:
        le = bytescan.find_byte(a, q, e, 10)
        ls = q
        lend = le
        if lend > ls and a[lend - 1] == 13:
            lend -= 1
        if lend == ls:
            break
        hid, v = tp.header_of(a, ls, lend, True)
        if hid == tp.H_CALL_ID:
            h1 = tp.hash_bytes(np.uint64(0xCBF29CE484222325), a, v, lend)
        elif hid == tp.H_CSEQ:
            h2 = tp.cseq_hash(a, v, lend)
        if h1 != 0 and h2 != 0:
            break        # nothing else in a datagram is needed
        q = le + 1
    transaction(pend, lat, latn, rng, row * m.LAT_SLOTS_PER_ROW + m.APP_SIP,
                kind, detail, np.int64(h1), np.int64(h2), ts, timeout_ns)


@numba.njit(cache=True, inline='always', _nrt=False)
def from_http_datagram(cnt, row, kind, detail):
    if kind == tp.LINE_HTTP_REQUEST:
        k = m.HTTP_REQ_OTHER if detail < 0 else detail
        cnt[row, m.HTTP_BASE + k] += 1
    else:
        cls = detail // 100
        if 1 <= cls <= 5:
            cnt[row, m.HTTP_BASE + m.HTTP_RESP_1XX + cls - 1] += 1
        else:
            cnt[row, m.HTTP_BASE + m.HTTP_MALFORMED] += 1
