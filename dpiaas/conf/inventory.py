"""Inventory options: which driver, its file or its service credentials.

``[service_credentials]`` is the service's own Keystone identity (as in
aodh and ceilometer): reading ``binding:host_id`` is admin-or-service in
Neutron's policy, so the engine never uses a tenant's token for it.
"""
from keystoneauth1 import loading as ka_loading
from oslo_config import cfg

from dpiaas.inventory import derive

CREDENTIALS_GROUP = 'service_credentials'

_WELL_KNOWN = ','.join('%s/%d:%s' % (l4, port, app)
                       for (l4, port), app in derive.WELL_KNOWN.items())

OPTS = [
    cfg.StrOpt('inventory_driver', default='static',
               help='Where ports and Security Group rules come from: '
                    '"static" (inventory_file) or "openstack" (Neutron, '
                    'with [service_credentials]). Entry points of the '
                    'dpiaas.inventory namespace.'),
    cfg.StrOpt('inventory_file',
               help='The static inventory: a YAML or JSON file shaped like '
                    'Neutron\'s ports and security_groups answers.'),
    cfg.DictOpt('well_known_ports', default=_WELL_KNOWN,
                help='PROTO/PORT:APP pairs giving the decoder of a service '
                     'derived from a Security Group rule; other ports are '
                     'counted as generic. APP is one of sip, http, dns, '
                     'generic. A monitor\'s own protocols win.'),
    cfg.FloatOpt('inventory_cache_ttl', default=10.0, min=0,
                 help='Seconds the openstack driver keeps a Security '
                      'Group\'s rules and a remote group\'s members '
                      'before asking Neutron again (0: never cached). '
                      'Ports are never cached.'),
]

CREDENTIALS_OPTS = [
    cfg.StrOpt('region_name',
               help='Region of the Neutron endpoint to use.'),
    cfg.StrOpt('interface', default='public',
               choices=('public', 'internal', 'admin'),
               help='Endpoint interface in the Keystone catalog.'),
]


def register_opts(conf):
    conf.register_opts(OPTS)
    conf.register_opts(CREDENTIALS_OPTS, group=CREDENTIALS_GROUP)
    ka_loading.register_auth_conf_options(conf, CREDENTIALS_GROUP)
    ka_loading.register_session_conf_options(conf, CREDENTIALS_GROUP)


def list_opts():
    # the sample file shows the password plugin's options (auth_type,
    # auth_url, username, ...); others load through auth_type
    auth = (ka_loading.get_auth_common_conf_options()
            + ka_loading.get_auth_plugin_conf_options('password'))
    session = ka_loading.get_session_conf_options()
    return [('DEFAULT', OPTS),
            (CREDENTIALS_GROUP, CREDENTIALS_OPTS + auth + session)]
