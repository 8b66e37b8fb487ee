"""The agent keeps CAP_NET_RAW and CAP_NET_ADMIN and nothing else."""
import errno
import json
import logging
import os
import subprocess
import sys
import textwrap

import pytest

from dpiaas.agent import privileges

KEEP = privileges.mask_of(privileges.KEEP)
ROOT_ALL = (1 << 41) - 1  # every capability of a 6.x kernel
LIMITED = privileges.CapState(inh=0, prm=KEEP, eff=KEEP, bnd=KEEP, amb=0)


class FakeLibc:
    """Records the calls and applies them to a CapState."""

    def __init__(self, state, capset_errno=None):
        self.state = state
        self.calls = []
        self.capset_errno = capset_errno

    def prctl(self, option, arg2, arg3=0):
        self.calls.append(('prctl', option, arg2, arg3))
        s = self.state
        if option == privileges.PR_CAPBSET_DROP:
            if not s.eff >> privileges.CAP_SETPCAP & 1:
                raise OSError(errno.EPERM, 'prctl')
            self.state = s._replace(bnd=s.bnd & ~(1 << arg2))
        elif option == privileges.PR_CAP_AMBIENT:
            self.state = s._replace(amb=s.amb & ~(1 << arg3))

    def capset(self, effective, permitted, inheritable):
        self.calls.append(('capset', effective, permitted, inheritable))
        if self.capset_errno:
            raise OSError(self.capset_errno, 'capset')
        self.state = self.state._replace(
            eff=effective, prm=permitted, inh=inheritable,
            amb=self.state.amb & permitted)

    def read(self):
        return self.state


def drop(state, **kwargs):
    libc = FakeLibc(state, **kwargs)
    return privileges.drop_capabilities(libc=libc,
                                        state_reader=libc.read), libc


def test_root_keeps_only_net_raw_and_net_admin_in_every_set():
    root = privileges.CapState(0, ROOT_ALL, ROOT_ALL, ROOT_ALL, 0)
    outcome, libc = drop(root)
    assert libc.state == LIMITED
    assert outcome.kept == ['cap_net_admin', 'cap_net_raw']
    assert 'cap_sys_admin' in outcome.dropped
    assert 'cap_dac_override' in outcome.dropped
    assert outcome.left == []


def test_bounding_set_is_dropped_before_capset_removes_setpcap():
    root = privileges.CapState(0, ROOT_ALL, ROOT_ALL, ROOT_ALL, 0)
    _, libc = drop(root)
    kinds = [c[0] for c in libc.calls]
    assert kinds[-1] == 'capset' and set(kinds[:-1]) == {'prctl'}


def test_already_limited_agent_makes_no_system_call():
    outcome, libc = drop(LIMITED)
    assert libc.calls == []
    assert outcome == privileges.Outcome(['cap_net_admin', 'cap_net_raw'],
                                         [], [])


def test_unprivileged_agent_goes_on_and_says_capture_will_fail(caplog):
    nobody = privileges.CapState(0, 0, 0, 0, 0)
    with caplog.at_level(logging.WARNING):
        outcome, libc = drop(nobody)
    assert libc.calls == [] and outcome.kept == []
    assert 'cap_net_raw' in caplog.text


def test_ambient_extra_capability_is_lowered():
    state = privileges.CapState(inh=KEEP | 1 << 21, prm=KEEP | 1 << 21,
                                eff=KEEP | 1 << 21, bnd=KEEP, amb=1 << 21)
    outcome, libc = drop(state)
    assert ('prctl', privileges.PR_CAP_AMBIENT,
            privileges.PR_CAP_AMBIENT_LOWER, 21) in libc.calls
    assert libc.state == LIMITED._replace(inh=KEEP)
    assert outcome.dropped == ['cap_sys_admin']


def test_bounding_set_without_setpcap_is_reported_not_fatal(caplog):
    # a non-root user with ambient caps and a full bounding set
    state = privileges.CapState(0, KEEP, KEEP, ROOT_ALL, KEEP)
    with caplog.at_level(logging.WARNING):
        outcome, libc = drop(state)
    assert not any(c[1] == privileges.PR_CAPBSET_DROP for c in libc.calls
                   if c[0] == 'prctl')
    assert 'cap_sys_admin' in outcome.left
    assert 'CapabilityBoundingSet' in caplog.text


def test_capset_failure_is_logged_and_the_agent_goes_on(caplog):
    root = privileges.CapState(0, ROOT_ALL, ROOT_ALL, ROOT_ALL, 0)
    with caplog.at_level(logging.ERROR):
        outcome, _ = drop(root, capset_errno=errno.EPERM)
    assert 'cap_sys_admin' in outcome.left
    assert 'still holds' in caplog.text


def test_unreadable_proc_drops_nothing_and_does_not_raise(caplog):
    def broken():
        raise OSError(errno.ENOENT, 'no /proc')
    with caplog.at_level(logging.WARNING):
        outcome = privileges.drop_capabilities(libc=FakeLibc(None),
                                               state_reader=broken)
    assert outcome == privileges.Outcome([], [], [])
    assert 'none dropped' in caplog.text


def test_read_state_parses_proc_status(tmp_path):
    status = tmp_path / 'status'
    status.write_text('Name:\tx\nCapInh:\t0000000000000000\n'
                      'CapPrm:\t0000000000003000\nCapEff:\t0000000000003000\n'
                      'CapBnd:\t000001ffffffffff\nCapAmb:\t0000000000001000\n')
    state = privileges.read_state([str(tmp_path / 'missing'), str(status)])
    assert state == privileges.CapState(0, KEEP, KEEP, ROOT_ALL, 1 << 12)


def test_threads_holding_lists_threads_with_more_than_kept(tmp_path):
    def task(tid, eff):
        (tmp_path / tid).mkdir()
        (tmp_path / tid / 'status').write_text(
            'CapInh:\t0\nCapPrm:\t%x\nCapEff:\t%x\nCapBnd:\t%x\n'
            'CapAmb:\t0\n' % (eff, eff, eff))
    task('100', KEEP)
    task('101', ROOT_ALL)
    task('102', 0)
    (tmp_path / '103').mkdir()  # ended while read: no status
    assert privileges.threads_holding(KEEP, str(tmp_path)) == [101]
    assert privileges.threads_holding(KEEP, str(tmp_path / 'x')) == []


def test_names():
    assert privileges.names(KEEP) == ['cap_net_admin', 'cap_net_raw']
    assert privileges.cap_name(63) == 'cap_63'


CHILD = textwrap.dedent('''
    import ctypes, json, socket, subprocess, sys
    from dpiaas.agent import privileges
    out = {'outcome': privileges.drop_capabilities()._asdict(),
           'threads_holding': privileges.threads_holding()}
    try:
        open(sys.argv[1]).read()
        out['read_other_uid_0600'] = 'allowed'
    except PermissionError:
        out['read_other_uid_0600'] = 'denied'
    libc = ctypes.CDLL(None, use_errno=True)
    CLONE_NEWUTS = 0x04000000
    out['unshare_uts'] = ('allowed' if libc.unshare(CLONE_NEWUTS) == 0
                          else 'denied errno %d' % ctypes.get_errno())
    try:
        socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0).close()
        out['af_packet'] = 'allowed'
    except PermissionError:
        out['af_packet'] = 'denied'
    # a program the agent starts (capture worker, ovs-vsctl) as root
    grandchild = subprocess.run(
        [sys.executable, '-c',
         'import json; from dpiaas.agent import privileges as p; '
         'print(json.dumps(p.read_state()._asdict()))'],
        capture_output=True, text=True, check=True)
    out['grandchild'] = json.loads(grandchild.stdout)
    print(json.dumps(out))
''')


@pytest.mark.root
def test_dropped_child_cannot_bypass_dac_or_sysadmin_but_can_capture(
        tmp_path):
    if os.geteuid() != 0:
        if os.environ.get('CI', '').lower() == 'true':
            pytest.fail('needs root')
        pytest.skip('needs root')
    secret = tmp_path / 'other-users-secret'
    secret.write_text('s3cret')
    os.chown(secret, 65534, 65534)
    os.chmod(secret, 0o600)
    proc = subprocess.run([sys.executable, '-c', CHILD, str(secret)],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout.splitlines()[-1])
    assert out['outcome']['kept'] == ['cap_net_admin', 'cap_net_raw']
    assert out['read_other_uid_0600'] == 'denied'
    assert out['unshare_uts'] == 'denied errno %d' % errno.EPERM
    assert out['af_packet'] == 'allowed'
    assert out['threads_holding'] == []
    assert out['grandchild']['bnd'] == KEEP
    assert out['grandchild']['prm'] == KEEP
    # and the test process itself kept everything
    assert privileges.read_state().eff & (1 << 21)


EARLY_THREAD = textwrap.dedent('''
    import logging, threading
    logging.basicConfig(level=logging.WARNING)
    from dpiaas.agent import privileges
    release = threading.Event()
    t = threading.Thread(target=release.wait)
    t.start()
    print(len(privileges.threads_holding()))
    privileges.drop_capabilities()
    print(len(privileges.threads_holding()))
    release.set()
''')


@pytest.mark.root
def test_a_thread_started_before_the_drop_is_reported(tmp_path):
    if os.geteuid() != 0:
        if os.environ.get('CI', '').lower() == 'true':
            pytest.fail('needs root')
        pytest.skip('needs root')
    proc = subprocess.run([sys.executable, '-c', EARLY_THREAD],
                          capture_output=True, text=True, timeout=60,
                          env=dict(os.environ, OPENBLAS_NUM_THREADS='1'))
    assert proc.returncode == 0, proc.stderr
    before, after = proc.stdout.split()
    assert int(before) == 2 and int(after) == 1
    assert 'only this thread loses them' in proc.stderr
    assert '1 threads started before the drop' in proc.stderr
