#!/usr/bin/env bash
# The command line as operators expect it: global options before or after
# the command, --help anywhere, -V with build information, unknown commands
# and options named, the documented exit codes (0 ok, 1 failure, 2 usage,
# 3 config), one wording for an unreachable database.
. "$(dirname "$0")/../lib/env.sh"
B=$CUSTOS_BIN

expect() { # rc pattern -- command...: the exit status and a line of its output
    local want=$1 pat=$2 rc=0
    shift 3
    "$@" >"$T_DIR/out" 2>&1 || rc=$?
    [ "$rc" = "$want" ] || t_fail "'$*' exited $rc, not $want: $(head -c 400 "$T_DIR/out")"
    grep -qE -- "$pat" "$T_DIR/out" || t_fail "'$*' did not print /$pat/: $(head -c 400 "$T_DIR/out")"
}

expect 0 '^custos [0-9]+\.[0-9]+\.[0-9]+ \(commit [^,]+, [A-Za-z]+ build' -- "$B" -V
expect 0 'librdkafka [0-9]' -- "$B" --version
expect 0 '^usage: custos \[-c FILE\]' -- "$B" --help
expect 2 '^usage: custos' -- "$B"
expect 2 "unknown command 'chek'" -- "$B" chek
expect 2 "unknown option '--bogus'" -- "$B" --bogus run
expect 2 'option -c needs a value' -- "$B" run -c
# --help anywhere is the command's help, never a file name or an argument
expect 0 '^usage: custos \[-c FILE\] config check' -- "$B" config check --help
expect 0 '^usage: custos \[-c FILE\] migrate' -- "$B" migrate --status --help
expect 0 'usage: custos .*run' -- "$B" -h run
expect 2 "unknown argument 'extra'" -- "$B" migrate extra

# a bad config stops every command with 3, naming the file, line and key,
# whether -c comes before or after the command
printf 'collector:\n  batch_max_events: lots\n' >"$T_DIR/bad.yaml"
expect 3 "bad.yaml:2.*batch_max_events" -- "$B" -c "$T_DIR/bad.yaml" run
expect 3 "bad.yaml:2.*batch_max_events" -- "$B" run --config "$T_DIR/bad.yaml"
expect 3 "bad.yaml:2.*batch_max_events" -- "$B" --config="$T_DIR/bad.yaml" migrate
expect 3 "bad.yaml:2.*batch_max_events" -- "$B" config check "$T_DIR/bad.yaml"

# an unreachable database: exit 1, the setting and the question in one wording
printf 'postgres:\n  dsn: "host=%s/nothing-here dbname=x"\n' "$T_DIR" >"$T_DIR/nodb.yaml"
expect 1 "custos migrate: cannot reach PostgreSQL: .*" -- "$B" -c "$T_DIR/nodb.yaml" migrate
grep -q "setting postgres.dsn, or CUSTOS_POSTGRES_DSN" "$T_DIR/out" ||
    t_fail "the database error does not name the setting"

# -c before the command reaches it: migrate --status on a fresh database
db="custos_t_cli_$$"
createdb "$db"
T_DBS+=("$db")
printf 'postgres:\n  dsn: "host=%s port=%s user=%s dbname=%s"\n' "$PGHOST" "$PGPORT" "$PGUSER" "$db" \
    >"$T_DIR/ok.yaml"
expect 1 "highest migration applied: 0" -- "$B" -c "$T_DIR/ok.yaml" migrate --status
expect 0 "schema up to date" -- "$B" --log-level info migrate -c "$T_DIR/ok.yaml"
expect 0 "^up to date" -- "$B" -c "$T_DIR/ok.yaml" migrate --status
t_log "command line conventions hold"
