#!/usr/bin/env bash
# Runs one cargo-fuzz target for a while (not part of CI).
#   scripts/fuzz.sh upbit|binance|bithumb|listings|avro_decode|avro_resolved [SECONDS]
# Seeds come from tests/fixtures/<exchange>; new corpus entries go to tests/fuzz/corpus/<target>
# (git-ignored), never into the fixtures. cargo-fuzz needs nightly features: on the stable
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
  upbit|binance|bithumb) seeds=("tests/fixtures/$target") ;;
  # The listings' real samples, where ../shared is beside the repository.
  listings) [ -d ../shared/samples ] && seeds=(../shared/samples/upbit ../shared/samples/binance) ;;
esac
RUSTC_BOOTSTRAP=1 cargo fuzz run --fuzz-dir tests/fuzz "$target" "$corpus" "${seeds[@]}" -- \
  -max_total_time="$seconds" -max_len="${MAX_LEN:-4096}"
