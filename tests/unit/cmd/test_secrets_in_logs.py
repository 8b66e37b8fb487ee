"""No password or token reaches a log through ``log_opt_values``.

Every service logs its whole configuration at start (debug); an option
that holds a secret must be declared ``secret=True`` so that oslo.config
prints ``****`` instead. The configuration here is built as the services
build theirs (dpiaas options, oslo.log, oslo.messaging, keystonemiddleware,
the keystoneauth plugin of ``[service_credentials]``).
"""
import io
import logging
import re

from keystoneauth1 import loading as ka_loading
from keystonemiddleware.auth_token import _opts as authtoken_opts
from oslo_config import cfg
from oslo_log import log as oslo_log
from oslo_messaging import opts as messaging_opts

from dpiaas import conf as dpiaas_conf

SECRETS = {
    ('DEFAULT', 'transport_url'):
        'rabbit://dpiaas:S3-rabbit-pass@127.0.0.1:5672/',
    ('database', 'connection'):
        'mysql+pymysql://dpiaas:S3-db-pass@127.0.0.1/dpiaas',
    ('database', 'slave_connection'):
        'mysql+pymysql://dpiaas:S3-replica-pass@127.0.0.2/dpiaas',
    ('coordination', 'backend_url'): 'redis://:S3-redis-pass@127.0.0.1:6379',
    ('keystone_authtoken', 'password'): 'S3-authtoken-pass',
    ('keystone_authtoken', 'memcache_secret_key'): 'S3-memcache-key',
    ('service_credentials', 'password'): 'S3-service-pass',
}
WORDS = re.compile(r'pass|secret|token$|_key$|connection$|_url$')
NOT_SECRET = {'auth_url', 'www_authenticate_uri', 'auth_uri',
              'connection_recycle_time', 'connection_debug',
              'connection_trace', 'connection_parameters', 'endpoint_override',
              'service_token_roles', 'enforce_token_bind', 'token_cache_time',
              'memcache_tls_keyfile', 'keyfile', 'auth-url', 'cafile',
              'memcache_pool_unused_timeout'}


AUTH_GROUPS = ('keystone_authtoken', 'service_credentials')


def service_conf(tmp_path):
    conf = cfg.ConfigOpts()
    dpiaas_conf.register_opts(conf)
    oslo_log.register_options(conf)
    for group, opts in messaging_opts.list_opts():
        conf.register_opts(opts, group=group)
    for group, opts in authtoken_opts.list_opts():
        conf.register_opts(opts, group=group)
    # keystonemiddleware, like the engine, registers its plugin's options
    ka_loading.register_auth_conf_options(conf, 'keystone_authtoken')
    text = ''.join('[%s]\nauth_type = password\nusername = dpiaas\n'
                   'auth_url = http://127.0.0.1:5000/v3\n' % group
                   for group in AUTH_GROUPS)
    sections = {}
    for (group, name), value in SECRETS.items():
        sections.setdefault(group, []).append('%s = %s' % (name, value))
    for group, lines in sections.items():
        text += '[%s]\n%s\n' % (group, '\n'.join(lines))
    path = tmp_path / 'dpiaas.conf'
    path.write_text(text)
    conf(['--config-file', str(path)], project='dpiaas',
         default_config_files=[])
    # the engine loads the plugin, which registers its own options
    for group in AUTH_GROUPS:
        ka_loading.load_auth_from_conf_options(conf, group)
    return conf


def test_log_opt_values_prints_no_secret(tmp_path):
    conf = service_conf(tmp_path)
    stream = io.StringIO()
    logger = logging.getLogger('dpiaas.tests.secrets')
    handler = logging.StreamHandler(stream)
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        conf.log_opt_values(logger, logging.DEBUG)
    finally:
        logger.removeHandler(handler)
    out = stream.getvalue()
    for (group, name), value in SECRETS.items():
        assert conf[group][name] if group != 'DEFAULT' else conf[name]
        prefix = '' if group == 'DEFAULT' else group + '.'
        assert re.search(r'^%s%s\s*= \*{4}$' % (prefix, name), out,
                         re.MULTILINE), name
    leaked = [v for v in SECRETS.values() if v in out]
    assert leaked == [] and 'S3-' not in out


def test_every_option_named_like_a_secret_is_declared_secret():
    suspicious = ['%s.%s' % (group, opt.name)
                  for group, opts in dpiaas_conf.list_opts() for opt in opts
                  if WORDS.search(opt.name) and opt.name not in NOT_SECRET
                  and not opt.secret]
    assert suspicious == []
