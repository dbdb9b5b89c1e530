#!/usr/bin/env bash
# Starts the local stack, checks both services speak their protocols, stops it, and checks
# nothing is left running. Run by scripts/test.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export TICKFLOW_STACK_DIR="$work/stack"
# The inner script's variables come from the stack's environment, so they must not expand here.
# shellcheck disable=SC2016
scripts/stack.sh run -- bash -c '
  set -euo pipefail
  python3 tests/kafka_probe.py "$TICKFLOW_KAFKA__BOOTSTRAP_SERVERS"
  [ "$(redis-cli -u "$TICKFLOW_REDIS__URL" ping)" = PONG ]
  echo "redis ok"
  cat "$TICKFLOW_STACK_DIR/tansu.pid" "$TICKFLOW_STACK_DIR/redis.pid" >"$1"
' smoke "$work/pids"
while read -r pid; do
  if kill -0 "$pid" 2>/dev/null; then
    echo "stack smoke: pid $pid still running after stop" >&2
    exit 1
  fi
done <"$work/pids"
echo "stack smoke: started, answered, stopped"
