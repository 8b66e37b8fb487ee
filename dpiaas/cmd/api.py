"""``dpiaas-api``: the REST API on a threaded development server.

For development and tests; a cloud serves ``dpiaas.wsgi.api:application``
with uwsgi. Listens on ``[api] host`` and ``port`` (127.0.0.1:8778). A bad
option, config file, database or inventory ends it at once with one line
on stderr and a non-zero exit code.
"""
import sys
import warnings

from oslo_log import log as logging
from werkzeug import serving

from dpiaas.wsgi import api as wsgi_api

LOG = logging.getLogger(__name__)
PROG = 'dpiaas-api'


def main(argv=None):
    warnings.filterwarnings('ignore', message=r'\s*Eventlet is deprecated')
    argv = sys.argv[1:] if argv is None else argv
    try:
        conf = wsgi_api.prepare_conf(argv, config_files=None, prog=PROG)
        # values are checked when read: read ours before anything starts
        for opt in ('host', 'port', 'auth_strategy'):
            conf.api[opt]
    except Exception as exc:  # oslo.config errors are one line
        sys.stderr.write('%s: error: %s\n' % (PROG, exc))
        return 2
    logging.setup(conf, PROG)
    try:
        app = wsgi_api.init_application(conf)
        server = serving.make_server(conf.api.host, conf.api.port, app,
                                     threaded=True)
    except Exception as exc:
        first = (str(exc).strip().splitlines() or [''])[0]
        sys.stderr.write('%s: error: %s: %s\n'
                         % (PROG, type(exc).__name__, first))
        return 1
    LOG.info('dpiaas-api listening on http://%s:%d/', conf.api.host,
             conf.api.port)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == '__main__':
    sys.exit(main())
