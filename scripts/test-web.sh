#!/usr/bin/env bash
# The browser library's and the operator panel's gate, from a fresh clone: install exactly
# what package-lock.json pins (`npm ci`; puppeteer-core downloads no browser), type-check
# index.d.ts against the package's type test (tsc), then run every bindings-web test with
# Node's runner: the library against the real gateway and simulator, and the panel the
# gateway serves at /panel driven in Debian's headless Chromium (test/panel.test.mjs;
# screenshots in target/panel-shots/).
#
#   scripts/test-web.sh
#
# Ends with one line `web: N passed, M failed` (N and M count the node tests plus one per
# check above) and exits non-zero if anything failed. CARGO_TARGET_DIR and CHROMIUM are
# honoured.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
pkg="$root/bindings-web"
# shellcheck source=lib/node-tests.sh
. "$root/scripts/lib/node-tests.sh"
passed=0
failed=0
failures=()

step_label=web

# 1. Exactly the locked dependencies; never a browser download.
export PUPPETEER_SKIP_DOWNLOAD=1
step "npm ci" npm --prefix "$pkg" ci --no-audit --no-fund

# 2. Types.
step "tsc (index.d.ts)" "$pkg/node_modules/.bin/tsc" -p "$pkg/tsconfig.json"

# 3. The tests: the library against the real gateway and simulator, the panel in
#    Chromium. The ctilink binary they run is built once by test/processes.mjs.
echo "== web: node --test" >&2
node_tests "$pkg" 'test/*.test.mjs' --experimental-websocket --no-warnings=ExperimentalWarning

# 4. The panel's benchmark runs (5 s; its figures are for docs/panel.md, not checked here).
step "bench/panel_latency.mjs runs" bash -c "cd '$pkg' && node --experimental-websocket --no-warnings=ExperimentalWarning bench/panel_latency.mjs 5 6.25"

if [[ ${#failures[@]} -ne 0 ]]; then
    echo "failed: ${failures[*]}" >&2
fi
echo "web: $passed passed, $failed failed"
[[ $failed -eq 0 ]]
