#!/usr/bin/env bash
# Load benchmark (issue 6): uapi's bench server against axum + tower-sessions,
# actix-web + actix-session, and plain hyper (hello only), all on one
# redis-server this script starts on a free loopback port.
#
#   bash bench/run.sh                 # 2 rounds, 2 s warm-up, 10 s runs (~9 min)
#   QUICK=1 bash bench/run.sh         # 2 rounds, 1 s warm-up, 3 s runs (~3 min)
#
# Knobs (env): ROUNDS (2), DURATION (10, seconds), WARMUP (2), CONNS (64),
# THREADS (1, wrk threads), TARGETS ("uapi uapi-mt uapi-pl axum actix hyper";
# uapi is the bench server on Workers with redis-rs's ConnectionManager, uapi-mt
# the same on the multi-thread runtime, uapi-pl on Workers with uapi's own
# PipelinedConnection; also uapi-lazy: on Workers, GET / and POST /touch
# reading only the field they use through a LazySession; uapi-wait is uapi with
# every session write waiting for one replica, WAIT 1 100, on a replica this
# script then starts for the whole run: it runs the write and login scenarios
# only),
# SCENARIOS ("hello read write login"; also read-kN and write-kN: the session
# first filled with N keys of 100 bytes by POST /fill, e.g. read-k50 write-k200;
# any of these with -cN: N wrk connections instead of CONNS, e.g. hello-c1000
# read-k50-c1000; idle-N or idle-Nk: the server's memory per idle keep-alive
# connection, N connections held by bench/load's uapi-idle, e.g. idle-10k),
# OUT (results directory), BUILD (1; 0 uses the binaries already built).
#
# Runs are interleaved: for each round, for each scenario, every target in
# turn (A B C A B C), each on a fresh server process. Per run: a warm-up, then
# CONFIG RESETSTAT, the server's utime+stime from /proc/PID/stat, one wrk run,
# and the deltas: requests/s, p50/p99, errors, Redis commands per request
# (INFO commandstats, commands run inside Lua scripts included), and server CPU
# microseconds per request, and Redis network bytes per request (INFO stats
# total_net_input_bytes + total_net_output_bytes). Once per target and scenario, a sequential probe
# (20 requests, one at a time) counts Redis round trips per request from
# INFO stats' total_reads_processed. An idle-N run instead reads the server's
# VmRSS before uapi-idle opens N connections (one GET /hello each) and once
# they are all answered and idle, and gives (after - before) / N, after
# checking the server still held every connection open (idle.tsv). The
# summary prints medians over rounds.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
if [[ "${QUICK:-0}" == 1 ]]; then
    : "${DURATION:=3}" "${WARMUP:=1}"
fi
ROUNDS=${ROUNDS:-2}
DURATION=${DURATION:-10}
WARMUP=${WARMUP:-2}
CONNS=${CONNS:-64}
THREADS=${THREADS:-1}
TARGETS=${TARGETS:-"uapi uapi-mt uapi-pl axum actix hyper"}
SCENARIOS=${SCENARIOS:-"hello read write login"}
OUT=${OUT:-$ROOT/bench/results/$(date -u +%Y%m%dT%H%M%SZ)}
PROBE_N=20
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
RAW="$OUT/raw.tsv" IDLE_RAW="$OUT/idle.tsv"
HZ=$(getconf CLK_TCK)

log() { printf '[bench %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

for tool in curl python3 redis-server redis-cli; do
    command -v "$tool" >/dev/null || { log "missing $tool"; exit 1; }
done
if ! command -v wrk >/dev/null; then
    log "wrk missing: installing the Debian package"
    SUDO=""; [[ $(id -u) == 0 ]] || SUDO=sudo
    $SUDO apt-get update -qq && $SUDO apt-get install -y -qq wrk
fi

source "$ROOT/bench/common.sh"

# ---- scenarios ------------------------------------------------------------
# scenario NAME: sets KIND (hello, read, write, login or idle), KEYS (keys the
# session is filled with first) and SCONNS (wrk's connections, or the idle
# ones); false for a name it does not know.
scenario() {
    KEYS=0 SCONNS=$CONNS
    if [[ $1 =~ ^idle-([0-9]+)(k?)$ ]]; then
        KIND=idle SCONNS=${BASH_REMATCH[1]}
        [[ -z ${BASH_REMATCH[2]} ]] || SCONNS=$((SCONNS * 1000))
        return 0
    fi
    [[ $1 =~ ^(hello|read|write|login)(-k([0-9]+))?(-c([0-9]+))?$ ]] || return 1
    KIND=${BASH_REMATCH[1]} KEYS=${BASH_REMATCH[3]:-0} SCONNS=${BASH_REMATCH[5]:-$CONNS}
    [[ $KEYS == 0 || $KIND == read || $KIND == write ]]
}
# applies TARGET KIND: plain hyper serves /hello only; uapi-wait differs from
# uapi only where sessions are written.
applies() {
    case $1 in
        hyper) [[ $2 == hello || $2 == idle ]] ;;
        uapi-wait) [[ $2 == write || $2 == login ]] ;;
        *) true ;;
    esac
}
# Every connection is a descriptor in the client and in the server, which
# inherit this limit: raise it for -c1000 and idle-10k.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
NEED_IDLE=0
for scen in $SCENARIOS; do
    scenario "$scen" || { log "unknown scenario $scen"; exit 1; }
    (( SCONNS + 100 <= $(ulimit -n) )) || { log "$scen: $SCONNS connections need more than ulimit -n $(ulimit -n)"; exit 1; }
    [[ $KIND == idle ]] && NEED_IDLE=1
done

# ---- build ----------------------------------------------------------------
if [[ "${BUILD:-1}" == 1 ]]; then
    log "building bench_server (release)"
    (cd "$ROOT" && cargo build --release --quiet --example bench_server)
fi
MAIN_TARGET=$(cd "$ROOT" && cargo metadata --format-version 1 --no-deps \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
if [[ "${BUILD:-1}" == 1 ]]; then
    log "building peers (release, bench/peers/target)"
    cargo build --release --quiet --manifest-path "$ROOT/bench/peers/Cargo.toml" --target-dir "$ROOT/bench/peers/target"
    if [[ $NEED_IDLE == 1 ]]; then
        log "building bench/load's uapi-idle (release)"
        cargo build --release --quiet --manifest-path "$ROOT/bench/load/Cargo.toml" --bin uapi-idle
    fi
fi
IDLE_BIN="$ROOT/bench/load/target/release/uapi-idle"
declare -A BIN=(
    [uapi]="$MAIN_TARGET/release/examples/bench_server"
    [uapi-mt]="$MAIN_TARGET/release/examples/bench_server"
    [uapi-pl]="$MAIN_TARGET/release/examples/bench_server"
    [uapi-lazy]="$MAIN_TARGET/release/examples/bench_server"
    [uapi-wait]="$MAIN_TARGET/release/examples/bench_server"
    [axum]="$ROOT/bench/peers/target/release/axum_peer"
    [actix]="$ROOT/bench/peers/target/release/actix_peer"
    [hyper]="$ROOT/bench/peers/target/release/hyper_peer"
)

# ---- redis ----------------------------------------------------------------
SERVER_PID="" REDIS_PID="" REPLICA_PID=""
cleanup() {
    [[ -n "$SERVER_PID" ]] && kill "$SERVER_PID" 2>/dev/null || true
    [[ -n "$REPLICA_PID" ]] && kill "$REPLICA_PID" 2>/dev/null || true
    [[ -n "$REDIS_PID" ]] && kill "$REDIS_PID" 2>/dev/null || true
}
trap cleanup EXIT
start_redis "$OUT/redis.log"
REDIS_URL="redis://127.0.0.1:$RPORT"
rcli() { redis-cli -h 127.0.0.1 -p "$RPORT" "$@"; }
# uapi-wait needs a replica to wait for. It serves the whole run, so every
# target's Redis feeds it alike and uapi against uapi-wait is the wait alone.
if [[ " $TARGETS " == *" uapi-wait "* ]]; then
    rcli config set repl-diskless-sync-delay 0 >/dev/null
    start_replica "$OUT/replica.log" "$RPORT" || { log "the replica's link to $RPORT did not come up"; exit 1; }
    log "replica on $REPLICA_PORT, for uapi-wait"
fi

LUA="$OUT/post.lua"
echo 'wrk.method = "POST"' > "$LUA"

# ---- one run ----------------------------------------------------------------
start_server() { # target -> sets SERVER_PID, PORT
    PORT=$(free_port)
    # uapi-mt: the same bench server on tokio's multi-thread runtime;
    # uapi-pl: on Workers, with uapi's PipelinedConnection;
    # uapi-lazy: on Workers, GET / and POST /touch on a LazySession;
    # uapi-wait: on Workers, each session write waiting up to 100 ms for one replica.
    local runtime=workers redis=manager session=eager wait=0
    [[ $1 == uapi-mt ]] && runtime=multi-thread
    [[ $1 == uapi-pl ]] && redis=pipelined
    [[ $1 == uapi-lazy ]] && session=lazy
    [[ $1 == uapi-wait ]] && wait=1
    UAPI_RUNTIME=$runtime UAPI_REDIS=$redis UAPI_SESSION=$session UAPI_WAIT_REPLICAS=$wait UAPI_WAIT_TIMEOUT_MS=100 \
        PORT=$PORT REDIS_URL=$REDIS_URL "${BIN[$1]}" >>"$OUT/$1.log" 2>&1 &
    SERVER_PID=$!
    for _ in $(seq 100); do
        curl -fs "http://127.0.0.1:$PORT/hello" >/dev/null 2>&1 && return 0
        sleep 0.05
    done
    log "$1 did not start; see $OUT/$1.log"
    exit 1
}
stop_server() {
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=""
}
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
redis_cpu() { rcli info cpu | tr -d '\r' | awk -F: '$1=="used_cpu_sys"||$1=="used_cpu_user"{t+=$2} END{printf "%.6f", t}'; }
reads_processed() { rcli info stats | tr -d '\r' | awk -F: '$1=="total_reads_processed"{print $2}'; }
# The replica's acknowledgements (REPLCONF ACK): reads and commands on the
# primary that no server sent, taken out of the round trips and the command count.
replconf_calls() { rcli info commandstats | tr -d '\r' | awk -F'[:=,]' '$1=="cmdstat_replconf"{n=$3} END{print n+0}'; }
# Waits (up to 5 s) until the replica, if any, has applied all the primary
# sent it: one run's backlog must not spill into the next run or the probe.
replica_caught_up() {
    [[ -n $REPLICA_PID ]] || return 0
    local sent applied
    for _ in $(seq 50); do
        sent=$(rcli info replication | tr -d '\r' | awk -F: '$1=="master_repl_offset"{print $2}')
        applied=$(redis-cli -h 127.0.0.1 -p "$REPLICA_PORT" info replication | tr -d '\r' \
            | awk -F: '$1=="slave_repl_offset"{print $2}')
        [[ $sent == "$applied" ]] && return 0
        sleep 0.1
    done
    log "the replica is still behind the primary ($applied of $sent)"
}
net_bytes() { rcli info stats | tr -d '\r' | awk -F: '$1=="total_net_input_bytes"||$1=="total_net_output_bytes"{t+=$2} END{printf "%.0f", t}'; }
login_cookie() { # -> "name=value" of the Set-Cookie of a fresh login
    curl -fsi -X POST "http://127.0.0.1:$PORT/login?user_id=1" | tr -d '\r' \
        | awk 'tolower($1)=="set-cookie:"{split($2,a,";"); print a[1]; exit}'
}

# Checks the four routes once per target (round 1), so a peer with the wrong
# semantics cannot win by doing less.
check_semantics() { # target
    local base="http://127.0.0.1:$PORT" body cookie
    body=$(curl -fs "$base/hello"); [[ "$body" == hello ]] || { log "$1: /hello said '$body'"; exit 1; }
    [[ "$1" == hyper ]] && return 0
    [[ $(curl -s -o /dev/null -w '%{http_code}' -X POST "$base/login?user_id=7") == 201 ]] \
        || { log "$1: login is not 201"; exit 1; }
    cookie=$(curl -fsi -X POST "$base/login?user_id=7" | tr -d '\r' \
        | awk 'tolower($1)=="set-cookie:"{split($2,a,";"); print a[1]; exit}')
    [[ -n "$cookie" ]] || { log "$1: login sets no cookie"; exit 1; }
    body=$(curl -fs -H "Cookie: $cookie" "$base/"); [[ "$body" == 7 ]] || { log "$1: / said '$body'"; exit 1; }
    body=$(curl -fs "$base/"); [[ "$body" == "no user" ]] || { log "$1: anonymous / said '$body'"; exit 1; }
    [[ $(curl -s -o /dev/null -w '%{http_code}' -X POST -H "Cookie: $cookie" "$base/touch") == 200 ]] \
        || { log "$1: touch is not 200"; exit 1; }
    [[ $(curl -s -o /dev/null -w '%{http_code}' -X POST -H "Cookie: $cookie" "$base/touch") == 200 ]] \
        || { log "$1: second touch is not 200"; exit 1; }
}

run_one() { # round target scenario (after `scenario`: KIND, KEYS, SCONNS)
    local round=$1 target=$2 scen=$3 path method=GET cookie="" args=() keys=$KEYS
    case $KIND in
        hello) path=/hello ;;
        read) path=/ ;;
        write) path=/touch; method=POST ;;
        login) path="/login?user_id=1"; method=POST ;;
    esac
    rcli flushall >/dev/null
    replica_caught_up
    start_server "$target"
    [[ $round == 1 && $scen == hello ]] && check_semantics "$target"
    if [[ $KIND == read || $KIND == write ]]; then
        cookie=$(login_cookie)
        [[ -n "$cookie" ]] || { log "$target: no session cookie from /login"; exit 1; }
        args+=(-H "Cookie: $cookie")
        if (( keys > 0 )); then
            curl -fs -o /dev/null -X POST -H "Cookie: $cookie" "http://127.0.0.1:$PORT/fill?n=$keys&size=100" \
                || { log "$target: /fill failed"; exit 1; }
            # The filled session is the one read: a peer must not have moved it.
            [[ $(curl -fs -H "Cookie: $cookie" "http://127.0.0.1:$PORT/") == 1 ]] \
                || { log "$target: the filled session lost its user"; exit 1; }
        fi
    fi
    [[ $method == POST ]] && args+=(-s "$LUA")
    local url="http://127.0.0.1:$PORT$path"
    wrk -t"$THREADS" -c"$SCONNS" -d"${WARMUP}s" "${args[@]}" "$url" >/dev/null
    rcli config resetstat >/dev/null
    local t0 t1 c0 c1 n0 n1 wout
    c0=$(redis_cpu)
    n0=$(net_bytes)
    t0=$(cpu_ticks "$SERVER_PID")
    wout=$(wrk -t"$THREADS" -c"$SCONNS" -d"${DURATION}s" --latency "${args[@]}" "$url")
    t1=$(cpu_ticks "$SERVER_PID")
    n1=$(net_bytes)
    c1=$(redis_cpu)
    echo "$wout" > "$OUT/wrk-r$round-$target-$scen.txt"
    local stats
    stats=$(rcli info commandstats | tr -d '\r' | grep '^cmdstat_' || true)
    # Round trips per request: sequential requests, one at a time (round 1).
    local rt=""
    if [[ $round == 1 && $KIND != hello ]]; then
        local r0 r1 a0 a1 hdr=()
        [[ -n "$cookie" ]] && hdr=(-H "Cookie: $cookie")
        replica_caught_up
        a0=$(replconf_calls)
        r0=$(reads_processed)
        for _ in $(seq $PROBE_N); do curl -fs -o /dev/null -X "$method" "${hdr[@]}" "$url"; done
        r1=$(reads_processed)
        a1=$(replconf_calls)
        # -2: the INFO that reads r1, and the close of the connection that read r0;
        # and one read per acknowledgement from the replica (none without one).
        rt=$(python3 -c "print(round(($r1 - $r0 - 2 - ($a1 - $a0)) / $PROBE_N, 2))")
    elif [[ $KIND == hello ]]; then
        rt=0
    fi
    stop_server
    python3 - "$round" "$target" "$scen" "$((t1 - t0))" "$HZ" "$rt" "$wout" "$stats" "$c0" "$c1" "$((n1 - n0))" >>"$RAW" <<'PY'
import re, sys
round_, target, scen, ticks, hz, rt, wout, stats, c0, c1, net = sys.argv[1:12]
def ms(v):
    m = re.match(r"([\d.]+)(us|ms|s|m)", v)
    n, u = float(m.group(1)), m.group(2)
    return n * {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 6e4}[u]
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", wout).group(1))
reqs = int(re.search(r"(\d+) requests in", wout).group(1))
p50 = ms(re.search(r"^\s+50%\s+(\S+)", wout, re.M).group(1))
p99 = ms(re.search(r"^\s+99%\s+(\S+)", wout, re.M).group(1))
errs = 0
m = re.search(r"Non-2xx or 3xx responses: (\d+)", wout)
if m: errs += int(m.group(1))
m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", wout)
if m: errs += sum(int(x) for x in m.groups())
cmds = {}
for line in stats.splitlines():
    m = re.match(r"cmdstat_([^:]+):calls=(\d+)", line)
    if m and m.group(1).split("|")[0] not in ("info", "config", "flushall", "ping"):
        cmds[m.group(1)] = int(m.group(2))
total = sum(v for k, v in cmds.items() if k != "replconf")  # the replica's, not the server's
breakdown = ",".join(f"{k}={v / max(reqs, 1):.2f}" for k, v in sorted(cmds.items()))
cpu_us = int(ticks) * 1e6 / int(hz) / max(reqs, 1)
print("\t".join(map(str, [round_, target, scen, f"{rps:.1f}", f"{p50:.3f}", f"{p99:.3f}", errs, reqs,
                          f"{cpu_us:.1f}", f"{total / max(reqs, 1):.2f}", rt or "", breakdown or "-",
                          f"{(float(c1) - float(c0)) * 1e6 / max(reqs, 1):.1f}", f"{int(net) / max(reqs, 1):.0f}"])))
PY
    log "$(tail -1 "$RAW" | cut -f1-11)"
}

rss_kib() { awk '$1=="VmRSS:"{print $2}' "/proc/$1/status"; }

# An idle-N run: the server's VmRSS before uapi-idle opens SCONNS keep-alive
# connections and once their replies are all in and they sit idle, then
# whether the server still held them all (it must not have closed any
# before the second read; actix closes idle ones after 5 s, uapi after its
# 10 s header-read timeout, hyper after 30 s).
run_idle() { # round target scenario
    local round=$1 target=$2 scen=$3 before after ready checked pid from to f
    local -A got=()
    start_server "$target"
    before=$(rss_kib "$SERVER_PID")
    coproc IDLE { "$IDLE_BIN" "127.0.0.1:$PORT" "$SCONNS" 2>>"$OUT/uapi-idle.log"; }
    # Copies: bash drops IDLE and IDLE_PID as soon as the client exits.
    pid=$IDLE_PID
    exec {from}<&"${IDLE[0]}" {to}>&"${IDLE[1]}"
    read -r -t 120 ready <&"$from" || { log "$target: uapi-idle did not get ready"; exit 1; }
    sleep 0.2
    after=$(rss_kib "$SERVER_PID")
    echo check >&"$to"
    read -r -t 30 checked <&"$from" || { log "$target: uapi-idle did not check"; exit 1; }
    exec {from}<&- {to}>&-
    wait "$pid" || true
    stop_server
    for f in $ready $checked; do
        if [[ $f == *=* ]]; then got[${f%%=*}]=${f#*=}; fi
    done
    (( ${got[opened]:-0} > 0 )) || { log "$target: uapi-idle opened no connection ($ready)"; exit 1; }
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$round" "$target" "$scen" "$SCONNS" \
        "${got[opened]}" "${got[failed]}" "${got[secs]}" "$before" "$after" \
        "$(awk -v a="$after" -v b="$before" -v n="${got[opened]}" 'BEGIN{printf "%.2f", (a - b) / n}')" \
        "${got[open]}" >>"$IDLE_RAW"
    log "$(tail -1 "$IDLE_RAW")"
}

printf 'round\ttarget\tscenario\tconns\topened\tfailed\topen_secs\trss_before_kib\trss_after_kib\tkib_per_conn\tstill_open\n' >"$IDLE_RAW"
printf 'round\ttarget\tscenario\trps\tp50_ms\tp99_ms\terrors\trequests\tcpu_us_per_req\tredis_cmds_per_req\tredis_round_trips\tcmd_breakdown\tredis_cpu_us_per_req\tredis_bytes_per_req\n' >"$RAW"
log "redis on $RPORT; ${ROUNDS} rounds; wrk -t$THREADS -c$CONNS -d${DURATION}s (warm-up ${WARMUP}s); results in $OUT"
for round in $(seq "$ROUNDS"); do
    for scen in $SCENARIOS; do
        scenario "$scen"
        for target in $TARGETS; do
            applies "$target" "$KIND" || continue
            if [[ $KIND == idle ]]; then
                run_idle "$round" "$target" "$scen"
            else
                run_one "$round" "$target" "$scen"
            fi
        done
    done
done

{
    echo "date: $(date -u '+%Y-%m-%d %H:%M UTC'); machine: $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')), shared"
    echo "command: ROUNDS=$ROUNDS DURATION=$DURATION WARMUP=$WARMUP CONNS=$CONNS THREADS=$THREADS${QUICK:+ QUICK=$QUICK} TARGETS=\"$TARGETS\" SCENARIOS=\"$SCENARIOS\" bash bench/run.sh"
    echo "load: wrk -t$THREADS -c$CONNS (or a scenario's -cN) -d${DURATION}s --latency, ${WARMUP}s warm-up, $ROUNDS rounds interleaved; medians"
    echo
    python3 "$ROOT/bench/summarize.py" "$RAW" "$IDLE_RAW"
} | tee "$OUT/summary.md"
