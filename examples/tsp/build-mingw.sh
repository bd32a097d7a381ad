#!/bin/sh
# Builds the TAPI service provider ctilink.tsp with MinGW-w64, on Linux or in MSYS2.
#
#   examples/tsp/build-mingw.sh OUT_DIR PATH/TO/libctilink.so
#
# ctilink.dll itself is built by cargo on Windows (docs/tsp.md); here only its import
# library is needed. Its export list is the Linux library's: the C ABI is the same on
# every platform, so the functions libctilink.so exports are exactly ctilink.dll's.
# Writes OUT_DIR/ctilink.def, OUT_DIR/libctilink.dll.a and OUT_DIR/ctilink.tsp. Any
# compiler or linker warning fails the build.
set -eu

if [ $# -ne 2 ]; then
    echo "usage: $0 OUT_DIR PATH/TO/libctilink.so" >&2
    exit 2
fi
out=$1
so=$2
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
cc=${MINGW_CC:-x86_64-w64-mingw32-gcc}
dlltool=${MINGW_DLLTOOL:-x86_64-w64-mingw32-dlltool}
nm=${NM:-nm}

for tool in "$cc" "$dlltool" "$nm"; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "$tool not found: apt-get install gcc-mingw-w64-x86-64 mingw-w64-x86-64-dev binutils-mingw-w64-x86-64" >&2
        exit 1
    fi
done
[ -f "$so" ] || { echo "$so: no such library (cargo build -p ctilink-ffi)" >&2; exit 1; }
mkdir -p "$out"

# 1. The import library of ctilink.dll, from the exported ctilink_ functions.
symbols=$("$nm" -D --defined-only "$so" | awk '$2 == "T" && $3 ~ /^ctilink_/ { print $3 }' | sort -u)
if [ -z "$symbols" ]; then
    echo "$so exports no ctilink_ function" >&2
    exit 1
fi
{
    echo "LIBRARY ctilink.dll"
    echo "EXPORTS"
    for s in $symbols; do echo "    $s"; done
} >"$out/ctilink.def"
log="$out/build.log"
"$dlltool" -d "$out/ctilink.def" -l "$out/libctilink.dll.a" >"$log" 2>&1 || { cat "$log" >&2; exit 1; }
if [ -s "$log" ]; then cat "$log" >&2; exit 1; fi

# 2. The provider: the TSPI exports (ctilink_tsp.c) over the portable core, linked
# against ctilink.dll, with libgcc inside so that Windows needs no MinGW DLL.
"$cc" -std=c11 -Wall -Wextra -Werror -pedantic -O2 \
    -I"$root/include" -I"$here" \
    -shared -static-libgcc -Wl,--fatal-warnings \
    -o "$out/ctilink.tsp" \
    "$here/ctilink_tsp.c" "$here/tsp_core.c" "$here/ctilink_tsp.def" \
    "$out/libctilink.dll.a" -ladvapi32 >"$log" 2>&1 || { cat "$log" >&2; exit 1; }
if [ -s "$log" ]; then cat "$log" >&2; exit 1; fi
rm -f "$log"
echo "$out/ctilink.tsp"
