from dpiaas.inventory import derive


def rule(direction, proto, lo=None, hi=None):
    return {'direction': direction, 'protocol': proto,
            'port_range_min': lo, 'port_range_max': hi}


def test_ingress_is_offered_and_egress_consumed_with_well_known_apps():
    svcs = derive.services_from_rules([rule('ingress', 'udp', 5060, 5060),
                                       rule('egress', 'tcp', 5432, 5432),
                                       rule('ingress', 'tcp', 80, 80)])
    got = {(s.role, s.l4, s.port_label, s.app) for s in svcs}
    assert got == {('offered', 'udp', '5060', 'sip'),
                   ('consumed', 'tcp', '5432', 'generic'),
                   ('offered', 'tcp', '80', 'http')}


def test_wide_and_portless_rules_are_generic_ranges():
    svcs = derive.services_from_rules([rule('ingress', 'tcp'),
                                       rule('ingress', 'udp', 10000, 20000),
                                       rule('ingress', 'icmp')])
    got = {(s.l4, s.port_label, s.app) for s in svcs}
    assert got == {('tcp', '1-65535', 'generic'),
                   ('udp', '10000-20000', 'generic')}


def test_small_ranges_are_decoded_port_by_port_and_overrides_win():
    svcs = derive.services_from_rules(
        [rule('ingress', 'tcp', 8079, 8081)],
        overrides={('tcp', 8081): 'sip'})
    got = {(s.port_label, s.app) for s in svcs}
    assert got == {('8079', 'generic'), ('8080', 'http'), ('8081', 'sip')}


def test_duplicate_rules_give_one_service():
    svcs = derive.services_from_rules([rule('ingress', 'udp', 53, 53)] * 3)
    assert len(svcs) == 1
