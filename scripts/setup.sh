#!/usr/bin/env bash
# Installs what the tests need beyond the Rust toolchain, when it is missing: valgrind,
# pkg-config and MinGW-w64 (C ABI tests, TSP build), Chromium (the gateway's diagnostics
# page and its operator panel are checked in a real browser), Python's venv and Node.js
# from Debian's packages, and the pinned cbindgen (header check) from crates.io. Idempotent and quick
# when all is there; `make test` runs it first, and so does CI.
set -euo pipefail

apt_missing=()
have() { command -v "$1" > /dev/null 2>&1; }
have valgrind || apt_missing+=(valgrind)
have pkg-config || apt_missing+=(pkg-config)
have nm || apt_missing+=(binutils)
have x86_64-w64-mingw32-gcc || apt_missing+=(gcc-mingw-w64-x86-64)
have x86_64-w64-mingw32-dlltool || apt_missing+=(binutils-mingw-w64-x86-64)
[ -f /usr/share/mingw-w64/include/tspi.h ] || [ -f /usr/x86_64-w64-mingw32/include/tspi.h ] \
    || apt_missing+=(mingw-w64-x86-64-dev)
have python3 || apt_missing+=(python3)
python3 -c 'import venv, ensurepip' > /dev/null 2>&1 || apt_missing+=(python3-venv)
have chromium || apt_missing+=(chromium)
[ -x /usr/bin/kill ] || apt_missing+=(procps)
have wine64 || [ -x /usr/lib/wine/wine64 ] || apt_missing+=(wine64) # the TSP under Wine (test-windows.sh)
have makensis || apt_missing+=(nsis) # the TSP's installer (scripts/build-windows.sh)
have Xvfb || apt_missing+=(xvfb)     # a display for the TSP's configuration dialog under Wine
have import || apt_missing+=(imagemagick) # its screenshot
have systemd-analyze || apt_missing+=(systemd) # checks the gateway's unit (scripts/test-dist.sh)
have dpkg-deb || apt_missing+=(dpkg)
have nats-server || apt_missing+=(nats-server) # the cluster tests (cli/tests/cluster)
have node || apt_missing+=(nodejs)
have npm || apt_missing+=(npm)

if [ ${#apt_missing[@]} -gt 0 ]; then
    echo "== installing from Debian: ${apt_missing[*]}"
    if [ "$(id -u)" = 0 ]; then sudo=""; elif sudo -n true 2> /dev/null; then sudo="sudo -n"; else
        echo "missing: ${apt_missing[*]}; install them (apt-get install ${apt_missing[*]}) and rerun" >&2
        exit 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    $sudo apt-get install -y -qq "${apt_missing[@]}" > /dev/null \
        || { $sudo apt-get update -qq > /dev/null && $sudo apt-get install -y -qq "${apt_missing[@]}" > /dev/null; }
fi

cbindgen_version="0.29.2"
if [ "$(cbindgen --version 2> /dev/null)" != "cbindgen $cbindgen_version" ]; then
    echo "== installing cbindgen $cbindgen_version (pinned: the committed header is its output)"
    cargo install --quiet cbindgen --version "$cbindgen_version" --locked
fi

# The npm platform package's addon is linked for glibc 2.17 with zig (scripts/dist.sh):
# napi's --cross-compile runs cargo-zigbuild (zig itself comes from PyPI's ziglang).
zigbuild_version="0.24.1"
if ! cargo install --list | grep -q "^cargo-zigbuild v$zigbuild_version:"; then
    echo "== installing cargo-zigbuild $zigbuild_version"
    cargo install --quiet --locked cargo-zigbuild --version "$zigbuild_version"
fi

# ctilink.dll for Windows (scripts/build-windows.sh): the Rust standard library of the
# target; the MinGW-w64 linker is set in .cargo/config.toml.
if ! rustup target list --installed 2> /dev/null | grep -qx x86_64-pc-windows-gnu; then
    echo "== adding the Rust target x86_64-pc-windows-gnu"
    rustup target add x86_64-pc-windows-gnu > /dev/null
fi
