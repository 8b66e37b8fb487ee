#!/usr/bin/env bash
# Install dpiaas and run its main job: `dpiaas replay` on the shipped sample
# capture (or on the arguments given).
set -euo pipefail
cd "$(dirname "$0")/.."
. tools/common.sh

install_debian_packages "$(debian_packages platform)"
ensure_venv
if [ "$#" -eq 0 ]; then
    set -- dpiaas/dpi/samples/sample.pcap --service udp/5060=sip \
        --service tcp/80=http --service udp/53=dns --vm-ip 198.18.0.10 \
        --flows
fi
exec "$VENV/bin/dpiaas" replay "$@"
