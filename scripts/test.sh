#!/usr/bin/env bash
# Every test of every language, as a new user or CI runs it: `make test`.
# Installs what is missing first (scripts/setup.sh); reads the AMI captures from
# $CTILINK_VECTORS (default: the repository's own copy in tests/vectors).
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== tools (scripts/setup.sh installs what is missing)"
./scripts/setup.sh

export CTILINK_VECTORS="${CTILINK_VECTORS:-$(pwd)/tests/vectors}"
if [ ! -d "$CTILINK_VECTORS/ami/real" ]; then
  echo "test vectors not found at $CTILINK_VECTORS (set CTILINK_VECTORS)" >&2
  exit 1
fi
echo "== vectors: $CTILINK_VECTORS"

# Property tests draw their cases from a seed. A fixed one makes this gate reproducible (a
# red run can be replayed exactly); unset it, or pick another, to explore new cases.
export PROPTEST_RNG_SEED="${PROPTEST_RNG_SEED:-20261126}"
echo "== property-test seed: $PROPTEST_RNG_SEED"

echo "== format"
cargo fmt --all -- --check

echo "== clippy (warnings are errors)"
cargo clippy --workspace --all-targets -- -D warnings

echo "== API docs build without warnings (broken links are errors)"
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --quiet

echo "== rust tests, with the C ABI's: header drift, exported symbols, C programs and"
echo "   examples under valgrind, the TSP shim (native mapping test and MinGW DLL build)"
log="$(mktemp)"
trap 'rm -f "$log" "${pylog:-}" "${nodelog:-}" "${weblog:-}" "${distlog:-}" "${winlog:-}"' EXIT
# The Windows tests (tests/tests/tsp_windows.rs, every name starting with windows_) run once,
# below (scripts/test-windows.sh), with their own summary line.
cargo test --workspace -- --skip windows_ 2>&1 | tee "$log"
passed=$(awk '/^test result:/ {p += $4} END {print p + 0}' "$log")
failed=$(awk '/^test result:/ {f += $6} END {print f + 0}' "$log")
# The adversarial suite (gateway/tests/adversarial: every attack of the hardening probe) ran
# with the rest; its own line too.
adversarial=$(awk '/Running tests\/adversarial\/main.rs/ {on = 1; next}
  on && /^test result:/ {p += $4; f += $6; on = 0}
  END {printf "adversarial: %d passed, %d failed", p, f}' "$log")

echo "== windows: ctilink.dll and the TSP built for Windows, the provider driven under Wine"
winlog="$(mktemp)"
./scripts/test-windows.sh 2>&1 | tee "$winlog" || { echo "windows tests failed" >&2; exit 1; }
windows_summary="$(tail -1 "$winlog")"

echo "== ctilink parse on every real capture (must report zero errors)"
cargo run --quiet --release -p ctilink-cli -- parse "$CTILINK_VECTORS"/ami/real/*.ami "$CTILINK_VECTORS"/ami/asterisk20/*.ami > /dev/null

echo "== python: the package in a fresh virtual environment, stubs, pytest, examples"
pylog="$(mktemp)"
./scripts/test-python.sh 2>&1 | tee "$pylog" || { echo "python tests failed" >&2; exit 1; }
python_summary="$(tail -1 "$pylog")"

echo "== node: npm ci builds the addon, types checked, node --test, examples"
nodelog="$(mktemp)"
./scripts/test-node.sh 2>&1 | tee "$nodelog" || { echo "node tests failed" >&2; exit 1; }
node_summary="$(tail -1 "$nodelog")"

echo "== web: npm ci, types checked, ctilink-web and the /panel in headless Chromium"
weblog="$(mktemp)"
./scripts/test-web.sh 2>&1 | tee "$weblog" || { echo "web tests failed" >&2; exit 1; }
web_summary="$(tail -1 "$weblog")"

echo "== release artifacts: make dist, then each installed and run with no Rust toolchain on PATH"
./scripts/dist.sh
distlog="$(mktemp)"
./scripts/test-dist.sh 2>&1 | tee "$distlog" || { echo "release artifact tests failed" >&2; exit 1; }
dist_summary="$(tail -1 "$distlog")"

echo "== benchmarks compile and run once"
cargo bench -p ctilink --bench decode -- --test
cargo bench -p ctilink --bench tracker -- --test
cargo bench -p ctilink-tests --bench session_latency -- --test
cargo bench -p ctilink-tests --bench session_commands -- --test
cargo bench -p ctilink-gateway --bench fanout -- --test
cargo bench -p ctilink-gateway --bench cluster -- --test

echo "== all checks passed"
echo "rust: $passed passed, $failed failed"
echo "$adversarial"
echo "$python_summary"
echo "$node_summary"
echo "$web_summary"
echo "$windows_summary"
echo "$dist_summary"
