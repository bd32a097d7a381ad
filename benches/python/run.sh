#!/usr/bin/env bash
# Python consumers side by side: ctilink (asyncio and blocking) and panoramisk (PyPI) on the
# same simulated PBX. Events per second delivered to Python (bench_events.py) and command
# round trips (bench_roundtrip.py); figures and method in docs/python.md ("Performance").
#
#   benches/python/run.sh            # 100,000 events per run, 2,000 commands of each kind
#   QUICK=1 benches/python/run.sh    # a smoke pass: 2,000 events, 50 commands
#
# Needs python3 (>= 3.9) and cargo; PyPI the first time. Installs into target/python-bench-venv
# (a release build of ./bindings-python, plus panoramisk).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$root/target/python-cargo}"
venv="$root/target/python-bench-venv"
events="${EVENTS:-100000}"
commands="${COMMANDS:-2000}"
runs="${RUNS:-3}"
if [[ -n "${QUICK:-}" ]]; then events=2000; commands=50; runs=1; fi

if [[ ! -x "$venv/bin/python" ]]; then
    "${PYTHON:-python3}" -m venv "$venv"
fi
"$venv/bin/pip" install --quiet --disable-pip-version-check --force-reinstall --no-deps "$root/bindings-python"
"$venv/bin/pip" install --quiet --disable-pip-version-check panoramisk

out="$(mktemp)"
trap 'rm -f "$out"' EXIT
echo "== machine: $(lscpu | sed -n 's/^Model name: *//p' | head -1), $(nproc) cores" >&2
for run in $(seq "$runs"); do
    for impl in ctilink-asyncio ctilink-blocking panoramisk; do
        echo "== events, $impl (run $run)" >&2
        "$venv/bin/python" "$here/bench_events.py" "$impl" -n "$events" | tee -a "$out" >&2
    done
done
for impl in ctilink-asyncio ctilink-blocking panoramisk; do
    echo "== round trip, $impl" >&2
    "$venv/bin/python" "$here/bench_roundtrip.py" "$impl" -n "$commands" | tee -a "$out" >&2
done

"$venv/bin/python" - "$out" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
ev = [r for r in rows if "events_per_s" in r]
rt = [r for r in rows if "p50_us" in r]
print("\n| consumer | events | events/s (each run) |\n|---|---:|---:|")
for name in dict.fromkeys(r["implementation"] for r in ev):
    rates = [r["events_per_s"] for r in ev if r["implementation"] == name]
    print(f"| {name} | {ev[0]['events']:,} | " + " / ".join(f"{x:,.0f}" for x in rates) + " |")
print("\n| implementation | command | n | p50 µs | p99 µs | max µs |\n|---|---|---:|---:|---:|---:|")
for r in rt:
    print(f"| {r['implementation']} | {r['command']} | {r['n']} | {r['p50_us']:.0f} | {r['p99_us']:.0f} | {r['max_us']:.0f} |")
PY
