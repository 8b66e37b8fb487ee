"""oslo.messaging plumbing and the versioned RPC clients of dpiaas.

``transport`` builds transports, servers and clients; ``agent_api`` is the
engine's client of the agents, ``engine_api`` the agents' (and the API's)
client of the engines. The contract is
``doc/source/contributor/control-plane.rst``.
"""
