#!/usr/bin/env bash
# User-space instructions per request of one server, from callgrind: numbers the
# neighbours on a shared machine cannot disturb (issue 6).
#
#   bash bench/callgrind.sh uapi read        # uapi's bench server, GET / with a session
#   bash bench/callgrind.sh uapi write       # POST /touch: load, change, save
#   bash bench/callgrind.sh uapi login       # POST /login: a new session per request
#   bash bench/callgrind.sh actix read       # a peer (built by bench/run.sh)
#   bash bench/callgrind.sh hyper hello
#
# Targets: uapi, axum, actix, hyper (release binaries as bench/run.sh builds
# them; BUILD=1 builds uapi's first). Scenarios: hello (GET /hello), read (GET /
# with the cookie of one login), write (POST /touch with that cookie), login
# (POST /login?user_id=1 with no cookie: a new session each time). It
# starts a redis-server on a free loopback port, runs the server under `valgrind --tool=callgrind` twice, answering 800
# and then 4,800 keep-alive requests (8 connections, one request in flight on
# each), and prints (total(4800) - total(800)) / 4000: the cost of a request
# without start-up. FILL=N (read and write) first fills the session with N keys
# of 100 bytes (POST /fill), as bench/run.sh's read-kN and write-kN. Takes about
# a minute per target. KEEP=DIR keeps the two
# callgrind profiles there (cg.800, cg.4800) for callgrind_annotate.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
TARGET=${1:?target: uapi, axum, actix or hyper}
SCEN=${2:?scenario: hello, read, write or login}
for tool in valgrind callgrind_annotate redis-server redis-cli curl python3; do
    command -v "$tool" >/dev/null || { echo "missing $tool" >&2; exit 1; }
done
if [[ "${BUILD:-0}" == 1 ]]; then
    (cd "$ROOT" && cargo build --release --quiet --example bench_server)
fi
MAIN_TARGET=$(cd "$ROOT" && cargo metadata --format-version 1 --no-deps \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
# SERVER_BIN=PATH measures another build of uapi's bench server (e.g. an
# older commit's, for an A/B).
case $TARGET in
    uapi) BIN="${SERVER_BIN:-$MAIN_TARGET/release/examples/bench_server}" ;;
    *) BIN="$ROOT/bench/peers/target/release/${TARGET}_peer" ;;
esac
[[ -x "$BIN" ]] || { echo "$BIN is not built (bash bench/run.sh builds it)" >&2; exit 1; }

source "$ROOT/bench/common.sh"
WORK=$(mktemp -d)
SERVER_PID="" REDIS_PID=""
cleanup() {
    [[ -n "$SERVER_PID" ]] && kill "$SERVER_PID" 2>/dev/null || true
    [[ -n "$REDIS_PID" ]] && kill "$REDIS_PID" 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT
start_redis "$WORK/redis.log"

run() { # requests -> total instructions
    local n=$1 port cookie="" path=/hello method=GET
    port=$(free_port)
    PORT=$port REDIS_URL="redis://127.0.0.1:$RPORT" valgrind --tool=callgrind \
        --callgrind-out-file="$WORK/cg.$n" "$BIN" >"$WORK/server.$n.log" 2>&1 &
    SERVER_PID=$!
    for _ in $(seq 300); do curl -fs "http://127.0.0.1:$port/hello" >/dev/null 2>&1 && break; sleep 0.1; done
    if [[ $SCEN == read || $SCEN == write ]]; then
        path=/
        [[ $SCEN == write ]] && path=/touch method=POST
        cookie=$(curl -fsi -X POST "http://127.0.0.1:$port/login?user_id=1" | tr -d '\r' \
            | awk 'tolower($1)=="set-cookie:"{split($2,a,";"); print a[1]; exit}')
        if [[ "${FILL:-0}" -gt 0 ]]; then
            curl -fs -X POST -H "Cookie: $cookie" "http://127.0.0.1:$port/fill?n=$FILL&size=100" >/dev/null
        fi
    elif [[ $SCEN == login ]]; then
        path="/login?user_id=1" method=POST
    fi
    python3 - "$port" "$path" "$cookie" "$n" "$method" <<'PY'
import socket, sys
port, path, cookie, n, method = int(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5]
socks = [socket.create_connection(("127.0.0.1", port)) for _ in range(8)]
cookie_line = f"Cookie: {cookie}\r\n" if cookie else ""
req = f"{method} {path} HTTP/1.1\r\nHost: x\r\n{cookie_line}Content-Length: 0\r\n\r\n".encode()
for _ in range(n // 8):
    for s in socks:
        s.sendall(req)
    for s in socks:
        buf = b""
        while True:
            chunk = s.recv(4096)
            if not chunk:
                sys.exit("connection closed")
            buf += chunk
            if b"\r\n\r\n" in buf:
                head, body = buf.split(b"\r\n\r\n", 1)
                length = [h for h in head.split(b"\r\n") if h.lower().startswith(b"content-length")]
                if len(body) >= int(length[0].split(b":")[1]):
                    break
PY
    # callgrind writes its totals when the process ends. (SIGTERM: background
    # jobs of a script ignore SIGINT.)
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=""
    [[ -n "${KEEP:-}" ]] && mkdir -p "$KEEP" && cp "$WORK/cg.$n" "$KEEP/"
    callgrind_annotate "$WORK/cg.$n" 2>/dev/null | awk '/PROGRAM TOTALS/ && !done {gsub(",","",$1); print $1; done=1}'
}
small=$(run 800)
large=$(run 4800)
python3 -c "print(f'$TARGET $SCEN${FILL:+ ($FILL keys)}: {($large - $small) / 4000:,.0f} instructions per request (user space)')"
