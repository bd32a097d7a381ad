#!/usr/bin/env bash
# Builds the Windows side of ctilink from Linux, into OUT_DIR:
#   ctilink.dll          the C ABI for x86_64-pc-windows-gnu (release, stripped)
#   ctilink.dll.debug    its debug information (named by .gnu_debuglink)
#   libctilink.dll.a     its import library (MinGW; MSVC links the DLL through ctilink.def)
#   ctilink.tsp          the TAPI service provider (examples/tsp), linked against it
#   tapisrv_host.exe     the TAPISRV stand-in that tests run under Wine (examples/tsp/tests)
#   config_dialog_test.exe  drives the provider's configuration dialog (examples/tsp/tests)
#   bcryptprimitives.dll TEST-ONLY stand-in for Wine 8.0, which lacks that system DLL
#   tsp_register.exe     adds the provider to TAPI (lineAddProvider) for the installer
#   ctilink-tsp-V-setup.exe  the installer (NSIS: examples/tsp/installer/ctilink-tsp.nsi)
#
#   scripts/build-windows.sh OUT_DIR
#
# Needs the Rust target (rustup target add x86_64-pc-windows-gnu), MinGW-w64 and NSIS
# (scripts/setup.sh installs them); the linker is set in .cargo/config.toml.
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:?usage: build-windows.sh OUT_DIR}"
mkdir -p "$out"
triple=x86_64-pc-windows-gnu
target="${CARGO_TARGET_DIR:-$(pwd)/target}"
cargo build --quiet --release --target "$triple" -p ctilink-ffi
built="$target/$triple/release"
cp "$built/ctilink.dll" "$built/libctilink.dll.a" "$out/"
(
    cd "$out"
    x86_64-w64-mingw32-objcopy --only-keep-debug ctilink.dll ctilink.dll.debug
    x86_64-w64-mingw32-strip --strip-unneeded ctilink.dll
    x86_64-w64-mingw32-objcopy --add-gnu-debuglink=ctilink.dll.debug ctilink.dll
)
examples/tsp/build-mingw.sh "$out" "$out/libctilink.dll.a" > /dev/null
cc=x86_64-w64-mingw32-gcc
"$cc" -std=gnu11 -Wall -Wextra -Werror -O2 -static-libgcc -o "$out/tapisrv_host.exe" \
    examples/tsp/tests/tapisrv_host.c
"$cc" -std=gnu11 -Wall -Wextra -Werror -O2 -static-libgcc -Iexamples/tsp -o "$out/config_dialog_test.exe" \
    examples/tsp/tests/config_dialog_test.c
"$cc" -std=c11 -Wall -Wextra -Werror -O2 -shared -static-libgcc -o "$out/bcryptprimitives.dll" \
    examples/tsp/tests/bcryptprimitives.c -lbcrypt
"$cc" -std=c11 -Wall -Wextra -Werror -O2 -static-libgcc -o "$out/tsp_register.exe" \
    examples/tsp/installer/tsp_register.c -ltapi32 -ladvapi32
version="$(sed -n '/^\[workspace.package\]/,/^\[/ s/^version = "\(.*\)"/\1/p' Cargo.toml)"
makensis -V2 -DVERSION="$version" -DBUILD="$(cd "$out" && pwd)" \
    -DOUTFILE="$(cd "$out" && pwd)/ctilink-tsp-$version-setup.exe" examples/tsp/installer/ctilink-tsp.nsi
echo "$out"
