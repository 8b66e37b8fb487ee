"""Steady client load: SIPp registering subscribers, HTTP against nginx.

Both run in the client VM, in the background, until stopped. SIPp plays
the Clearwater client: REGISTER, the 401 challenge, REGISTER again with a
digest computed from the subscriber's password (an injection CSV holds
username, password and the authentication keyword per line), 200 OK.
It reports cumulative successful and failed registrations once a
second (``-trace_stat``), which :meth:`SippLoad.stats` reads.

The HTTP load is :mod:`tests.e2e.testbed.httpload` (keep-alive GETs at a
fixed rate). wrk is not used for the steady load because it reconnects
in a tight loop when the server is down, which would turn the "web down"
anomaly into a SYN flood on a shared machine.
"""
import csv
import json
import os
import signal
import sys

from tests.e2e.testbed import homestead
from tests.e2e.testbed import procs

REGISTER_SCENARIO = """<?xml version="1.0" encoding="ISO-8859-1" ?>
<!DOCTYPE scenario SYSTEM "sipp.dtd">
<!-- Written by the dpiaas e2e testbed: REGISTER with digest auth. -->
<scenario name="dpiaas register">
  <send retrans="500">
    <![CDATA[
      REGISTER sip:%(domain)s SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:[field0]@%(domain)s>;tag=[pid]R[call_number]
      To: <sip:[field0]@%(domain)s>
      Call-ID: [call_id]
      CSeq: 1 REGISTER
      Contact: <sip:[field0]@[local_ip]:[local_port]>
      Max-Forwards: 70
      Expires: 600
      User-Agent: dpiaas-testbed
      Content-Length: 0

    ]]>
  </send>
  <recv response="401" auth="true"/>
  <send retrans="500">
    <![CDATA[
      REGISTER sip:%(domain)s SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:[field0]@%(domain)s>;tag=[pid]R[call_number]
      To: <sip:[field0]@%(domain)s>
      Call-ID: [call_id]
      CSeq: 2 REGISTER
      Contact: <sip:[field0]@[local_ip]:[local_port]>
      [field2]
      Max-Forwards: 70
      Expires: 600
      User-Agent: dpiaas-testbed
      Content-Length: 0

    ]]>
  </send>
  <recv response="200"/>
</scenario>
"""


def write_sipp_files(workdir, domain, subscribers):
    """The scenario XML and the injection CSV; return both paths."""
    scenario = os.path.join(workdir, 'sipp-register.xml')
    with open(scenario, 'w') as f:
        f.write(REGISTER_SCENARIO % {'domain': domain})
    users = os.path.join(workdir, 'sipp-users.csv')
    with open(users, 'w') as f:
        f.write('SEQUENTIAL\n')
        for i in range(subscribers):
            user, password = homestead.subscriber(i)
            # SIPp does not expand fields inside [authentication]: the
            # whole keyword is the third field
            f.write('%s;%s;[authentication username=%s password=%s]\n'
                    % (user, password, user, password))
    return scenario, users


class SippLoad:
    """SIPp in the client VM: ``rate`` registrations/s until stopped.

    ``calls`` bounds the run (``None``: until :meth:`stop`). A
    registration that gets no answer fails after ``recv_timeout_ms``, so
    an unanswered registrar never blocks the load.
    """

    def __init__(self, name, client, target_ip, workdir, scenario, users,
                 rate=20, local_port=5060, calls=None, limit=200,
                 recv_timeout_ms=4000):
        self.name = name
        self.dir = os.path.join(str(workdir), name)
        os.makedirs(self.dir, exist_ok=True)
        self.stat_file = os.path.join(self.dir, 'stat.csv')
        argv = ['sipp', '%s:5060' % target_ip, '-sf', scenario,
                '-inf', users, '-t', 'u1', '-i', client.ip,
                '-p', local_port, '-r', rate, '-l', limit,
                '-recv_timeout', recv_timeout_ms,
                '-default_behaviors', 'none', '-nostdin',
                '-trace_stat', '-stf', self.stat_file, '-fd', '1',
                '-trace_err', '-error_file',
                os.path.join(self.dir, 'errors.log'),
                '-error_overwrite', 'false']
        if calls:
            argv += ['-m', calls]
        self.proc = procs.Process(name, argv,
                                  os.path.join(self.dir, 'sipp.log'),
                                  ns=client.ns, cwd=self.dir)

    def stats(self):
        """``{'successful': n, 'failed': n}`` so far (cumulative)."""
        try:
            with open(self.stat_file, newline='') as f:
                rows = list(csv.reader(f, delimiter=';'))
        except OSError:
            return {'successful': 0, 'failed': 0}
        if len(rows) < 2:
            return {'successful': 0, 'failed': 0}
        head, last = rows[0], rows[-1]
        row = dict(zip(head, last))
        return {'successful': int(row.get('SuccessfulCall(C)', 0) or 0),
                'failed': int(row.get('FailedCall(C)', 0) or 0)}

    def wait(self, timeout):
        """Wait for a bounded run (``calls``) to end; its exit code."""
        try:
            return self.proc.proc.wait(timeout)
        except Exception:
            raise procs.TestbedError('%s did not finish within %s s:\n%s'
                                     % (self.name, timeout,
                                        procs.tail(self.proc.log)))

    def stop(self):
        # SIGUSR1 asks SIPp to stop placing calls and leave.
        self.proc.stop(signal.SIGUSR1, timeout=5)


class HttpLoad:
    """:mod:`httpload` in the client VM: ``rate`` GET/s until stopped."""

    def __init__(self, client, url, workdir, rate=20, name='http-load'):
        self.stat_file = os.path.join(str(workdir), name + '.json')
        script = os.path.join(os.path.dirname(__file__), 'httpload.py')
        self.proc = procs.Process(
            name, [sys.executable, script, '--url', url, '--rate', rate,
                   '--source', client.ip, '--stats', self.stat_file],
            os.path.join(str(workdir), name + '.log'), ns=client.ns)

    def stats(self):
        """``{'ok': n, 'errors': n, 'status': {code: n}}`` so far."""
        try:
            with open(self.stat_file) as f:
                return json.load(f)
        except (OSError, ValueError):
            return {'ok': 0, 'errors': 0, 'status': {}}

    def stop(self):
        self.proc.stop(signal.SIGTERM, timeout=5)
