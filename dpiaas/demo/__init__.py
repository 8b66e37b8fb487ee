"""The all-in-one demo: a namespace "VM" with real services and clients.

``dpiaas-all-in-one --demo`` builds it so that a newcomer sees live metrics
within a minute, on a machine with no cloud: the "VM" is a network
namespace behind a veth whose host end is named like a Nova tap device, it
runs real servers (nginx, and dnsmasq and Kamailio when installed), clients
in the host namespace talk to them at a steady pace, and a static inventory
describes the port as Neutron would.
"""
