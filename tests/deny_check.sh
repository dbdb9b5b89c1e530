#!/usr/bin/env bash
# The supply-chain check (scripts/deny.sh) fails and names what it found: a vulnerability in a
# crate of Cargo.lock (a synthetic advisory for tokio, added to a copy of the snapshot), and a
# licence the tree needs taken out of the policy (BSD-3-Clause, which redis has alone).
# Run by scripts/test.sh after scripts/deny.sh; uses cargo's index cache as it is (no network).
set -euo pipefail
cd "$(dirname "$0")/.."

db=${TICKFLOW_ADVISORY_DB:-../shared/advisory-db}
tmp=$(mktemp -d)
# scripts/deny.sh left the layout pointing at the copy: the next run lays it out again.
trap 'rm -rf "$tmp"' EXIT

# expect_failure WHAT NEEDLE... -- COMMAND...: COMMAND exits non-zero and its output has every NEEDLE.
expect_failure() {
  local what=$1 needles=() out
  shift
  while [ "$1" != -- ]; do needles+=("$1"); shift; done
  shift
  if out=$("$@" 2>&1); then
    printf '%s\n' "$out" >&2
    echo "tests/deny_check.sh: $what: the check passed" >&2
    exit 1
  fi
  for needle in "${needles[@]}"; do
    if ! grep -qF -- "$needle" <<<"$out"; then
      printf '%s\n' "$out" >&2
      echo "tests/deny_check.sh: $what: the check failed without naming '$needle'" >&2
      exit 1
    fi
  done
  printf '%s: fails, output has' "$what"
  printf " '%s'" "${needles[@]}"
  echo
}

mkdir -p "$tmp/db"
cp -R "$db/crates" "$db/SNAPSHOT.txt" "$tmp/db/"
mkdir -p "$tmp/db/crates/tokio"
cat >"$tmp/db/crates/tokio/RUSTSEC-2999-0001.md" <<'EOF'
```toml
[advisory]
id = "RUSTSEC-2999-0001"
package = "tokio"
date = "2026-08-21"

[versions]
patched = []
```

# Synthetic advisory of tests/deny_check.sh

Every version of tokio is affected.
EOF
expect_failure "synthetic advisory against tokio" RUSTSEC-2999-0001 "tokio v" -- \
  env TICKFLOW_ADVISORY_DB="$tmp/db" TICKFLOW_DENY_INDEX=cached scripts/deny.sh advisories

grep -v '"BSD-3-Clause", ' deny.toml >"$tmp/deny.toml"
expect_failure "policy without BSD-3-Clause" "rejected" "redis v" "BSD-3-Clause" -- \
  cargo deny --offline --locked --config "$tmp/deny.toml" check licenses
