"""Fixtures of the fault tests: a private broker and a veth "VM"."""
import os
import subprocess
import sys
import uuid

import pytest

from tests.functional import netns
from tests.functional.faults import broker as broker_mod
from tests.functional.rabbitmq import unavailable
from tests.functional.sip_probe import RESPONDER


@pytest.fixture
def vm():
    from tests.functional.dpi import peers
    if os.geteuid() != 0:
        unavailable('needs root (namespaces, AF_PACKET)')
    octet = peers.free_subnet_octet(lo=120, hi=149)
    tap = 'tap' + uuid.uuid4().hex[:8] + '-ft'
    with netns.veth_host(octet, tap=tap) as host:
        responder = host.popen(sys.executable, '-c', RESPONDER,
                               stdout=subprocess.PIPE)
        assert responder.stdout.readline().strip() == b'ready'
        try:
            yield host
        finally:
            responder.kill()
            responder.wait()


@pytest.fixture
def broker(tmp_path):
    b = broker_mod.PrivateBroker(tmp_path / 'rabbitmq')
    try:
        b.start()
        yield b
    finally:
        b.stop()
