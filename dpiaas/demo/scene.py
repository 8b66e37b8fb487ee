"""Set up and tear down the whole demo: VM, servers, clients, inventory."""
import logging
import os
import threading

from dpiaas.demo import inventory
from dpiaas.demo import servers as servers_mod
from dpiaas.demo import traffic
from dpiaas.demo import vm as vm_mod

LOG = logging.getLogger(__name__)


class DemoScene:
    """``with DemoScene(state_dir, host) as scene:`` runs the demo."""

    def __init__(self, state_dir, host):
        self.state_dir = state_dir
        self.host = host
        self.workdir = os.path.join(state_dir, 'demo')
        self.vm = vm_mod.DemoVM(inventory.DEMO_PORT_ID)
        self.servers = []
        self.clients = []
        self.stop_event = threading.Event()
        self.inventory_file = os.path.join(self.workdir, 'inventory.yaml')

    def __enter__(self):
        os.makedirs(self.workdir, exist_ok=True)
        self.vm.create()
        try:
            for i, server in enumerate(
                    servers_mod.available(self.vm, self.workdir)):
                try:
                    server.start()
                except vm_mod.DemoError as exc:
                    if i == 0:
                        raise
                    LOG.warning('demo runs without %s: %s', server.name,
                                exc)
                    continue
                self.servers.append(server)
            self.clients = traffic.start(self.vm, self.servers,
                                         self.stop_event)
            inventory.write(self.inventory_file, self.vm, self.host)
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc):
        self.stop_event.set()
        for server in self.servers:
            server.stop()
        self.vm.destroy()

    @property
    def monitor_request(self):
        """What the demo asks dpiaas to monitor (a tenant's POST body)."""
        return {'server_id': inventory.DEMO_SERVER_ID, 'name': 'demo-vm',
                'interval_ms': 500,
                'detector': {'baseline_s': 120, 'sensitivity': 0.5}}
