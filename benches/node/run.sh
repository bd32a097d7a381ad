#!/usr/bin/env bash
# Node benchmark: events per second delivered to a JavaScript handler, and the command
# round trip, for ctilink's binding and for the asterisk-manager npm package, against the
# same simulator over TCP on 127.0.0.1. See README.md; figures in docs/node.md.
#
#   benches/node/run.sh                          # 100k events in bursts of 4000 (BURST), 5000 round trips, 3 runs
#   EVENTS=50000 ROUNDTRIPS=1000 REPEAT=1 benches/node/run.sh   # a quick pass
#
# Needs node + npm and cargo; the npm registry the first time. Everything it installs
# lives in benches/node/.work (gitignored); the addon is built by bindings-node's
# `npm ci` if it is not there yet.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
work="$here/.work"
mkdir -p "$work"

if ! ls "$root"/bindings-node/ctilink.*.node >/dev/null 2>&1; then
    npm --prefix "$root/bindings-node" ci --no-audit --no-fund
fi
if [[ ! -f "$work/node_modules/asterisk-manager/package.json" ]]; then
    npm install --silent --no-audit --no-fund --prefix "$work" asterisk-manager
fi

export NODE_PATH="$work/node_modules"
node "$here/bench.mjs" \
    --events "${EVENTS:-100000}" --roundtrips "${ROUNDTRIPS:-5000}" --repeat "${REPEAT:-3}" \
    --json "$work/results.json"
echo
echo "machine: $(lscpu | sed -n 's/^Model name: *//p' | head -n 1), $(nproc) cores; node $(node --version);" \
    "asterisk-manager $(node -p "require('$work/node_modules/asterisk-manager/package.json').version")"
