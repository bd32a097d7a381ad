#!/bin/sh
# Builds the TAPI service provider ctilink.tsp with MinGW-w64, on Linux or in MSYS2,
# against the import library of ctilink.dll:
#
#   examples/tsp/build-mingw.sh OUT_DIR PATH/TO/libctilink.dll.a
#
# The import library is what cargo writes beside ctilink.dll when it builds ctilink-ffi for
# x86_64-pc-windows-gnu (scripts/build-windows.sh does both). Writes OUT_DIR/ctilink.tsp;
# any compiler or linker warning fails the build.
set -eu

if [ $# -ne 2 ]; then
    echo "usage: $0 OUT_DIR PATH/TO/libctilink.dll.a" >&2
    exit 2
fi
out=$1
implib=$2
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
cc=${MINGW_CC:-x86_64-w64-mingw32-gcc}

if ! command -v "$cc" >/dev/null 2>&1; then
    echo "$cc not found: apt-get install gcc-mingw-w64-x86-64 mingw-w64-x86-64-dev binutils-mingw-w64-x86-64" >&2
    exit 1
fi
[ -f "$implib" ] || { echo "$implib: no such import library (scripts/build-windows.sh)" >&2; exit 1; }
mkdir -p "$out"

# The provider: the TSPI exports (ctilink_tsp.c) over the portable core, linked against
# ctilink.dll, with libgcc inside so that Windows needs no MinGW DLL.
log="$out/build.log"
windres=${MINGW_WINDRES:-x86_64-w64-mingw32-windres}
"$windres" -I"$here" -O coff -o "$out/ctilink_tsp_res.o" "$here/ctilink_tsp.rc" >"$log" 2>&1 \
    || { cat "$log" >&2; exit 1; }
"$cc" -std=c11 -Wall -Wextra -Werror -pedantic -O2 \
    -I"$root/include" -I"$here" \
    -shared -static-libgcc -Wl,--fatal-warnings \
    -o "$out/ctilink.tsp" \
    "$here/ctilink_tsp.c" "$here/tsp_core.c" "$here/ctilink_tsp.def" "$out/ctilink_tsp_res.o" \
    "$implib" -ladvapi32 -luser32 >"$log" 2>&1 || { cat "$log" >&2; exit 1; }
if [ -s "$log" ]; then cat "$log" >&2; exit 1; fi
rm -f "$log" "$out/ctilink_tsp_res.o"
echo "$out/ctilink.tsp"
