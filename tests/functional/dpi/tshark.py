"""An independent count of dpiaas's metrics with tshark display fields.

The exactness tests compare ``dpiaas replay`` with this module. It shares no
code with the decoders: Wireshark's dissectors find the messages and this
module only sorts them into the metric names of DESIGN.md 4.2, so that a
bug in dpiaas cannot hide behind the same bug in its reference.

One ``tshark -T fields`` pass prints a line per frame; Python then assigns
each frame to a service, gives it a direction and counts the messages the
dissectors found in it. Wireshark puts a message that spans TCP segments in
the frame that completes it and lists every message of a frame (pipelined
HTTP, several DNS messages in one TCP segment) with ``-E occurrence=a``, so
each message is counted once.

Run as a script to print the reference of one file::

    python -m tests.functional.dpi.tshark FILE --service tcp/80=http
"""
import argparse
import collections
import json
import shutil
import subprocess
import sys

from dpiaas.dpi import spec

COMMON = ('packets_in', 'packets_out', 'bytes_in', 'bytes_out')
SIP_METHODS = ('register', 'invite', 'ack', 'bye', 'options')
HTTP_METHODS = ('get', 'post', 'put', 'delete')
APP_METRICS = {
    'generic': (),
    'sip': tuple('requests.' + m for m in SIP_METHODS + ('other',)) +
    tuple('responses.%dxx' % d for d in range(1, 7)),
    'http': tuple('requests.' + m for m in HTTP_METHODS + ('other',)) +
    tuple('responses.%dxx' % d for d in range(1, 6)),
    'dns': ('queries', 'responses.noerror', 'responses.nxdomain',
            'responses.servfail', 'responses.refused', 'responses.other'),
}
DNS_RCODES = {0: 'noerror', 2: 'servfail', 3: 'nxdomain', 5: 'refused'}

# Wireshark's names for our applications, for "Decode As" (-d).
DISSECTORS = {'sip': 'sip', 'http': 'http', 'dns': 'dns'}

# Preferences that make Wireshark see messages as they are on the wire:
# reassembled across segments (so a split message is one message, found
# where it completes) rather than one guess per segment.
BASE_PREFS = (
    'tcp.desegment_tcp_streams:TRUE',
    'http.desegment_headers:TRUE',
    'http.desegment_body:TRUE',
    'sip.desegment_headers:TRUE',
    'sip.desegment_body:TRUE',
    'dns.desegment_dns_messages:TRUE',
    'ip.defragment:TRUE',
    'ipv6.defragment:TRUE',
)

FIELDS = (
    'frame.number', 'frame.len', 'frame.protocols',
    'ip.src', 'ip.dst', 'ipv6.src', 'ipv6.dst',
    'ip.fragment', 'ipv6.fragment',
    'tcp.srcport', 'tcp.dstport', 'udp.srcport', 'udp.dstport',
    'sip.Method', 'sip.Status-Code',
    'http.request.method', 'http.response.code',
    'dns.flags.response', 'dns.flags.rcode',
)
F = {name: i for i, name in enumerate(FIELDS)}


class TsharkError(RuntimeError):
    """tshark could not read a capture."""


def available():
    """Whether tshark can be run here (tests skip with a reason if not)."""
    return shutil.which('tshark') is not None


def metric_names(services):
    """Every count metric of ``services``, as ``dpiaas replay`` names them.

    Latency percentiles and ``malformed`` are left out on purpose: they are
    not counts of messages Wireshark can see, so there is no independent
    reference for them.
    """
    names = []
    for svc in services:
        for m in COMMON + APP_METRICS[svc.app]:
            name = '%s.%s.%s' % (svc.app, svc.port_label, m)
            if name not in names:
                names.append(name)
    return names


def tshark_argv(path, services, prefs=()):
    """The tshark command line that prints one line of FIELDS per frame."""
    argv = ['tshark', '-n', '-r', str(path), '-T', 'fields',
            '-E', 'occurrence=a', '-E', 'aggregator=,', '-E', 'header=n',
            '-E', 'separator=/t']
    for pref in BASE_PREFS + tuple(prefs):
        argv += ['-o', pref]
    seen = set()
    for svc in services:
        dissector = DISSECTORS.get(svc.app)
        if dissector is None or svc.port_min != svc.port_max:
            continue
        decode = '%s.port==%d,%s' % (svc.l4, svc.port_min, dissector)
        if decode not in seen:
            seen.add(decode)
            argv += ['-d', decode]
    for field in FIELDS:
        argv += ['-e', field]
    return argv


def frames(path, services, prefs=()):
    """Yield the FIELDS of every frame as a list of strings."""
    argv = tshark_argv(path, services, prefs)
    proc = subprocess.run(argv, capture_output=True, text=True,
                          errors='replace', timeout=600)
    if proc.returncode != 0:
        raise TsharkError('%s: tshark failed (%d): %s'
                          % (path, proc.returncode, proc.stderr.strip()))
    for line in proc.stdout.splitlines():
        cols = line.split('\t')
        cols += [''] * (len(FIELDS) - len(cols))
        yield cols


def _values(col):
    return [v for v in col.split(',') if v != ''] if col else []


def _first(col):
    values = _values(col)
    return values[0] if values else None


def _transport(cols):
    """The outermost transport of a frame: ``(l4, sport, dport)`` or None.

    A frame whose first transport is ICMP (an error quoting a UDP header)
    carries no message of a service, although Wireshark dissects the quoted
    ports and even the quoted DNS header.
    """
    for proto in cols[F['frame.protocols']].split(':'):
        if proto in ('tcp', 'udp'):
            sport = _first(cols[F[proto + '.srcport']])
            dport = _first(cols[F[proto + '.dstport']])
            if sport is None or dport is None:
                return None
            return proto, int(sport), int(dport)
        if proto in ('icmp', 'icmpv6'):
            return None
    return None


def _addresses(cols):
    src = _first(cols[F['ip.src']]) or _first(cols[F['ipv6.src']])
    dst = _first(cols[F['ip.dst']]) or _first(cols[F['ipv6.dst']])
    return src, dst


def classify(services, l4, sport, dport, src, dst, vm_ips=()):
    """Which service a packet belongs to and its direction, or None.

    With the VM's addresses known, ``in`` means sent to the VM and the
    service port is the VM's own (offered) or its peer's (consumed).
    Without them (third-party captures), the VM is the end whose port is an
    offered service, or whose peer's port is a consumed one; a packet whose
    both ports qualify (SIP from 5060 to 5060) is taken as ``in``.
    """
    def match(svc, port):
        return svc.l4 == l4 and svc.port_min <= port <= svc.port_max

    if vm_ips:
        if dst in vm_ips:
            direction, vm_port, peer_port = 'in', dport, sport
        elif src in vm_ips:
            direction, vm_port, peer_port = 'out', sport, dport
        else:
            return None
        for svc in services:
            port = vm_port if svc.role == spec.ROLE_OFFERED else peer_port
            if match(svc, port):
                return svc, direction
        return None
    for direction, offered_port, consumed_port in (('in', dport, sport),
                                                   ('out', sport, dport)):
        for svc in services:
            port = (offered_port if svc.role == spec.ROLE_OFFERED
                    else consumed_port)
            if match(svc, port):
                return svc, direction
    return None


def _count_messages(counts, prefix, cols):
    """Add the messages Wireshark found in one frame under ``prefix``."""
    sip_methods = _values(cols[F['sip.Method']])
    sip_codes = _values(cols[F['sip.Status-Code']])
    http_methods = _values(cols[F['http.request.method']])
    http_codes = _values(cols[F['http.response.code']])
    dns_flags = _values(cols[F['dns.flags.response']])
    dns_rcodes = _values(cols[F['dns.flags.rcode']])
    port = prefix.split('.', 1)[1]
    for method in sip_methods:
        kind = method.lower() if method in (
            m.upper() for m in SIP_METHODS) else 'other'
        counts['sip.%s.requests.%s' % (port, kind)] += 1
    for code in sip_codes:
        _count_status(counts, 'sip.%s' % port, code, 1, 6)
    for method in http_methods:
        kind = method.lower() if method in (
            m.upper() for m in HTTP_METHODS) else 'other'
        counts['http.%s.requests.%s' % (port, kind)] += 1
    for code in http_codes:
        _count_status(counts, 'http.%s' % port, code, 1, 5)
    for flag in dns_flags:
        if flag in ('0', 'False'):
            counts['dns.%s.queries' % port] += 1
    # Wireshark shows the RCODE of responses only, one per response.
    for rcode in dns_rcodes:
        kind = DNS_RCODES.get(int(rcode, 0), 'other')
        counts['dns.%s.responses.%s' % (port, kind)] += 1


def _count_status(counts, prefix, code, lo, hi):
    try:
        klass = int(code) // 100
    except ValueError:
        return
    if lo <= klass <= hi:
        counts['%s.responses.%dxx' % (prefix, klass)] += 1


def reference(path, services, vm_ips=(), prefs=()):
    """Totals of every count metric of ``services`` over the whole capture.

    ``services`` are :class:`dpiaas.dpi.spec.Service` (or their text form,
    ``udp/5060=sip``); ``vm_ips`` the VM's addresses when known; ``prefs``
    extra Wireshark preferences (``name:value``) for a second opinion.
    Returns ``{metric name: total}`` with every metric present.
    """
    services = [s if isinstance(s, spec.Service) else spec.Service.parse(s)
                for s in services]
    if isinstance(vm_ips, str):
        vm_ips = (vm_ips,)
    vm_ips = tuple(vm_ips)
    counts = collections.Counter({name: 0 for name in metric_names(services)})
    frame_len = {}
    for cols in frames(path, services, prefs):
        number = int(cols[F['frame.number']])
        frame_len[number] = int(cols[F['frame.len']])
        transport = _transport(cols)
        if transport is None:
            continue
        src, dst = _addresses(cols)
        hit = classify(services, *transport, src=src, dst=dst,
                       vm_ips=vm_ips)
        if hit is None:
            continue
        svc, direction = hit
        prefix = '%s.%s' % (svc.app, svc.port_label)
        # A reassembled IP datagram stands for all its fragments.
        pieces = [int(n) for n in (_values(cols[F['ip.fragment']]) or
                                   _values(cols[F['ipv6.fragment']]))]
        pieces = pieces or [number]
        counts['%s.packets_%s' % (prefix, direction)] += len(pieces)
        counts['%s.bytes_%s' % (prefix, direction)] += sum(
            frame_len.get(n, 0) for n in pieces)
        if svc.app != 'generic':
            _count_messages(counts, prefix, cols)
    return dict(counts)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('files', nargs='+')
    parser.add_argument('--service', action='append', required=True)
    parser.add_argument('--vm-ip', action='append', default=[])
    parser.add_argument('-o', dest='prefs', action='append', default=[],
                        help='extra Wireshark preference name:value')
    parser.add_argument('--all', action='store_true',
                        help='also print metrics that are zero')
    args = parser.parse_args(argv)
    total = collections.Counter()
    for path in args.files:
        total.update(reference(path, args.service, args.vm_ip, args.prefs))
    shown = {k: v for k, v in sorted(total.items()) if v or args.all}
    json.dump(shown, sys.stdout, indent=1)
    sys.stdout.write('\n')


if __name__ == '__main__':
    main()
