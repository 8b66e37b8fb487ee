"""Where ports, hosts, tap devices and Security Group rules come from."""
