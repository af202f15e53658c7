# Sourced by scripts/test.sh and scripts/demo.sh: installs what corotcp needs to build and test, with
# apt-get, and only if something is missing (a dpkg query per package is the fast path).
# Debian 12 package names. Never add libboost-dev: it conflicts with libboost1.81-dev.

# The TUN interop tests (tests/tun/) also need: curl socat iproute2 nftables python3 iputils-ping tshark.
corotcp_packages=(cmake ninja-build g++ catch2 libboost1.81-dev liburing-dev pkg-config graphviz tshark libbenchmark-dev
                  curl socat iproute2 nftables python3 iputils-ping)

corotcp_install_deps() {
    local missing=() package
    for package in "${corotcp_packages[@]}"; do
        if [ "$(dpkg-query -W -f='${db:Status-Status}' "$package" 2>/dev/null)" != installed ]; then
            missing+=("$package")
        fi
    done
    [ ${#missing[@]} -eq 0 ] && return 0

    echo "== installing missing packages: ${missing[*]}"
    local sudo=()
    if [ "$(id -u)" -ne 0 ]; then
        if ! command -v sudo >/dev/null; then
            echo "error: need root (or sudo) to install: ${missing[*]}" >&2
            return 1
        fi
        sudo=(sudo)
    fi
    # tshark asks whether non-root users may capture; answer "no" up front so nothing prompts.
    echo "wireshark-common wireshark-common/install-setuid boolean false" | "${sudo[@]}" debconf-set-selections
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
}
