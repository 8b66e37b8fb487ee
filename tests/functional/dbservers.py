"""Throwaway PostgreSQL and MariaDB servers for tests and benchmarks.

Each server lives in its own temporary directory, listens on loopback (a
free port) or a socket there, has fsync off, and is gone when stopped.
The Debian packages ``postgresql`` and ``mariadb-server`` provide the
binaries (bindep.txt ``[test]``); none of their system services is used.
"""
import atexit
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time

import pytest

START_TIMEOUT = 60.0


class ServerMissing(Exception):
    """The binaries of a server are not installed."""


def _free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def _wait(ready, proc_alive, what, log):
    deadline = time.monotonic() + START_TIMEOUT
    err = None
    while time.monotonic() < deadline:
        if not proc_alive():
            raise RuntimeError('%s exited at start: %s' % (what, _tail(log)))
        try:
            ready()
            return
        except Exception as e:  # not accepting connections yet
            err = e
            time.sleep(0.1)
    raise RuntimeError('%s not ready after %ss: %s; %s'
                       % (what, START_TIMEOUT, err, _tail(log)))


def _tail(path):
    try:
        with open(path, errors='replace') as f:
            return ' | '.join(f.read().splitlines()[-5:])
    except OSError:
        return '(no log)'


class PostgresServer:
    """``initdb`` + ``pg_ctl start`` as the postgres user, trust auth."""

    def __init__(self):
        bins = sorted(glob.glob('/usr/lib/postgresql/*/bin/initdb'))
        if not bins:
            raise ServerMissing('PostgreSQL is not installed (Debian '
                                'package postgresql)')
        self.bindir = os.path.dirname(bins[-1])
        self.dir = tempfile.mkdtemp(prefix='dpiaas-pg-')
        self.data = os.path.join(self.dir, 'data')
        self.log = os.path.join(self.dir, 'server.log')
        self.port = _free_port()
        self.user = None
        if os.geteuid() == 0:
            self.user = 'postgres'
            pw = pwd.getpwnam('postgres')
            os.chown(self.dir, pw.pw_uid, pw.pw_gid)
        self.started = False

    def _run(self, *args):
        subprocess.run([os.path.join(self.bindir, args[0])] + list(args[1:]),
                       check=True, user=self.user, cwd=self.dir,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def start(self):
        self._run('initdb', '-D', self.data, '-A', 'trust', '-U',
                  'postgres', '-E', 'UTF8', '--no-sync')
        opts = ('-F -p %d -k %s -c listen_addresses=127.0.0.1 '
                '-c max_connections=50' % (self.port, self.dir))
        self._run('pg_ctl', '-D', self.data, '-l', self.log, '-o', opts,
                  '-w', '-t', str(int(START_TIMEOUT)), 'start')
        self.started = True
        atexit.register(self.stop)
        _wait(lambda: self._connect().close(), lambda: True, 'PostgreSQL',
              self.log)
        return self

    def _connect(self, dbname='postgres'):
        import psycopg2
        conn = psycopg2.connect(host='127.0.0.1', port=self.port,
                                user='postgres', dbname=dbname)
        conn.autocommit = True
        return conn

    def create_database(self, name):
        """A new empty database; returns its SQLAlchemy URL."""
        conn = self._connect()
        try:
            with conn.cursor() as cur:
                cur.execute('DROP DATABASE IF EXISTS "%s"' % name)
                cur.execute('CREATE DATABASE "%s"' % name)
        finally:
            conn.close()
        return self.url(name)

    def url(self, name):
        return 'postgresql+psycopg2://postgres@127.0.0.1:%d/%s' % (
            self.port, name)

    def stop(self):
        if self.started:
            self.started = False
            subprocess.run([os.path.join(self.bindir, 'pg_ctl'), '-D',
                            self.data, '-m', 'immediate', 'stop'],
                           user=self.user, cwd=self.dir,
                           stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
        shutil.rmtree(self.dir, ignore_errors=True)


class MariadbServer:
    """``mariadb-install-db`` + ``mariadbd`` on a socket, root without
    password."""

    def __init__(self):
        self.install = shutil.which('mariadb-install-db')
        self.server = (shutil.which('mariadbd')
                       or shutil.which('mariadbd', path='/usr/sbin'))
        if not self.install or not self.server:
            raise ServerMissing('MariaDB is not installed (Debian package '
                                'mariadb-server)')
        self.dir = tempfile.mkdtemp(prefix='dpiaas-mariadb-')
        self.data = os.path.join(self.dir, 'data')
        self.socket = os.path.join(self.dir, 'mysqld.sock')
        self.log = os.path.join(self.dir, 'server.log')
        self.port = _free_port()
        self.proc = None

    def _user(self):
        return 'root' if os.geteuid() == 0 else pwd.getpwuid(
            os.geteuid()).pw_name

    def start(self):
        subprocess.run([self.install, '--no-defaults',
                        '--datadir=' + self.data, '--user=' + self._user(),
                        '--auth-root-authentication-method=normal',
                        '--skip-test-db'],
                       check=True, stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE, cwd=self.dir)
        self.proc = subprocess.Popen(
            [self.server, '--no-defaults', '--datadir=' + self.data,
             '--socket=' + self.socket, '--port=%d' % self.port,
             '--bind-address=127.0.0.1', '--user=' + self._user(),
             '--pid-file=' + os.path.join(self.dir, 'mysqld.pid'),
             '--log-error=' + self.log, '--skip-log-bin',
             '--innodb-flush-log-at-trx-commit=0', '--innodb-doublewrite=0',
             '--innodb-buffer-pool-size=128M', '--max-connections=50'],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        atexit.register(self.stop)
        _wait(lambda: self._connect().close(),
              lambda: self.proc.poll() is None, 'MariaDB', self.log)
        return self

    def _connect(self, db=None):
        import pymysql
        return pymysql.connect(unix_socket=self.socket, user='root',
                               database=db, autocommit=True)

    def create_database(self, name):
        conn = self._connect()
        try:
            with conn.cursor() as cur:
                cur.execute('DROP DATABASE IF EXISTS `%s`' % name)
                cur.execute('CREATE DATABASE `%s` CHARACTER SET utf8mb4'
                            % name)
        finally:
            conn.close()
        return self.url(name)

    def url(self, name):
        return 'mysql+pymysql://root@localhost/%s?unix_socket=%s' % (
            name, self.socket)

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None
        shutil.rmtree(self.dir, ignore_errors=True)


SERVERS = {'postgresql': PostgresServer, 'mysql': MariadbServer}


def start(kind):
    """Start a server of ``kind`` (``postgresql`` or ``mysql``)."""
    return SERVERS[kind]().start()


def _missing(reason):
    # CI must show a missing component as a failure, not a quiet skip
    if os.environ.get('CI') == 'true':
        pytest.fail(reason)
    pytest.skip(reason)


def _server_fixture(kind):
    try:
        server = start(kind)
    except ServerMissing as e:
        _missing(str(e))
    return server


@pytest.fixture(scope='session')
def postgresql_server():
    server = _server_fixture('postgresql')
    yield server
    server.stop()


@pytest.fixture(scope='session')
def mariadb_server():
    server = _server_fixture('mysql')
    yield server
    server.stop()
