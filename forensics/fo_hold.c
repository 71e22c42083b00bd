/* custos hold add | list | release, custos retention run: legal holds and
 * the retention they restrain. Every change is audited in its own
 * transaction (legal_hold_placed, legal_hold_released, retention_dropped).
 * Releasing a hold is the admin's: the command line runs with the
 * database's credentials, and no HTTP route releases one. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit/audit.h"
#include "core/cli.h"
#include "core/db.h"
#include "forensics/forensics.h"

static void hold_usage(FILE *out)
{
    fprintf(out,
            "usage: custos hold add (--incident ID | --key K [--since T --until T] |\n"
            "                        --since T --until T) --reason TEXT\n"
            "       custos hold list\n"
            "       custos hold release ID --reason TEXT\n"
            "\n"
            "A legal hold keeps interactions from retention ('custos retention run'): an\n"
            "incident's (its evidence events, and its key's or, for drift, its model\n"
            "version's events over its span), a key's (within [--since, --until) when\n"
            "given), or every event in [--since, --until). It keeps the alerts of the\n"
            "incident, of the key (in its range) or in the range, and a range hold the\n"
            "rejected events received in it. Times are RFC 3339. Placing and\n"
            "releasing are audited (legal_hold_placed, legal_hold_released, with the\n"
            "reason). Release is for the admin (this command; no HTTP route releases a\n"
            "hold); a released hold stays listed.\n");
}

static void retention_usage(FILE *out)
{
    fprintf(out,
            "usage: custos retention run [--dry-run]\n"
            "\n"
            "Drops each daily partition of interactions whose whole day is older than\n"
            "retention.interactions_days (default 180), one transaction and one audit row\n"
            "(retention_dropped: partition, rows dropped, rows held, the active holds) each.\n"
            "Rows under a legal hold ('custos hold') are moved into the default partition\n"
            "first and stay queryable; rows of the default partition past retention and\n"
            "under no hold are deleted (retention_deleted). Rejected events older than\n"
            "retention.rejected_days (30) and alerts older than retention.alerts_days (365)\n"
            "are deleted unless a hold keeps them (an alert: a hold on its incident, its\n"
            "key or its time; a rejected event: a range hold), one audit row per table\n"
            "(retention_deleted). Incidents, actions and the audit chain are never\n"
            "dropped. --dry-run prints what would go and changes nothing. custos run\n"
            "applies it every retention.interval_ms.\n");
}

int forensics_cmd_retention(core_cmd_ctx *x, int argc, char **argv)
{
    bool dry = false, run = false;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0) {
            retention_usage(stdout);
            return CORE_EXIT_OK;
        } else if (strcmp(argv[i], "--dry-run") == 0) {
            dry = true;
        } else if (!run && strcmp(argv[i], "run") == 0) {
            run = true;
        } else {
            fprintf(stderr, "custos retention: unknown argument '%s'\n", argv[i]);
            return CORE_EXIT_USAGE;
        }
    }
    if (!run) {
        retention_usage(stderr);
        return CORE_EXIT_USAGE;
    }
    PGconn *db = core_cmd_db(x);
    if (!db)
        return CORE_EXIT_FAIL;
    char err[1024], actor[128];
    core_cli_actor(actor, sizeof actor);
    forensics_retention_result res;
    if (forensics_retention_run(db, x->cfg, dry, actor, stdout, &res, err, sizeof err) < 0) {
        fprintf(stderr, "custos retention run: %s\n", err);
        return CORE_EXIT_FAIL;
    }
    printf("%s: %" PRId64 " partitions past %" PRId64 " days, %" PRId64 " rows %s, %" PRId64
           " held rows kept, %" PRId64 " rows of the default partition %s\n",
           dry ? "dry run" : "retention", res.partitions, x->cfg->ret_interactions_days,
           res.rows_dropped, dry ? "would be dropped" : "dropped", res.rows_held,
           res.default_deleted, dry ? "would be deleted" : "deleted");
    printf("%s: %" PRId64 " rejected events %s (%" PRId64 " held), %" PRId64 " alerts %s (%" PRId64
           " held)\n",
           dry ? "dry run" : "retention", res.rejected_deleted,
           dry ? "would be deleted" : "deleted", res.rejected_held, res.alerts_deleted,
           dry ? "would be deleted" : "deleted", res.alerts_held);
    return CORE_EXIT_OK;
}

static int hold_add(PGconn *db, const char *incident, const char *key, const char *since,
                    const char *until, const char *reason, const char *actor)
{
    const char *kind = incident ? "incident" : key ? "key" : "range";
    if ((incident && (key || since || until)) || (!incident && !key && !(since && until)) ||
        (!since != !until) || !reason || !*reason) {
        fprintf(stderr, "custos hold add: give --incident ID, --key K [--since T --until T] "
                        "or --since T --until T, and --reason TEXT\n");
        return CORE_EXIT_USAGE;
    }
    char err[1024];
    if (core_db_begin(db, err, sizeof err) < 0)
        goto fail;
    const char *v[] = {kind, incident, key, since, until, reason, actor};
    PGresult *r = core_db_query(
        db,
        "INSERT INTO legal_holds (kind, incident_id, api_key_id, since, until, reason, "
        "created_by) SELECT $1, $2, $3, $4::timestamptz, $5::timestamptz, $6, $7 "
        "WHERE $2::text IS NULL OR EXISTS (SELECT 1 FROM incidents WHERE incident_id = $2) "
        "RETURNING id, json_build_object('hold_id', id, 'kind', kind, 'incident_id', "
        "incident_id, 'api_key_id', api_key_id, 'since', since, 'until', until, 'reason', "
        "reason)::text",
        7, v, "placing the hold", err, sizeof err);
    if (!r)
        goto fail;
    if (PQntuples(r) == 0) {
        PQclear(r);
        core_db_rollback(db);
        fprintf(stderr, "custos hold add: no incident %s\n", incident);
        return CORE_EXIT_FAIL;
    }
    char id[32];
    snprintf(id, sizeof id, "%s", PQgetvalue(r, 0, 0));
    int a = audit_append(db, actor, "legal_hold_placed", 0, incident, PQgetvalue(r, 0, 1), err,
                         sizeof err);
    PQclear(r);
    if (a < 0 || core_db_commit(db, err, sizeof err) < 0)
        goto fail;
    printf("hold %s placed (%s)\n", id, kind);
    return CORE_EXIT_OK;
fail:
    core_db_rollback(db);
    fprintf(stderr, "custos hold add: %s\n", err);
    return CORE_EXIT_FAIL;
}

static int hold_release(PGconn *db, const char *id, const char *reason, const char *actor)
{
    if (!id || !reason || !*reason) {
        fprintf(stderr, "custos hold release: give the hold's ID and --reason TEXT\n");
        return CORE_EXIT_USAGE;
    }
    core_cli_num("hold id", id, 1, INT64_MAX);
    char err[1024];
    if (core_db_begin(db, err, sizeof err) < 0)
        goto fail;
    const char *v[] = {id, actor, reason};
    PGresult *r = core_db_query(
        db,
        "UPDATE legal_holds SET released_at = now(), released_by = $2, release_reason = $3 "
        "WHERE id = $1::bigint AND released_at IS NULL RETURNING incident_id, "
        "json_build_object('hold_id', id, 'kind', kind, 'reason', $3::text)::text",
        3, v, "releasing the hold", err, sizeof err);
    if (!r)
        goto fail;
    if (PQntuples(r) == 0) {
        PQclear(r);
        core_db_rollback(db);
        fprintf(stderr, "custos hold release: no active hold %s\n", id);
        return CORE_EXIT_FAIL;
    }
    int a = audit_append(db, actor, "legal_hold_released", 0,
                         PQgetisnull(r, 0, 0) ? NULL : PQgetvalue(r, 0, 0), PQgetvalue(r, 0, 1),
                         err, sizeof err);
    PQclear(r);
    if (a < 0 || core_db_commit(db, err, sizeof err) < 0)
        goto fail;
    printf("hold %s released\n", id);
    return CORE_EXIT_OK;
fail:
    core_db_rollback(db);
    fprintf(stderr, "custos hold release: %s\n", err);
    return CORE_EXIT_FAIL;
}

static int hold_list(PGconn *db)
{
    char err[1024];
    PGresult *r = core_db_query(
        db,
        "SELECT id, kind, coalesce(incident_id, api_key_id, '-'), coalesce(to_char(since AT "
        "TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), '-'), coalesce(to_char(until AT "
        "TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), '-'), created_by, "
        "CASE WHEN released_at IS NULL THEN 'active' ELSE 'released by ' || released_by END, "
        "reason FROM legal_holds ORDER BY id",
        0, NULL, "listing the holds", err, sizeof err);
    if (!r) {
        fprintf(stderr, "custos hold list: %s\n", err);
        return CORE_EXIT_FAIL;
    }
    printf("%-6s %-9s %-24s %-20s %-20s %-16s %s\n", "ID", "KIND", "SUBJECT", "SINCE", "UNTIL",
           "BY", "STATE");
    for (int i = 0; i < PQntuples(r); i++)
        printf("%-6s %-9s %-24s %-20s %-20s %-16s %s\n", PQgetvalue(r, i, 0), PQgetvalue(r, i, 1),
               PQgetvalue(r, i, 2), PQgetvalue(r, i, 3), PQgetvalue(r, i, 4),
               PQgetvalue(r, i, 5), PQgetvalue(r, i, 6));
    PQclear(r);
    return CORE_EXIT_OK;
}

int forensics_cmd_hold(core_cmd_ctx *x, int argc, char **argv)
{
    const char *what = NULL, *id = NULL, *inc = NULL, *key = NULL, *since = NULL,
               *until = NULL, *reason = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0) {
            hold_usage(stdout);
            return CORE_EXIT_OK;
        }
        if (core_cli_opt(argc, argv, &i, "--incident", &inc) ||
            core_cli_opt(argc, argv, &i, "--key", &key) ||
            core_cli_opt(argc, argv, &i, "--since", &since) ||
            core_cli_opt(argc, argv, &i, "--until", &until) ||
            core_cli_opt(argc, argv, &i, "--reason", &reason))
            continue;
        if (!what && (strcmp(argv[i], "add") == 0 || strcmp(argv[i], "list") == 0 ||
                      strcmp(argv[i], "release") == 0)) {
            what = argv[i];
        } else if (what && strcmp(what, "release") == 0 && !id && argv[i][0] != '-') {
            id = argv[i];
        } else {
            fprintf(stderr, "custos hold: unknown argument '%s'\n", argv[i]);
            return CORE_EXIT_USAGE;
        }
    }
    if (!what) {
        hold_usage(stderr);
        return CORE_EXIT_USAGE;
    }
    if (strcmp(what, "add") == 0 && (!reason || !*reason || (!inc && !key && !since))) {
        fprintf(stderr, "custos hold add: give what to hold and --reason TEXT\n");
        return CORE_EXIT_USAGE;
    }
    PGconn *db = core_cmd_db(x);
    if (!db)
        return CORE_EXIT_FAIL;
    char actor[128];
    core_cli_actor(actor, sizeof actor);
    if (strcmp(what, "add") == 0)
        return hold_add(db, inc, key, since, until, reason, actor);
    if (strcmp(what, "release") == 0)
        return hold_release(db, id, reason, actor);
    return hold_list(db);
}
