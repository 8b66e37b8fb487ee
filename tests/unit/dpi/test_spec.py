"""The collector spec's dict form: what the engine stores and sends to
agents (control-plane.rst), field for field."""
import dataclasses

import pytest

from dpiaas.dpi import spec


@pytest.mark.parametrize('service', [
    spec.Service('udp', 5060, 5060, 'sip'),
    spec.Service('tcp', 8000, 8100, 'http', spec.ROLE_CONSUMED),
    spec.Service.parse('consumed:udp/53=dns'),
])
def test_service_dict_has_every_field_in_order(service):
    assert list(service.to_dict().items()) == list(
        dataclasses.asdict(service).items())
    assert spec.Service(**service.to_dict()) == service


def test_collector_spec_round_trips():
    s = spec.CollectorSpec(services=[spec.Service('udp', 5060, 5060, 'sip')],
                           vm_ips=['10.0.0.5'], vm_macs=['fa:16:3e:00:00:01'],
                           interval_ms=500, name='vm1')
    assert spec.CollectorSpec.from_dict(s.to_dict()).to_dict() == s.to_dict()
