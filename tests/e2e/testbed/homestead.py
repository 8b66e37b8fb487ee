"""Homestead: the subscriber database, PostgreSQL in its own VM.

Clearwater's Homestead holds the subscribers' credentials that Sprout
fetches to check a REGISTER's digest. Here it is a PostgreSQL cluster made
with ``initdb`` in a fresh directory, holding Kamailio's own schema (the
``subscriber`` table of auth_db, ``location`` of usrloc, from the
kamailio-postgres-modules package) and N subscribers with passwords.
Sprout reaches it over TCP 5432 with a password (SCRAM), as a registrar
reaches a remote database.

PostgreSQL refuses to run as root, so it runs as the ``postgres`` user in
a directory of its own (the testbed's work directory may not be readable
by that user); the directory is removed on :meth:`destroy`.
"""
import glob
import os
import pwd
import re
import shutil
import signal
import tempfile

from tests.e2e.testbed import procs

DB_NAME = 'kamailio'
DB_USER = 'kamailio'
DB_PASSWORD = 'homestead-secret'
PORT = 5432
KAMAILIO_SCHEMA = '/usr/share/kamailio/postgres'
SCHEMA_FILES = ('standard-create.sql', 'auth_db-create.sql',
                'usrloc-create.sql')


def pg_bindir():
    """The newest ``/usr/lib/postgresql/<v>/bin`` holding ``initdb``."""
    found = sorted(glob.glob('/usr/lib/postgresql/*/bin/initdb'),
                   key=lambda p: int(p.split('/')[-3]))
    if not found:
        raise procs.TestbedError(
            'PostgreSQL server not found (Debian package postgresql)')
    return os.path.dirname(found[-1])


def subscriber(i):
    """Username and password of subscriber ``i`` (0-based)."""
    return 'sub%05d' % i, 'pw-%05d-secret' % i


class Homestead:
    """PostgreSQL in ``vm`` with ``subscribers`` digest-auth accounts."""

    def __init__(self, vm, workdir, domain, subscribers=100):
        self.vm = vm
        self.workdir = str(workdir)
        self.domain = domain
        self.subscribers = subscribers
        self.bindir = pg_bindir()
        self.dir = None
        self.proc = None
        self.log = os.path.join(self.workdir, 'homestead-postgres.log')

    @property
    def url(self):
        """The database URL Kamailio's db_postgres connects with."""
        return 'postgres://%s:%s@%s:%d/%s' % (
            DB_USER, DB_PASSWORD, self.vm.ip, PORT, DB_NAME)

    def _as_postgres(self, *argv):
        return ['setpriv', '--reuid=postgres', '--regid=postgres',
                '--init-groups', '--'] + [str(a) for a in argv]

    def create(self):
        """initdb, start, create the schema and the subscribers."""
        try:
            user = pwd.getpwnam('postgres')
        except KeyError:
            raise procs.TestbedError(
                'no postgres user (Debian package postgresql)')
        self.dir = tempfile.mkdtemp(prefix='dpiaas-homestead-%d-'
                                    % os.getpid())
        os.chown(self.dir, user.pw_uid, user.pw_gid)
        data = os.path.join(self.dir, 'data')
        procs.run(*self._as_postgres(
            os.path.join(self.bindir, 'initdb'), '-D', data, '-U',
            'postgres', '-A', 'trust', '--auth-host=scram-sha-256',
            '--no-sync', '-E', 'UTF8', '--locale=C'), timeout=120)
        with open(os.path.join(data, 'postgresql.conf'), 'a') as f:
            f.write("\n# dpiaas testbed\n"
                    "listen_addresses = '%s'\nport = %d\n"
                    "unix_socket_directories = '%s'\n"
                    "fsync = off\nsynchronous_commit = off\n"
                    "full_page_writes = off\nmax_connections = 40\n"
                    "shared_buffers = 16MB\n"
                    "password_encryption = 'scram-sha-256'\n"
                    % (self.vm.ip, PORT, self.dir))
        with open(os.path.join(data, 'pg_hba.conf'), 'w') as f:
            f.write('local all all trust\n'
                    'host %s %s 0.0.0.0/0 scram-sha-256\n'
                    % (DB_NAME, DB_USER))
        self.start()
        self.psql('CREATE ROLE %s LOGIN PASSWORD \'%s\'; '
                  % (DB_USER, DB_PASSWORD), db='postgres')
        self.psql('CREATE DATABASE %s OWNER %s' % (DB_NAME, DB_USER),
                  db='postgres')
        for name in SCHEMA_FILES:
            with open(os.path.join(KAMAILIO_SCHEMA, name)) as f:
                self.psql(f.read())
        rows = ',\n'.join("('%s', '%s', '%s')" % (u, self.domain, p)
                          for u, p in map(subscriber,
                                          range(self.subscribers)))
        self.psql('INSERT INTO subscriber (username, domain, password) '
                  'VALUES %s' % rows)

    def psql(self, sql, db=DB_NAME):
        """Run SQL over the local socket as the database owner."""
        user = 'postgres' if db == 'postgres' else DB_USER
        return procs.run(
            'psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-h', self.dir,
            '-p', PORT, '-U', user, '-d', db, '-At', '-c', sql,
            ns=self.vm.ns).stdout

    def start(self):
        """Start the postmaster and wait until it accepts connections."""
        self.proc = procs.Process(
            'postgres', self._as_postgres(
                os.path.join(self.bindir, 'postgres'), '-D',
                os.path.join(self.dir, 'data')),
            self.log, ns=self.vm.ns)
        procs.wait_for(
            lambda: self.proc.check_alive() and self.ready(),
            procs.START_TIMEOUT, 'PostgreSQL in %s' % self.vm.ns, 0.2)

    def ready(self):
        return procs.run(os.path.join(self.bindir, 'pg_isready'), '-q',
                         '-h', self.vm.ip, '-p', PORT, ns=self.vm.ns,
                         check=False).returncode == 0

    def stop(self):
        """Fast shutdown: connections are cut, the port closes."""
        if self.proc is not None:
            self.proc.stop(signal.SIGINT, timeout=30)
            self.proc = None

    def running(self):
        return self.proc is not None and self.proc.alive()

    def destroy(self):
        self.stop()
        if self.dir:
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None


def cleanup_stale():
    """Remove database directories of testbed runs that no longer run."""
    for path in glob.glob(os.path.join(tempfile.gettempdir(),
                                       'dpiaas-homestead-*')):
        m = re.match(r'dpiaas-homestead-(\d+)-', os.path.basename(path))
        if m and not procs.pid_alive(int(m.group(1))):
            shutil.rmtree(path, ignore_errors=True)
