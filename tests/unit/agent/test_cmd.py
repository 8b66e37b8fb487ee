"""dpiaas-agent fails at start with one line, and runs in-process."""
import socket

from oslo_config import cfg

from dpiaas import conf as dpiaas_conf
from dpiaas.cmd import agent as cmd
from dpiaas.rpc import agent_api
from dpiaas.rpc import transport as rpc_transport
from tests.unit.agent.waiting import wait_for


def one_line(capsys):
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert 'Traceback' not in err
    return lines[0]


def test_a_missing_config_file_is_one_line_and_exit_2(capsys):
    assert cmd.main(['--config-file', '/nonexistent/agent.conf']) == 2
    assert 'nonexistent/agent.conf' in one_line(capsys)


def test_a_bad_value_is_caught_at_start(tmp_path, capsys):
    path = tmp_path / 'agent.conf'
    path.write_text('[agent]\nreport_interval = often\n')
    assert cmd.main(['--config-file', str(path)]) == 2
    assert 'report_interval' in one_line(capsys)


def test_a_dead_broker_is_one_line_and_exit_3(tmp_path, capsys):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(('127.0.0.1', 0))
        port = s.getsockname()[1]
    path = tmp_path / 'agent.conf'
    path.write_text('[DEFAULT]\ntransport_url = rabbit://guest:guest@'
                    '127.0.0.1:%d/\n[agent]\nbroker_check_timeout = 1\n'
                    % port)
    assert cmd.main(['--config-file', str(path)]) == 3
    line = one_line(capsys)
    assert 'cannot reach the message broker' in line
    assert str(port) in line


def test_host_defaults_to_the_hostname():
    conf = cmd.prepare_conf([])
    assert conf.host == socket.gethostname()


def test_build_agent_serves_get_state_in_process():
    conf = cfg.ConfigOpts()
    dpiaas_conf.register_opts(conf)
    conf([], project='dpiaas')
    conf.set_override('host', 'aio-host')
    conf.set_override('engine_retry_interval', 0.1, group='agent')
    transport = rpc_transport.get_rpc_transport(conf, url='fake://')
    agent = cmd.build_agent(conf, transport)
    agent.start()
    try:
        api = agent_api.AgentAPI(transport)
        state = wait_for(lambda: api.get_state(None, 'aio-host', timeout=2))
        assert state['collectors'] == []
        assert set(state['buffer']) == {'queued', 'dropped'}
    finally:
        agent.stop()
        transport.cleanup()
