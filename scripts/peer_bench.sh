#!/usr/bin/env bash
# Peer comparison: tickflow's per-frame cost (frame -> validated tick -> Confluent-framed Avro,
# `cargo bench --bench pipeline -- peer_frames`) against cryptofeed's Binance feed
# (`message_handler` with a no-op callback, and with its Kafka callback's serialization) over
# the same real frames from ../shared/samples, side by side: each round runs both, and the
# summary quotes medians over the rounds and the ratio. Not part of CI (it builds the release
# benches and a Python virtualenv).
#   scripts/peer_bench.sh [ROUNDS]     (default 3)
set -euo pipefail
cd "$(dirname "$0")/.."
CRYPTOFEED_VERSION=2.4.1   # pinned peer (PyPI)
AIOKAFKA_VERSION=0.14.0    # its Kafka backend's dependency (only imported: nothing is sent)
rounds=${1:-3}
samples=../shared/samples
if [ ! -d "$samples/binance" ]; then
  echo "peer_bench: $samples/binance not found: the real frames are needed" >&2
  exit 2
fi
venv=${CARGO_TARGET_DIR:-target}/peer-venv
if ! "$venv/bin/python" -c "from importlib.metadata import version as v; import sys; sys.exit(v('cryptofeed') != '$CRYPTOFEED_VERSION' or v('aiokafka') != '$AIOKAFKA_VERSION')" 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check \
    "cryptofeed==$CRYPTOFEED_VERSION" "aiokafka==$AIOKAFKA_VERSION"
fi
target=${CARGO_TARGET_DIR:-target}
out=$target/peer-bench
rm -rf "$out"
mkdir -p "$out"
for round in $(seq "$rounds"); do
  echo "== round $round/$rounds: tickflow"
  cargo bench --quiet --bench pipeline -- peer_frames >/dev/null
  for case in "$target"/criterion/peer_frames/*/; do
    name=$(basename "$case")
    median=$("$venv/bin/python" -c "import json,sys; print(json.load(open(sys.argv[1]))['median']['point_estimate'])" "$case/new/estimates.json")
    printf '{"case": "%s", "variant": "tickflow", "median_ns_per_frame": %s}\n' "$name" "$median" >>"$out/rounds.jsonl"
  done
  echo "== round $round/$rounds: cryptofeed $CRYPTOFEED_VERSION"
  "$venv/bin/python" benches/peer/cryptofeed_binance.py "$samples" >>"$out/rounds.jsonl"
done
"$venv/bin/python" - "$out/rounds.jsonl" <<'PY'
import collections, json, statistics, sys
runs = collections.defaultdict(list)
for line in open(sys.argv[1]):
    r = json.loads(line)
    runs[(r["case"], r["variant"])].append(r["median_ns_per_frame"])
cases = sorted({c for c, _ in runs})
print(f"{'frames':34} {'tickflow ns':>12} {'cryptofeed no-op ns':>20} {'+ kafka serialization ns':>25} {'ratio (no-op)':>14} {'ratio (serialized)':>19}")
for case in cases:
    t = runs.get((case, "tickflow"))
    n = runs.get((case, "noop"))
    k = runs.get((case, "kafka_serialization"))
    if not (t and n and k):
        continue
    t, n, k = (statistics.median(x) for x in (t, n, k))
    print(f"{case:34} {t:12.0f} {n:20.0f} {k:25.0f} {n / t:13.1f}x {k / t:18.1f}x")
print(f"medians over {len(next(iter(runs.values())))} rounds; raw figures in {sys.argv[1]}")
PY
