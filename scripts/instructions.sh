#!/usr/bin/env bash
# Instructions per frame (decode + validate + normalize + framed Avro encode), counted by
# callgrind: deterministic on a given build, unlike wall time on this shared machine.
# Usage: scripts/instructions.sh [FRAMES]   (needs valgrind: apt-get install -y valgrind)
set -euo pipefail
cd "$(dirname "$0")/.."
frames=${1:-20000}
command -v valgrind >/dev/null || { echo "valgrind is required (apt-get install -y valgrind)" >&2; exit 1; }
bin=$(cargo bench --bench frame_instructions --no-run --message-format=json 2>/dev/null \
  | python3 -c 'import json,sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m["target"]["name"] == "frame_instructions" and m.get("executable"):
        print(m["executable"])')
count() {
  valgrind --tool=callgrind --callgrind-out-file=/dev/null "$bin" "$1" "$2" 2>&1 \
    | sed -n 's/.*refs: *//p' | tr -d ','
}
for case in binance upbit bithumb bithumb_v1 binance_book binance_trade; do
  base=$(count "$case" 0)
  total=$(count "$case" "$frames")
  echo "$case: $(( (total - base) / frames )) instructions/frame"
done
