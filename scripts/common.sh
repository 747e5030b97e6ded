# Shared by scripts/run and scripts/test. Sourced, not executed.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export PATH="/opt/swift/usr/bin:$PATH"

log() { printf '[jules] %s\n' "$*" >&2; }

# What building needs (the C libraries behind the system-library targets) and what running needs.
BUILD_PACKAGES="pkg-config libpq-dev libhiredis-dev libssl-dev"
SERVER_PACKAGES="postgresql redis-server"

# Installs the Debian packages named, if any is missing. Runs as root on the machines this project targets.
ensure_packages() {
    local missing=()
    for package in "$@"; do
        dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    log "installing ${missing[*]}"
    local sudo=""
    [ "$(id -u)" -ne 0 ] && sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# Installs Python packages from PyPI, if any is missing.
ensure_python_packages() {
    local missing=()
    for spec in "$@"; do
        local module="${spec%%=*}"
        module="${module%%:*}"
        local import_name="${spec#*:}"
        [ "$import_name" = "$spec" ] && import_name="$module"
        python3 -c "import ${import_name}" 2>/dev/null || missing+=("${module}")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    log "installing Python packages ${missing[*]}"
    # A Python without pip (Debian's own, bare) gets Debian's pip first.
    python3 -m pip --version >/dev/null 2>&1 || ensure_packages python3-pip
    # Debian's Python refuses installs outside a virtual environment (PEP 668); these are test tools on a
    # machine set up for this project, so they go in all the same.
    python3 -m pip install --quiet --disable-pip-version-check "${missing[@]}" \
        || python3 -m pip install --quiet --disable-pip-version-check --break-system-packages "${missing[@]}"
}
