# PostgreSQL that custos owns for the demo and the tests: a private cluster
# under a data folder, reachable only through its Unix socket in that folder
# (no TCP listener), with peer authentication: only the operating-system
# user who started it (and 'postgres') may sign in, as the database user
# 'postgres'. Sourced by scripts/demo.sh, scripts/test.sh and the tests.
#
# initdb refuses root, so as root the cluster runs as the 'postgres' system
# user that Debian's package creates; that user must be able to reach the
# folder, which it cannot inside root's home (mode 0700 on Debian). The
# callers therefore give a folder outside any home when they run as root
# (pg_home_dir below).
#
#   pg_start DIR PORT   start (initdb on first use); exports PGHOST PGPORT PGUSER
#   pg_stop DIR         stop it (fast shutdown)
#   pg_down DIR / pg_up DIR   stop and restart without removing anything
#   pg_home_dir NAME    a folder for cluster NAME that the server's user can reach

PG_BIN=${PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1)}

pg_as() {
    if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

# pg_home_dir NAME: as root /var/lib/custos/NAME (outside every home, so the
# postgres user reaches it); otherwise empty (run the cluster where you like:
# the server then runs as you).
pg_home_dir() {
    if [ "$(id -u)" = 0 ]; then echo "/var/lib/custos/$1"; fi
}

# pg_reachable DIR: fails, saying why, when the server's user cannot reach DIR.
pg_reachable() {
    local dir=$1
    [ "$(id -u)" = 0 ] || return 0
    if ! runuser -u postgres -- test -x "$dir"; then
        echo "custos: PostgreSQL runs as the 'postgres' user, which cannot reach $dir" \
             "(a folder on its way is not searchable by others); use a folder outside root's home" >&2
        return 1
    fi
}

pg_start() {
    local dir=$1 port=$2
    mkdir -p "$dir"
    if [ "$(id -u)" = 0 ]; then chown postgres:postgres "$dir"; fi
    chmod 700 "$dir"
    pg_reachable "$dir" || return 1
    if [ ! -f "$dir/data/PG_VERSION" ]; then
        pg_as "$PG_BIN/initdb" -D "$dir/data" -U postgres --auth-local=peer --auth-host=reject \
            -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; return 1; }
        # Peer authentication, mapped: the OS user who runs the demo or the
        # tests (root, or you) and 'postgres' may sign in as 'postgres'.
        local me; me=$(id -un)
        pg_as tee "$dir/data/pg_hba.conf" >/dev/null <<HBA
# custos's private cluster: Unix socket only, peer authentication (scripts/pg.sh)
local all all peer map=custos
HBA
        pg_as tee "$dir/data/pg_ident.conf" >/dev/null <<IDENT
custos $me postgres
custos postgres postgres
IDENT
        pg_as tee -a "$dir/data/postgresql.conf" >/dev/null <<CONF
listen_addresses = ''
port = $port
unix_socket_directories = '$dir'
unix_socket_permissions = 0700
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
