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
# One at a time: three fresh Wine prefixes booting at once on a 2-core CI machine made the
# first program in each wait on the others, and the output of one test is read as a whole.
cargo test --quiet -p ctilink-tests --test tsp_windows -- --nocapture --test-threads=1 2>&1 | tee "$log" || status=$?
# Every check the host program and the installer test print: "ok ..." or "not ok ..." (after
# the dots that cargo --quiet prints for the tests passed so far, which share the line).
passed="$(grep -acE '^\.*ok ' "$log" || true)"
failed="$(grep -acE '^\.*not ok ' "$log" || true)"
if [[ $status -ne 0 && $failed -eq 0 ]]; then
    failed=1 # the test failed before or beside its checks (a build, Wine itself)
fi
if [[ $passed -eq 0 && $failed -eq 0 ]]; then
    failed=1 # nothing ran
fi
if [[ $failed -ne 0 ]]; then
    # CI shows only the end of the output: what failed goes last, in a few lines each
    # (the checks that failed, each panic's first lines, the failed test names).
    echo "== windows: what failed"
    grep -aE '^\.*not ok ' "$log" | head -n 20 || true
    grep -a -A 4 "panicked at" "$log" | cut -c1-300 | head -n 40 || true
    grep -a -E '^    windows_|^test windows_.*FAILED' "$log" | head -n 10 || true
fi
echo "windows: $passed passed, $failed failed"
[[ $failed -eq 0 ]]
