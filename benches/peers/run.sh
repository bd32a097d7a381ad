#!/usr/bin/env bash
# Side-by-side AMI decode rates: ctilink vs panoramisk (PyPI) vs asterisk-manager (npm).
#
# Every implementation is fed the same bytes from memory through its own parser
# and counts the messages it produces; start-up is not timed. See README.md.
#
#   benches/peers/run.sh                 # everything
#   SIZE_MB=50 benches/peers/run.sh      # bigger streams
#   CTILINK_BIN=path/to/ctilink ...      # use a prebuilt CLI instead of cargo run
#
# Needs: python3 (with venv), node + npm, cargo; network access to PyPI and npm
# the first time. Everything it creates lives in benches/peers/.work (gitignored).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
vectors="${CTILINK_VECTORS:-$root/tests/vectors}"
work="$here/.work"
size_mb="${SIZE_MB:-25}"
repeat_ctilink="${REPEAT_CTILINK:-20}"
repeat_peers="${REPEAT_PEERS:-3}"
read_size="${READ_SIZE:-65536}"
mkdir -p "$work"

if [[ ! -d "$vectors/ami/real" ]]; then
    echo "no captures in $vectors/ami/real (set CTILINK_VECTORS)" >&2
    exit 2
fi

# 1. The streams: captures concatenated (each ending in a blank line), repeated to
#    about SIZE_MB. "real" is every capture (all the quirks of QUIRKS.md, Asterisk
#    1.4 to 22); "asterisk20" is only the clean Asterisk 20 captures, on which all
#    three parsers agree about what a message is.
python3 - "$vectors" "$work" "$size_mb" <<'PY'
import pathlib, sys
vectors, work, size = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2]), int(sys.argv[3]) << 20
sets = {
    "real": sorted(vectors.glob("ami/real/*.ami")) + sorted(vectors.glob("ami/asterisk20/*.ami")),
    "asterisk20": sorted(vectors.glob("ami/asterisk20/*.ami")),
}
for name, files in sets.items():
    def framed(b):  # end every capture with a blank line, adding no extra one
        return b if b.endswith((b"\r\n\r\n", b"\n\n")) else b.rstrip(b"\r\n") + b"\r\n\r\n"
    one = b"".join(framed(f.read_bytes()) for f in files)
    reps = max(1, round(size / len(one)))
    out = work / f"{name}.ami"
    data = one * reps
    if not out.exists() or out.stat().st_size != len(data):
        out.write_bytes(data)
    print(f"stream {name}: {len(files)} captures x {reps} = {len(data) / 1e6:.1f} MB -> {out}")
PY

# 2. The peers, installed from the real registries into .work.
if [[ ! -x "$work/venv/bin/python" ]]; then
    python3 -m venv "$work/venv"
fi
if ! "$work/venv/bin/python" -c "import panoramisk" 2>/dev/null; then
    "$work/venv/bin/pip" install --quiet --disable-pip-version-check panoramisk
fi
if [[ ! -f "$work/node_modules/asterisk-manager/package.json" ]]; then
    npm install --silent --no-audit --no-fund --prefix "$work" asterisk-manager
fi

# 3. ctilink's CLI, release build.
if [[ -n "${CTILINK_BIN:-}" ]]; then
    ctilink=("$CTILINK_BIN")
else
    (cd "$root" && cargo build --quiet --release -p ctilink-cli)
    ctilink=(cargo run --quiet --release --manifest-path "$root/Cargo.toml" -p ctilink-cli --)
fi

for stream in real asterisk20; do
    file="$work/$stream.ami"
    out="$work/results-$stream.jsonl"
    : > "$out"
    echo "== $stream: ctilink (x$repeat_ctilink)" >&2
    status=0
    "${ctilink[@]}" parse --json --timing --repeat "$repeat_ctilink" "$file" | tail -n 1 > "$work/ctilink-$stream.json" || status=$?
    if [[ $status -ne 0 ]]; then
        echo "warning: ctilink parse exited with $status (decoder errors in $file)" >&2
    fi
    python3 - "$work/ctilink-$stream.json" "$repeat_ctilink" >> "$out" <<'PY'
import json, sys
t = json.load(open(sys.argv[1]))
tm = t["timing"]
print(json.dumps({
    "implementation": "ctilink (Rust)",
    "bytes": tm["bytes"], "messages": tm["messages"],
    "messages_per_pass": tm["messages"] // int(sys.argv[2]),
    "seconds": tm["seconds"], "mb_per_s": tm["mb_per_s"], "messages_per_s": tm["messages_per_s"],
    "errors": t["errors"],
}))
PY
    echo "== $stream: panoramisk (x$repeat_peers)" >&2
    "$work/venv/bin/python" "$here/panoramisk_rate.py" "$file" --repeat "$repeat_peers" --read "$read_size" >> "$out"
    echo "== $stream: asterisk-manager (x$repeat_peers)" >&2
    NODE_PATH="$work/node_modules" node "$here/asterisk_manager_rate.js" "$file" --repeat "$repeat_peers" --read "$read_size" >> "$out"
done

# 4. The table (Markdown, ready for docs/performance.md).
python3 - "$work" <<'PY'
import json, pathlib, sys
work = pathlib.Path(sys.argv[1])
for stream in ("real", "asterisk20"):
    rows = [json.loads(l) for l in (work / f"results-{stream}.jsonl").read_text().splitlines() if l.strip()]
    me = rows[0]
    size = (work / f"{stream}.ami").stat().st_size / 1e6
    print(f"\nstream `{stream}` ({size:.1f} MB per pass)\n")
    print("| implementation | messages per pass | MB/s | messages/s | ctilink's ratio (MB/s) |")
    print("|---|---:|---:|---:|---:|")
    for r in rows:
        ratio = "-" if r is me else f"{me['mb_per_s'] / r['mb_per_s']:.1f}x"
        print(f"| {r['implementation']} | {r['messages_per_pass']} | {r['mb_per_s']:.1f} | "
              f"{r['messages_per_s']:,.0f} | {ratio} |")
PY
