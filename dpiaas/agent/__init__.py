"""dpiaas-agent: runs the collectors of one hypervisor's tap devices.

``manager`` is the RPC endpoint (what to run), ``runner`` runs one
collector in a thread, ``tapfinder`` finds a port's tap device,
``reporter`` batches samples to the engine and survives a dead broker,
``service`` wires them to a transport.
"""
