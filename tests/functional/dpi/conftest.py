"""Fixtures of the exactness tests: run ``dpiaas replay``, compare totals.

``dpiaas replay`` is run as a separate process, exactly as a user or a
script runs it, and its output is read through the documented contract
(DESIGN.md 4.5: one JSON object per interval). Totals over all intervals
are what the tshark reference counts, so the tests compare those.
"""
import collections
import json
import os
import shutil
import subprocess
import sys

import pytest

from tests.functional.dpi import tshark

# Per-interval values that are not counts: summing them means nothing, and
# tshark has no independent view of them.
NOT_SUMMED = ('latency_ms.p50', 'latency_ms.p95')
# Counters with no tshark reference (kept in the totals for diagnostics).
UNREFERENCED = ('malformed', 'capture.packets', 'capture.drops')
REPLAY_TIMEOUT = 600


def dpiaas_command():
    """``dpiaas`` from the venv of this interpreter, else the module."""
    script = os.path.join(os.path.dirname(sys.executable), 'dpiaas')
    if os.access(script, os.X_OK):
        return [script]
    found = shutil.which('dpiaas')
    if found:
        return [found]
    return [sys.executable, '-m', 'dpiaas.cmd.cli']


def replay_totals(paths, services, vm_ips=(), extra=()):
    """Run ``dpiaas replay --format jsonl`` and sum every count metric.

    Also checks the output contract on the way: every line is an interval
    object with ``ts``, ``interval_ms`` and ``metrics``.
    """
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    argv = dpiaas_command() + ['replay'] + [str(p) for p in paths]
    for svc in services:
        argv += ['--service', str(svc)]
    for ip in ([vm_ips] if isinstance(vm_ips, str) else vm_ips):
        argv += ['--vm-ip', ip]
    argv += ['--format', 'jsonl'] + list(extra)
    proc = subprocess.run(argv, capture_output=True, text=True,
                          timeout=REPLAY_TIMEOUT)
    assert proc.returncode == 0, 'dpiaas replay failed (%d): %s' % (
        proc.returncode, proc.stderr.strip())
    totals = collections.Counter()
    for line in proc.stdout.splitlines():
        interval = json.loads(line)
        assert set(interval) >= {'ts', 'interval_ms', 'metrics'}, line
        for name, value in interval['metrics'].items():
            if not name.endswith(NOT_SUMMED):
                totals[name] += value
    return dict(totals)


def differences(expected, got):
    """``{metric: (expected, got)}`` for every reference metric that differs.

    Only metrics tshark can count are compared; a metric missing from
    ``got`` counts as 0 (the replay may leave zero rows out).
    """
    diff = {}
    for name, want in expected.items():
        have = got.get(name, 0)
        if have != want:
            diff[name] = (want, have)
    for name, have in got.items():
        if name in expected or name.endswith(UNREFERENCED):
            continue
        if name.startswith('capture.') or not have:
            continue
        # A metric tshark has no name for (an application the reference
        # does not know on this port) is a difference too.
        diff[name] = (0, have)
    return diff


def format_differences(diff, got=None):
    lines = ['%-40s tshark=%-8s dpiaas=%s' % (name, want, have)
             for name, (want, have) in sorted(diff.items())]
    if got:
        malformed = {k: v for k, v in got.items()
                     if k.endswith('.malformed') and v}
        if malformed:
            lines.append('(dpiaas malformed: %s)' % malformed)
    return '\n'.join(lines)


@pytest.fixture(scope='session')
def require_tshark():
    if not tshark.available():
        pytest.skip('needs tshark (Debian package tshark)')


@pytest.fixture(scope='session')
def replay():
    """``replay(paths, services, vm_ips=())`` -> totals of dpiaas replay."""
    return replay_totals


@pytest.fixture(scope='session')
def reference(require_tshark):
    """``reference(path, services, vm_ips=())`` -> tshark's totals."""
    return tshark.reference
