"""The metric layout: one row of counters per service, names per DESIGN 4.2.

Counters of a collector live in one ``int64[rows, NCOLS]`` array: a row per
service key ``(app, port)`` and a column per counter. Every row has the
columns of every application so that a message whose port says one protocol
but whose bytes say another (HTTP on the SIP port) is counted by what it is,
under its own application's name (``http.5060.requests.get``).
"""
import numpy as np

APP_GENERIC = 0
APP_SIP = 1
APP_HTTP = 2
APP_DNS = 3
APP_NAMES = ('generic', 'sip', 'http', 'dns')
APP_IDS = {name: i for i, name in enumerate(APP_NAMES)}

COMMON = ('packets_in', 'packets_out', 'bytes_in', 'bytes_out')
SIP = ('requests.register', 'requests.invite', 'requests.ack',
       'requests.bye', 'requests.options', 'requests.other',
       'responses.1xx', 'responses.2xx', 'responses.3xx', 'responses.4xx',
       'responses.5xx', 'responses.6xx', 'malformed')
HTTP = ('requests.get', 'requests.post', 'requests.put', 'requests.delete',
        'requests.other', 'responses.1xx', 'responses.2xx', 'responses.3xx',
        'responses.4xx', 'responses.5xx', 'malformed')
DNS = ('queries', 'responses.noerror', 'responses.nxdomain',
       'responses.servfail', 'responses.refused', 'responses.other',
       'malformed')
LATENCY = ('latency_ms.p50', 'latency_ms.p95')

C_PKT_IN = 0
C_PKT_OUT = 1
C_BYTES_IN = 2
C_BYTES_OUT = 3
SIP_BASE = len(COMMON)
HTTP_BASE = SIP_BASE + len(SIP)
DNS_BASE = HTTP_BASE + len(HTTP)
NCOLS = DNS_BASE + len(DNS)

# Offsets inside an application's block.
SIP_REQ_REGISTER = 0
SIP_REQ_INVITE = 1
SIP_REQ_ACK = 2
SIP_REQ_BYE = 3
SIP_REQ_OPTIONS = 4
SIP_REQ_OTHER = 5
SIP_RESP_1XX = 6
SIP_MALFORMED = 12
HTTP_REQ_GET = 0
HTTP_REQ_POST = 1
HTTP_REQ_PUT = 2
HTTP_REQ_DELETE = 3
HTTP_REQ_OTHER = 4
HTTP_RESP_1XX = 5
HTTP_MALFORMED = 10
DNS_QUERIES = 0
DNS_NOERROR = 1
DNS_NXDOMAIN = 2
DNS_SERVFAIL = 3
DNS_REFUSED = 4
DNS_OTHER = 5
DNS_MALFORMED = 6

APP_BLOCKS = ((APP_SIP, SIP_BASE, SIP), (APP_HTTP, HTTP_BASE, HTTP),
              (APP_DNS, DNS_BASE, DNS))
# Latency samples: one slot per (row, app).
LAT_SLOTS_PER_ROW = len(APP_NAMES)


def app_metric_names(app):
    """Every metric suffix an application's service reports."""
    extra = {'sip': SIP + LATENCY, 'http': HTTP + LATENCY,
             'dns': DNS + LATENCY}.get(app, ())
    return COMMON + extra


def all_metric_suffixes():
    """All suffixes any service may report (for validating names)."""
    return frozenset(COMMON + SIP + HTTP + DNS + LATENCY)


class RowNames:
    """Column index -> full metric name for each row (built once per spec)."""

    def __init__(self, row_keys):
        self.row_keys = list(row_keys)     # [(app, port_label)]
        self.names = []
        for app, port in self.row_keys:
            cols = ['%s.%s.%s' % (app, port, m) for m in COMMON]
            for app_id, base, block in APP_BLOCKS:
                prefix = '%s.%s.' % (APP_NAMES[app_id], port)
                cols.extend(prefix + m for m in block)
            self.names.append(cols)
        self.declared = np.zeros((len(self.row_keys), NCOLS), dtype=bool)
        for r, (app, _) in enumerate(self.row_keys):
            self.declared[r, :len(COMMON)] = True
            for app_id, base, block in APP_BLOCKS:
                if APP_NAMES[app_id] == app:
                    self.declared[r, base:base + len(block)] = True
