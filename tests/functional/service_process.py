"""A dpiaas service (engine, agent) run as a real process by a test.

Each has its own config file and log in the test's tmp dir, so that a
failing test shows what the process said.
"""
import os
import signal
import subprocess
import sys

BIN = os.path.dirname(sys.executable)


def command(name):
    """The console script ``name`` of the venv running the tests."""
    return [os.path.join(BIN, name)]


def db_sync(db_url):
    """``dpiaas-manage db sync`` on ``db_url``, as an operator runs it."""
    sync = subprocess.run(command('dpiaas-manage') +
                          ['--database', db_url, 'db', 'sync'],
                          capture_output=True, text=True, timeout=120)
    assert sync.returncode == 0, sync.stderr


class Proc:
    """A dpiaas service process with its own config file and log."""

    def __init__(self, tmp_path, name, config):
        self.name = name
        self.conf = tmp_path / (name + '.conf')
        self.conf.write_text(config)
        self.log_path = tmp_path / (name + '.log')
        self.proc = None

    def start(self, binary):
        log = open(self.log_path, 'ab')
        self.proc = subprocess.Popen(
            command(binary) + ['--config-file', str(self.conf)],
            stdout=log, stderr=subprocess.STDOUT)
        return self

    def text(self):
        return self.log_path.read_text(errors='replace')

    def log(self):
        """The end of the log, for assertion messages."""
        return self.text()[-4000:]

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, sig=signal.SIGTERM):
        if self.alive():
            self.proc.send_signal(sig)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
