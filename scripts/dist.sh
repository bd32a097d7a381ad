#!/usr/bin/env bash
# `make dist`: builds into dist/ everything a release publishes, each for Linux x86_64:
#   ctilink-V-linux-x86_64.tar.gz        C: lib/libctilink.{so,a} (stripped), include/, pkg-config,
#                                        examples, README
#   ctilink-V-linux-x86_64-debug.tar.gz  the debug information split off the .so and the CLI
#   ctilink_V-1_amd64.deb                /usr/bin/ctilink and the ctilink-gateway systemd service
#   ctilink-V-cp39-abi3-manylinux*.whl   Python (abi3: CPython 3.9+), built with zig for glibc 2.17
#   ctilink-V.tar.gz                     Python sdist (builds from source: needs cargo)
#   ctilink-V.tgz, ctilink-linux-x64-gnu-V.tgz
#                                        npm: the main package and the platform package with the addon
#   ctilink-web-V.tgz                    npm: the browser library (bindings-web: one ES module, its types)
#   ctilink-V-windows-x86_64.zip         Windows: bin/ctilink.dll (stripped), bin/ctilink.tsp, the
#                                        import library, the header, a README
#   ctilink-V-windows-x86_64-debug.zip   ctilink.dll's debug information
#   ctilink-tsp-V-setup.exe              the TAPI provider's installer (NSIS)
#   SHA256SUMS
# V is the workspace version (Cargo.toml [workspace.package]), the one version of everything.
#
#   scripts/dist.sh                    # all of it
#   scripts/dist.sh c deb              # some parts (c, deb, python, node, web, windows), into the same dist/
#
# Needs cargo, cargo-zigbuild, a C toolchain (strip, objcopy), dpkg-deb, python3 with venv
# (maturin and ziglang are installed into target/dist-venv from PyPI) and node + npm
# (scripts/setup.sh installs them). scripts/test-dist.sh
# installs and runs each artifact where no Rust toolchain is on PATH.
set -euo pipefail
cd "$(dirname "$0")/.."
root="$(pwd)"
version="$(sed -n '/^\[workspace.package\]/,/^\[/ s/^version = "\(.*\)"/\1/p' Cargo.toml)"
[[ -n "$version" ]] || { echo "no [workspace.package] version in Cargo.toml" >&2; exit 1; }
out="$root/dist"
target="${CARGO_TARGET_DIR:-$root/target}"
parts=("$@")
[[ ${#parts[@]} -gt 0 ]] || { parts=(c deb python node web windows); rm -rf "$out"; }
mkdir -p "$out"
stage="$(mktemp -d)"
trap 'rm -rf "$stage"' EXIT

# strip_split FILE DEBUGFILE: moves FILE's debug information into DEBUGFILE (linked from
# FILE by .gnu_debuglink, so gdb finds it) and strips FILE.
strip_split() {
    objcopy --only-keep-debug --compress-debug-sections "$1" "$2"
    strip --strip-unneeded "$1"
    objcopy --add-gnu-debuglink="$2" "$1"
}

dist_c() {
    echo "== dist: C library $version"
    cargo build --quiet --release -p ctilink-ffi -p ctilink-cli
    local name="ctilink-$version-linux-x86_64" dbg="$stage/debug"
    local d="$stage/$name"
    mkdir -p "$d/lib/pkgconfig" "$d/include" "$d/share/ctilink/examples/c" "$dbg/lib/debug" "$dbg/bin/debug"
    cp "$target/release/libctilink.so" "$target/release/libctilink.a" "$d/lib/"
    (cd "$d/lib" && strip_split libctilink.so "$dbg/lib/debug/libctilink.so.debug")
    strip --strip-debug "$d/lib/libctilink.a"
    cp include/ctilink.h "$d/include/"
    # Relocatable: pkg-config sets pcfiledir to the folder the .pc file is in.
    sed -e 's|@PREFIX@|${pcfiledir}/../..|' -e "s|@VERSION@|$version|" ffi/ctilink.pc.in \
        > "$d/lib/pkgconfig/ctilink.pc"
    cp examples/c/*.c "$d/share/ctilink/examples/c/"
    sed "s|@VERSION@|$version|g" packaging/c/README.md > "$d/README.md"
    cp CHANGELOG.md "$d/"
    # The CLI's debug information goes into the same debug archive (the .deb ships it stripped).
    cp "$target/release/ctilink" "$stage/ctilink"
    (cd "$stage" && strip_split ctilink "$dbg/bin/debug/ctilink.debug")
    tar -C "$stage" --owner=0 --group=0 --sort=name -czf "$out/$name.tar.gz" "$name"
    tar -C "$dbg" --owner=0 --group=0 --sort=name -czf "$out/$name-debug.tar.gz" lib bin
}

dist_deb() {
    echo "== dist: Debian package $version"
    [[ -f "$stage/ctilink" ]] || dist_c
    local d="$stage/deb" debver="$version-1"
    mkdir -p "$d/DEBIAN" "$d/usr/bin" "$d/usr/lib/systemd/system" "$d/etc/ctilink" \
        "$d/usr/share/doc/ctilink/examples"
    install -m 0755 "$stage/ctilink" "$d/usr/bin/ctilink"
    install -m 0644 packaging/debian/ctilink-gateway.service "$d/usr/lib/systemd/system/"
    # 0640 root:ctilink once postinst has made the group; root's alone until then.
    install -m 0640 packaging/debian/gateway.toml "$d/etc/ctilink/gateway.toml"
    install -m 0644 README.md CHANGELOG.md docs/gateway.md docs/wire-protocol.md "$d/usr/share/doc/ctilink/"
    install -m 0644 examples/gateway/gateway.toml "$d/usr/share/doc/ctilink/examples/"
    gzip -9n < CHANGELOG.md > "$d/usr/share/doc/ctilink/changelog.gz"
    printf '%s\n' "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/" \
        "Upstream-Name: ctilink" "" "Files: *" "Copyright: the ctilink developers" \
        "License: MIT or Apache-2.0" > "$d/usr/share/doc/ctilink/copyright"
    install -m 0644 packaging/debian/conffiles "$d/DEBIAN/"
    install -m 0755 packaging/debian/postinst packaging/debian/prerm packaging/debian/postrm "$d/DEBIAN/"
    local size
    size="$(du -sk --exclude=DEBIAN "$d" | cut -f1)"
    sed -e "s|@DEBVERSION@|$debver|" -e "s|@SIZE@|$size|" packaging/debian/control.in > "$d/DEBIAN/control"
    dpkg-deb --root-owner-group -Zxz --build "$d" "$out/ctilink_${debver}_amd64.deb" > /dev/null
}

# The venv with maturin and zig (the ziglang package), made once: prints its path.
dist_venv() {
    local venv="$target/dist-venv"
    if [[ ! -x "$venv/bin/maturin" || ! -x "$venv/bin/python-zig" ]]; then
        rm -rf "$venv"
        python3 -m venv "$venv"
        "$venv/bin/pip" install --quiet --disable-pip-version-check "maturin>=1.7,<2" ziglang auditwheel >&2
    fi
    echo "$venv"
}

dist_python() {
    echo "== dist: Python wheel and sdist $version"
    local venv
    venv="$(dist_venv)"
    # zig links against glibc 2.17's symbols: the manylinux2014 tag that pip takes on any
    # distribution of the last ten years. maturin checks the tag against the symbols it finds.
    PATH="$venv/bin:$PATH" CARGO_TARGET_DIR="$target/dist-python" "$venv/bin/maturin" build --quiet \
        --release --strip --zig --compatibility manylinux2014 --interpreter "$venv/bin/python" \
        -m bindings-python/Cargo.toml -o "$out"
    PATH="$venv/bin:$PATH" "$venv/bin/maturin" sdist -m bindings-python/Cargo.toml -o "$out"
}

dist_node() {
    echo "== dist: npm packages $version"
    local pkg="$root/bindings-node" venv
    venv="$(dist_venv)"
    [[ -x "$pkg/node_modules/.bin/napi" ]] || npm --prefix "$pkg" ci --no-audit --no-fund --ignore-scripts
    # cargo-zigbuild links against glibc 2.17 (the .2.17 suffix), as the wheel is: the addon
    # loads on any glibc distribution of the last ten years. The generated loader and types
    # are not used: the package ships the committed native.js and native.d.ts.
    local gen="$stage/napi-gen"
    mkdir -p "$gen"
    (cd "$pkg" && PATH="$venv/bin:$PATH" CARGO_TARGET_DIR="$target/dist-node" \
        node_modules/.bin/napi build --platform --release --strip --cross-compile \
        --target x86_64-unknown-linux-gnu.2.17 --output-dir "$gen" \
        --js native.js --dts native.d.ts)
    node packaging/node/layout.mjs "$pkg" "$gen/ctilink.linux-x64-gnu.node" "$stage/npm" > /dev/null
    for p in "$stage/npm/ctilink" "$stage/npm/ctilink-linux-x64-gnu"; do
        (cd "$p" && npm pack --quiet --pack-destination "$out" > /dev/null)
    done
}

# zip_dir DIR ZIP: DIR's contents into ZIP (python's zipfile: no zip tool needed).
zip_dir() {
    python3 - "$1" "$2" <<'PY'
import os, sys, zipfile
src, dst = sys.argv[1], sys.argv[2]
base = os.path.dirname(os.path.abspath(src))
with zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as z:
    for root, _, files in sorted(os.walk(src)):
        for f in sorted(files):
            p = os.path.join(root, f)
            z.write(p, os.path.relpath(p, base))
PY
}

dist_windows() {
    echo "== dist: Windows DLL, TAPI provider and its installer $version"
    local win="$stage/win" name="ctilink-$version-windows-x86_64"
    ./scripts/build-windows.sh "$win" > /dev/null
    local d="$stage/$name"
    mkdir -p "$d/bin" "$d/lib" "$d/include" "$stage/$name-debug"
    cp "$win/ctilink.dll" "$win/ctilink.tsp" "$d/bin/"
    cp "$win/libctilink.dll.a" "$d/lib/"
    cp include/ctilink.h "$d/include/"
    sed "s|@VERSION@|$version|g" packaging/windows/README.md > "$d/README.md"
    cp CHANGELOG.md "$d/"
    cp "$win/ctilink.dll.debug" "$stage/$name-debug/"
    zip_dir "$d" "$out/$name.zip"
    zip_dir "$stage/$name-debug" "$out/$name-debug.zip"
    cp "$win/ctilink-tsp-$version-setup.exe" "$out/"
}

# The browser library as npm publishes it: the files package.json lists, nothing to build.
dist_web() {
    echo "== dist: npm package ctilink-web $version"
    (cd "$root/bindings-web" && npm pack --quiet --pack-destination "$out" > /dev/null)
}

for part in "${parts[@]}"; do
    case "$part" in
        c) dist_c ;;
        deb) dist_deb ;;
        python) dist_python ;;
        node) dist_node ;;
        web) dist_web ;;
        windows) dist_windows ;;
        *) echo "unknown part $part (c, deb, python, node, web, windows)" >&2; exit 2 ;;
    esac
done
(cd "$out" && rm -f SHA256SUMS && sha256sum -- * > SHA256SUMS)
echo "== dist/ ($version)"
(cd "$out" && ls -l --block-size=1 | awk 'NR > 1 {printf "%12d  %s\n", $5, $9}')
