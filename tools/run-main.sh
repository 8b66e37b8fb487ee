#!/usr/bin/env bash
# Install dpiaas and run its main job: dpiaas-all-in-one (API + engine +
# agent on SQLite, in-process messaging, a static inventory) on the demo:
# a namespace "VM" running nginx, dnsmasq and Kamailio with steady client
# traffic, monitored through the REST API. Live metrics appear in the log
# within a minute. Arguments replace the default flags (`--demo`), e.g.
# `tools/run-main.sh --inventory my-ports.yaml --bind 0.0.0.0:8778`.
set -euo pipefail
cd "$(dirname "$0")/.."
. tools/common.sh

install_debian_packages "$(debian_packages platform)"
ensure_venv
# compile (and cache) the packet path once, before the agent needs it
"$VENV/bin/python" -c 'import dpiaas.dpi.warmup as w; w.warm_up()'
if [ "$#" -eq 0 ]; then
    set -- --demo
fi
exec "$VENV/bin/dpiaas-all-in-one" "$@"
