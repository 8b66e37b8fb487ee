"""Client side of the agent -> engine and API -> engine RPC APIs.

``EngineAPI`` reaches any engine on ``Target(topic='dpiaas-engine')``
(storage is shared, so whichever answers is right); the agent uses it for
its samples, flow reports, heartbeats and collector statuses.
``EngineControlAPI`` is what the API sends on ``dpiaas-engine-control``
after a monitor changes (a fanout: every engine hears it, the monitor's
owner acts). ``EnginePeerAPI`` is one engine handing another the samples
of a monitor that the other owns.

The reports the agent buffers (samples, flow reports, collector statuses)
are published *mandatory* (``at_least_once``): a cast that the broker
cannot route to any queue -- the engines' queue not declared yet after a
broker restart -- raises ``MessageUndeliverable`` instead of vanishing,
and the agent keeps the batch and sends it again.

API version history:

* 1.0 - report_samples, report_flows, report_state, collector_status
  (casts); get_desired (call). Control: monitor_changed (cast).
* 1.1 - score_samples (cast, engine to engine, ``server=`` the owner);
  monitor_changed is sent as a fanout.
* 1.2 - report_samples and score_samples take ``compact`` (metric names
  once per batch, values as lists: :func:`compact_samples`) instead of
  ``samples``: a batch of 1,000 intervals is a quarter of the bytes and
  of the JSON decoding. An engine still takes ``samples`` (dicts). The
  agent sends ``compact`` once an engine answered its ``get_desired``
  at 1.2 (an older engine refuses that call, and a cast it refused would
  be lost without a word), and never when capped below 1.2; engines
  still forward to each other as dicts (1.1).
* 1.3 - report_samples takes ``packed`` (:func:`packed_samples`): the
  compact form with every value of the batch in one base64 string of
  float64, the bytes storage keeps. Decoding 25,000 numbers from JSON
  was the biggest single cost of an engine at 5,000 monitors (a third of
  its CPU, in the one thread that reads the broker); a base64 string is
  decoded in a fraction of a millisecond. The agent sends ``packed``
  once an engine answered its ``get_desired`` at 1.3, a batch with a
  value that is not a number (None) ``compact``.
* 1.4 - score_samples takes ``packed`` too. Engines forward (N-1)/N of
  what they receive when N share the ring (``[engine] workers``), and
  as 1.1 dicts that was decoded twice, the second time from JSON. An
  engine sends ``packed`` to a peer that advertises 1.4 or later in its
  coordination membership (``Coordinator.rpc_version``), dicts (1.1) to
  any other: during a rolling upgrade a cast the peer refused would be
  lost without a word.
"""
import base64
import struct

import oslo_messaging as messaging

from dpiaas.rpc import transport as rpc_transport

TOPIC = 'dpiaas-engine'
CONTROL_TOPIC = 'dpiaas-engine-control'
RPC_API_VERSION = '1.4'


def compact_samples(samples):
    """Samples (dicts, or rows with ``names`` and ``values`` as the
    engine keeps them) as RPC 1.2's compact form: each distinct list of
    metric names once per batch (collectors with the same services share
    it), then one row per interval with its values in that order::

        {'names': [['sip.5060.requests.register', ...], ...],
         'rows': [[collector_id, monitor_id, ts, interval_ms,
                   index into names, [3, 0, 9, ...]], ...]}

    Rows keep the order of ``samples``.
    """
    index, names_out, rows = {}, [], []
    for s in samples:
        names = getattr(s, 'names', None)
        if names is None:      # a dict sample
            metrics = s['metrics']
            names = tuple(metrics)
            row = [s['collector_id'], s['monitor_id'], s['ts'],
                   s.get('interval_ms'), None, list(metrics.values())]
        else:                  # a row (dpiaas.engine.ingest.Sample)
            row = [s.collector_id, s.monitor_id, s.ts, s.interval_ms, None,
                   list(s.values)]
        i = index.get(names)
        if i is None:
            i = index[names] = len(names_out)
            names_out.append(list(names))
        row[4] = i
        rows.append(row)
    return {'names': names_out, 'rows': rows}


_STRUCTS = {}


def _struct(n):
    st = _STRUCTS.get(n)
    if st is None:
        st = _STRUCTS.setdefault(n, struct.Struct('<%dd' % n))
    return st


def packed_samples(samples):
    """Samples as RPC 1.3's packed form, or None if a value is not a
    number (such a batch goes :func:`compact_samples`)::

        {'names': [[...], ...],
         'rows': [[collector_id, monitor_id, ts, interval_ms,
                   index into names], ...],
         'values': base64 of every row's values, float64 little-endian,
                   row after row (a row has as many as its names)}
    """
    compact = compact_samples(samples)
    widths = [len(n) for n in compact['names']]
    blobs = []
    try:
        for row in compact['rows']:
            values = row.pop()
            if len(values) != widths[row[4]]:
                return None
            blobs.append(_struct(len(values)).pack(*values))
    except struct.error:
        return None
    compact['values'] = base64.b64encode(b''.join(blobs)).decode('ascii')
    return compact


def _unsupported(exc):
    """An engine older than the version asked refused the call."""
    return (isinstance(exc, messaging.UnsupportedVersion)
            or getattr(exc, 'exc_type', None) == 'UnsupportedVersion')


class EngineAPI:
    """The agent's voice: every method takes the agent's ``host`` first.

    ``retry`` bounds how often one cast retries a lost connection (None:
    forever, as oslo.messaging does by default). The agent passes a small
    number so that a dead broker raises MessageDeliveryFailure instead of
    blocking its reporter, and keeps the batch for later.
    """

    def __init__(self, transport, topic=TOPIC, version_cap=None,
                 timeout=None, retry=None):
        target = messaging.Target(topic=topic, version=RPC_API_VERSION)
        # do the engines take 1.2's compact samples? None: not known yet
        # (dicts, which every engine takes); learned by get_desired
        self.compact = None
        # ... and 1.3's packed ones?
        self.packed = None
        self.client = rpc_transport.get_rpc_client(
            transport, target, version_cap=version_cap, timeout=timeout,
            retry=retry)
        # what the agent buffers goes mandatory (see the module docstring)
        self.reports = rpc_transport.get_rpc_client(
            transport, target, version_cap=version_cap, timeout=timeout,
            retry=retry,
            transport_options=messaging.TransportOptions(at_least_once=True))

    def can_send_version(self, version):
        return self.client.can_send_version(version)

    def _cast(self, ctxt, method, client=None, version='1.0', **kwargs):
        (client or self.client).prepare(version=version).cast(
            ctxt, method, **kwargs)

    def report_samples(self, ctxt, host, samples):
        """``samples``: dicts (control-plane.rst); sent compact (1.2)
        once an engine answered ``get_desired`` at 1.2, packed (1.3) once
        one answered at 1.3, unless the version cap is below."""
        if self.packed and self.reports.can_send_version('1.3'):
            packed = packed_samples(samples)
            if packed is not None:
                self._cast(ctxt, 'report_samples', self.reports,
                           version='1.3', host=host, packed=packed)
                return
        if self.compact and self.reports.can_send_version('1.2'):
            self._cast(ctxt, 'report_samples', self.reports, version='1.2',
                       host=host, compact=compact_samples(samples))
        else:
            self._cast(ctxt, 'report_samples', self.reports, host=host,
                       samples=samples)

    def report_flows(self, ctxt, host, reports):
        self._cast(ctxt, 'report_flows', self.reports, host=host,
                   reports=reports)

    def report_state(self, ctxt, host, state):
        # a lost heartbeat is repaired by the next one
        self._cast(ctxt, 'report_state', host=host, state=state)

    def collector_status(self, ctxt, host, collector_id, status,
                         reason=None):
        self._cast(ctxt, 'collector_status', self.reports, host=host,
                   collector_id=collector_id, status=status, reason=reason)

    def get_desired(self, ctxt, host, timeout=None):
        """The collectors ``host`` should run (raises MessagingTimeout
        when no engine answers)."""
        kwargs = {} if timeout is None else {'timeout': timeout}
        # asked at the newest version first: an older engine refuses, and
        # the samples go in the form it takes (a cast that an engine
        # refuses is lost silently)
        for version, form in (('1.3', 'packed'), ('1.2', 'compact')):
            if getattr(self, form) is False or \
                    not self.client.can_send_version(version):
                continue
            try:
                desired = self.client.prepare(
                    version=version, **kwargs).call(
                        ctxt, 'get_desired', host=host)
            except Exception as exc:
                if not _unsupported(exc):
                    raise
                setattr(self, form, False)
            else:
                self.compact = True
                if version == '1.3':
                    self.packed = True
                return desired
        return self.client.prepare(version='1.0', **kwargs).call(
            ctxt, 'get_desired', host=host)


class EngineControlAPI:
    """The API's nudge: reconcile this monitor now, not at the next pass."""

    def __init__(self, transport, topic=CONTROL_TOPIC, version_cap=None):
        target = messaging.Target(topic=topic, version=RPC_API_VERSION)
        self.client = rpc_transport.get_rpc_client(
            transport, target, version_cap=version_cap)

    def can_send_version(self, version):
        return self.client.can_send_version(version)

    def monitor_changed(self, ctxt, monitor_id):
        """Every engine hears it (fanout); the monitor's owner acts. An
        engine older than 1.1 is reached the 1.0 way (one of them)."""
        if self.client.can_send_version('1.1'):
            cctxt = self.client.prepare(version='1.1', fanout=True)
        else:
            cctxt = self.client.prepare(version='1.0')
        cctxt.cast(ctxt, 'monitor_changed', monitor_id=monitor_id)


class EnginePeerAPI:
    """One engine to another, on ``dpiaas-engine`` with ``server=`` the
    other engine's host.

    ``retry`` is small: forwarding runs in the ingest thread, which must
    not hang on a dead broker (the samples are stored anyway; only their
    scoring is lost).
    """

    def __init__(self, transport, topic=TOPIC, version_cap=None, retry=1):
        target = messaging.Target(topic=topic, version=RPC_API_VERSION)
        self.client = rpc_transport.get_rpc_client(
            transport, target, version_cap=version_cap, retry=retry)

    def can_send_version(self, version):
        return self.client.can_send_version(version)

    def score_samples(self, ctxt, owner, samples, packed=False):
        """Hand ``samples`` (already stored; dicts or rows) to the engine
        ``owner`` for scoring.

        ``packed`` (1.4) when the caller knows ``owner`` takes it (its
        advertised RPC version), else 1.1 dicts, which every engine of a
        ring being upgraded one by one takes. A batch with a value that
        is not a number goes as dicts too.
        """
        if packed and self.client.can_send_version('1.4'):
            form = packed_samples(samples)
            if form is not None:
                self.client.prepare(version='1.4', server=owner).cast(
                    ctxt, 'score_samples', packed=form)
                return
        self.client.prepare(version='1.1', server=owner).cast(
            ctxt, 'score_samples', samples=[
                s.to_dict() if hasattr(s, 'to_dict') else s
                for s in samples])
