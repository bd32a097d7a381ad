#!/usr/bin/env bash
# The Python package's gate, as a new user meets it: format and clippy on the binding crate,
# `pip install ./bindings-python` into a fresh virtual environment (maturin builds the abi3
# wheel in release), the type stubs checked against the built module (stubtest), and the
# pytest suite (bindings-python/tests, which also runs examples/python/*.py as a user would).
#
#   scripts/test-python.sh                     # from anywhere; needs python3 (>= 3.9), cargo
#   CARGO_TARGET_DIR=... scripts/test-python.sh
#
# Ends with one line `python: N passed, M failed` (pytest's tests, plus one each for fmt,
# clippy, the install and stubtest) and exits non-zero on any failure. Skipped tests count as
# failed: nothing here may be skipped.
set -euo pipefail
cd "$(dirname "$0")/.."
root="$(pwd)"

# The binding is a cargo workspace of its own; keep its build out of the main target's lock.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$root/target/python-cargo}"
venv="$root/target/python-venv"
python="${PYTHON:-python3}"
manifest="bindings-python/Cargo.toml"

passed=0
failed=0
step() { # step NAME COMMAND...: runs one check, counts it, goes on after a failure
    local name="$1"
    shift
    echo "== $name"
    if "$@"; then
        passed=$((passed + 1))
        return 0
    fi
    echo "!! $name failed" >&2
    failed=$((failed + 1))
    return 1
}

step "format (bindings-python)" cargo fmt --manifest-path "$manifest" -- --check || true
step "clippy (bindings-python, warnings are errors)" \
    cargo clippy --manifest-path "$manifest" --all-targets --quiet -- -D warnings || true

echo "== fresh virtual environment: $venv"
rm -rf "$venv"
"$python" -m venv "$venv"
vpy="$venv/bin/python"

install() {
    "$vpy" -m pip install --quiet --disable-pip-version-check --upgrade pip
    "$vpy" -m pip install --quiet --disable-pip-version-check ./bindings-python pytest pytest-timeout mypy
}
if step "pip install ./bindings-python (release build of the abi3 wheel)" install; then
    # Outside the checkout, so that nothing but the installed package can be imported.
    work="$(mktemp -d)"
    trap 'rm -rf "$work"' EXIT
    step "stubtest: the .pyi stubs against the built module" \
        bash -c "cd '$work' && '$vpy' -m mypy.stubtest ctilink --mypy-config-file /dev/null" || true

    echo "== pytest (bindings-python/tests, examples/python)"
    junit="$work/junit.xml"
    set +e
    "$vpy" -m pytest -c bindings-python/pyproject.toml --rootdir bindings-python \
        -p no:cacheprovider --junitxml="$junit" bindings-python/tests
    status=$?
    set -e
    if [[ -f "$junit" ]]; then
        read -r tests bad skipped < <("$vpy" - "$junit" <<'PY'
import sys
import xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
suites = [root] if root.tag == "testsuite" else list(root.iter("testsuite"))
n = sum(int(s.get("tests", 0)) for s in suites)
bad = sum(int(s.get("failures", 0)) + int(s.get("errors", 0)) for s in suites)
skipped = sum(int(s.get("skipped", 0)) for s in suites)
print(n, bad, skipped)
PY
        )
        passed=$((passed + tests - bad - skipped))
        failed=$((failed + bad + skipped))
        if [[ $skipped -ne 0 ]]; then
            echo "!! $skipped tests were skipped; every test must run" >&2
        fi
        if [[ $status -ne 0 && $bad -eq 0 && $skipped -eq 0 ]]; then
            echo "!! pytest exited with $status" >&2
            failed=$((failed + 1))
        fi
    else
        echo "!! pytest produced no report (exit $status)" >&2
        failed=$((failed + 1))
    fi
fi

echo "python: $passed passed, $failed failed"
[[ $failed -eq 0 ]]
