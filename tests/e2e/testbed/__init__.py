"""The 2017 paper's testbed, with real software in network namespaces.

Wallschläger et al. evaluated DPI-based anomaly detection on Project
Clearwater's registration path (DESIGN.md 1.1). This package rebuilds it
on one host, every "VM" a network namespace behind a veth whose root end
is named like a Nova tap (``tap`` + 11 characters of its port id), so
dpiaas captures each VM exactly where its agent would::

    client --udp/5060--> bono --udp/5060--> sprout --tcp/5432--> homestead
    SIPp,                Kamailio           Kamailio            PostgreSQL,
    HTTP load            edge proxy         registrar,          subscribers
      |                                     auth_db digest
      +--tcp/80--> web (nginx)

Every VM has its own /24 (``198.18.<n>.0/24``, VM ``.2``, gateway ``.1`` =
the tap); traffic between VMs is routed by the root namespace, so it
crosses the sender's tap and the receiver's tap.

Using it from a test or a bench (root needed)::

    from tests.e2e.testbed import Testbed

    with Testbed(tmpdir) as tb:               # up in a few seconds
        tb.check_sip()                        # 10 REGISTERs -> 200 OK
        path = tb.write_inventory()           # static inventory, 4.3
        tb.start_load()                       # 20 REGISTER/s, 20 GET/s
        ...                                   # normal period
        with tb.anomaly('sip_delay'):         # +150 ms on sprout's NIC
            ...                               # anomalous period
        ...                                   # restored
    # everything is gone: namespaces, veths, iptables rules, processes

- ``tb.inventory()`` is the inventory dict (ports with tap, MAC, IP, and a
  Security Group per VM with exactly the rules it needs: sprout ingress
  udp/5060 and egress tcp/5432, ...); ``tb.write_inventory(path)`` writes
  it for ``dpiaas-all-in-one --inventory``. ``tb.vm('sprout')`` has
  ``.tap``, ``.mac``, ``.ip``, ``.port_id``, ``.server_id``, ``.ns``;
  ``tb.describe()`` all of them. ``host`` (default: this host's name) is
  the ``binding:host_id`` the inventory gives every port.
- ``tb.start_load()`` / ``tb.stop_load()``; ``tb.load_stats()`` gives the
  clients' own cumulative counts (SIPp successful/failed registrations,
  HTTP ok/errors).
- ``tb.anomaly(name, **params)`` returns a context manager with
  ``inject()`` / ``restore()`` and ``expected`` (``(role, metric,
  'up'|'down')``: the metrics that should explain it). Names, in
  :data:`ANOMALIES`: ``sip_delay`` (``delay_ms=150``), ``db_down``,
  ``web_down``, ``sip_loss`` (``loss_pct=30``), ``sip_forbidden``,
  ``register_flood`` (``factor=10``). Anomalies still injected when the
  testbed closes are restored first.
- ``tb.capture(role)`` runs dpiaas's own collector (``dpiaas capture``)
  on that VM's tap with the services of its Security Group; as a context
  manager it gives ``intervals(since, until)``, ``values(metric, since,
  until)`` and ``wait(predicate, since, timeout, what)`` over wall-clock
  epoch seconds.

Debian packages: kamailio, kamailio-postgres-modules, sip-tester,
postgresql, nginx-light, iptables, iproute2, curl (bindep.txt ``[test]``).
Delay and loss use ``../shared/tools/nfq_shaper.py`` (the kernel has no
``sch_netem``; override the path with ``DPIAAS_NFQ_SHAPER``).
Every config and log is kept in the work directory for post-mortems.
A run killed without teardown (SIGKILL) leaves namespaces behind; the next
testbed removes those whose creating process is gone (namespace names
carry its pid: ``dpiaas-e2e-<pid>-<tag>-<role>``).
"""
from tests.e2e.testbed.anomalies import ANOMALIES
from tests.e2e.testbed.procs import TestbedError
from tests.e2e.testbed.testbed import missing_prerequisites
from tests.e2e.testbed.testbed import Testbed

__all__ = ['ANOMALIES', 'Testbed', 'TestbedError', 'missing_prerequisites']
