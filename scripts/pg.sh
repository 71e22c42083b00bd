# PostgreSQL that custos owns for the demo and the tests: a private cluster
# under a data folder, listening on a Unix socket and loopback. Sourced by
# scripts/demo.sh and scripts/test.sh. initdb refuses root, so the cluster
# runs as the 'postgres' system user that Debian's package creates.
#
#   pg_start DIR PORT   start (initdb on first use); exports PGHOST PGPORT
#   pg_stop DIR         stop it (fast shutdown)
#   pg_down DIR / pg_up DIR   stop and restart without removing anything

PG_BIN=${PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1)}

pg_as() {
    if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

pg_start() {
    local dir=$1 port=$2
    mkdir -p "$dir"
    if [ "$(id -u)" = 0 ]; then chown postgres:postgres "$dir"; fi
    chmod 700 "$dir"
    if [ ! -f "$dir/data/PG_VERSION" ]; then
        pg_as "$PG_BIN/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 --locale=C.UTF-8 \
            >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; return 1; }
        cat >>"$dir/data/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$dir'
max_connections = 200
shared_buffers = 256MB
fsync = on
synchronous_commit = on
wal_level = minimal
max_wal_senders = 0
max_wal_size = 2GB
checkpoint_timeout = 15min
log_min_messages = warning
CONF
    fi
    export PGHOST=$dir PGPORT=$port PGUSER=postgres
    pg_up "$dir"
}

pg_up() {
    local dir=$1
    if pg_as "$PG_BIN/pg_ctl" -D "$dir/data" status >/dev/null 2>&1; then return 0; fi
    pg_as "$PG_BIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 start >/dev/null ||
        { tail -n 30 "$dir/server.log" >&2; return 1; }
}

pg_down() {
    pg_as "$PG_BIN/pg_ctl" -D "$1/data" -m fast -w -t 60 stop >/dev/null 2>&1 || true
}

pg_stop() { pg_down "$1"; }
