#!/usr/bin/env bash
# Seeds fuzz/corpus/decoder from the real AMI captures (never committed: the
# corpus folder is gitignored). Each capture is cut into pieces of about 4 KiB at
# message boundaries, and each piece is stored twice: with read sizes 1,8,64,256 and
# default limits, and with read sizes 3,17 and the small limits (see the target).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
vectors="${CTILINK_VECTORS:-$here/../tests/vectors}"
out="$here/corpus/decoder"
mkdir -p "$out"
python3 - "$vectors" "$out" <<'PY'
import hashlib, pathlib, sys
vectors, out = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
files = sorted(vectors.glob("ami/real/*.ami")) + sorted(vectors.glob("ami/asterisk20/*.ami"))
if not files:
    sys.exit(f"no captures under {vectors}/ami (set CTILINK_VECTORS)")
n = 0
for f in files:
    data = f.read_bytes()
    pieces, start = [], 0
    while start < len(data):
        end = start + 4096
        if end < len(data):
            cut = data.find(b"\n\n", end)
            cut2 = data.find(b"\r\n\r\n", end)
            cands = [c for c in (cut, cut2) if c >= 0]
            end = min(cands) + 2 if cands else len(data)
        pieces.append(data[start:end])
        start = end
    for p in pieces:
        for prefix in (bytes([0x04, 0, 7, 63, 255]), bytes([0x12, 2, 16])):
            blob = prefix + p
            (out / hashlib.sha1(blob).hexdigest()).write_bytes(blob)
            n += 1
print(f"{n} seeds from {len(files)} captures in {out}")
PY
