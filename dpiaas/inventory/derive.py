"""Services of a port, derived from its Security Group rules (DESIGN 4.1).

An ingress rule is a service the VM offers (the port is its own), an egress
rule one it consumes (the port is the remote's). The decoder comes from a
well-known port map or the monitor's own override; rules without ports or
with wide ranges give generic counters and never make the collector decode
everything.
"""
from dpiaas.dpi import spec as spec_mod

# (l4, port) -> application, the default well-known map.
WELL_KNOWN = {
    ('udp', 5060): 'sip', ('tcp', 5060): 'sip',
    ('tcp', 80): 'http', ('tcp', 8080): 'http', ('tcp', 8000): 'http',
    ('udp', 53): 'dns', ('tcp', 53): 'dns',
}
# Ranges wider than this become one generic service for the range.
MAX_DECODED_RANGE = 16


def services_from_rules(rules, well_known=None, overrides=None):
    """Services of a list of Neutron security group rules (dicts).

    ``overrides`` maps ``(l4, port)`` to an application and wins over the
    well-known map (a monitor's ``protocols``).
    """
    well_known = WELL_KNOWN if well_known is None else well_known
    overrides = overrides or {}
    out = []
    seen = set()
    for rule in rules:
        l4 = (rule.get('protocol') or '').lower()
        if l4 in ('6',):
            l4 = 'tcp'
        elif l4 in ('17',):
            l4 = 'udp'
        if l4 not in spec_mod.L4_PROTOS:
            continue          # icmp, any-protocol rules: nothing to decode
        lo = rule.get('port_range_min')
        hi = rule.get('port_range_max')
        if lo is None:
            lo, hi = 1, 65535
        hi = lo if hi is None else hi
        role = (spec_mod.ROLE_CONSUMED if rule.get('direction') == 'egress'
                else spec_mod.ROLE_OFFERED)
        if hi - lo + 1 <= MAX_DECODED_RANGE:
            for port in range(lo, hi + 1):
                app = overrides.get((l4, port),
                                    well_known.get((l4, port), 'generic'))
                svc = spec_mod.Service(l4, port, port, app, role)
                if svc not in seen:
                    seen.add(svc)
                    out.append(svc)
        else:
            svc = spec_mod.Service(l4, lo, hi, 'generic', role)
            if svc not in seen:
                seen.add(svc)
                out.append(svc)
    return out
