# Sourced by run.sh, test.sh and bench/run: installs the Debian 12 packages that are missing.
# Usage: px_ensure_packages PKG...   (uses sudo when not root; runs apt-get update once, only if needed)
px_ensure_packages() {
    local missing=() p
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    local sudo=""
    [ "$(id -u)" -ne 0 ] && sudo="sudo"
    echo "installing: ${missing[*]}" >&2
    $sudo apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
}

# libmbedtls-dev is Debian 13's 3.6 where it exists; on Debian 12 (2.28) px_ensure_mbedtls builds 3.6 into .deps/.
PX_BUILD_PACKAGES=(meson ninja-build gcc pkg-config libmbedtls-dev libinih-dev check zlib1g-dev cmake dpkg-dev)

. "$(dirname "${BASH_SOURCE[0]}")/mbedtls.sh"
