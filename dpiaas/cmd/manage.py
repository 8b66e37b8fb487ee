"""``dpiaas-manage``: operator commands on the database.

``dpiaas-manage [--config-file F] [--database URL] db sync|version|expire``.
Errors are one line on stderr and a non-zero exit, never a traceback.
"""
import argparse
import json
import sys

from oslo_config import cfg

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        self.exit(EXIT_USAGE, '%s: error: %s\n' % (self.prog, message))


def build_parser():
    parser = _Parser(prog='dpiaas-manage', description=__doc__.splitlines()[0])
    parser.add_argument('--config-file', action='append', default=[],
                        metavar='FILE', help='oslo.config file (repeatable)')
    parser.add_argument('--config-dir', action='append', default=[],
                        metavar='DIR')
    parser.add_argument('--database', metavar='URL',
                        help='SQLAlchemy URL; overrides [database] '
                             'connection')
    sub = parser.add_subparsers(dest='category', required=True)
    db = sub.add_parser('db', help='schema and retention')
    dbsub = db.add_subparsers(dest='action', required=True)
    dbsub.add_parser('sync', help='create or upgrade the schema')
    dbsub.add_parser('version', help='print the schema revision')
    dbsub.add_parser('expire', help='apply retention and downsampling now')
    return parser


def load_conf(args):
    from dpiaas import conf as dpiaas_conf
    conf = cfg.ConfigOpts()
    dpiaas_conf.register_opts(conf)
    argv = []
    for f in args.config_file:
        argv += ['--config-file', f]
    for d in args.config_dir:
        argv += ['--config-dir', d]
    conf(argv, project='dpiaas',
         default_config_files=None if not argv else [])
    if args.database:
        conf.set_override('connection', args.database, group='database')
    return conf


def main(argv=None):
    args = build_parser().parse_args(argv)
    try:
        from dpiaas.db import api
        from dpiaas.db import migration
        conf = load_conf(args)
        url = api.connection_url(conf)
        if args.action == 'sync':
            migration.upgrade(url)
            print('database at revision %s' % migration.version(url))
        elif args.action == 'version':
            print(migration.version(url) or 'None')
        elif args.action == 'expire':
            counts = api.get_storage(conf).expire()
            print(json.dumps(counts, sort_keys=True))
    except (cfg.Error, ValueError, OSError) as e:
        print('dpiaas-manage: error: %s' % e, file=sys.stderr)
        return EXIT_ERROR
    except Exception as e:  # the database's own errors, in one line
        msg = str(e).splitlines()[0] if str(e) else type(e).__name__
        print('dpiaas-manage: error: %s: %s' % (type(e).__name__, msg),
              file=sys.stderr)
        return EXIT_ERROR
    return EXIT_OK


if __name__ == '__main__':
    sys.exit(main())
