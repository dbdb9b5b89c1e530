#!/usr/bin/env bash
# Local stack for development and tests: a Kafka-protocol broker (tansu, in memory) and Redis,
# both on free loopback ports, installed on first use (pinned versions).
#
#   scripts/stack.sh install        install tansu and redis if missing (pinned), start nothing
#   scripts/stack.sh start          start both; prints the environment to use them
#   scripts/stack.sh env            print that environment again (export lines)
#   scripts/stack.sh status         show what is running
#   scripts/stack.sh stop           stop both (by PID) and remove the state
#   scripts/stack.sh run -- CMD...  start, run CMD with the environment, always stop after
#
# State (ports, PIDs, logs) lives in target/stack/. Production uses Apache Kafka; tansu is
# only the test broker (no Docker engine on these machines). See ../shared/TESTING.md.
set -euo pipefail
cd "$(dirname "$0")/.."

TANSU_VERSION=0.6.0
STATE=${TICKFLOW_STACK_DIR:-target/stack}

log() { printf 'stack: %s\n' "$*" >&2; }

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

wait_tcp() { # port seconds
  local deadline=$((SECONDS + $2))
  until (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; do
    ((SECONDS < deadline)) || return 1
    sleep 0.1
  done
}

ensure_tansu() {
  if tansu --version 2>/dev/null | grep -q "$TANSU_VERSION"; then return; fi
  log "installing tansu $TANSU_VERSION (about 12 minutes once on 2 cores; cached in ~/.cargo/bin)"
  cargo install tansu --version "$TANSU_VERSION" --locked --features dynostore
}

ensure_redis() {
  if command -v redis-server >/dev/null && command -v redis-cli >/dev/null; then return; fi
  log "installing redis-server and redis-tools (Debian)"
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq redis-server redis-tools >/dev/null
}

alive() { [ -f "$STATE/$1.pid" ] && kill -0 "$(cat "$STATE/$1.pid")" 2>/dev/null; }

print_env() {
  [ -f "$STATE/env" ] || { log "not running (no $STATE/env)"; return 1; }
  cat "$STATE/env"
}

start() {
  if alive tansu || alive redis; then
    log "already running; use 'stop' first"
    print_env
    return
  fi
  ensure_tansu
  ensure_redis
  mkdir -p "$STATE"
  local kafka_port redis_port
  kafka_port=$(free_port)
  redis_port=$(free_port)

  # setsid: a Ctrl-C in the terminal (SIGINT to the foreground process group) must not stop the
  # stack before its users have drained; `stop` ends them by PID. (The background job is not a
  # process group leader, so setsid execs in place and $! stays the server's PID.)
  setsid tansu broker \
    --listener-url "tcp://127.0.0.1:$kafka_port" \
    --advertised-listener-url "tcp://127.0.0.1:$kafka_port" \
    --storage-engine memory://tansu/ >"$STATE/tansu.log" 2>&1 &
  echo $! >"$STATE/tansu.pid"

  setsid redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no \
    --daemonize no >"$STATE/redis.log" 2>&1 &
  echo $! >"$STATE/redis.pid"

  if ! wait_tcp "$kafka_port" 20; then
    log "tansu did not listen on $kafka_port; log:"; tail -20 "$STATE/tansu.log" >&2; stop; return 1
  fi
  local deadline=$((SECONDS + 20))
  until [ "$(redis-cli -p "$redis_port" ping 2>/dev/null)" = "PONG" ]; do
    if ((SECONDS >= deadline)); then
      log "redis did not answer on $redis_port; log:"; tail -20 "$STATE/redis.log" >&2; stop; return 1
    fi
    sleep 0.1
  done
  cat >"$STATE/env" <<ENV
export TICKFLOW_KAFKA__BOOTSTRAP_SERVERS=127.0.0.1:$kafka_port
export TICKFLOW_REDIS__URL=redis://127.0.0.1:$redis_port
ENV
  log "tansu on 127.0.0.1:$kafka_port (pid $(cat "$STATE/tansu.pid")), redis on 127.0.0.1:$redis_port (pid $(cat "$STATE/redis.pid"))"
  print_env
}

stop_one() {
  local name=$1 pid
  [ -f "$STATE/$name.pid" ] || return 0
  pid=$(cat "$STATE/$name.pid")
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$STATE/$name.pid"
}

stop() {
  stop_one tansu
  stop_one redis
  rm -f "$STATE/env"
  log "stopped"
}

status() {
  for name in tansu redis; do
    if alive "$name"; then echo "$name: running (pid $(cat "$STATE/$name.pid"))"; else echo "$name: stopped"; fi
  done
  [ -f "$STATE/env" ] && cat "$STATE/env"
  return 0
}

case "${1:-}" in
  install) ensure_tansu; ensure_redis ;;
  start) start ;;
  stop) stop ;;
  status) status ;;
  env) print_env ;;
  run)
    shift
    [ "${1:-}" = "--" ] && shift
    [ $# -gt 0 ] || { log "usage: scripts/stack.sh run -- CMD..."; exit 2; }
    start >/dev/null
    trap stop EXIT
    # shellcheck disable=SC1091
    source "$STATE/env"
    "$@"
    ;;
  *)
    sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'
    exit 2
    ;;
esac
