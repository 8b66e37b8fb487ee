"""A steady HTTP client: keep-alive GETs at a fixed rate, until SIGTERM.

Run as a script inside the client VM (standard library only). Requests
are paced on a fixed schedule; a request that fails (refused, reset,
timed out) is counted, its connection dropped, and the next one is made
on schedule, never sooner: a dead server sees the same modest rate of
connection attempts as a live one sees requests. Cumulative counts are
written as JSON to ``--stats`` once a second and at exit.
"""
import argparse
import http.client
import json
import os
import signal
import sys
import time
import urllib.parse


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--url', required=True)
    ap.add_argument('--rate', type=float, default=20.0)
    ap.add_argument('--source', default=None, help='local address')
    ap.add_argument('--stats', required=True)
    ap.add_argument('--timeout', type=float, default=2.0)
    args = ap.parse_args()
    url = urllib.parse.urlsplit(args.url)
    path = url.path or '/'
    stats = {'ok': 0, 'errors': 0, 'status': {}}
    stopping = []
    signal.signal(signal.SIGTERM, lambda *a: stopping.append(1))
    signal.signal(signal.SIGINT, lambda *a: stopping.append(1))

    def dump():
        tmp = args.stats + '.tmp'
        with open(tmp, 'w') as f:
            json.dump(stats, f)
        os.replace(tmp, args.stats)

    conn = None
    period = 1.0 / args.rate
    due = time.monotonic()
    last_dump = 0.0
    while not stopping:
        now = time.monotonic()
        if now < due:
            time.sleep(due - now)
            continue
        due = max(due + period, now)   # never catch up in a burst
        try:
            if conn is None:
                conn = http.client.HTTPConnection(
                    url.hostname, url.port or 80, timeout=args.timeout,
                    source_address=(args.source, 0) if args.source
                    else None)
            conn.request('GET', path)
            resp = conn.getresponse()
            resp.read()
            code = str(resp.status)
            stats['status'][code] = stats['status'].get(code, 0) + 1
            stats['ok'] += 1
            if resp.will_close:
                conn.close()
                conn = None
        except (OSError, http.client.HTTPException):
            stats['errors'] += 1
            if conn is not None:
                conn.close()
            conn = None
        if now - last_dump >= 1.0:
            dump()
            last_dump = now
    dump()
    return 0


if __name__ == '__main__':
    sys.exit(main())
