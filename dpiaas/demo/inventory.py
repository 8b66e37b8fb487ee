"""The static inventory describing the demo VM's port, as Neutron would."""
import uuid

import yaml

DEMO_PROJECT = 'demo'
# Fixed ids so that a restarted demo finds its monitor and its series again.
DEMO_PORT_ID = str(uuid.uuid5(uuid.NAMESPACE_URL, 'dpiaas:demo:port'))
DEMO_SERVER_ID = str(uuid.uuid5(uuid.NAMESPACE_URL, 'dpiaas:demo:server'))
DEMO_SG_ID = str(uuid.uuid5(uuid.NAMESPACE_URL, 'dpiaas:demo:sg'))


def _rule(n, direction, protocol, port):
    return {'id': str(uuid.uuid5(uuid.NAMESPACE_URL, 'dpiaas:demo:rule:%d'
                                 % n)),
            'direction': direction, 'ethertype': 'IPv4',
            'protocol': protocol, 'port_range_min': port,
            'port_range_max': port, 'remote_ip_prefix': '0.0.0.0/0'}


def build(vm, host):
    """Neutron-shaped ports and security groups of the demo VM."""
    rules = [_rule(1, 'ingress', 'tcp', 80), _rule(2, 'ingress', 'udp', 53),
             _rule(3, 'ingress', 'udp', 5060), _rule(4, 'ingress', 'tcp', 22)]
    return {
        'ports': [{
            'id': DEMO_PORT_ID, 'device_id': DEMO_SERVER_ID,
            'project_id': DEMO_PROJECT, 'binding:host_id': host,
            'binding:vnic_type': 'normal',
            'mac_address': vm.mac, 'fixed_ips': [{'ip_address': vm.ip}],
            'security_groups': [DEMO_SG_ID], 'tap_device': vm.tap}],
        'security_groups': [{
            'id': DEMO_SG_ID, 'project_id': DEMO_PROJECT, 'name': 'demo',
            'security_group_rules': rules}],
    }


def write(path, vm, host):
    with open(path, 'w') as f:
        yaml.safe_dump(build(vm, host), f, sort_keys=False)
    return path
