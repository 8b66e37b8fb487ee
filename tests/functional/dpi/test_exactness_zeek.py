"""Exactness on real traces: ``dpiaas replay`` totals equal tshark's counts.

Every SIP, HTTP and DNS capture of the shared corpus (real traces from a
public network-analysis project's test suite, many of them deliberately
broken) is replayed and its totals over all intervals compared, metric by
metric, with an independent count by Wireshark's dissectors
(:mod:`tests.functional.dpi.tshark`).

Wireshark and dpiaas do not define a message identically in a few corner
cases. Those are listed in ``KNOWN``, one ``(file, metric)`` each, with the
exact difference ``dpiaas - tshark`` and a named reason. A listed case must
show exactly that difference and the evidence its reason names, else it
fails: a fix on either side makes its entry stale, and the entry must go.
Each reason also says which side counts messages on the wire.
"""
import collections
import glob
import os
import subprocess

import pytest

from tests.functional.dpi import conftest
from tests.functional.dpi import tshark
from tests import shared_data

PCAPS = shared_data.PCAPS

# What the "VM" of each directory offers. The HTTP traces use a handful of
# server ports besides 80 (found with tshark: the ports that answer SYNs and
# send HTTP responses); HTTP sent to an SSH server (port 22) is in the set on
# purpose. Port 1080 is never a server in these traces, only a client port.
SERVICES = {
    'sip': ('udp/5060=sip', 'tcp/5060=sip'),
    'http': tuple('tcp/%d=http' % port for port in (
        80, 8000, 8001, 8080, 3128, 2375, 5000, 8240, 1234, 4711, 22)),
    'dns': ('udp/53=dns', 'tcp/53=dns', 'udp/5353=dns'),
}

Reason = collections.namedtuple('Reason', 'text evidence prefs')

# Why a count may differ, how to see it in the file (a display filter that
# must match at least one frame), and Wireshark preferences under which
# tshark counts as dpiaas does for every metric of the file (a second
# opinion), where there are such preferences.
REASONS = {
    'unfinished-body': Reason(
        'a message body never completes in the capture (segment missing '
        'or capture ends): Wireshark shows a message only once its body is '
        'reassembled; its header was on the wire, dpiaas counts it '
        '(dpiaas right)',
        None, ('http.desegment_body:FALSE',)),
    'lost-segment': Reason(
        'a segment inside a response body is missing and a later message '
        'shares its reassembly: Wireshark drops the message, dpiaas '
        'counts its header and resynchronises (dpiaas right)',
        'tcp.analysis.lost_segment', None),
    'unregistered-method': Reason(
        'QUERY (httpbis safe-method draft) is a valid method token but '
        'not in Wireshark 4.0\'s method list, so tshark sees no request '
        '(dpiaas right)',
        'tcp.payload matches "^QUERY "', None),
    'bare-method': Reason(
        'request line "OPTIONS" with neither target nor version: '
        'Wireshark counts a request, RFC 9112 has no such request line '
        'and dpiaas counts it malformed (definition; dpiaas stricter)',
        'tcp.payload matches "^OPTIONS\\r?\\n"', None),
}

# (file relative to PCAPS, metric) -> (reason, dpiaas - tshark)
KNOWN = {
    ('zeek/http/206_example_b.pcap', 'http.80.responses.2xx'):
        ('unfinished-body', 1),
    ('zeek/http/concurrent-range-requests.pcap', 'http.80.responses.2xx'):
        ('unfinished-body', 1),
    ('zeek/http/content-range-gap.pcap', 'http.80.responses.2xx'):
        ('unfinished-body', 1),
    ('zeek/http/content-range-gap-skip.pcap', 'http.80.responses.2xx'):
        ('unfinished-body', 1),
    ('zeek/http/entity_gap.pcap', 'http.80.responses.2xx'):
        ('unfinished-body', 1),
    ('zeek/http/entity_gap2.pcap', 'http.80.responses.2xx'):
        ('unfinished-body', 1),
    ('zeek/http/putty-upload.pcap', 'http.8080.requests.post'):
        ('unfinished-body', 1),
    ('zeek/http/bro.org.pcap', 'http.80.responses.2xx'):
        ('lost-segment', 1),
    ('zeek/http/query-method.pcap', 'http.80.requests.other'):
        ('unregistered-method', 1),
    ('zeek/http/query-method-non-standard-port.pcap',
     'http.4711.requests.other'):
        ('unregistered-method', 1),
    ('zeek/http/methods.pcap', 'http.80.requests.other'):
        ('bare-method', -1),
}


def _captures():
    found = []
    for app in sorted(SERVICES):
        for path in sorted(glob.glob(os.path.join(PCAPS, '*', app, '*'))):
            if os.path.isfile(path):
                found.append(pytest.param(
                    path, app, id=os.path.relpath(path, PCAPS)))
    return found


CAPTURES = _captures() if os.path.isdir(PCAPS) else []

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not os.path.isdir(PCAPS),
                       reason='no capture corpus at %s (set DPIAAS_PCAPS)'
                       % PCAPS),
    pytest.mark.skipif(not tshark.available(),
                       reason='needs tshark (Debian package tshark)'),
]


def _frames_matching(path, display_filter):
    proc = subprocess.run(['tshark', '-n', '-r', path, '-Y', display_filter,
                           '-T', 'fields', '-e', 'frame.number'],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return len(proc.stdout.split())


def test_corpus_has_captures_of_every_application():
    apps = collections.Counter(p.values[1] for p in CAPTURES)
    assert set(apps) == set(SERVICES), apps


def test_known_differences_name_files_of_the_corpus():
    relpaths = {p.id for p in CAPTURES}
    for (relpath, metric), (reason, delta) in KNOWN.items():
        assert relpath in relpaths, relpath
        assert reason in REASONS, reason
        assert delta, (relpath, metric)


@pytest.mark.parametrize('path,app', CAPTURES)
def test_replay_totals_equal_tshark_counts(path, app, replay, reference):
    relpath = os.path.relpath(path, PCAPS)
    services = SERVICES[app]
    expected = reference(path, services)
    got = replay(path, services)
    diff = conftest.differences(expected, got)

    known = {metric: KNOWN[(relpath, metric)] for metric in expected
             if (relpath, metric) in KNOWN}
    unexplained = {m: d for m, d in diff.items() if m not in known}
    assert not unexplained, (
        '%s: dpiaas replay differs from tshark:\n%s'
        % (relpath, conftest.format_differences(unexplained, got)))
    if not known:
        return

    for metric, (reason, delta) in sorted(known.items()):
        want, have = diff.get(metric, (expected[metric], got.get(metric, 0)))
        assert have - want == delta, (
            '%s %s: KNOWN says dpiaas - tshark = %+d (%s), found %d - %d; '
            'update or remove the entry' % (relpath, metric, delta, reason,
                                            have, want))
        why = REASONS[reason]
        if why.evidence:
            assert _frames_matching(path, why.evidence), (
                '%s: no frame matches %r, the evidence of %s'
                % (relpath, why.evidence, reason))
        if why.prefs:
            second = reference(path, services, prefs=why.prefs)
            assert not conftest.differences(second, got), (
                '%s: with %s tshark should count as dpiaas does (%s):\n%s'
                % (relpath, ' '.join(why.prefs), reason,
                   conftest.format_differences(
                       conftest.differences(second, got))))
    pytest.xfail('; '.join('%s %+d: %s' % (metric, delta, reason)
                           for metric, (reason, delta) in sorted(
                               known.items())))
