#!/usr/bin/env bash
# The product's scenarios end to end against a real Asterisk with scripted SIP phones.
# CI has no Asterisk, so `make test` does not run this; run it before you claim PBX
# behaviour works, and record what the PBX did (--record) so `make test` can replay it.
#
#   scripts/test-real-pbx.sh --url ami://cti:cti-secret@127.0.0.1:5040 \
#       --phones KIT/phone.sh [--cli KIT/cli.sh] [--record DIR] [--only a,b]
#   scripts/test-real-pbx.sh --refpbx PREFIX --kit KIT [--record DIR] [--only a,b]
#
# --phones is a program with the interface of the refpbx kit's phone.sh
# (`register|unregister|answer|busy|ring NNN`, `call FROM TO SECONDS`); --cli runs one
# Asterisk CLI command (used to hang everything up between scenarios and to restart the
# PBX). --refpbx PREFIX --kit KIT takes all of that from a refpbx kit install (its
# refpbx.env gives the AMI port; the user is `cti`). Scenarios: the driver's
# (tests/src/bin/real_pbx.rs), then the Python, Node and C click-to-dial examples.
# The last line is `real-pbx: N passed, M failed`.
set -euo pipefail
cd "$(dirname "$0")/.."

url="" phones="" cli="" record="" only="" prefix="" kit=""
while [ $# -gt 0 ]; do
  case "$1" in
    --url) url="$2"; shift 2 ;;
    --phones) phones="$2"; shift 2 ;;
    --cli) cli="$2"; shift 2 ;;
    --record) record="$2"; shift 2 ;;
    --only) only="$2"; shift 2 ;;
    --refpbx) prefix="$2"; shift 2 ;;
    --kit) kit="$2"; shift 2 ;;
    *) sed -n '2,16p' "$0" >&2; exit 2 ;;
  esac
done
if [ -n "$prefix" ]; then
  [ -n "$kit" ] || { echo "--refpbx needs --kit (the refpbx kit's directory)" >&2; exit 2; }
  prefix="$(cd "$prefix" && pwd)"
  kit="$(cd "$kit" && pwd)"
  # shellcheck disable=SC1091
  . "$prefix/etc/asterisk/refpbx.env"
  export REFPBX_PREFIX="$prefix"
  url="${url:-ami://cti:cti-secret@${REFPBX_HOST:-127.0.0.1}:${REFPBX_AMI_PORT}}"
  phones="${phones:-$kit/phone.sh}"
  cli="${cli:-$kit/cli.sh}"
fi
[ -n "$url" ] && [ -n "$phones" ] || { sed -n '2,16p' "$0" >&2; exit 2; }

cargo build --quiet --release -p ctilink-tests --bin real_pbx
cargo build --quiet --release -p ctilink-cli
args=(--url "$url" --phones "$phones" --ctilink target/release/ctilink)
[ -n "$cli" ] && args+=(--cli "$cli")
[ -n "$record" ] && args+=(--record "$record")
[ -n "$only" ] && args+=(--only "$only")
log="$(mktemp)"
trap 'rm -f "$log"; jobs -p | xargs -r kill 2>/dev/null || true' EXIT
# The driver's own summary line is folded into the one at the end.
./target/release/real_pbx "${args[@]}" | tee "$log" | grep -v '^real-pbx:' || true
passed=$(sed -n 's/^real-pbx: \([0-9]*\) passed.*/\1/p' "$log" | tail -1)
failed=$(sed -n 's/^real-pbx: [0-9]* passed, \([0-9]*\) failed/\1/p' "$log" | tail -1)
passed=${passed:-0}
failed=${failed:-1}

wanted() { [ -z "$only" ] || [[ ",$only," == *",$1,"* ]]; }

# An example places a click-to-dial 100 -> 101 with both phones answering; it must print
# `answered` as its last line.
example() {
  local name="$1"; shift
  wanted "$name" || return 0
  "$phones" register 100 >/dev/null && "$phones" register 101 >/dev/null
  # Each phone in a process group of its own, so that it goes away whole afterwards.
  setsid "$phones" answer 100 >/dev/null 2>&1 & local a=$!
  setsid "$phones" answer 101 >/dev/null 2>&1 & local b=$!
  sleep 1.5
  local out
  out="$(timeout 60 "$@" 2>&1 || true)"
  # Hang up while the phones still answer the BYE: chan_sip retransmits an unanswered BYE
  # for 32 s, and the next listener on that port would take it for its call.
  [ -n "$cli" ] && "$cli" channel request hangup all >/dev/null 2>&1 || true
  sleep 1
  kill -- -"$a" -"$b" 2>/dev/null || true
  wait "$a" "$b" 2>/dev/null || true
  if [ "$(printf '%s\n' "$out" | tail -1)" = "answered" ]; then
    passed=$((passed + 1)); echo "ok - $name"
  else
    failed=$((failed + 1)); echo "not ok - $name: $(printf '%s' "$out" | tail -3 | tr '\n' ' ')"
  fi
  sleep 1
}

venv="target/python-venv/bin/python"
if [ -x "$venv" ] && "$venv" -c 'import ctilink' 2>/dev/null; then
  example python_example "$venv" examples/python/click_to_dial.py "$url" 100 101
elif wanted python_example; then
  failed=$((failed + 1)); echo "not ok - python_example: no target/python-venv (run scripts/test-python.sh once)"
fi
if [ -f bindings-node/index.js ] && ls bindings-node/*.node >/dev/null 2>&1; then
  example node_example node examples/node/click_to_dial.mjs "$url" 100 101
elif wanted node_example; then
  failed=$((failed + 1)); echo "not ok - node_example: the Node addon is not built (run scripts/test-node.sh once)"
fi
if wanted c_example; then
  cargo build --quiet --release -p ctilink-ffi
  cc -Wall -Wextra -O2 -Iinclude examples/c/click_to_dial.c -Ltarget/release -lctilink \
    -Wl,-rpath,"$(pwd)/target/release" -o target/release/click_to_dial_c
  example c_example target/release/click_to_dial_c "$url" 100 101
fi

echo "real-pbx: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
