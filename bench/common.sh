# Shared by the bench scripts: `source "$(dirname "$0")/common.sh"`.

# A free TCP port on 127.0.0.1.
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# start_redis LOGFILE: a throwaway redis-server (no persistence) on a free
# loopback port; sets RPORT and REDIS_PID and returns once it answers PING.
# Its directory is LOGFILE's, so it never loads a dump.rdb lying in the
# current directory.
start_redis() {
    RPORT=$(free_port)
    redis-server --bind 127.0.0.1 --port "$RPORT" --save '' --appendonly no --daemonize no \
        --dir "$(dirname "$1")" --logfile "$1" &
    REDIS_PID=$!
    for _ in $(seq 50); do redis-cli -h 127.0.0.1 -p "$RPORT" ping >/dev/null 2>&1 && return 0; sleep 0.1; done
    redis-cli -h 127.0.0.1 -p "$RPORT" ping >/dev/null
}

# start_replica LOGFILE PRIMARY_PORT: a throwaway redis-server replicating the
# one on PRIMARY_PORT; sets REPLICA_PORT and REPLICA_PID and returns once its
# link to the primary is up (INFO replication: master_link_status:up), false
# after 20 s. Set the primary's repl-diskless-sync-delay to 0 first, or the
# first sync waits 5 s for more replicas. The replica keeps the primary's
# snapshot (dump.rdb) beside LOGFILE.
start_replica() {
    REPLICA_PORT=$(free_port)
    redis-server --bind 127.0.0.1 --port "$REPLICA_PORT" --save '' --appendonly no --daemonize no \
        --replicaof 127.0.0.1 "$2" --dir "$(dirname "$1")" --logfile "$1" &
    REPLICA_PID=$!
    for _ in $(seq 200); do
        redis-cli -h 127.0.0.1 -p "$REPLICA_PORT" info replication 2>/dev/null | tr -d '\r' \
            | grep -qx 'master_link_status:up' && return 0
        sleep 0.1
    done
    return 1
}
