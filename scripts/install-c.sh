#!/usr/bin/env bash
# Installs the C ABI into PREFIX: lib/libctilink.{so,a}, include/ctilink.h and
# lib/pkgconfig/ctilink.pc, so that `pkg-config --cflags --libs ctilink` gives the link line.
#   scripts/install-c.sh /usr/local            # builds the release library first
#   scripts/install-c.sh PREFIX LIBDIR         # installs an already built library
set -euo pipefail
cd "$(dirname "$0")/.."
prefix="${1:?usage: install-c.sh PREFIX [LIBDIR]}"
libdir="${2:-}"
if [ -z "$libdir" ]; then
    cargo build --release -p ctilink-ffi
    libdir="${CARGO_TARGET_DIR:-target}/release"
fi
version="$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)"
mkdir -p "$prefix/lib/pkgconfig" "$prefix/include"
cp "$libdir/libctilink.so" "$libdir/libctilink.a" "$prefix/lib/"
cp include/ctilink.h "$prefix/include/"
sed -e "s|@PREFIX@|$prefix|" -e "s|@VERSION@|$version|" ffi/ctilink.pc.in > "$prefix/lib/pkgconfig/ctilink.pc"
echo "installed ctilink $version into $prefix"
