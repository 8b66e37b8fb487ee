# Shared by tools/run-*.sh: Debian packages from bindep.txt and the venv.
VENV=${VENV:-$PWD/.venv}
export DEBIAN_FRONTEND=noninteractive

debian_packages() {
    # packages of bindep.txt with profile $1 among those in [...] (or no
    # profile at all)
    awk -v prof="$1" '!/^#/ && NF {
        if (NF == 1) { print $1; next }
        line = $0; sub(/^[^[]*\[/, "", line); sub(/\].*$/, "", line)
        n = split(line, profs, " ")
        for (i = 1; i <= n; i++) if (profs[i] == prof) { print $1; break }
    }' bindep.txt | tr '\n' ' '
}

install_debian_packages() {
    local missing=()
    for pkg in $1; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null |
            grep -q 'install ok installed' || missing+=("$pkg")
    done
    [ "${#missing[@]}" -eq 0 ] && return 0
    if [ "$(id -u)" -ne 0 ]; then
        echo "missing Debian packages (run as root): ${missing[*]}" >&2
        return 1
    fi
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

pip_quiet() {
    # pip, with its output kept out of the way unless it fails
    local log
    log=$(mktemp)
    if ! "$VENV/bin/pip" install -q --disable-pip-version-check "$@" \
            >"$log" 2>&1; then
        cat "$log" >&2
        rm -f "$log"
        return 1
    fi
    rm -f "$log"
}

ensure_venv() {
    [ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
    pip_quiet -e .
}
