"""``dpiaas``: the command-line tool (``dpiaas replay FILE.pcap``).

Output formats are a contract (DESIGN.md 4.5): other tools parse them.
Errors are one line on stderr and exit code 2, never a traceback.
"""
import argparse
import json
import logging
import os
import signal
import sys

EXIT_OK = 0
EXIT_USAGE = 2


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        self.exit(EXIT_USAGE, '%s: error: %s\n' % (self.prog, message))


def build_parser():
    parser = _Parser(prog='dpiaas', description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest='command', required=True)
    rp = sub.add_parser(
        'replay', help='metrics of capture files, offline',
        description='Compute dpiaas metrics (DESIGN.md 4.2) of pcap/pcapng '
                    'files (optionally gzip-compressed), one line per '
                    'interval.')
    rp.add_argument('files', nargs='+', metavar='FILE')
    _add_spec_args(rp)
    cp = sub.add_parser(
        'capture', help='metrics of a live interface (root)',
        description='Capture on an interface (a VM tap device) and print '
                    'the same per-interval lines as replay, by the wall '
                    'clock, until interrupted or --duration ends.')
    cp.add_argument('-i', '--interface', required=True)
    _add_spec_args(cp)
    cp.add_argument('--duration', type=float, metavar='SECONDS')
    cp.add_argument('--workers', type=int, default=1,
                    help='capture processes in a PACKET_FANOUT group')
    return parser


def _add_spec_args(p):
    p.add_argument('--service', action='append', default=[],
                   metavar='[offered:|consumed:]PROTO/PORT[=APP]',
                   help='a service to count, e.g. udp/5060=sip, '
                        'tcp/80=http, consumed:tcp/5432 (repeatable)')
    p.add_argument('--inventory', metavar='FILE',
                   help='static inventory (YAML/JSON, DESIGN.md 4.3): '
                        'services from its Security Group rules')
    p.add_argument('--port-id', metavar='ID',
                   help='with --inventory: the port to take (default: '
                        'all ports of the inventory)')
    p.add_argument('--vm-ip', action='append', default=[], metavar='IP',
                   help='an address of the VM (direction "in" is towards '
                        'it); repeatable')
    p.add_argument('--vm-mac', action='append', default=[], metavar='MAC')
    p.add_argument('--interval-ms', type=int, default=500)
    p.add_argument('--format', choices=('jsonl', 'csv'), default='jsonl')
    p.add_argument('--flows', action='store_true',
                   help='add expired flow records and heavy hitters')
    p.add_argument('--stats', action='store_true',
                   help='print pipeline statistics to stderr at the end')
    p.add_argument('--debug', action='store_true')


def _spec_from_args(args):
    from dpiaas.dpi import spec as spec_mod
    services = [spec_mod.Service.parse(s) for s in args.service]
    vm_ips = list(args.vm_ip)
    vm_macs = list(args.vm_mac)
    if args.inventory:
        from dpiaas.inventory import static
        inv = static.load(args.inventory)
        for port in inv.select_ports(args.port_id):
            services.extend(d.service for d in inv.services_of(port))
            vm_ips.extend(port.ips)
            if port.mac:
                vm_macs.append(port.mac)
    if not services:
        raise spec_mod.SpecError(
            'no services: give --service PROTO/PORT[=APP] or --inventory')
    return spec_mod.CollectorSpec(services=services, vm_ips=vm_ips,
                                  vm_macs=vm_macs,
                                  interval_ms=args.interval_ms)


class _Progress:
    """A progress bar on stderr, only when stderr is a terminal."""

    def __init__(self, paths):
        self.bar = None
        if sys.stderr.isatty():
            try:
                import tqdm
            except ImportError:
                return
            total = sum(os.path.getsize(p) for p in paths
                        if os.path.exists(p))
            self.bar = tqdm.tqdm(total=total, unit='B', unit_scale=True,
                                 desc='replay', file=sys.stderr)
            self.seen = 0

    def __call__(self, npackets):
        if self.bar is not None:
            self.bar.set_postfix(packets=self.seen, refresh=False)
            self.seen += npackets

    def close(self):
        if self.bar is not None:
            self.bar.close()


def _write(report, fmt, flows, out):
    if fmt == 'jsonl':
        out.write(json.dumps(report.to_dict(with_flows=flows),
                             separators=(',', ':')) + '\n')
        return
    ts = repr(report.ts)
    for name, value in report.metrics.items():
        out.write('%s,%s,%s\n' % (ts, name, value))


def replay(args):
    from dpiaas.dpi import pcapfile
    from dpiaas.dpi import replay as replay_mod
    from dpiaas.dpi import settings as settings_mod
    spec = _spec_from_args(args)
    for path in args.files:
        if not os.path.isfile(path):
            raise pcapfile.CaptureFileError('%s: no such file' % path)
    settings = settings_mod.DpiSettings(interval_ms=args.interval_ms)
    out = sys.stdout
    if args.format == 'csv':
        out.write('ts,metric,value\n')
    progress = _Progress(args.files)
    try:
        for report in replay_mod.replay_files(args.files, spec, settings,
                                              progress):
            _write(report, args.format, args.flows, out)
    finally:
        progress.close()
    if args.stats:
        sys.stderr.write(json.dumps(replay_mod.replay_files.last_stats)
                         + '\n')
    return EXIT_OK


def capture(args):
    from dpiaas.dpi import live
    from dpiaas.dpi import settings as settings_mod
    spec = _spec_from_args(args)
    settings = settings_mod.DpiSettings(interval_ms=args.interval_ms)
    out = sys.stdout
    if args.format == 'csv':
        out.write('ts,metric,value\n')

    def emit(report):
        _write(report, args.format, args.flows, out)
        out.flush()
    collector = live.LiveCollector(args.interface, spec, settings,
                                   workers=args.workers)
    # SIGTERM (systemd, kill) ends the capture cleanly, workers included
    signal.signal(signal.SIGTERM, lambda *_: collector.stop())
    try:
        collector.run(emit, duration_s=args.duration)
    except KeyboardInterrupt:
        collector.stop()
    if args.stats:
        sys.stderr.write(json.dumps(collector.last_stats) + '\n')
    return EXIT_OK


def main(argv=None):
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.debug else
                        logging.WARNING,
                        format='dpiaas: %(levelname)s: %(message)s')
    from dpiaas.dpi import pcapfile
    from dpiaas.dpi import spec as spec_mod
    known = (pcapfile.CaptureFileError, spec_mod.SpecError, OSError)
    try:
        from dpiaas.inventory import static
        known += (static.InventoryError,)
    except ImportError:
        pass
    try:
        from dpiaas.dpi.capture import CaptureError
        known += (CaptureError,)
    except ImportError:
        pass
    try:
        return replay(args) if args.command == 'replay' else capture(args)
    except BrokenPipeError:
        # `dpiaas replay ... | head`: not an error
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_OK
    except known as exc:
        sys.stderr.write('dpiaas: error: %s\n' % exc)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130


if __name__ == '__main__':
    sys.exit(main())
