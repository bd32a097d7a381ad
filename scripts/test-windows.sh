#!/usr/bin/env bash
# The Windows side as Windows runs it, from Linux: builds ctilink.dll for
# x86_64-pc-windows-gnu, ctilink.tsp against its import library and the TAPISRV stand-in
# (scripts/build-windows.sh), then runs the stand-in under Wine: it loads the provider as
# TAPISRV does and drives it through TSPI against the simulator (tests/tests/tsp_windows.rs).
#
#   scripts/test-windows.sh       # ends with the host's line `windows: N passed, M failed`
set -euo pipefail
cd "$(dirname "$0")/.."
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
status=0
cargo test --quiet -p ctilink-tests --test tsp_windows -- --nocapture 2>&1 | tee "$log" || status=$?
summary="$(grep -a '^windows: ' "$log" | tail -n 1 || true)"
if [[ -z "$summary" ]]; then
    echo "windows: 0 passed, 1 failed"
    exit 1
fi
echo "$summary"
exit "$status"
