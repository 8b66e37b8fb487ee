import pytest

from dpiaas.dpi import spec as spec_mod
from dpiaas.inventory import base
from dpiaas.inventory import derive


def rule(direction, proto, lo=None, hi=None, rid=None, ethertype='IPv4',
         **extra):
    return dict({'id': rid or '%s-%s-%s-%s' % (direction, proto, lo, hi),
                 'direction': direction, 'ethertype': ethertype,
                 'protocol': proto, 'port_range_min': lo,
                 'port_range_max': hi}, **extra)


def labels(derivation):
    return {(d.service.role, d.service.l4, d.service.port_label,
             d.service.app) for d in derivation.services}


# Neutron adds these two to every new group
DEFAULT_EGRESS = [rule('egress', None, rid='e4'),
                  rule('egress', None, rid='e6', ethertype='IPv6')]


def test_ingress_is_offered_and_egress_consumed_with_well_known_apps():
    svcs = derive.services_from_rules([rule('ingress', 'udp', 5060, 5060),
                                       rule('egress', 'tcp', 5432, 5432),
                                       rule('ingress', 'tcp', 80, 80)])
    got = {(s.role, s.l4, s.port_label, s.app) for s in svcs}
    assert got == {('offered', 'udp', '5060', 'sip'),
                   ('consumed', 'tcp', '5432', 'generic'),
                   ('offered', 'tcp', '80', 'http')}


def test_each_service_names_the_rule_that_gave_it():
    d = derive.derive([rule('ingress', 'udp', 5060, 5060, rid='r1'),
                       rule('egress', 'tcp', 3306, 3306, rid='r2')])
    assert {(d.service.port_label, d.source) for d in d.services} == {
        ('5060', 'rule r1'), ('3306', 'rule r2')}
    assert d.services[0].to_dict() == {
        'l4': 'udp', 'port_min': 5060, 'port_max': 5060, 'app': 'sip',
        'role': 'offered', 'source': 'rule r1'}


def test_no_rules_give_no_services():
    d = derive.derive([])
    assert d.services == [] and d.skipped == []


def test_neutron_default_egress_allow_all_gives_nothing_and_says_why():
    d = derive.derive(DEFAULT_EGRESS)
    assert d.services == []
    assert [rid for rid, _ in d.skipped] == ['e4', 'e6']
    assert all('any protocol' in why for _, why in d.skipped)


def test_icmp_and_any_protocol_rules_are_skipped_with_a_reason():
    d = derive.derive([rule('ingress', 'icmp', rid='a'),
                       rule('ingress', 'ipv6-icmp', rid='b',
                            ethertype='IPv6'),
                       rule('ingress', None, rid='c',
                            remote_group_id='sg-self'),
                       rule('ingress', 'any', rid='d')])
    assert d.services == []
    why = dict(d.skipped)
    assert 'icmp' in why['a'] and 'icmp' in why['b']
    assert 'nothing to decode' in why['c'] and 'any protocol' in why['d']


def test_portless_tcp_rule_is_one_generic_range_not_decode_all():
    d = derive.derive([rule('ingress', 'tcp')])
    assert labels(d) == {('offered', 'tcp', '1-65535', 'generic')}


def test_port_range_min_only_is_that_one_port():
    d = derive.derive([rule('ingress', 'tcp', 80, None),
                       rule('egress', 'udp', None, 53)])
    assert labels(d) == {('offered', 'tcp', '80', 'http'),
                         ('consumed', 'udp', '53', 'dns')}


def test_port_zero_is_not_a_port():
    d = derive.derive([rule('ingress', 'udp', 0, 0, rid='zero'),
                       rule('ingress', 'tcp', 0, 100)])
    assert labels(d) == {('offered', 'tcp', '1-100', 'generic')}
    assert [rid for rid, _ in d.skipped] == ['zero']


def test_narrow_ranges_are_decoded_port_by_port():
    d = derive.derive([rule('ingress', 'tcp', 79, 81)])
    assert labels(d) == {('offered', 'tcp', '79', 'generic'),
                         ('offered', 'tcp', '80', 'http'),
                         ('offered', 'tcp', '81', 'generic')}


def test_wide_ranges_are_one_generic_service_even_over_well_known_ports():
    d = derive.derive([rule('ingress', 'udp', 5000, 6000)])
    assert labels(d) == {('offered', 'udp', '5000-6000', 'generic')}


def test_range_width_threshold():
    width = derive.MAX_DECODED_RANGE
    narrow = derive.derive([rule('ingress', 'tcp', 1000, 999 + width)])
    wide = derive.derive([rule('ingress', 'tcp', 1000, 1000 + width)])
    assert len(narrow.services) == width
    assert len(wide.services) == 1


def test_protocol_numbers_are_understood_and_sctp_ignored():
    d = derive.derive([rule('ingress', '6', 80, 80),
                       rule('ingress', 17, 5060, 5060),
                       rule('ingress', '132', 2905, 2905, rid='s1'),
                       rule('ingress', 'sctp', 3868, 3868, rid='s2'),
                       rule('ingress', '47', rid='gre')])
    assert labels(d) == {('offered', 'tcp', '80', 'http'),
                         ('offered', 'udp', '5060', 'sip')}
    why = dict(d.skipped)
    assert 'sctp' in why['s1'] and 'sctp' in why['s2']
    assert 'protocol 47' in why['gre']


def test_ipv4_and_ipv6_rules_for_one_port_give_one_service():
    d = derive.derive([rule('ingress', 'tcp', 80, 80, rid='v4'),
                       rule('ingress', 'tcp', 80, 80, rid='v6',
                            ethertype='IPv6')])
    assert [(x.service.port_label, x.source) for x in d.services] == [
        ('80', 'rule v4')]


def test_duplicate_rules_give_one_service():
    svcs = derive.services_from_rules([rule('ingress', 'udp', 53, 53)] * 3)
    assert len(svcs) == 1


def test_remote_group_and_prefix_rules_give_the_same_service():
    d = derive.derive([rule('ingress', 'tcp', 22, 22, rid='a',
                            remote_group_id='sg-peer',
                            remote_ips=['10.0.0.7']),
                       rule('ingress', 'tcp', 22, 22, rid='b',
                            remote_ip_prefix='198.51.100.0/24')])
    assert labels(d) == {('offered', 'tcp', '22', 'generic')}


def test_same_port_offered_and_consumed_are_two_services():
    d = derive.derive([rule('ingress', 'udp', 5060, 5060),
                       rule('egress', 'udp', 5060, 5060)])
    assert labels(d) == {('offered', 'udp', '5060', 'sip'),
                         ('consumed', 'udp', '5060', 'sip')}


def test_a_range_inside_a_portless_rule_merges_into_it():
    d = derive.derive([rule('ingress', 'tcp', rid='all'),
                       rule('ingress', 'tcp', 1000, 2000, rid='mid')])
    assert [(x.service.port_label, x.source) for x in d.services] == [
        ('1-65535', 'rule all, rule mid')]


def test_overlapping_wide_ranges_merge_into_one():
    d = derive.derive([rule('ingress', 'udp', 10000, 20000, rid='a'),
                       rule('ingress', 'udp', 15000, 30000, rid='b'),
                       rule('ingress', 'udp', 40000, 50000, rid='c')])
    got = [(x.service.port_label, x.source) for x in d.services]
    assert sorted(got) == [('10000-30000', 'rule a, rule b'),
                           ('40000-50000', 'rule c')]


def test_single_ports_come_before_the_ranges_around_them():
    # the pipeline gives shared ports to the earlier service
    d = derive.derive([rule('ingress', 'udp', rid='all'),
                       rule('ingress', 'tcp', 1000, 2000, rid='mid'),
                       rule('ingress', 'tcp', 80, 80, rid='http')])
    assert [x.service.port_label for x in d.services] == [
        '80', '1000-2000', '1-65535']


def test_overrides_as_dict_win_and_say_so():
    d = derive.derive([rule('ingress', 'tcp', 8080, 8080, rid='r'),
                       rule('ingress', 'tcp', 80, 80, rid='h')],
                      overrides={'tcp/8080': 'sip', 'TCP/80': 'generic'})
    assert {(x.service.port_label, x.service.app, x.source)
            for x in d.services} == {('8080', 'sip', 'override'),
                                     ('80', 'generic', 'override')}


def test_override_inside_a_wide_range_gets_its_own_decoded_service():
    d = derive.derive([rule('ingress', 'tcp', 8000, 9000, rid='w')],
                      overrides={'tcp/8443': 'http'})
    assert [(x.service.port_label, x.service.app, x.source)
            for x in d.services] == [('8443', 'http', 'override'),
                                     ('8000-9000', 'generic', 'rule w')]


def test_override_of_an_underived_port_adds_it_with_its_role():
    d = derive.derive(DEFAULT_EGRESS,
                      overrides={'consumed:tcp/5432': 'generic',
                                 'udp/5061': 'sip'})
    assert labels(d) == {('consumed', 'tcp', '5432', 'generic'),
                         ('offered', 'udp', '5061', 'sip')}


def test_override_with_a_role_only_changes_that_role():
    d = derive.derive([rule('ingress', 'udp', 5080, 5080),
                       rule('egress', 'udp', 5080, 5080)],
                      overrides={'offered:udp/5080': 'sip'})
    assert labels(d) == {('offered', 'udp', '5080', 'sip'),
                         ('consumed', 'udp', '5080', 'generic')}


def test_small_ranges_are_decoded_port_by_port_and_tuple_overrides_win():
    svcs = derive.services_from_rules(
        [rule('ingress', 'tcp', 8079, 8081)],
        overrides={('tcp', 8081): 'sip'})
    got = {(s.port_label, s.app) for s in svcs}
    assert got == {('8079', 'generic'), ('8080', 'http'), ('8081', 'sip')}


@pytest.mark.parametrize('bad', [{'tcp/80-90': 'http'}, {'icmp/1': 'http'},
                                 {'tcp/80': 'ftp'}, {'tcp/70000': 'http'},
                                 {'in:tcp/80': 'http'}])
def test_bad_overrides_are_clear_errors(bad):
    with pytest.raises(spec_mod.SpecError):
        derive.parse_overrides(bad)


def test_configured_well_known_map_replaces_the_default():
    wk = derive.parse_well_known({'tcp/8443': 'http', 'udp/5070': 'sip'})
    d = derive.derive([rule('ingress', 'tcp', 8443, 8443),
                       rule('ingress', 'tcp', 80, 80),
                       rule('ingress', 'udp', 5070, 5070)], well_known=wk)
    assert labels(d) == {('offered', 'tcp', '8443', 'http'),
                         ('offered', 'tcp', '80', 'generic'),
                         ('offered', 'udp', '5070', 'sip')}


def test_well_known_map_takes_no_role():
    with pytest.raises(spec_mod.SpecError, match='no role'):
        derive.parse_well_known({'offered:tcp/80': 'http'})


def test_bad_port_ranges_are_skipped_not_fatal():
    d = derive.derive([rule('ingress', 'tcp', 90, 80, rid='x'),
                       rule('ingress', 'tcp', 'http', None, rid='y'),
                       rule('ingress', 'tcp', 22, 22)])
    assert labels(d) == {('offered', 'tcp', '22', 'generic')}
    assert {rid for rid, _ in d.skipped} == {'x', 'y'}


def _port(**kw):
    return base.Port(**dict(dict(id='6f1c2b9e-5d4a-4c3b', device_id='vm',
                                 project_id='p', host='h', mac='', ips=[],
                                 security_groups=[]), **kw))


@pytest.mark.parametrize('vnic,vif,ok', [
    ('normal', 'ovs', True), ('', '', True),
    ('direct', 'hw_veb', False), ('direct-physical', '', False),
    ('vhost-user', '', False), ('normal', 'vhostuser', False),
    ('baremetal', 'other', False), ('something-new', '', False)])
def test_monitorable_says_why_not(vnic, vif, ok):
    got, why = derive.monitorable(_port(vnic_type=vnic, vif_type=vif))
    assert got is ok
    assert bool(why) is not ok
    if not ok:
        assert '6f1c2b9e-5d4a-4c3b' in why
        assert 'tap' in why


def test_sr_iov_reason_names_it():
    _, why = derive.monitorable(_port(vnic_type='direct'))
    assert 'SR-IOV' in why
