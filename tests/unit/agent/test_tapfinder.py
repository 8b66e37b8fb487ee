"""A port's tap: Open vSwitch first, then the hint, then Nova's name."""
import json
import os
import stat

import pytest

from dpiaas.agent import tapfinder

PORT = '6f1c2b9e-5d4a-4c3b-9a8f-1e2d3c4b5a69'


@pytest.fixture
def sysfs(tmp_path):
    d = tmp_path / 'net'
    d.mkdir()
    return d


def fake_ovs(tmp_path, monkeypatch, body):
    """An ``ovs-vsctl`` on PATH that logs its argv and runs ``body``."""
    bindir = tmp_path / 'bin'
    bindir.mkdir(exist_ok=True)
    script = bindir / 'ovs-vsctl'
    script.write_text('#!/bin/sh\necho "$@" >> %s\n%s\n'
                      % (tmp_path / 'argv.log', body))
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv('PATH', '%s:%s' % (bindir, os.environ['PATH']))
    return tmp_path / 'argv.log'


def ovs_answer(*names):
    return "echo '%s'" % json.dumps(
        {'data': [[n] for n in names], 'headings': ['name']})


def finder(sysfs, **kw):
    return tapfinder.TapFinder(sysfs=str(sysfs), ovs_timeout=2, **kw)


def test_nova_tap_name_is_tap_and_11_characters():
    assert tapfinder.nova_tap_name(PORT) == 'tap6f1c2b9e-5d'


def test_open_vswitch_answer_wins(tmp_path, monkeypatch, sysfs):
    log = fake_ovs(tmp_path, monkeypatch, ovs_answer('vhu6f1c2b9e-5d'))
    for name in ('vhu6f1c2b9e-5d', 'tap6f1c2b9e-5d', 'hinted0'):
        (sysfs / name).mkdir()
    assert finder(sysfs).find(PORT, hint='hinted0') == 'vhu6f1c2b9e-5d'
    argv = log.read_text()
    assert 'find Interface external_ids:iface-id=%s' % PORT in argv
    assert '--columns=name --format=json' in argv


def test_hint_when_ovs_does_not_know_the_port(tmp_path, monkeypatch, sysfs):
    fake_ovs(tmp_path, monkeypatch, ovs_answer())
    (sysfs / 'hinted0').mkdir()
    (sysfs / 'tap6f1c2b9e-5d').mkdir()
    assert finder(sysfs).find(PORT, hint='hinted0') == 'hinted0'


def test_nova_name_when_ovs_fails(tmp_path, monkeypatch, sysfs):
    fake_ovs(tmp_path, monkeypatch,
             "echo 'database connection failed' >&2; exit 1")
    (sysfs / 'tap6f1c2b9e-5d').mkdir()
    assert finder(sysfs).find(PORT) == 'tap6f1c2b9e-5d'


def test_garbage_from_ovs_is_ignored(tmp_path, monkeypatch, sysfs):
    fake_ovs(tmp_path, monkeypatch, "echo 'not json'")
    (sysfs / 'tap6f1c2b9e-5d').mkdir()
    assert finder(sysfs).find(PORT) == 'tap6f1c2b9e-5d'


def test_a_hanging_ovs_vsctl_is_given_up(tmp_path, monkeypatch, sysfs):
    fake_ovs(tmp_path, monkeypatch, 'sleep 30')
    (sysfs / 'tap6f1c2b9e-5d').mkdir()
    f = tapfinder.TapFinder(sysfs=str(sysfs), ovs_timeout=0.2)
    assert f.find(PORT) == 'tap6f1c2b9e-5d'


def test_without_ovs_vsctl_nova_name(monkeypatch, sysfs):
    monkeypatch.setenv('PATH', '/nonexistent')
    (sysfs / 'tap6f1c2b9e-5d').mkdir()
    assert finder(sysfs).find(PORT) == 'tap6f1c2b9e-5d'


def test_ovs_name_of_a_device_that_is_gone_falls_back(tmp_path, monkeypatch,
                                                      sysfs):
    fake_ovs(tmp_path, monkeypatch, ovs_answer('qvo6f1c2b9e-5d'))
    (sysfs / 'tap6f1c2b9e-5d').mkdir()
    assert finder(sysfs).find(PORT) == 'tap6f1c2b9e-5d'


def test_no_device_says_what_was_tried(monkeypatch, sysfs):
    monkeypatch.setenv('PATH', '/nonexistent')
    with pytest.raises(tapfinder.TapNotFound) as err:
        finder(sysfs).find(PORT, hint='hinted0')
    assert 'hinted0, tap6f1c2b9e-5d' in str(err.value)
    assert PORT in str(err.value)


def test_names_that_are_not_interface_names_are_refused(monkeypatch, sysfs):
    monkeypatch.setenv('PATH', '/nonexistent')
    (sysfs / 'tap6f1c2b9e-5d').mkdir()
    assert finder(sysfs).find(PORT, hint='../../etc') == 'tap6f1c2b9e-5d'
