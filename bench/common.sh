# Shared by the bench scripts: `source "$(dirname "$0")/common.sh"`.

# A free TCP port on 127.0.0.1.
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# start_redis LOGFILE: a throwaway redis-server (no persistence) on a free
# loopback port; sets RPORT and REDIS_PID and returns once it answers PING.
start_redis() {
    RPORT=$(free_port)
    redis-server --bind 127.0.0.1 --port "$RPORT" --save '' --appendonly no --daemonize no \
        --logfile "$1" &
    REDIS_PID=$!
    for _ in $(seq 50); do redis-cli -h 127.0.0.1 -p "$RPORT" ping >/dev/null 2>&1 && return 0; sleep 0.1; done
    redis-cli -h 127.0.0.1 -p "$RPORT" ping >/dev/null
}
