/* custos forensics query | named | list: the forensic queries on the
 * command line, written to stdout as they are read. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/cli.h"
#include "forensics/forensics.h"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: custos forensics query --since T --until T [filters] [--format F]\n"
            "                              [--limit N [--cursor C]] [--reveal --reason R]\n"
            "       custos forensics named NAME [PARAM=VALUE ...]\n"
            "       custos forensics list\n"
            "\n"
            "query   interactions in [--since, --until) (RFC 3339, required, at most\n"
            "        forensics.max_range_days), by (ts, event_id), streamed from one\n"
            "        snapshot. Filters: --key K, --tenant T, --user U, --session S, --model M,\n"
            "        --version V, --client-ip A, --text S (in prompt or response, any case),\n"
            "        --updated-since T (stored at or after). --format ndjson (default), json\n"
            "        or csv. Without --limit every row is written; with --limit N (at most\n"
            "        forensics.page_max) one page, and the next page's cursor on stderr\n"
            "        ('next_cursor: C', or inside the JSON object). Prompt and response are\n"
            "        masked (their length and SHA-256 shown) unless --reveal with --reason.\n"
            "named   runs a canned query (sql/forensics/NAME.sql in the share folder) with\n"
            "        its parameters, rows as NDJSON.\n"
            "list    the named queries, their parameters and what each answers.\n"
            "\n"
            "Every query is an audit row (forensic_query: actor, filter, rows, SHA-256 of\n"
            "the output, revealed and the reason).\n");
}

static int to_stdout(void *ud, const void *p, size_t n)
{
    (void)ud;
    if (!p)
        return 0;
    return fwrite(p, 1, n, stdout) == n ? 0 : -1;
}

static int finish(const char *what, int rc, const forensics_query_result *res, const char *err)
{
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "custos forensics %s: writing the output failed\n", what);
        return CORE_EXIT_FAIL;
    }
    if (rc != 0) {
        fprintf(stderr, "custos forensics %s: %s\n", what, err);
        return rc == 1 ? CORE_EXIT_USAGE : CORE_EXIT_FAIL;
    }
    fprintf(stderr, "rows: %" PRIu64 " sha256: %s\n", res->rows, res->sha256);
    return CORE_EXIT_OK;
}

static int query(core_cmd_ctx *x, int argc, char **argv)
{
    forensics_query q = {0};
    const char *fmt = NULL, *limit = NULL;
    for (int i = 2; i < argc; i++) {
        if (core_cli_opt(argc, argv, &i, "--since", &q.since) ||
            core_cli_opt(argc, argv, &i, "--until", &q.until) ||
            core_cli_opt(argc, argv, &i, "--key", &q.api_key_id) ||
            core_cli_opt(argc, argv, &i, "--tenant", &q.tenant) ||
            core_cli_opt(argc, argv, &i, "--user", &q.user_id) ||
            core_cli_opt(argc, argv, &i, "--session", &q.session_id) ||
            core_cli_opt(argc, argv, &i, "--model", &q.model) ||
            core_cli_opt(argc, argv, &i, "--version", &q.model_version) ||
            core_cli_opt(argc, argv, &i, "--client-ip", &q.client_ip) ||
            core_cli_opt(argc, argv, &i, "--text", &q.text) ||
            core_cli_opt(argc, argv, &i, "--updated-since", &q.updated_since) ||
            core_cli_opt(argc, argv, &i, "--cursor", &q.cursor) ||
            core_cli_opt(argc, argv, &i, "--limit", &limit) ||
            core_cli_opt(argc, argv, &i, "--format", &fmt) ||
            core_cli_opt(argc, argv, &i, "--reason", &q.reason))
            continue;
        if (strcmp(argv[i], "--reveal") == 0) {
            q.reveal = true;
            continue;
        }
        fprintf(stderr, "custos forensics query: unknown argument '%s'\n", argv[i]);
        return CORE_EXIT_USAGE;
    }
    q.format = forensics_format_parse(fmt);
    if (q.format < 0) {
        fprintf(stderr, "custos forensics query: --format is ndjson, json or csv\n");
        return CORE_EXIT_USAGE;
    }
    if (limit)
        q.limit = core_cli_num("--limit", limit, 1, x->cfg->fo_page_max);
    if (q.cursor && !limit) {
        fprintf(stderr, "custos forensics query: --cursor goes with --limit\n");
        return CORE_EXIT_USAGE;
    }
    PGconn *db = core_cmd_db(x);
    if (!db)
        return CORE_EXIT_FAIL;
    char err[1024], actor[128];
    core_cli_actor(actor, sizeof actor);
    forensics_query_result res;
    int rc = forensics_query_run(db, x->cfg, &q, actor, to_stdout, NULL, &res, err, sizeof err);
    if (rc == 0 && q.limit > 0 && q.format != FORENSICS_JSON)
        fprintf(stderr, "next_cursor: %s\n", res.next_cursor[0] ? res.next_cursor : "(none)");
    return finish("query", rc, &res, err);
}

int forensics_cmd_forensics(core_cmd_ctx *x, int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--help") == 0) {
            usage(stdout);
            return CORE_EXIT_OK;
        }
    if (argc < 2) {
        usage(stderr);
        return CORE_EXIT_USAGE;
    }
    char err[1024];
    if (strcmp(argv[1], "query") == 0)
        return query(x, argc, argv);
    if (strcmp(argv[1], "list") == 0) {
        if (forensics_named_list(stdout, err, sizeof err) < 0) {
            fprintf(stderr, "custos forensics list: %s\n", err);
            return CORE_EXIT_FAIL;
        }
        return CORE_EXIT_OK;
    }
    if (strcmp(argv[1], "named") == 0) {
        if (argc < 3) {
            fprintf(stderr, "custos forensics named: which query? ('custos forensics list')\n");
            return CORE_EXIT_USAGE;
        }
        PGconn *db = core_cmd_db(x);
        if (!db)
            return CORE_EXIT_FAIL;
        char actor[128];
        core_cli_actor(actor, sizeof actor);
        forensics_query_result res;
        int rc = forensics_named_run(db, argv[2], argc - 3, (const char *const *)argv + 3, actor,
                                     to_stdout, NULL, &res, err, sizeof err);
        return finish("named", rc, &res, err);
    }
    fprintf(stderr, "custos forensics: unknown command '%s'\n", argv[1]);
    return CORE_EXIT_USAGE;
}
