#!/usr/bin/env bash
# The Node bindings' gate, from a fresh clone: build the addon from source the way a user
# does (`npm ci`, whose install script runs `napi build`), check the Rust crate (fmt,
# clippy), type-check the package's types and the examples (tsc), then run the node tests
# (bindings-node/__test__: the Session, every command and event kind, error codes,
# lifecycle, and examples/node run as a user runs them).
#
#   scripts/test-node.sh
#
# Ends with one line `node: N passed, M failed` (N and M count the node tests plus one per
# check above) and exits non-zero if anything failed. CARGO_TARGET_DIR is honoured.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
pkg="$root/bindings-node"
# shellcheck source=lib/node-tests.sh
. "$root/scripts/lib/node-tests.sh"
passed=0
failed=0
failures=()

step_label=node

# 1. Install and build exactly what package-lock.json pins; the install script builds the
#    addon in release mode.
step "npm ci (builds the addon)" npm --prefix "$pkg" ci --no-audit --no-fund

# 2. The Rust crate.
step "cargo fmt --check" cargo fmt --manifest-path "$pkg/Cargo.toml" --check
step "cargo clippy" cargo clippy --quiet --manifest-path "$pkg/Cargo.toml" --all-targets -- -D warnings

# 3. Types: the package's compile-time tests, and the examples as users' programs.
tsc="$pkg/node_modules/.bin/tsc"
step "tsc (index.d.ts)" "$tsc" -p "$pkg/tsconfig.json"
step "tsc --noEmit (examples/node)" "$tsc" -p "$root/examples/node/tsconfig.json"

# 4. The node tests.
echo "== node: node --test" >&2
node_tests "$pkg" '__test__/*.test.mjs'

if [[ ${#failures[@]} -ne 0 ]]; then
    echo "failed: ${failures[*]}" >&2
fi
echo "node: $passed passed, $failed failed"
[[ $failed -eq 0 ]]
