#!/usr/bin/env bash
# Install everything the test suite needs (Debian and Python packages) and
# run it. This is the README's test command and what .ci/run calls.
set -euo pipefail
cd "$(dirname "$0")/.."
. tools/common.sh

install_debian_packages "$(debian_packages test)"
ensure_venv
pip_quiet -r test-requirements.txt

# Compile (and cache) the numba kernels once before the tests run them.
"$VENV/bin/python" -c 'import dpiaas.dpi.warmup as w; w.warm_up()'

set +e
"$VENV/bin/python" -m pytest -p no:cacheprovider -ra "${@:-tests}"
rc=$?
set -e
if [ "$rc" -eq 5 ]; then
    echo "pytest collected no tests: that is a failure here" >&2
    exit 1
fi
exit "$rc"
