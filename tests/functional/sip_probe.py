"""A SIP OPTIONS responder for a namespace "VM" and a client that probes it.

Shared by the functional tests that need real SIP traffic across a tap
without a full SIP server: every OPTIONS gets a 200 OK echoing the
transaction headers, so dpiaas counts one request and one 2xx each.
"""
import socket
import time
import uuid


RESPONDER = r'''
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(('0.0.0.0', 5060))
print('ready', flush=True)
while True:
    data, addr = s.recvfrom(65535)
    lines = data.decode('latin-1').split('\r\n')
    keep = [l for l in lines[1:] if l.split(':', 1)[0].strip().lower()
            in ('via', 'from', 'to', 'call-id', 'cseq')]
    s.sendto(('SIP/2.0 200 OK\r\n' + '\r\n'.join(keep) +
              '\r\nContent-Length: 0\r\n\r\n').encode(), addr)
'''


def options(target_ip, i, src_port):
    call_id = '%s-%d@dpiaas.test' % (uuid.uuid4().hex[:8], i)
    return ('OPTIONS sip:probe@%s:5060 SIP/2.0\r\n'
            'Via: SIP/2.0/UDP 198.18.0.1:%d;branch=z9hG4bK%d\r\n'
            'From: <sip:tester@dpiaas.test>;tag=%d\r\n'
            'To: <sip:probe@%s>\r\n'
            'Call-ID: %s\r\n'
            'CSeq: %d OPTIONS\r\n'
            'Max-Forwards: 70\r\n'
            'Content-Length: 0\r\n\r\n'
            % (target_ip, src_port, i, i, target_ip, call_id, i + 1)
            ).encode()


def send_options(ip, n):
    """``n`` OPTIONS to ``ip``:5060, each answered before the next."""
    answered = 0
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(2)
        s.bind(('0.0.0.0', 0))
        for i in range(n):
            s.sendto(options(ip, i, s.getsockname()[1]), (ip, 5060))
            data, _ = s.recvfrom(65535)
            answered += data.startswith(b'SIP/2.0 200')
    return answered


def wait_for(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError('timed out after %ss waiting for %s'
                         % (timeout, what))
