#!/usr/bin/env bash
# Supply-chain check of the main workspace against deny.toml with cargo-deny: RustSec advisories
# from the snapshot in ../shared/advisory-db (read in place, never fetched), licences, bans and
# sources. A finding fails, naming the advisory or crate. docs/supply-chain.md has the details.
# Usage: scripts/deny.sh [CHECK...]    (advisories, bans, licenses, sources; default all)
#   TICKFLOW_ADVISORY_DB=DIR       another copy of the database (tests/deny_check.sh)
#   TICKFLOW_DENY_INDEX=cached     no index refresh: yanked is judged on cargo's cache as it is
# Needs cargo-deny (scripts/test.sh pins and installs it).
set -euo pipefail
cd "$(dirname "$0")/.."

db=${TICKFLOW_ADVISORY_DB:-../shared/advisory-db}
if [ ! -d "$db/crates" ] || [ ! -f "$db/SNAPSHOT.txt" ]; then
  echo "scripts/deny.sh: no advisory snapshot (crates/, SNAPSHOT.txt) in $db: see docs/supply-chain.md" >&2
  exit 1
fi
db=$(cd "$db" && pwd)
snapshot_commit=$(sed -n 's/^commit: *//p' "$db/SNAPSHOT.txt")
snapshot_date=$(sed -n 's/^commit date: *//p' "$db/SNAPSHOT.txt")
if [ -z "$snapshot_commit" ] || [ -z "$snapshot_date" ]; then
  echo "scripts/deny.sh: $db/SNAPSHOT.txt has no 'commit:' or 'commit date:' line" >&2
  exit 1
fi
age_days=$(( ($(date +%s) - $(date -d "$snapshot_date" +%s)) / 86400 ))
max_days=$(sed -n 's/^maximum-db-staleness = "P\([0-9]*\)D".*/\1/p' deny.toml)
echo "advisory snapshot: rustsec/advisory-db ${snapshot_commit:0:12} of $snapshot_date" \
  "($age_days days old; deny.toml's maximum-db-staleness fails it from ${max_days:-?} days)"

# cargo-deny reads a database from <db-path>/<last URL segment>-<hash of the URL> (deny.toml's
# db-path and db-urls; if they change, cargo-deny's error names the new directory) and needs a
# git directory there only for the time of the last fetch, .git/FETCH_HEAD's mtime. So the
# snapshot's crates/ is linked in place, and FETCH_HEAD is dated at the snapshot's commit:
# maximum-db-staleness then counts from the snapshot. Rebuilt on every run.
layout=target/advisory-dbs/advisory-db-3157b0e258782691
rm -rf "$layout"
mkdir -p "$layout/.git"
ln -s "$db/crates" "$layout/crates"
echo "$snapshot_commit" >"$layout/.git/FETCH_HEAD"
touch -d "$snapshot_date" "$layout/.git/FETCH_HEAD"

# cargo-deny runs `cargo metadata --offline`, which needs every package's sources (all targets;
# a build downloads only the host's). Nothing is downloaded when they are here.
cargo fetch --locked --quiet
# Yanked crates: cargo-deny looks them up in cargo's cache of the crates.io index, as fresh as
# the last time cargo read each crate's entry. Cargo itself refreshes it (sparse index, one small
# request per crate, about 2 s; Cargo.lock is not written).
if [ "${TICKFLOW_DENY_INDEX:-refresh}" != cached ]; then
  if ! CARGO_NET_RETRY=1 CARGO_HTTP_TIMEOUT=20 cargo update --dry-run --quiet; then
    echo "scripts/deny.sh: could not refresh the crates.io index; yanked is judged on cargo's cached copy" >&2
  fi
fi

# --offline: no fetch of the advisory database (nor crates); --locked: Cargo.lock as committed.
# -D warnings: an exception that no longer matches (a skip, an ignore, an allowed licence no
# crate uses) fails too, so deny.toml states only what is true today.
# A finding prints the crate's inclusion graph (who pulls it in); a passing run prints only the
# four summary lines.
exec cargo deny --offline --locked check --show-stats -D warnings "$@"
