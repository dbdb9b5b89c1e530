#!/usr/bin/env bash
# The README's main command: gather live ticks into Kafka and keep the Redis price cache.
#
#   scripts/run.sh [gather options...]
#
# Runs `tickflow cache` in the background and `tickflow gather` in the foreground; prints the
# `tickflow price` command that reads the cache from another terminal.
# Kafka: TICKFLOW_KAFKA__BOOTSTRAP_SERVERS, or "bootstrap.servers" in tickflow.toml; when
# neither names a broker, the local stack (tansu + redis, scripts/stack.sh) is started for this
# run and stopped afterwards. Exchanges: the live endpoints in connectors/*.toml; when none can
# be reached (no internet) and the local stack is in use, tickflow says so and gathers from its
# built-in simulator instead, labelled SIMULATED FEEDS in every progress line and marked
# `simulated` in every Kafka message and Redis hash. With a configured broker it never simulates. Stop with Ctrl-C (or SIGTERM): the producer is
# flushed, the cache commits, the local stack stops.
set -euo pipefail
cd "$(dirname "$0")/.."

configured_broker() {
  [ -n "${TICKFLOW_KAFKA__BOOTSTRAP_SERVERS:-}" ] && return 0
  grep -Eq '^[[:space:]]*"?bootstrap\.servers"?[[:space:]]*=' tickflow.toml 2>/dev/null
}

# TICKFLOW_BIN: a tickflow binary to run instead of building the release one (tests use the
# debug build).
bin=${TICKFLOW_BIN:-target/release/tickflow}
if [ -z "${TICKFLOW_BIN:-}" ]; then
  cargo build --release --locked --quiet
fi

# The simulator fallback only ever feeds the local stack this script starts: with a configured
# broker, unreachable exchanges are retried (and /readyz says so), never replaced by synthetic
# prices.
simulate=()
if ! configured_broker; then
  simulate=(--simulate-if-offline)
  echo "run: no Kafka broker configured; starting the local stack (tansu + redis)" >&2
  export TICKFLOW_STACK_DIR=${TICKFLOW_STACK_DIR:-target/stack-run}
  scripts/stack.sh start >/dev/null
  trap 'scripts/stack.sh stop' EXIT
  # shellcheck disable=SC1091
  source "$TICKFLOW_STACK_DIR/env"
fi
echo "run: Kafka at ${TICKFLOW_KAFKA__BOOTSTRAP_SERVERS:-(from tickflow.toml)}" >&2


# A fresh clone has no target/ when TICKFLOW_BIN skips the build.
mkdir -p target
# setsid: a Ctrl-C reaches the cache only through stop_cache, after gather has flushed.
setsid "$bin" cache >target/cache.log 2>&1 &
cache_pid=$!
cache_died() { # status: says so with the end of its log
  echo "run: tickflow cache exited with status $1; the end of target/cache.log:" >&2
  tail -n 20 target/cache.log >&2
}
# 0 when the cache was still running and stopped cleanly; its status when it had died.
stop_cache() {
  local code=0
  if kill -0 "$cache_pid" 2>/dev/null; then
    kill -TERM "$cache_pid" 2>/dev/null || true
    wait "$cache_pid" 2>/dev/null || true
    return 0
  fi
  wait "$cache_pid" 2>/dev/null || code=$?
  cache_died "$code"
  return "$(( code == 0 ? 1 : code ))"
}
# A cache that cannot start (Redis or Kafka unreachable, bad config) exits within seconds.
sleep 2
if ! kill -0 "$cache_pid" 2>/dev/null; then
  code=0
  wait "$cache_pid" 2>/dev/null || code=$?
  cache_died "$code"
  exit 1
fi
redis_url=${TICKFLOW_REDIS__URL:-redis://127.0.0.1:6379}
case "$redis_url" in *@*) redis_url="(your TICKFLOW_REDIS__URL)" ;; esac
echo "run: tickflow cache running (pid $cache_pid, log target/cache.log); prices from another terminal:" >&2
echo "  TICKFLOW_REDIS__URL=$redis_url $bin price BTC-KRW --watch" >&2

# Not exec: the cache and the stack must be stopped after gather exits. Gather runs in the
# background, in a session of its own (setsid), so that each Ctrl-C or SIGTERM to this script
# reaches it exactly once, as the SIGTERM forwarded below: a terminal sends SIGINT to its whole
# foreground process group, and gather took that one plus the forwarded one for two signals
# (abandoning at once what was not acknowledged). It then drains and flushes; a second Ctrl-C
# still abandons at once. The cache is stopped after it, the stack last (EXIT trap).
setsid "$bin" gather "${simulate[@]}" "$@" &
gather_pid=$!
echo "run: tickflow gather running (pid $gather_pid)" >&2
# HUP too: in its own session gather no longer dies with a closed terminal; it drains instead.
trap 'kill -TERM "$gather_pid" 2>/dev/null || true' INT TERM HUP
status=0
wait "$gather_pid" || status=$?
# A trapped signal interrupts `wait`; wait again for gather's own exit status.
while kill -0 "$gather_pid" 2>/dev/null; do
  status=0
  wait "$gather_pid" || status=$?
done
cache_status=0
stop_cache || cache_status=$?
if [ "$status" -eq 0 ] && [ "$cache_status" -ne 0 ]; then
  status=$cache_status
fi
exit "$status"
