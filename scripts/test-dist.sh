#!/usr/bin/env bash
# Installs each artifact of dist/ (made by `make dist`) the way a user does, with no Rust
# toolchain on PATH, and runs it against the simulator:
#   C       unpack the tarball anywhere, build examples/c/click_to_dial.c with pkg-config
#           (shared and static), run it: it prints `answered`; ctilink_version() agrees;
#           the libraries are stripped and the debug archive holds what was taken off
#   Python  a fresh venv, pip install of the wheel, examples/python/click_to_dial.py prints
#           `answered`; ctilink.__version__ agrees; auditwheel names the manylinux tag
#   Node    an empty project, npm install of the two tarballs (the addon comes from the
#           platform package), examples/node/click_to_dial.mjs prints `answered`
#   Web     an empty project, npm install of ctilink-web's tarball (no dependencies); the
#           .deb's gateway serves /panel, and the library connects to it with a token
#   Debian  dpkg -i: ctilink --version agrees, the gateway's conffile checks as the service
#           user, the unit verifies; dpkg -r leaves only the conffile; dpkg -P leaves nothing
# The simulator is the `ctilink` of the .deb, unpacked (no cargo either).
#
#   scripts/test-dist.sh       # after scripts/dist.sh; ends with `dist: N passed, M failed`
set -euo pipefail
cd "$(dirname "$0")/.."
root="$(pwd)"
dist="$root/dist"
version="$(sed -n '/^\[workspace.package\]/,/^\[/ s/^version = "\(.*\)"/\1/p' Cargo.toml)"
work="$(mktemp -d)"
sim_pid=""
gw_pid=""
cleanup() {
    [[ -n "$sim_pid" ]] && kill "$sim_pid" 2> /dev/null || true
    [[ -n "$gw_pid" ]] && kill "$gw_pid" 2> /dev/null || true
    if dpkg-query -W -f='${Status}' ctilink 2> /dev/null | grep -q "installed\|config-files"; then
        $sudo dpkg -P ctilink > /dev/null 2>&1 || true
    fi
    rm -rf "$work"
}
sudo=""
[[ "$(id -u)" = 0 ]] || sudo="sudo -n"
trap cleanup EXIT

passed=0
failed=0
check() { # check NAME COMMAND...: one counted check; goes on after a failure
    local name="$1"
    shift
    if "$@"; then
        echo "ok   $name"
        passed=$((passed + 1))
    else
        echo "FAIL $name" >&2
        failed=$((failed + 1))
    fi
}

# PATH without any directory that holds cargo or rustc: what a user without Rust has.
nocargo=""
IFS=: read -r -a dirs <<< "$PATH"
for d in "${dirs[@]}"; do
    [[ -z "$d" || -e "$d/cargo" || -e "$d/rustc" ]] && continue
    nocargo="${nocargo:+$nocargo:}$d"
done
export PATH="$nocargo"
check "no Rust toolchain on PATH" bash -c '! command -v cargo > /dev/null && ! command -v rustc > /dev/null'

art() { # the one file of dist/ matching a glob
    local f
    f=$(compgen -G "$dist/$1" | head -1) || true
    [[ -n "$f" ]] || { echo "dist/$1 is missing: run make dist" >&2; exit 1; }
    echo "$f"
}
tarball="$(art "ctilink-$version-linux-x86_64.tar.gz")"
debug_tarball="$(art "ctilink-$version-linux-x86_64-debug.tar.gz")"
deb="$(art "ctilink_${version}-1_amd64.deb")"
wheel="$(art "ctilink-$version-cp39-abi3-manylinux*_x86_64.whl")"
sdist="$(art "ctilink-$version.tar.gz")"
npm_main="$(art "ctilink-$version.tgz")"
npm_platform="$(art "ctilink-linux-x64-gnu-$version.tgz")"
npm_web="$(art "ctilink-web-$version.tgz")"
win_zip="$(art "ctilink-$version-windows-x86_64.zip")"
win_debug="$(art "ctilink-$version-windows-x86_64-debug.zip")"
tsp_setup="$(art "ctilink-tsp-$version-setup.exe")"

echo "== artifacts ($version)"
for f in "$tarball" "$debug_tarball" "$deb" "$wheel" "$sdist" "$npm_main" "$npm_platform" "$npm_web" "$win_zip" "$win_debug" "$tsp_setup"; do
    printf '%12d  %s\n' "$(stat -c %s "$f")" "$(basename "$f")"
done
check "SHA256SUMS matches" bash -c "cd '$dist' && sha256sum --quiet -c SHA256SUMS"

# The simulator: the packaged binary, unpacked.
dpkg-deb -x "$deb" "$work/debroot"
"$work/debroot/usr/bin/ctilink" sim --listen 127.0.0.1:0 --extensions 100-109 > "$work/sim.out" &
sim_pid=$!
for _ in $(seq 100); do grep -q "AMI on" "$work/sim.out" 2> /dev/null && break; sleep 0.1; done
addr="$(sed -n 's/.*AMI on \([0-9.:]*\) .*/\1/p' "$work/sim.out")"
[[ -n "$addr" ]] || { echo "the simulator did not start" >&2; cat "$work/sim.out" >&2; exit 1; }
url="ami://admin:secret@$addr"
# Each click-to-dial below uses its own two phones: the calls go on after the examples end.
echo "== simulator on $addr"

outcome_is_answered() { # the last line a click-to-dial example printed
    local last
    last="$(tail -n 1 "$1")"
    [[ "$last" == answered ]] || { echo "last line: $last" >&2; cat "$1" >&2; return 1; }
}

echo "== C: $(basename "$tarball")"
c="$work/c"
mkdir -p "$c"
tar -C "$c" -xzf "$tarball"
prefix="$c/ctilink-$version-linux-x86_64"
export PKG_CONFIG_PATH="$prefix/lib/pkgconfig"
check "pkg-config --modversion ctilink is $version" \
    test "$(pkg-config --modversion ctilink)" = "$version"
# shellcheck disable=SC2046
check "click_to_dial.c builds with pkg-config (shared, -Wall -Wextra -Werror)" \
    cc -Wall -Wextra -Werror -o "$c/click_to_dial" "$prefix/share/ctilink/examples/c/click_to_dial.c" \
    $(pkg-config --cflags --libs ctilink) -Wl,-rpath,"$prefix/lib"
check "click_to_dial (shared) prints answered" \
    bash -c "'$c/click_to_dial' '$url' 100 101 > '$c/out' 2>&1 && true; $(declare -f outcome_is_answered); outcome_is_answered '$c/out'"
# shellcheck disable=SC2046
check "click_to_dial.c links statically against libctilink.a" \
    cc -Wall -Wextra -Werror -o "$c/click_to_dial_static" "$prefix/share/ctilink/examples/c/click_to_dial.c" \
    $(pkg-config --cflags ctilink) "$prefix/lib/libctilink.a" $(pkg-config --libs-only-other --static ctilink) \
    -lpthread -ldl -lm -lrt -lgcc_s
check "click_to_dial (static) prints answered and needs no libctilink.so" \
    bash -c "! ldd '$c/click_to_dial_static' | grep -q libctilink && '$c/click_to_dial_static' '$url' 102 103 > '$c/out2' 2>&1; $(declare -f outcome_is_answered); outcome_is_answered '$c/out2'"
printf '#include <stdio.h>\n#include <ctilink.h>\nint main(void) { puts(ctilink_version()); return 0; }\n' > "$c/v.c"
# shellcheck disable=SC2046
cc -Wall -Wextra -Werror -o "$c/v" "$c/v.c" $(pkg-config --cflags --libs ctilink) -Wl,-rpath,"$prefix/lib"
check "ctilink_version() is ctilink/$version" test "$("$c/v")" = "ctilink/$version"
has_debug_info() { readelf -S "$1" 2> /dev/null | grep -q '\.debug_info'; }
check "libctilink.so is stripped, with a .gnu_debuglink" \
    bash -c "! readelf -S '$prefix/lib/libctilink.so' | grep -q '\.debug_info' && readelf -x .gnu_debuglink '$prefix/lib/libctilink.so' | grep -q libctilink"
check "libctilink.a carries no debug information" \
    bash -c "! readelf -S '$prefix/lib/libctilink.a' | grep -q '\.debug_info'"
tar -C "$c" -xzf "$debug_tarball"
check "the debug archive holds the .so's and the CLI's debug information" \
    bash -c "$(declare -f has_debug_info); has_debug_info '$c/lib/debug/libctilink.so.debug' && has_debug_info '$c/bin/debug/ctilink.debug'"

echo "== Python: $(basename "$wheel")"
venv="$work/venv"
python3 -m venv "$venv"
check "pip install the wheel (no compiler, no cargo)" \
    "$venv/bin/pip" install --quiet --disable-pip-version-check --no-index --no-build-isolation "$wheel"
check "ctilink.__version__ is $version" \
    test "$(cd "$work" && "$venv/bin/python" -c 'import ctilink; print(ctilink.__version__)')" = "$version"
check "examples/python/click_to_dial.py prints answered" \
    bash -c "cd '$work' && '$venv/bin/python' '$root/examples/python/click_to_dial.py' '$url' 104 105 > '$work/py.out' 2>&1; $(declare -f outcome_is_answered); outcome_is_answered '$work/py.out'"
check "the wheel is tagged manylinux2014 (glibc 2.17)" \
    bash -c "[[ '$(basename "$wheel")' == *manylinux_2_17_x86_64.whl ]]"
if [[ -x "$root/target/dist-venv/bin/auditwheel" ]]; then
    tag="$("$root/target/dist-venv/bin/auditwheel" show "$wheel" 2> /dev/null | tr '\n' ' ' | sed -n 's/.*consistent with the following platform tag: *"\([^"]*\)".*/\1/p')"
    echo "     auditwheel show: $tag"
    check "auditwheel agrees: $tag" test "$tag" = manylinux_2_17_x86_64
fi
check "the sdist carries the core's sources and the binding's" \
    bash -c "tar -tzf '$sdist' | grep -q 'core/src/lib.rs' && tar -tzf '$sdist' | grep -q 'python/ctilink/__init__.py' && tar -tzf '$sdist' | grep -q 'pyproject.toml'"

echo "== Node: $(basename "$npm_main") + $(basename "$npm_platform")"
proj="$work/node-app"
mkdir -p "$proj"
printf '{ "name": "app", "version": "1.0.0", "private": true, "type": "module" }\n' > "$proj/package.json"
check "npm install of the two tarballs (no install script, no cargo)" \
    npm --prefix "$proj" install --no-audit --no-fund --loglevel=error "$npm_platform" "$npm_main"
check "the main package holds no addon and no sources; the platform package holds the addon" \
    bash -c "! ls '$proj/node_modules/ctilink' | grep -q '\.node\$\|^src\$\|Cargo' && test -f '$proj/node_modules/ctilink-linux-x64-gnu/ctilink.linux-x64-gnu.node'"
check "package versions are $version" \
    test "$(cd "$proj" && node -p "require('ctilink/package.json').version + ' ' + require('ctilink-linux-x64-gnu/package.json').version")" = "$version $version"
# The example as a user's own file: it imports 'ctilink' instead of the repository's path.
sed "s|'../../bindings-node/index.js'|'ctilink'|" "$root/examples/node/click_to_dial.mjs" > "$proj/click_to_dial.mjs"
check "examples/node/click_to_dial.mjs prints answered" \
    bash -c "cd '$proj' && node click_to_dial.mjs '$url' 106 107 > '$proj/out' 2>&1; $(declare -f outcome_is_answered); outcome_is_answered '$proj/out'"

echo "== Web: $(basename "$npm_web")"
web="$work/web-app"
mkdir -p "$web"
printf '{ "name": "crm", "version": "1.0.0", "private": true, "type": "module" }\n' > "$web/package.json"
check "npm install of the tarball (no dependencies)" \
    npm --prefix "$web" install --no-audit --no-fund --loglevel=error "$npm_web"
check "the package holds the module, its types, README and package.json only" \
    test "$(cd "$web/node_modules/ctilink-web" && find . -type f | sort | tr '\n' ' ')" = "./README.md ./index.d.ts ./index.js ./package.json "
check "its version is $version" test "$(cd "$web" && node -p "require('ctilink-web/package.json').version")" = "$version"
# The .deb's gateway in front of the simulator, with one token: what a web CRM talks to.
web_token="crm-web-token-$RANDOM$RANDOM"
printf '[pbx]\nurl = "%s"\n[listen]\nws = "127.0.0.1:0"\n[[token]]\nidentity = "crm"\ntoken = "%s"\nmonitor = ["*"]\ncontrol = ["100"]\n' \
    "$url" "$web_token" > "$web/gateway.toml"
"$work/debroot/usr/bin/ctilink" gateway --config "$web/gateway.toml" > "$web/gw.out" 2>&1 &
gw_pid=$!
for _ in $(seq 100); do grep -q "^websocket" "$web/gw.out" 2> /dev/null && break; sleep 0.1; done
ws_url="$(sed -n 's|^websocket *\(ws://[^ ]*\).*|\1|p' "$web/gw.out" | head -1)"
check "the packaged gateway listens for WebSockets (${ws_url:-none})" test -n "$ws_url"
panel_url="${ws_url/ws:/http:}"
panel_url="${panel_url%/ws}/panel"
check "it serves the panel at $panel_url with its Content-Security-Policy" \
    node -e "fetch('$panel_url').then(async (r) => process.exit(r.status === 200 && /script-src 'self'/.test(r.headers.get('content-security-policy')) && (await r.text()).includes('panel.js') ? 0 : 1), () => process.exit(1))"
cat > "$web/crm.mjs" << 'EOF'
import { connect } from 'ctilink-web'
const client = await connect(process.argv[2], process.argv[3], { client: 'dist-check', reconnect: false })
console.log(client.identity, client.snapshot().devices.length)
await client.close()
EOF
check "ctilink-web connects with the token and reads the 10 phones" \
    bash -c "cd '$web' && test \"\$(node --experimental-websocket --no-warnings crm.mjs '$ws_url' '$web_token')\" = 'crm 10'"
kill "$gw_pid" 2> /dev/null || true
gw_pid=""

echo "== Windows: $(basename "$win_zip") (run under Wine by scripts/test-windows.sh)"
w="$work/win"
mkdir -p "$w"
python3 -c 'import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])' "$win_zip" "$w"
python3 -c 'import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])' "$win_debug" "$w"
wd="$w/ctilink-$version-windows-x86_64"
check "the Windows zip holds the DLL, the provider, the import library and the header" \
    test -f "$wd/bin/ctilink.dll" -a -f "$wd/bin/ctilink.tsp" -a -f "$wd/lib/libctilink.dll.a" -a -f "$wd/include/ctilink.h"
check "ctilink.dll exports ctilink_version and is stripped; the debug zip has its debug info" \
    bash -c "x86_64-w64-mingw32-objdump -p '$wd/bin/ctilink.dll' | grep -q ctilink_version \
        && ! x86_64-w64-mingw32-objdump -h '$wd/bin/ctilink.dll' | grep -q debug_info \
        && x86_64-w64-mingw32-objdump -h '$w/ctilink-$version-windows-x86_64-debug/ctilink.dll.debug' | grep -q debug_info"
check "the installer is a 64-bit Windows program" \
    bash -c "x86_64-w64-mingw32-objdump -f '$tsp_setup' | grep -q 'pei-x86-64'"

echo "== Debian: $(basename "$deb")"
if dpkg-query -W -f='${Status}' ctilink 2> /dev/null | grep -q installed; then
    echo "a ctilink package is installed on this machine already: not touching it" >&2
    failed=$((failed + 1))
else
    check "dpkg -i" bash -c "$sudo dpkg -i '$deb' > /dev/null"
    check "ctilink --version is ctilink $version" test "$(/usr/bin/ctilink --version)" = "ctilink $version"
    files="$(dpkg -L ctilink)"
    check "the conffile is 0640 root:ctilink" test "$(stat -c '%a %U:%G' /etc/ctilink/gateway.toml)" = "640 root:ctilink"
    check "the service user is a system user without a shell" \
        bash -c "getent passwd ctilink | grep -q ':/nonexistent:/usr/sbin/nologin\$'"
    check "ctilink gateway --check --config /etc/ctilink/gateway.toml, as the service user" \
        $sudo runuser -u ctilink -- /usr/bin/ctilink gateway --check --config /etc/ctilink/gateway.toml
    if command -v systemd-analyze > /dev/null; then
        check "systemd-analyze verify ctilink-gateway.service" \
            systemd-analyze verify /usr/lib/systemd/system/ctilink-gateway.service
        # The hardening, scored by systemd (0 is the best, 10 the worst; 1.2 when written).
        systemd-analyze security --offline=yes /usr/lib/systemd/system/ctilink-gateway.service 2> /dev/null \
            | sed -n 's/^.*Overall exposure level for ctilink-gateway.service: /     exposure level: /p'
        check "the unit's exposure level is at most 2.0 (systemd-analyze security)" \
            systemd-analyze security --offline=yes --threshold=20 /usr/lib/systemd/system/ctilink-gateway.service > /dev/null 2>&1
    fi
    check "dpkg -r" bash -c "$sudo dpkg -r ctilink > /dev/null"
    left=""
    while read -r f; do
        [[ -z "$f" || -d "$f" || "$f" == /etc/ctilink/gateway.toml ]] && continue
        [[ -e "$f" ]] && left="$left $f"
    done <<< "$files"
    check "dpkg -r leaves no file of the package but the conffile${left:+ (left:$left)}" \
        bash -c "[[ -z '$left' && -f /etc/ctilink/gateway.toml ]]"
    check "dpkg -P removes the conffile, its folder and the service user" \
        bash -c "$sudo dpkg -P ctilink > /dev/null && [[ ! -e /etc/ctilink ]] && ! getent passwd ctilink > /dev/null && ! getent group ctilink > /dev/null"
fi

echo "dist: $passed passed, $failed failed"
[[ $failed -eq 0 ]]
