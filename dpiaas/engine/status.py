"""A monitor's status and reason, summed up from its collectors.

One function so that the reconciler, the RPC endpoint (a collector started
or failed) and the liveness check (an agent went quiet) all say the same
thing. A tenant never sees a status without a reason it can act on (aodh's
alarms stuck in "insufficient data" with no reason taught that).
"""
from oslo_log import log as logging

from dpiaas.db import exceptions as db_exc

LOG = logging.getLogger(__name__)

PENDING = 'pending'
LEARNING = 'learning'
ACTIVE = 'active'
ERROR = 'error'

C_SCHEDULED = 'scheduled'
C_RUNNING = 'running'
C_ERROR = 'error'
C_STOPPED = 'stopped'
C_HOST_DOWN = 'host_down'


def agent_down_reason(host, agent, now):
    """``agent on compute-1 has not reported for 47 s``."""
    if not agent or not agent.get('last_heartbeat'):
        return ('no agent has reported from %s: is dpiaas-agent running '
                'there?' % host)
    return ('agent on %s has not reported for %d s'
            % (host, max(0, now - agent['last_heartbeat'])))


def summarize(monitor, collectors, problems=(), down_hosts=None):
    """``(status, reason)`` of ``monitor``.

    ``collectors``: its stored collector dicts; ``problems``: reasons of
    ports that could not be scheduled (only the reconciler knows them);
    ``down_hosts``: host -> reason for hosts whose agent is down.
    """
    down_hosts = down_hosts or {}
    problems = list(problems)
    current = monitor.get('status')
    if not collectors:
        if problems:
            return ERROR, '; '.join(problems)
        # nothing scheduled and nothing wrong: keep what the monitor says
        return current or PENDING, monitor.get('status_reason')
    errors = []
    waiting = []
    for c in sorted(collectors, key=lambda c: c['id']):
        host = c.get('host')
        if host in down_hosts:
            errors.append(down_hosts[host])
        elif c.get('status') == C_HOST_DOWN:
            errors.append(c.get('status_reason')
                          or 'agent on %s is down' % host)
        elif c.get('status') == C_ERROR:
            errors.append('collector on %s: %s'
                          % (host, c.get('status_reason') or 'failed'))
        elif c.get('status') != C_RUNNING:
            waiting.append(host)
    if errors:
        return ERROR, '; '.join(_unique(errors + problems))
    note = '; '.join(problems) or None
    if waiting:
        return PENDING, _join(
            'waiting for the agent on %s to start capturing'
            % ', '.join(_unique(waiting)), note)
    if current in (LEARNING, ACTIVE):
        # the detector owns the move from learning to active
        reason = monitor.get('status_reason')
        if current == LEARNING and (note or not reason):
            reason = _join(_learning_reason(monitor), note)
        return current, reason
    return LEARNING, _join(_learning_reason(monitor), note)


def _learning_reason(monitor):
    baseline = (monitor.get('detector') or {}).get('baseline_s')
    if baseline:
        return ('capturing; learning normal behaviour for %s s'
                % baseline)
    return 'capturing; learning normal behaviour'


def _join(a, b):
    return '%s (%s)' % (a, b) if b else a


def same(a, b):
    """(status, reason) pairs equal, an empty reason being None or ''."""
    return a[0] == b[0] and (a[1] or '') == (b[1] or '')


def _unique(items):
    seen = []
    for item in items:
        if item not in seen:
            seen.append(item)
    return seen


def refresh(storage, monitor_id, down=None):
    """Re-derive a monitor's status from its stored collectors."""
    try:
        monitor = storage.get_monitor(monitor_id)
    except db_exc.NotFound:
        return None
    collectors = storage.list_collectors(monitor_id=monitor_id)
    status, reason = summarize(monitor, collectors, down_hosts=down)
    if not same((status, reason), (monitor.get('status'),
                                   monitor.get('status_reason'))):
        LOG.info('monitor %s: %s (%s)', monitor_id, status, reason)
        storage.update_monitor(monitor_id, {'status': status,
                                            'status_reason': reason or ''})
    return status, reason
