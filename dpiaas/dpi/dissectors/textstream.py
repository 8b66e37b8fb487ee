"""SIP and HTTP over TCP: message framing on an in-order byte stream.

A per-direction state machine (start line, headers, body by
Content-Length, chunked body, body until close) finds every message of a
connection however the sender cut it into segments: pipelined requests in
one segment, a header split across two, a 1 MB body that must be skipped
without being mistaken for messages. Only lines are ever copied (into the
connection's small line buffer, and only when a line straddles segments);
bodies are skipped by arithmetic. A message is counted when its header is
complete: that is when its class is known and its latency measurable.
"""
import numba
import numpy as np

from dpiaas.dpi import bytescan
from dpiaas.dpi import latency
from dpiaas.dpi import metrics as m
from dpiaas.dpi import streams as sm
from dpiaas.dpi.dissectors import dns
from dpiaas.dpi.dissectors import sip
from dpiaas.dpi.dissectors import textproto as tp

F_CHUNKED = 1
F_HAS_CL = 2
F_BAD_CL = 4


@numba.njit(cache=True, _nrt=False)
def _malformed(cnt, row, app):
    if app == m.APP_HTTP:
        cnt[row, m.HTTP_BASE + m.HTTP_MALFORMED] += 1
    elif app == m.APP_SIP:
        cnt[row, m.SIP_BASE + m.SIP_MALFORMED] += 1


@numba.njit(cache=True, _nrt=False)
def _looks_like_start(a, s, e):
    """Does a[s:e] begin with something a start line begins with?"""
    nl = bytescan.find_byte(a, s, e, 10)
    if nl < e:
        kind, _ = tp.classify_start_line(a, s, nl)
        return kind != tp.LINE_NONE
    # the line continues in a later segment: judge by its first token
    if tp.starts_with(a, s, e, tp._SIP20) or tp.starts_with(a, s, e,
                                                            tp._HTTP):
        return True
    # a method: an upper-case token and a space (SIP allows any token)
    n, v = tp.token_key(a, s, e)
    if n < 3 or n > 20 or s + n >= e:
        return False
    for k in range(s, s + n):
        c = a[k]
        if not (65 <= c <= 90 or c == 45 or c == 95):
            return False
    return True


@numba.njit(cache=True, _nrt=False)
def _end_of_headers(st, slot, d, b, ts, cnt, row, pend, lat, latn, rng,
                    timeout_ns):
    """Count the message whose header just ended and choose its body."""
    kind = st[slot, b + sm.D_KIND]
    detail = st[slot, b + sm.D_DETAIL]
    flags = st[slot, b + sm.D_FLAGS]
    cl = st[slot, b + sm.D_CL]
    mode = sm.M_START
    remain = 0
    if kind == tp.LINE_SIP_REQUEST or kind == tp.LINE_SIP_RESPONSE:
        if sip.count_message(cnt, row, kind, detail):
            sip.transaction(pend, lat, latn, rng,
                            row * m.LAT_SLOTS_PER_ROW + m.APP_SIP, kind,
                            detail, st[slot, b + sm.D_H1],
                            st[slot, b + sm.D_H2], ts, timeout_ns)
        if (flags & F_HAS_CL) != 0 and cl > 0:
            mode = sm.M_BODY
            remain = cl
    elif kind == tp.LINE_HTTP_REQUEST:
        k = m.HTTP_REQ_OTHER if detail < 0 else detail
        cnt[row, m.HTTP_BASE + k] += 1
        qlen = st[slot, sm.S_QLEN]
        if qlen < sm.HTTP_QUEUE:
            pos = (st[slot, sm.S_QHEAD] + qlen) % sm.HTTP_QUEUE
            st[slot, sm.S_Q0 + pos] = ts
            bit = np.int64(1) << pos
            if st[slot, b + sm.D_H1] == 1:       # HEAD
                st[slot, sm.S_QHEADS] |= bit
            else:
                st[slot, sm.S_QHEADS] &= ~bit
            if st[slot, b + sm.D_H1] == 2:       # CONNECT
                st[slot, sm.S_QCONNECT] |= bit
            else:
                st[slot, sm.S_QCONNECT] &= ~bit
            st[slot, sm.S_QLEN] = qlen + 1
        if (flags & F_CHUNKED) != 0:
            mode = sm.M_CHUNK_SIZE
        elif (flags & F_HAS_CL) != 0 and cl > 0:
            mode = sm.M_BODY
            remain = cl
    else:  # HTTP response
        cls = detail // 100
        if 1 <= cls <= 5:
            cnt[row, m.HTTP_BASE + m.HTTP_RESP_1XX + cls - 1] += 1
        else:
            cnt[row, m.HTTP_BASE + m.HTTP_MALFORMED] += 1
        head = False
        connect = False
        if cls != 1 or detail == 101:
            qlen = st[slot, sm.S_QLEN]
            if qlen > 0:
                pos = st[slot, sm.S_QHEAD]
                bit = np.int64(1) << pos
                head = (st[slot, sm.S_QHEADS] & bit) != 0
                connect = (st[slot, sm.S_QCONNECT] & bit) != 0
                dt = ts - st[slot, sm.S_Q0 + pos]
                st[slot, sm.S_QHEAD] = (pos + 1) % sm.HTTP_QUEUE
                st[slot, sm.S_QLEN] = qlen - 1
                if 0 <= dt <= timeout_ns:
                    latency.add_sample(
                        lat, latn, row * m.LAT_SLOTS_PER_ROW + m.APP_HTTP,
                        dt / 1e6, rng)
        if detail == 101 or (connect and cls == 2):
            # the connection now carries another protocol, both ways
            mode = sm.M_UNTIL_CLOSE
            st[slot, sm.S_DIR0 + (1 - d) * sm.D_SIZE + sm.D_MODE] = \
                sm.M_UNTIL_CLOSE
        elif cls == 1 or detail == 204 or detail == 304 or head:
            mode = sm.M_START
        elif (flags & F_CHUNKED) != 0:
            mode = sm.M_CHUNK_SIZE
        elif (flags & F_HAS_CL) != 0:
            if cl > 0:
                mode = sm.M_BODY
                remain = cl
        else:
            mode = sm.M_UNTIL_CLOSE
    st[slot, b + sm.D_MODE] = mode
    st[slot, b + sm.D_REMAIN] = remain


@numba.njit(cache=True, _nrt=False)
def _line(st, slot, d, b, a, s, e, ts, cnt, row, app, pend, lat, latn, rng,
          timeout_ns):
    """Act on one complete line a[s:e] (CR/LF excluded)."""
    mode = st[slot, b + sm.D_MODE]
    if mode == sm.M_START:
        if e == s:
            return                       # CRLF between messages
        kind, detail = tp.classify_start_line(a, s, e)
        if kind == tp.LINE_NONE:
            _malformed(cnt, row, app)
            st[slot, b + sm.D_MODE] = sm.M_LOST
            return
        st[slot, b + sm.D_KIND] = kind
        st[slot, b + sm.D_DETAIL] = detail
        st[slot, b + sm.D_FLAGS] = 0
        st[slot, b + sm.D_CL] = 0
        st[slot, b + sm.D_H1] = 0
        st[slot, b + sm.D_H2] = 0
        if kind == tp.LINE_HTTP_REQUEST:
            n, v = tp.token_key(a, s, e)
            if tp.find_method(tp.HTTP_HEAD, n, v) == 0:
                st[slot, b + sm.D_H1] = 1
            elif tp.find_method(tp.HTTP_CONNECT, n, v) == 0:
                st[slot, b + sm.D_H1] = 2
        st[slot, b + sm.D_MODE] = sm.M_HEADERS
    elif mode == sm.M_HEADERS:
        if e == s:
            _end_of_headers(st, slot, d, b, ts, cnt, row, pend, lat, latn,
                            rng, timeout_ns)
            return
        kind = st[slot, b + sm.D_KIND]
        is_sip = kind == tp.LINE_SIP_REQUEST or kind == tp.LINE_SIP_RESPONSE
        hid, v = tp.header_of(a, s, e, is_sip)
        if hid == tp.H_CONTENT_LENGTH:
            cl = tp.parse_uint(a, v, e)
            if cl < 0:
                st[slot, b + sm.D_FLAGS] |= F_BAD_CL
            else:
                st[slot, b + sm.D_FLAGS] |= F_HAS_CL
                st[slot, b + sm.D_CL] = cl
        elif hid == tp.H_TRANSFER_ENCODING:
            if tp.is_chunked(a, v, e):
                st[slot, b + sm.D_FLAGS] |= F_CHUNKED
        elif hid == tp.H_CALL_ID:
            st[slot, b + sm.D_H1] = np.int64(tp.hash_bytes(
                np.uint64(0xCBF29CE484222325), a, v, e))
        elif hid == tp.H_CSEQ:
            st[slot, b + sm.D_H2] = np.int64(tp.cseq_hash(a, v, e))
    elif mode == sm.M_CHUNK_SIZE:
        size = np.int64(0)
        nd = 0
        k = s
        while k < e:
            c = a[k]
            if 48 <= c <= 57:
                size = size * 16 + (c - 48)
            elif 97 <= c <= 102:
                size = size * 16 + (c - 87)
            elif 65 <= c <= 70:
                size = size * 16 + (c - 55)
            else:
                break
            nd += 1
            if size > (np.int64(1) << 40):
                nd = 0
                break
            k += 1
        if nd == 0:
            _malformed(cnt, row, app)
            st[slot, b + sm.D_MODE] = sm.M_LOST
        elif size == 0:
            st[slot, b + sm.D_MODE] = sm.M_TRAILER
        else:
            st[slot, b + sm.D_MODE] = sm.M_CHUNK_DATA
            st[slot, b + sm.D_REMAIN] = size + 2
    elif mode == sm.M_TRAILER:
        if e == s:
            st[slot, b + sm.D_MODE] = sm.M_START


@numba.njit(cache=True, inline='always', _nrt=False)
def _append(line, llen, a, s, e):
    """Append a[s:e] to a straddling line; return its new length.

    A line longer than the buffer keeps its head and, in the last
    ``LINE_TAIL`` bytes, its tail: enough for a start line's method, status
    or trailing `` SIP/2.0`` and for any header name.
    """
    cap = sm.LINE_BUF
    k = s
    while k < e and llen < cap:
        line[llen] = a[k]
        llen += 1
        k += 1
    if k < e:
        keep = cap - sm.LINE_TAIL
        for j in range(max(k, e - sm.LINE_TAIL), e):
            for t in range(keep, cap - 1):
                line[t] = line[t + 1]
            line[cap - 1] = a[j]
        llen += e - k
    return llen


@numba.njit(cache=True, _nrt=False)
def feed(st, lb, slot, d, a, s, e, gap, ts, cnt, row, app, pend, lat, latn,
         rng, timeout_ns):
    """Consume the new in-order bytes a[s:e] of direction ``d``.

    ``gap`` bytes were lost just before them (0 normally, -1 when the
    connection was picked up mid-way: then bytes that do not start a
    message are skipped silently rather than counted malformed).
    """
    b = sm.S_DIR0 + d * sm.D_SIZE
    mode = st[slot, b + sm.D_MODE]
    if gap < 0:
        st[slot, b + sm.D_MODE] = sm.M_LOST
    elif gap > 0:
        if (mode == sm.M_BODY or mode == sm.M_CHUNK_DATA) \
                and gap < st[slot, b + sm.D_REMAIN]:
            st[slot, b + sm.D_REMAIN] -= gap
        elif mode != sm.M_UNTIL_CLOSE:
            st[slot, b + sm.D_MODE] = sm.M_LOST
            st[slot, b + sm.D_LLEN] = 0
    if st[slot, b + sm.D_MODE] == sm.M_LOST:
        if e > s and _looks_like_start(a, s, e):
            st[slot, b + sm.D_MODE] = sm.M_START
            st[slot, b + sm.D_LLEN] = 0
        else:
            return
    if st[slot, b + sm.D_MODE] == sm.M_START and st[slot, b + sm.D_LLEN] == 0:
        # A message must start here: bytes that cannot start one are
        # not SIP/HTTP at all (e.g. TLS on the port) and are skipped.
        p = s
        while p < e and (a[p] == 13 or a[p] == 10):
            p += 1
        if p < e and not _looks_like_start(a, p, e):
            _malformed(cnt, row, app)
            st[slot, b + sm.D_MODE] = sm.M_LOST
            return
    line = lb[slot, d]
    p = s
    while p < e:
        mode = st[slot, b + sm.D_MODE]
        if mode == sm.M_BODY or mode == sm.M_CHUNK_DATA:
            rem = st[slot, b + sm.D_REMAIN]
            take = min(rem, e - p)
            p += take
            rem -= take
            st[slot, b + sm.D_REMAIN] = rem
            if rem == 0:
                st[slot, b + sm.D_MODE] = \
                    sm.M_START if mode == sm.M_BODY else sm.M_CHUNK_SIZE
            continue
        if mode == sm.M_UNTIL_CLOSE or mode == sm.M_LOST:
            return
        # line-oriented modes
        nl = bytescan.find_byte(a, p, e, 10)
        llen = st[slot, b + sm.D_LLEN]
        if nl == e:
            # the line continues in the next segment: keep it
            st[slot, b + sm.D_LLEN] = _append(line, llen, a, p, e)
            return
        if llen == 0:
            le = nl
            if le > p and a[le - 1] == 13:
                le -= 1
            _line(st, slot, d, b, a, p, le, ts, cnt, row, app, pend, lat,
                  latn, rng, timeout_ns)
        else:
            llen = _append(line, llen, a, p, nl)
            le = min(llen, sm.LINE_BUF)
            if le > 0 and line[le - 1] == 13:
                le -= 1
            st[slot, b + sm.D_LLEN] = 0
            _line(st, slot, d, b, line, 0, le, ts, cnt, row, app, pend, lat,
                  latn, rng, timeout_ns)
        p = nl + 1


@numba.njit(cache=True, _nrt=False)
def feed_dns(st, lb, slot, d, a, s, e, gap, ts, cnt, row, fkey, pend, lat,
             latn, rng, timeout_ns):
    """DNS over TCP (RFC 1035 4.2.2): 2-byte length, then the message."""
    b = sm.S_DIR0 + d * sm.D_SIZE
    line = lb[slot, d]
    if gap > 0:
        mode = st[slot, b + sm.D_MODE]
        if mode == sm.M_BODY and gap < st[slot, b + sm.D_REMAIN]:
            st[slot, b + sm.D_REMAIN] -= gap
        else:
            # cannot find the next length prefix again: give up on this
            # direction until the connection is seen anew
            st[slot, b + sm.D_MODE] = sm.M_LOST
    p = s
    while p < e:
        mode = st[slot, b + sm.D_MODE]
        if mode == sm.M_LOST:
            return
        if mode == sm.M_BODY:
            take = min(st[slot, b + sm.D_REMAIN], e - p)
            p += take
            st[slot, b + sm.D_REMAIN] -= take
            if st[slot, b + sm.D_REMAIN] == 0:
                st[slot, b + sm.D_MODE] = sm.M_DNS_LEN
            continue
        need = 2 if mode == sm.M_DNS_LEN else 12
        llen = st[slot, b + sm.D_LLEN]
        while llen < need and p < e:
            line[llen] = a[p]
            llen += 1
            p += 1
        st[slot, b + sm.D_LLEN] = llen
        if llen < need:
            return
        st[slot, b + sm.D_LLEN] = 0
        if mode == sm.M_DNS_LEN:
            mlen = (np.int64(line[0]) << 8) | np.int64(line[1])
            st[slot, b + sm.D_CL] = mlen
            if mlen < 12:
                cnt[row, m.DNS_BASE + m.DNS_MALFORMED] += 1
                st[slot, b + sm.D_MODE] = sm.M_BODY
                st[slot, b + sm.D_REMAIN] = mlen
                if mlen == 0:
                    st[slot, b + sm.D_MODE] = sm.M_DNS_LEN
            else:
                st[slot, b + sm.D_MODE] = sm.M_DNS_HDR
        else:
            dns.message(line, 0, 12, cnt, row, fkey, ts, pend, lat, latn,
                        rng, timeout_ns)
            rest = st[slot, b + sm.D_CL] - 12
            if rest > 0:
                st[slot, b + sm.D_MODE] = sm.M_BODY
                st[slot, b + sm.D_REMAIN] = rest
            else:
                st[slot, b + sm.D_MODE] = sm.M_DNS_LEN
