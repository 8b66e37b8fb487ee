"""Byte-level helpers shared by the text protocols (SIP and HTTP).

Both are "start line, header lines, empty line, body" protocols. These
helpers classify a start line and recognise the few headers the counters
need, on any ``uint8`` array slice: a datagram's payload in place, or a TCP
stream's line buffer.
"""
import numba
import numpy as np

from dpiaas.dpi import bytescan
from dpiaas.dpi import headers as hdr

# What a start line is.
LINE_NONE = 0
LINE_SIP_REQUEST = 1
LINE_SIP_RESPONSE = 2
LINE_HTTP_REQUEST = 3
LINE_HTTP_RESPONSE = 4

# Headers the decoders care about.
H_OTHER = 0
H_CONTENT_LENGTH = 1
H_TRANSFER_ENCODING = 2
H_CALL_ID = 3
H_CSEQ = 4


def _pack(word):
    v = 0
    for ch in word.encode()[:8]:
        v = (v << 8) | ch
    return v


def _method_table(words):
    return np.array([[len(w), _pack(w)] for w in words], dtype=np.int64)


# SIP methods with their own counter, in metrics.SIP order; others -> other.
SIP_METHODS = _method_table(('REGISTER', 'INVITE', 'ACK', 'BYE', 'OPTIONS'))
# HTTP methods with their own counter, in metrics.HTTP order.
HTTP_METHODS = _method_table(('GET', 'POST', 'PUT', 'DELETE'))
HTTP_HEAD = _method_table(('HEAD',))
HTTP_CONNECT = _method_table(('CONNECT',))
# Request methods that make a start line an HTTP request (Wireshark's list
# of methods its HTTP dissector recognises, so counts compare with tshark).
HTTP_KNOWN_METHODS = _method_table((
    'GET', 'POST', 'PUT', 'DELETE', 'HEAD', 'OPTIONS', 'CONNECT', 'TRACE',
    'PATCH', 'LOCK', 'MOVE', 'COPY', 'POLL', 'MKCOL', 'UNLOCK', 'SEARCH',
    'NOTIFY', 'SUBSCRIBE', 'UNSUBSCRIBE', 'PROPFIND', 'PROPPATCH', 'BCOPY',
    'BDELETE', 'BMOVE', 'BPROPFIND', 'BPROPPATCH', 'MKACTIVITY', 'CHECKOUT',
    'MERGE', 'REPORT', 'LABEL', 'MKWORKSPACE', 'ORDERPATCH', 'UPDATE',
    'VERSION-CONTROL', 'BASELINE-CONTROL', 'MKREDIRECTREF',
    'UPDATEREDIRECTREF', 'ACL', 'BIND', 'UNBIND', 'REBIND', 'M-SEARCH',
    'QUERY', 'SSDP', 'ICY', 'BITS_POST', 'CCM_POST', 'RPC_IN_DATA',
    'RPC_OUT_DATA', 'RPC_CONNECT', 'MKCALENDAR', 'PRI', 'NOTIFY'))

_NAME_CONTENT_LENGTH = np.frombuffer(b'content-length', np.uint8)
_NAME_TRANSFER_ENCODING = np.frombuffer(b'transfer-encoding', np.uint8)
_NAME_CALL_ID = np.frombuffer(b'call-id', np.uint8)
_NAME_CSEQ = np.frombuffer(b'cseq', np.uint8)
_CHUNKED = np.frombuffer(b'chunked', np.uint8)
_SIP20 = np.frombuffer(b'SIP/2.0', np.uint8)
_HTTP = np.frombuffer(b'HTTP/', np.uint8)


@numba.njit(cache=True, inline='always', _nrt=False)
def lower(c):
    if 65 <= c <= 90:
        return c + 32
    return c


@numba.njit(cache=True, inline='always', _nrt=False)
def token_key(a, s, e):
    """(length, packed first 8 bytes) of the token at a[s:e] up to a space."""
    n = 0
    v = np.int64(0)
    i = s
    while i < e and a[i] != 32 and a[i] != 9:
        if n < 8:
            v = (v << 8) | np.int64(a[i])
        n += 1
        i += 1
    return n, v


@numba.njit(cache=True, inline='always', _nrt=False)
def find_method(table, n, v):
    """Index of (n, v) in a method table, -1 when absent."""
    for k in range(table.shape[0]):
        if table[k, 0] == n and table[k, 1] == v:
            return k
    return -1


@numba.njit(cache=True, inline='always', _nrt=False)
def starts_with(a, s, e, lit):
    if e - s < lit.shape[0]:
        return False
    for k in range(lit.shape[0]):
        if a[s + k] != lit[k]:
            return False
    return True


@numba.njit(cache=True, inline='always', _nrt=False)
def three_digits(a, s, e):
    """The 3-digit status code at a[s:s+3], -1 when not one."""
    if e - s < 3:
        return -1
    v = 0
    for k in range(3):
        c = a[s + k]
        if c < 48 or c > 57:
            return -1
        v = v * 10 + (c - 48)
    if e - s > 3 and a[s + 3] != 32 and a[s + 3] != 9 and a[s + 3] != 13:
        return -1
    return v


@numba.njit(cache=True, inline='always', _nrt=False)
def classify_start_line(a, s, e):
    """Classify the start line a[s:e] (without CRLF).

    Returns (kind, detail): for requests ``detail`` is the packed method
    token's index in the method table of its protocol (-1: other) and for
    responses the status code.
    """
    while e > s and (a[e - 1] == 13 or a[e - 1] == 32):
        e -= 1
    if starts_with(a, s, e, _SIP20) and e - s > 8 and a[s + 7] == 32:
        code = three_digits(a, s + 8, e)
        if code >= 100:
            return LINE_SIP_RESPONSE, code
        return LINE_NONE, 0
    if starts_with(a, s, e, _HTTP):
        # HTTP/x.y SP code
        j = s + 5
        while j < e and a[j] != 32:
            j += 1
        while j < e and a[j] == 32:
            j += 1
        code = three_digits(a, j, e)
        if code >= 0:
            return LINE_HTTP_RESPONSE, code
        return LINE_NONE, 0
    n, v = token_key(a, s, e)
    if n == 0 or s + n >= e:
        return LINE_NONE, 0
    if e - s > 8 and starts_with(a, e - 7, e, _SIP20) and a[e - 8] == 32:
        # a SIP request: any RFC 3261 token is a method
        for k in range(s, s + n):
            c = a[k]
            if c <= 32 or c >= 127:
                return LINE_NONE, 0
        return LINE_SIP_REQUEST, find_method(SIP_METHODS, n, v)
    if find_method(HTTP_KNOWN_METHODS, n, v) >= 0:
        return LINE_HTTP_REQUEST, find_method(HTTP_METHODS, n, v)
    return LINE_NONE, 0


@numba.njit(cache=True, inline='always', _nrt=False)
def name_is(a, s, e, lit):
    """Case-insensitive match of a header name a[s:e] with ``lit``."""
    if e - s != lit.shape[0]:
        return False
    for k in range(e - s):
        if lower(a[s + k]) != lit[k]:
            return False
    return True


@numba.njit(cache=True, inline='always', _nrt=False)
def header_of(a, s, e, sip):
    """(header id, value start) of the header line a[s:e].

    Most header lines are none of the few the counters need: their first
    byte rules them out before the line is scanned for its colon.
    """
    if s >= e:
        return H_OTHER, e
    first = lower(a[s])
    if first != 99 and first != 116 and not (
            sip and (first == 105 or first == 108)):   # c t (i l)
        return H_OTHER, e
    c = bytescan.find_byte(a, s, e, 58)     # ':'
    if c >= e:
        return H_OTHER, e
    ne = c
    while ne > s and (a[ne - 1] == 32 or a[ne - 1] == 9):
        ne -= 1
    v = c + 1
    while v < e and (a[v] == 32 or a[v] == 9):
        v += 1
    if name_is(a, s, ne, _NAME_CONTENT_LENGTH):
        return H_CONTENT_LENGTH, v
    if sip:
        if ne - s == 1:
            ch = lower(a[s])
            if ch == 108:       # l: compact Content-Length
                return H_CONTENT_LENGTH, v
            if ch == 105:       # i: compact Call-ID
                return H_CALL_ID, v
            return H_OTHER, v
        if name_is(a, s, ne, _NAME_CALL_ID):
            return H_CALL_ID, v
        if name_is(a, s, ne, _NAME_CSEQ):
            return H_CSEQ, v
        return H_OTHER, v
    if name_is(a, s, ne, _NAME_TRANSFER_ENCODING):
        return H_TRANSFER_ENCODING, v
    return H_OTHER, v


@numba.njit(cache=True, inline='always', _nrt=False)
def parse_uint(a, s, e):
    """Decimal number at a[s:e] (leading blanks skipped); -1 if none,
    -2 if absurdly large (treated as malformed by callers)."""
    while s < e and (a[s] == 32 or a[s] == 9):
        s += 1
    v = np.int64(0)
    n = 0
    while s < e and 48 <= a[s] <= 57:
        v = v * 10 + (a[s] - 48)
        n += 1
        if v > (np.int64(1) << 50):
            return -2
        s += 1
    if n == 0:
        return -1
    return v


@numba.njit(cache=True, inline='always', _nrt=False)
def contains_ci(a, s, e, lit):
    m = lit.shape[0]
    for i in range(s, e - m + 1):
        ok = True
        for k in range(m):
            if lower(a[i + k]) != lit[k]:
                ok = False
                break
        if ok:
            return True
    return False


@numba.njit(cache=True, inline='always', _nrt=False)
def is_chunked(a, s, e):
    return contains_ci(a, s, e, _CHUNKED)


@numba.njit(cache=True, inline='always', _nrt=False)
def hash_bytes(h, a, s, e):
    """Fold a[s:e] (trailing blanks trimmed) into hash ``h``."""
    while e > s and (a[e - 1] == 32 or a[e - 1] == 9 or a[e - 1] == 13):
        e -= 1
    for k in range(s, e):
        h = (h ^ np.uint64(a[k])) * np.uint64(0x100000001B3)
    return hdr.mix64(h)


@numba.njit(cache=True, inline='always', _nrt=False)
def cseq_hash(a, s, e):
    """Hash of a CSeq value ``<number> <method>`` with blanks normalised."""
    h = np.uint64(0xCBF29CE484222325)
    i = s
    while i < e and (a[i] == 32 or a[i] == 9):
        i += 1
    while i < e and 48 <= a[i] <= 57:
        h = (h ^ np.uint64(a[i])) * np.uint64(0x100000001B3)
        i += 1
    h = (h ^ np.uint64(32)) * np.uint64(0x100000001B3)
    while i < e and (a[i] == 32 or a[i] == 9):
        i += 1
    while i < e and a[i] > 32:
        h = (h ^ np.uint64(a[i])) * np.uint64(0x100000001B3)
        i += 1
    return hdr.mix64(h)
