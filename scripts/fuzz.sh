#!/usr/bin/env bash
# Runs one cargo-fuzz target for a while (not part of CI).
#   scripts/fuzz.sh EXCHANGE|adapters|listings|avro_decode|avro_resolved [SECONDS]
# A venue's name (upbit, binance, ...) fuzzes its adapter (the `adapters` target with
# FUZZ_EXCHANGE set), seeded from tests/fixtures/<exchange> and ../shared/samples/<exchange>
# where it exists; `adapters` alone goes through every venue's. New corpus entries go to
# tests/fuzz/corpus/<name> (git-ignored), never into the fixtures. cargo-fuzz needs nightly features: on the stable
# toolchain RUSTC_BOOTSTRAP=1 enables them.
set -euo pipefail
cd "$(dirname "$0")/.."
target=${1:?usage: scripts/fuzz.sh TARGET [SECONDS]}
seconds=${2:-60}
CARGO_FUZZ_VERSION=0.13.1
if ! cargo fuzz --version 2>/dev/null | grep -q "$CARGO_FUZZ_VERSION"; then
  cargo install cargo-fuzz --version "$CARGO_FUZZ_VERSION" --locked
fi
corpus="tests/fuzz/corpus/$target"
mkdir -p "$corpus"
seeds=()
case "$target" in
  adapters) seeds=(tests/fixtures/*/) ;;
  # The listings' real samples, where ../shared is beside the repository.
  listings) [ -d ../shared/samples ] && for d in ../shared/samples/*/; do seeds+=("$d"); done ;;
  avro_decode|avro_resolved) ;;
  *)
    [ -d "tests/fixtures/$target" ] || { echo "no venue or target named $target" >&2; exit 2; }
    seeds=("tests/fixtures/$target")
    [ -d "../shared/samples/$target" ] && seeds+=("../shared/samples/$target")
    export FUZZ_EXCHANGE="$target"
    target=adapters
    ;;
esac
RUSTC_BOOTSTRAP=1 cargo fuzz run --fuzz-dir tests/fuzz "$target" "$corpus" "${seeds[@]}" -- \
  -max_total_time="$seconds" -max_len="${MAX_LEN:-4096}"
