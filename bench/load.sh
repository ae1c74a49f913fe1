#!/usr/bin/env bash
# Load test of the login example on Redis, with a session-crosstalk check.
#
#   bash bench/load.sh [CLIENTS=64] [DURATION_SECS=60]
#
# Builds `--example login` (release) and bench/load (a tokio client), starts a
# redis-server on a free loopback port and the example on another (--redis,
# --insecure-cookies), then CLIENTS clients each log in as their own user id
# and GET / on one keep-alive connection until DURATION_SECS pass, checking
# the body is their own id. Samples the server's VmRSS after a 10 s warm-up
# and at the end. Bounded: everything it started is stopped on exit.
# Not part of `cargo test`.
set -euo pipefail
CLIENTS=${1:-64}
DURATION=${2:-60}
WARMUP=10
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"

source "$ROOT/bench/common.sh"

cargo build --release --example login >&2
(cd bench/load && cargo build --release >&2)

WORK=$(mktemp -d)
REDIS_PID=""; SERVER_PID=""
cleanup() {
  [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null || true
  [ -n "$REDIS_PID" ] && kill "$REDIS_PID" 2>/dev/null && wait "$REDIS_PID" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

start_redis "$WORK/redis.log"
REDIS_PORT=$RPORT

APP_PORT=$(free_port)
RUST_LOG=warn target/release/examples/login --bind "127.0.0.1:$APP_PORT" \
  --redis "redis://127.0.0.1:$REDIS_PORT/" --insecure-cookies >"$WORK/server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 100); do
  curl -s -o /dev/null "http://127.0.0.1:$APP_PORT/" && break
  sleep 0.1
done

rss() { awk '/VmRSS/ {print $2}' "/proc/$SERVER_PID/status"; }
RSS_START=$(rss)
bench/load/target/release/uapi-load "127.0.0.1:$APP_PORT" "$CLIENTS" "$DURATION" >"$WORK/result" &
LOAD_PID=$!
sleep "$WARMUP"
RSS_WARM=$(rss)
wait "$LOAD_PID"
RSS_END=$(rss)
kill -0 "$SERVER_PID" # the server is still alive
SESSIONS=$(redis-cli -p "$REDIS_PORT" dbsize)
ERRORS_LOGGED=$(grep -c -E " (ERROR|WARN) " "$WORK/server.log" || true)

echo "clients=$CLIENTS duration=${DURATION}s cpus=$(nproc)"
cat "$WORK/result"
echo "redis_keys=$SESSIONS server_error_log_lines=$ERRORS_LOGGED"
awk -v s="$RSS_START" -v w="$RSS_WARM" -v e="$RSS_END" \
  'BEGIN { printf "rss_kib start=%d warm=%d end=%d end/warm=%.3f\n", s, w, e, e / w }'
grep -q "crosstalk=0 " "$WORK/result"
