# Sourced by scripts/test-node.sh and scripts/test-web.sh.
#
#   step NAME COMMAND...
#
# Runs one check, counts it in the caller's `passed` or `failed` (and `failures`), and goes
# on after a failure; its heading is prefixed with the caller's `step_label`.
step() {
    local name="$1"
    shift
    echo "== ${step_label:-test}: $name" >&2
    if "$@"; then
        passed=$((passed + 1))
    else
        failed=$((failed + 1))
        failures+=("$name")
    fi
}

# Node's test runner over a
# package's test files, one file at a time (each starts simulators; the machine is small),
# its spec output on stdout and its counts added to the caller's `passed`, `failed` and
# `failures`.
#
#   node_tests DIR 'GLOB' [NODE_FLAG...]
#
# GLOB is expanded inside DIR. A runner that fails without a failing test (it could not
# start, or a file crashed) counts as one failure, and so does a run in which no test ran.
node_tests() {
    local dir="$1" glob="$2"
    shift 2
    local tap status=0 tests_passed tests_failed
    tap="$(mktemp)"
    # shellcheck disable=SC2086 # the glob is meant to expand, in DIR
    (cd "$dir" && node "$@" --test --test-concurrency=1 \
        --test-reporter=spec --test-reporter-destination=stdout \
        --test-reporter=tap --test-reporter-destination="$tap" \
        $glob) || status=$?
    tests_passed="$(sed -n 's/^# pass \([0-9]*\)$/\1/p' "$tap" | tail -n 1)"
    tests_failed="$(sed -n 's/^# fail \([0-9]*\)$/\1/p' "$tap" | tail -n 1)"
    rm -f "$tap"
    tests_passed="${tests_passed:-0}"
    tests_failed="${tests_failed:-0}"
    if [[ $status -ne 0 && $tests_failed -eq 0 ]]; then
        tests_failed=1
    fi
    if [[ $tests_passed -eq 0 && $tests_failed -eq 0 ]]; then
        tests_failed=1
    fi
    passed=$((passed + tests_passed))
    failed=$((failed + tests_failed))
    if [[ $tests_failed -ne 0 ]]; then
        failures+=("node --test")
    fi
}
