"""Bono and Sprout: the edge proxy and the registrar, both Kamailio.

Bono (the edge proxy) takes REGISTERs from clients on udp/5060 and relays
them statefully to Sprout. Sprout (the registrar) challenges every
REGISTER (401 with a digest nonce) and checks the credentials with
``auth_db`` against the ``subscriber`` table in Homestead's PostgreSQL,
fetched over TCP for each authenticated REGISTER: that is the service
Sprout consumes. Bindings are kept in memory (``usrloc`` db_mode 0), as
Clearwater keeps them in Sprout's own store.

Sprout's answers are what an operator sees when something is wrong:
``500`` when the subscriber database cannot be queried, ``403`` when the
password does not match the stored one, ``401`` to ask for credentials.
"""
import os

from tests.e2e.testbed import procs

_COMMON = """#!KAMAILIO
# Written by the dpiaas e2e testbed.
debug=1
log_stderror=yes
children=%(children)d
disable_tcp=yes
listen=udp:%(ip)s:5060
auto_aliases=no
dns=no
rev_dns=no
mpath="%(mpath)s"
loadmodule "tm.so"
loadmodule "sl.so"
loadmodule "maxfwd.so"
loadmodule "textops.so"
loadmodule "siputils.so"
loadmodule "pv.so"
loadmodule "xlog.so"
"""

BONO_CFG = _COMMON + """
modparam("tm", "fr_timer", 4000)
modparam("tm", "fr_inv_timer", 4000)

request_route {
    if (!mf_process_maxfwd_header("10")) {
        sl_send_reply("483", "Too Many Hops");
        exit;
    }
    if (is_method("ACK") && !t_check_trans()) {
        exit;
    }
    if (!is_method("REGISTER|OPTIONS")) {
        sl_send_reply("405", "Method Not Allowed");
        exit;
    }
    # Edge proxy: everything goes to the registrar, statefully.
    $du = "sip:%(sprout)s:5060";
    if (!t_relay()) {
        sl_reply_error();
    }
    exit;
}
"""

SPROUT_CFG = _COMMON + """
loadmodule "db_postgres.so"
loadmodule "auth.so"
loadmodule "auth_db.so"
loadmodule "usrloc.so"
loadmodule "registrar.so"

modparam("auth_db", "db_url", "%(db_url)s")
modparam("auth_db", "calculate_ha1", yes)
modparam("auth_db", "password_column", "password")
modparam("auth_db", "load_credentials", "")
modparam("auth_db", "use_domain", 1)
modparam("usrloc", "db_mode", 0)
modparam("registrar", "max_expires", 3600)

request_route {
    if (!mf_process_maxfwd_header("10")) {
        sl_send_reply("483", "Too Many Hops");
        exit;
    }
    if (is_method("OPTIONS")) {
        sl_send_reply("200", "OK");
        exit;
    }
    if (!is_method("REGISTER")) {
        sl_send_reply("405", "Method Not Allowed");
        exit;
    }
    auth_check("$fd", "subscriber", "1");
    $var(rc) = $rc;
    if ($var(rc) == -1) {
        # the subscriber database could not be asked
        sl_send_reply("500", "Subscriber Store Unavailable");
        exit;
    }
    if ($var(rc) == -2) {
        sl_send_reply("403", "Forbidden");
        exit;
    }
    if ($var(rc) < 0) {
        auth_challenge("$fd", "0");
        exit;
    }
    if (!save("location")) {
        sl_reply_error();
    }
    exit;
}
"""


def kamailio_modules():
    """Kamailio's module directory (needs db_postgres.so for Sprout)."""
    for path in ('/usr/lib/x86_64-linux-gnu/kamailio/modules',
                 '/usr/lib/aarch64-linux-gnu/kamailio/modules',
                 '/usr/lib/kamailio/modules', '/usr/lib64/kamailio/modules'):
        if os.path.exists(os.path.join(path, 'sl.so')):
            if not os.path.exists(os.path.join(path, 'db_postgres.so')):
                raise procs.TestbedError(
                    'Kamailio has no db_postgres module (Debian package '
                    'kamailio-postgres-modules)')
            return path
    raise procs.TestbedError('Kamailio not found (Debian package kamailio)')


class Kamailio:
    """One Kamailio instance in a VM, from a config template."""

    def __init__(self, name, vm, workdir, template, children=2, **params):
        self.name = name
        self.vm = vm
        self.dir = os.path.join(str(workdir), name)
        self.template = template
        self.params = dict(params, ip=vm.ip, children=children)
        self.proc = None

    def start(self):
        os.makedirs(self.dir, exist_ok=True)
        cfg = os.path.join(self.dir, 'kamailio.cfg')
        with open(cfg, 'w') as f:
            f.write(self.template % dict(self.params,
                                         mpath=kamailio_modules()))
        procs.run('kamailio', '-c', '-f', cfg)  # config check, clear error
        self.proc = procs.Process(
            self.name,
            ['kamailio', '-f', cfg, '-DD', '-E', '-m', '32', '-M', '4',
             '-P', os.path.join(self.dir, 'kamailio.pid'), '-Y', self.dir,
             '-w', self.dir],
            os.path.join(self.dir, 'kamailio.log'), ns=self.vm.ns)
        procs.wait_for(
            lambda: self.proc.check_alive() and procs.listening(
                self.vm.ns, 'udp', 5060),
            procs.START_TIMEOUT, '%s to listen on udp/5060' % self.name)

    def stop(self):
        if self.proc is not None:
            self.proc.stop()
            self.proc = None


def bono(vm, workdir, sprout_ip):
    return Kamailio('bono', vm, workdir, BONO_CFG, children=2,
                    sprout=sprout_ip)


def sprout(vm, workdir, db_url):
    # Each authenticated REGISTER waits for one database round trip in a
    # worker: enough workers that +150 ms on that trip does not starve
    # the registrar at the testbed's load.
    return Kamailio('sprout', vm, workdir, SPROUT_CFG, children=8,
                    db_url=db_url)
