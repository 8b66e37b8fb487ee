"""The testbed as a static inventory (DESIGN.md 4.3), as Neutron shows it.

Each VM is one port with its own Security Group whose rules whitelist
exactly the connections the VM needs, so that dpiaas derives the services
to decode from them (DESIGN.md 4.1): an ingress rule is a service the VM
offers, an egress rule one it consumes (Sprout's egress tcp/5432 is its
use of Homestead's subscriber database).
"""
import uuid

# role -> (direction, protocol, port) of every rule the VM really needs
RULES = {
    'client': (('egress', 'udp', 5060), ('egress', 'tcp', 80)),
    'bono': (('ingress', 'udp', 5060), ('egress', 'udp', 5060)),
    'sprout': (('ingress', 'udp', 5060), ('egress', 'tcp', 5432)),
    'homestead': (('ingress', 'tcp', 5432),),
    'web': (('ingress', 'tcp', 80),),
}
APPS = {('udp', 5060): 'sip', ('tcp', 80): 'http'}


def _id(*parts):
    return str(uuid.uuid5(uuid.NAMESPACE_URL, 'dpiaas:e2e:' + ':'.join(
        str(p) for p in parts)))


def services(role):
    """``dpiaas capture --service`` strings for a role's rules."""
    out = []
    for direction, proto, port in RULES[role]:
        role_word = 'offered' if direction == 'ingress' else 'consumed'
        svc = '%s:%s/%d' % (role_word, proto, port)
        app = APPS.get((proto, port))
        out.append(svc + ('=' + app if app else ''))
    return out


def build(vms, host, project_id='paper'):
    """Neutron-shaped ``ports`` and ``security_groups`` of ``vms``."""
    ports, groups = [], []
    for vm in vms:
        sg_id = _id(vm.port_id, 'sg')
        ports.append({
            'id': vm.port_id,
            'name': vm.role,
            'device_id': vm.server_id,
            'device_owner': 'compute:nova',
            'project_id': project_id,
            'binding:host_id': host,
            'binding:vnic_type': 'normal',
            'mac_address': vm.mac,
            'fixed_ips': [{'ip_address': vm.ip}],
            'security_groups': [sg_id],
            'tap_device': vm.tap,
        })
        rules = []
        for n, (direction, proto, port) in enumerate(RULES[vm.role]):
            rules.append({
                'id': _id(vm.port_id, 'rule', n),
                'security_group_id': sg_id,
                'project_id': project_id,
                'direction': direction, 'ethertype': 'IPv4',
                'protocol': proto, 'port_range_min': port,
                'port_range_max': port, 'remote_ip_prefix': '0.0.0.0/0'})
        groups.append({'id': sg_id, 'name': 'e2e-' + vm.role,
                       'project_id': project_id,
                       'security_group_rules': rules})
    return {'ports': ports, 'security_groups': groups}
