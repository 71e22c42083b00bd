#!/usr/bin/env bash
# The PostgreSQL that scripts/pg.sh starts for the demo and the tests lets
# nobody in without proof: no TCP listener at all (initdb -A trust used to
# let any local TCP login in as superuser), only the Unix socket, with peer
# authentication mapped to the OS user who started it; another OS user is
# refused on the socket too.
. "$(dirname "$0")/../lib/env.sh"

la=$(psql -X -A -t -q -d postgres -c "SHOW listen_addresses")
[ -z "$la" ] ||
    t_fail "the server listens on TCP: listen_addresses = '$la'"
rules=$(psql -X -A -t -q -d postgres -c "SELECT type || ' ' || auth_method FROM pg_hba_file_rules ORDER BY line_number")
t_log "pg_hba rules: $(echo $rules)"
[ "$rules" = "local peer" ] || t_fail "pg_hba holds more than one local peer rule: $rules"
if psql -X -q -h 127.0.0.1 -p "$PGPORT" -d postgres -c "SELECT 1" >/dev/null 2>&1; then
    t_fail "a TCP login on 127.0.0.1:$PGPORT succeeded"
fi
# Another OS user, on the socket: refused (by the socket's mode or by peer).
if runuser -u nobody -- psql -X -q -h "$PGHOST" -p "$PGPORT" -U postgres -d postgres -c "SELECT 1" \
        >/dev/null 2>&1; then
    t_fail "the OS user nobody signed in as postgres"
fi
t_log "PASS: socket only, peer authentication, TCP and other users refused"
