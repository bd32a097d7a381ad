#!/usr/bin/env bash
# The Windows side as Windows runs it, from Linux: builds ctilink.dll for
# x86_64-pc-windows-gnu, ctilink.tsp against its import library and the TAPISRV stand-in
# (scripts/build-windows.sh), then runs the stand-in under Wine: it loads the provider as
# TAPISRV does and drives it through TSPI against the simulator (tests/tests/tsp_windows.rs).
#
# Then the installer (NSIS) is run silently under Wine, and its uninstaller.
#
#   scripts/test-windows.sh       # ends with `windows: N passed, M failed` (every check)
set -euo pipefail
cd "$(dirname "$0")/.."
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
status=0
cargo test --quiet -p ctilink-tests --test tsp_windows -- --nocapture 2>&1 | tee "$log" || status=$?
# Every check the host program and the installer test print: "ok ..." or "not ok ...".
passed="$(grep -ac '^ok ' "$log" || true)"
failed="$(grep -ac '^not ok ' "$log" || true)"
if [[ $status -ne 0 && $failed -eq 0 ]]; then
    failed=1 # the test failed before or beside its checks (a build, Wine itself)
fi
if [[ $passed -eq 0 && $failed -eq 0 ]]; then
    failed=1 # nothing ran
fi
echo "windows: $passed passed, $failed failed"
[[ $failed -eq 0 ]]
