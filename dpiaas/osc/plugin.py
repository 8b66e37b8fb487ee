"""OpenStackClient plugin for dpiaas: ``openstack dpi ...``.

The endpoint comes from the Keystone catalog, service type
``anomaly-detection`` (no registered service type covers anomaly detection;
``alarming`` is aodh's, ``monitoring`` monasca's, ``rca`` vitrage's), at the
interface ``--os-interface`` asks for. ``--os-dpi-url`` (``OS_DPI_URL``)
bypasses the catalog: with Keystone credentials the token is still sent;
without any (the standalone all-in-one with ``auth_strategy = noauth``) no
token is sent and the project goes in ``X-Project-Id`` from
``--os-project-id`` (``OS_PROJECT_ID``), the roles in ``X-Roles`` from
``--os-dpi-roles`` (``OS_DPI_ROLES``).
"""
from keystoneauth1 import adapter
from keystoneauth1 import session as ks_session
from osc_lib import exceptions
from osc_lib import utils

from dpiaas.osc import client

API_NAME = 'dpi'
API_VERSION_OPTION = 'os_dpi_api_version'
DEFAULT_API_VERSION = '1'
API_VERSIONS = {'1': 'dpiaas.osc.client.Client'}


def is_standalone(options):
    """True when commands talk to ``--os-dpi-url`` without Keystone.

    ``options`` is the shell's parsed global options. An explicit
    ``--os-auth-type`` other than ``none``, an auth URL or a cloud from
    clouds.yaml means Keystone is wanted even with ``--os-dpi-url``.
    """
    if not getattr(options, 'os_dpi_url', None):
        return False
    auth_type = getattr(options, 'auth_type', None)
    if auth_type:
        return auth_type in ('none', 'noauth')
    return not (getattr(options, 'auth_url', None)
                or getattr(options, 'cloud', None))


def make_client(instance):
    """The :class:`dpiaas.osc.client.Client` for the current command."""
    version = instance._api_version.get(API_NAME, DEFAULT_API_VERSION)
    if str(version) not in API_VERSIONS:
        raise exceptions.CommandError(
            'dpi API version %s is not supported (known: %s)'
            % (version, ', '.join(sorted(API_VERSIONS))))
    config = instance.get_configuration()
    url = config.get('dpi_url')
    if url:
        url = url.rstrip('/')
        if url.endswith(client.API_PREFIX):
            url = url[:-len(client.API_PREFIX)]
    # The shell sets _auth_required from the command's auth_required,
    # which is False exactly when is_standalone() holds.
    if url and not getattr(instance, '_auth_required', True):
        project_id = (config.get('auth') or {}).get('project_id') or \
            config.get('project_id')
        headers = {'X-Project-Id': project_id} if project_id else {}
        if config.get('dpi_roles'):
            headers['X-Roles'] = config['dpi_roles']
        session = ks_session.Session(verify=instance.verify,
                                     cert=instance.cert)
        ada = adapter.Adapter(session, endpoint_override=url,
                              additional_headers=headers,
                              user_agent='python-openstackclient dpiaas')
        return client.Client(ada, describe_endpoint=url)
    ada = adapter.Adapter(instance.session,
                          service_type=client.SERVICE_TYPE,
                          interface=instance.interface,
                          region_name=instance.region_name,
                          endpoint_override=url)
    return client.Client(ada, describe_endpoint=url or client.SERVICE_TYPE)


def build_option_parser(parser):
    """Add the plugin's global options to the ``openstack`` parser."""
    parser.add_argument(
        '--os-dpi-api-version',
        metavar='<dpi-api-version>',
        default=utils.env('OS_DPI_API_VERSION',
                          default=DEFAULT_API_VERSION),
        help='dpi API version, default=%s (Env: OS_DPI_API_VERSION)'
             % DEFAULT_API_VERSION)
    parser.add_argument(
        '--os-dpi-url',
        metavar='<url>',
        dest='os_dpi_url',
        default=utils.env('OS_DPI_URL'),
        help='dpi API root URL, bypassing the service catalog (for the '
             'standalone all-in-one: without Keystone credentials no '
             'token is sent and --os-project-id goes in X-Project-Id) '
             '(Env: OS_DPI_URL)')
    parser.add_argument(
        '--os-dpi-roles',
        metavar='<role>[,<role>...]',
        dest='os_dpi_roles',
        default=utils.env('OS_DPI_ROLES'),
        help='Standalone mode only: roles sent in X-Roles (the API\'s '
             'default is member,reader; "admin" for admin commands) '
             '(Env: OS_DPI_ROLES)')
    return parser
