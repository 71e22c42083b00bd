/* custos incidents: the analyst's CLI over the read queries and the status
 * rule. list and show print a readable table (or JSON lines with --json);
 * close decides an incident, audited as cli:$USER. Prompts and responses
 * are attacker-written text: control characters are printed escaped, so
 * they cannot drive the terminal. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit/audit.h"
#include "core/cli.h"
#include "core/db.h"
#include "core/event.h"
#include "incidents/incidents.h"

#define TEXT_SHOWN 2000 /* bytes of a prompt or response in the table view */

static void usage(FILE *out)
{
    fprintf(out,
            "usage: custos incidents list [--status S] [--type T] [--severity S] [--key ID]\n"
            "                             [--tenant T] [--model M] [--since TIME] [--until TIME]\n"
            "                             [--limit N] [--cursor C] [--json]\n"
            "       custos incidents show ID [--json] [--no-content]\n"
            "       custos incidents close ID --disposition D --reason TEXT\n");
    inc_serious_usage(out);
    fprintf(out,
            "options: --config FILE, --log-level LEVEL\n"
            "dispositions: true_positive, false_positive, benign, duplicate\n"
            "times: RFC 3339 (2026-11-21T13:04:00Z); exit 0 ok, 1 failure, 2 usage, 3 config\n");
}

/* Prints s with C0 controls, DEL and backslash escaped (newlines kept when
 * keep_nl), at most max bytes, then "..." when cut. Returns the bytes
 * printed on the last line (for padding a column). */
static size_t put_text(FILE *f, const char *s, size_t max, bool keep_nl)
{
    size_t n = strlen(s), shown = n > max ? core_utf8_cut(s, n, max) : n, w = 0;
    for (size_t i = 0; i < shown; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '\n' && keep_nl) {
            fputs("\n      ", f);
            w = 6;
        } else if (c < 0x20 || c == 0x7f || c == '\\') {
            w += (size_t)fprintf(f, "\\x%02x", c);
        } else if (c == 0xc2 && i + 1 < shown && (unsigned char)s[i + 1] >= 0x80 &&
                   (unsigned char)s[i + 1] <= 0x9f) { /* C1 controls */
            w += (size_t)fprintf(f, "\\x%02x", (unsigned char)s[++i]);
        } else {
            fputc(c, f);
            w += (c & 0xc0) != 0x80; /* characters, not continuation bytes */
        }
    }
    if (shown < n)
        w += (size_t)fprintf(f, "...");
    return w;
}

static const char *str(const cJSON *o, const char *k)
{
    const char *s = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, k));
    return s ? s : "-";
}

/* "2026-11-21T13:04:00.123456Z" shown to the second. */
static void put_time(FILE *f, const char *ts) { fprintf(f, "%.19s", ts); }

typedef struct {
    const char *pos[2];
    int npos;
    bool json, no_content;
    inc_filter f;
    const char *limit, *since, *until, *disposition, *reason;
} opts;

/* Parses argv into o. Returns -1 after a usage message (exit 2), 1 for
 * --help (exit 0), 0 to go on. */
static int parse(int argc, char **argv, opts *o)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 1;
        }
        const core_cli_optv kv[] = {
            {"--status", &o->f.status},
            {"--type", &o->f.type},
            {"--severity", &o->f.severity},
            {"--key", &o->f.api_key_id},
            {"--tenant", &o->f.tenant},
            {"--model", &o->f.model},
            {"--since", &o->since},
            {"--until", &o->until},
            {"--limit", &o->limit},
            {"--cursor", &o->f.cursor},
            {"--disposition", &o->disposition},
            {"--reason", &o->reason},
        };
        if (core_cli_opt_table(argc, argv, &i, kv, sizeof kv / sizeof kv[0]))
            continue;
        if (strcmp(argv[i], "--json") == 0)
            o->json = true;
        else if (strcmp(argv[i], "--no-content") == 0)
            o->no_content = true;
        else if (argv[i][0] != '-' && o->npos < 2)
            o->pos[o->npos++] = argv[i];
        else {
            fprintf(stderr, "custos incidents: unknown argument '%s'\n", argv[i]);
            return -1;
        }
    }
    return 0;
}

static int time_opt(const char *name, const char *v, int64_t *us)
{
    if (!v)
        return 0;
    if (core_ts_parse(v, strlen(v), us) < 0 || *us == 0) {
        fprintf(stderr,
                "custos incidents: %s '%s' is not an RFC 3339 time (2026-11-21T13:04:00Z)\n", name,
                v);
        return -1;
    }
    return 0;
}

static void list_table(const cJSON *page)
{
    const cJSON *arr = cJSON_GetObjectItemCaseSensitive(page, "incidents"), *it;
    printf("%-20s %-10s %-8s %-13s %-19s %-6s %-24s %s\n", "INCIDENT", "TYPE", "SEVERITY", "STATUS",
           "DETECTED", "ALERTS", "KEY/MODEL", "SUMMARY");
    cJSON_ArrayForEach(it, arr)
    {
        const char *key = str(it, "api_key_id");
        char subj[128];
        if (strcmp(key, "-") == 0)
            snprintf(subj, sizeof subj, "%s/%s", str(it, "model"), str(it, "model_version"));
        else
            snprintf(subj, sizeof subj, "%s", key);
        printf("%-20s %-10s %-8s %-13s ", str(it, "incident_id"), str(it, "type"),
               str(it, "severity"), str(it, "status"));
        put_time(stdout, str(it, "detected_at"));
        printf(" %-6d ",
               (int)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(it, "alert_count")));
        for (size_t w = put_text(stdout, subj, 21, false); w < 25; w++)
            fputc(' ', stdout);
        put_text(stdout, str(it, "summary"), 100, false);
        fputc('\n', stdout);
    }
    const char *next = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(page, "next_cursor"));
    if (next)
        printf("more: --cursor %s\n", next);
}

static int cmd_list(PGconn *db, opts *o)
{
    char err[1024];
    cJSON *page = inc_list(db, &o->f, err, sizeof err);
    if (!page) {
        fprintf(stderr, "custos incidents list: %s\n", err);
        /* a bad cursor or filter is the caller's: usage */
        return strncmp(err, "listing", 7) == 0 ? CORE_EXIT_FAIL : CORE_EXIT_USAGE;
    }
    if (o->json) {
        const cJSON *it;
        cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(page, "incidents"))
        {
            char *s = cJSON_PrintUnformatted(it);
            if (s)
                puts(s);
            free(s);
        }
        const char *next =
            cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(page, "next_cursor"));
        if (next)
            printf("{\"next_cursor\":\"%s\"}\n", next);
    } else {
        list_table(page);
    }
    cJSON_Delete(page);
    return CORE_EXIT_OK;
}

static void show_header(const cJSON *inc)
{
    printf("incident   %s\n", str(inc, "incident_id"));
    printf("type       %s   severity %s   status %s (by %s)\n", str(inc, "type"),
           str(inc, "severity"), str(inc, "status"), str(inc, "status_by"));
    printf("subject    key ");
    put_text(stdout, str(inc, "api_key_id"), 200, false);
    printf("   model ");
    put_text(stdout, str(inc, "model"), 200, false);
    printf(" ");
    put_text(stdout, str(inc, "model_version"), 200, false);
    printf("   tenant ");
    put_text(stdout, str(inc, "tenant"), 200, false);
    printf("\ntimes      first %s   detected %s   last %s\n", str(inc, "first_seen"),
           str(inc, "detected_at"), str(inc, "last_seen"));
    printf("decision   %s", str(inc, "disposition"));
    if (strcmp(str(inc, "closed_by"), "-")) {
        printf(" by %s at %s: ", str(inc, "closed_by"), str(inc, "closed_at"));
        put_text(stdout, str(inc, "close_reason"), 2000, false);
    }
    printf("\nassignee   %s\nsummary    ", str(inc, "assignee"));
    put_text(stdout, str(inc, "summary"), 2000, false);
    fputc('\n', stdout);
}

static void show_sections(const cJSON *inc)
{
    const cJSON *it;
    printf("\nalerts (why each fired)\n");
    cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(inc, "alerts"))
    {
        printf("  %s %-8s %-10s event %s\n    ", str(it, "at"), str(it, "severity"),
               str(it, "type"), str(it, "event_id"));
        put_text(stdout, str(it, "summary"), 2000, false);
        fputc('\n', stdout);
    }
    printf("\nevidence events\n");
    cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(inc, "events"))
    {
        printf("  %s event %s%s\n", str(it, "ts"), str(it, "event_id"),
               cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(it, "stored")) ? "" : " (not stored)");
        const char *p = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(it, "prompt"));
        const char *r = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(it, "response"));
        if (p) {
            printf("    prompt:   ");
            put_text(stdout, p, TEXT_SHOWN, true);
            fputc('\n', stdout);
        }
        if (r) {
            printf("    response: ");
            put_text(stdout, r, TEXT_SHOWN, true);
            fputc('\n', stdout);
        }
    }
    printf("\nactions\n");
    cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(inc, "actions"))
    {
        printf("  #%d %s %s: %s, proposed by %s",
               (int)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(it, "id")),
               str(it, "kind"), str(it, "subject"), str(it, "state"), str(it, "actor"));
        if (strcmp(str(it, "decided_by"), "-"))
            printf(", decided by %s at %s", str(it, "decided_by"), str(it, "decided_at"));
        fputc('\n', stdout);
    }
    printf("\nupdates\n");
    cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(inc, "updates"))
    {
        printf("  %s %s: status %s severity %s disposition %s ", str(it, "at"), str(it, "actor"),
               str(it, "status"), str(it, "severity"), str(it, "disposition"));
        put_text(stdout, str(it, "note"), 500, false);
        fputc('\n', stdout);
    }
    printf("\ncomments\n");
    cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(inc, "comments"))
    {
        printf("  %s %s: ", str(it, "at"), str(it, "actor"));
        put_text(stdout, str(it, "body"), 2000, true);
        fputc('\n', stdout);
    }
    printf("\ntimeline\n");
    cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(inc, "timeline"))
    {
        printf("  %s %-15s %s: ", str(it, "at"), str(it, "kind"), str(it, "actor"));
        put_text(stdout, str(it, "what"), 300, false);
        fputc('\n', stdout);
    }
}

static int cmd_show(PGconn *db, opts *o, const char *actor)
{
    char err[1024] = "";
    bool found = false;
    cJSON *inc = inc_get(db, o->pos[1], !o->no_content, &found, err, sizeof err);
    if (!inc) {
        if (!found && !*err) {
            fprintf(stderr, "custos incidents show: no incident %s\n", o->pos[1]);
            return CORE_EXIT_FAIL;
        }
        fprintf(stderr, "custos incidents show: %s\n", err);
        return CORE_EXIT_FAIL;
    }
    /* prompts and responses are personal data: who read them is recorded */
    if (!o->no_content && audit_append_tx(db, actor, "content_revealed", 0, o->pos[1],
                                          "{\"via\":\"cli\"}", err, sizeof err) < 0) {
        fprintf(stderr, "custos incidents show: %s\n", err);
        cJSON_Delete(inc);
        return CORE_EXIT_FAIL;
    }
    if (o->json) {
        char *s = cJSON_PrintUnformatted(inc);
        if (s)
            puts(s);
        free(s);
    } else {
        show_header(inc);
        show_sections(inc);
    }
    cJSON_Delete(inc);
    return CORE_EXIT_OK;
}

static int cmd_close(PGconn *db, opts *o, const char *actor)
{
    char err[1024];
    inc_change ch = {.incident_id = o->pos[1],
                     .actor = actor,
                     .status = INC_CLOSED,
                     .severity = -1,
                     .disposition = inc_disposition_parse(o->disposition),
                     .reason = o->reason};
    if (core_db_begin(db, err, sizeof err) < 0) {
        fprintf(stderr, "custos incidents close: %s\n", err);
        return CORE_EXIT_FAIL;
    }
    int rc = inc_apply_change(db, &ch, err, sizeof err);
    if (rc <= 0) {
        core_db_rollback(db);
        if (rc == 0)
            fprintf(stderr, "custos incidents close: no incident %s\n", o->pos[1]);
        else
            fprintf(stderr, "custos incidents close: %s\n", err);
        return CORE_EXIT_FAIL;
    }
    if (core_db_commit(db, err, sizeof err) < 0) {
        fprintf(stderr, "custos incidents close: %s\n", err);
        return CORE_EXIT_FAIL;
    }
    printf("incident %s closed as %s by %s\n", o->pos[1], o->disposition, actor);
    return CORE_EXIT_OK;
}

/* The usage checks that need no database. Returns -1 (exit 2) or 0. */
static int check_usage(opts *o, bool list, bool show, bool close)
{
    if (!list && !show && !close) {
        fprintf(stderr, "custos incidents: unknown subcommand '%s'\n", o->pos[0]);
        return -1;
    }
    if ((show || close) && !o->pos[1]) {
        fprintf(stderr, "custos incidents %s: needs the incident ID\n", o->pos[0]);
        return -1;
    }
    if (list && o->npos > 1) {
        fprintf(stderr, "custos incidents list: unexpected argument '%s'\n", o->pos[1]);
        return -1;
    }
    if (close) {
        if (!o->disposition || inc_disposition_parse(o->disposition) < 0) {
            fprintf(stderr, "custos incidents close: --disposition is required, one of "
                            "true_positive, false_positive, benign, duplicate\n");
            return -1;
        }
        if (!o->reason || !*o->reason) {
            fprintf(stderr, "custos incidents close: --reason TEXT is required (it is audited)\n");
            return -1;
        }
    }
    o->f.limit = (int)core_cli_num("--limit", o->limit ? o->limit : "50", 1, 500);
    if (time_opt("--since", o->since, &o->f.since_us) < 0 ||
        time_opt("--until", o->until, &o->f.until_us) < 0)
        return -1;
    return 0;
}

int inc_cmd_incidents(core_cmd_ctx *x, int argc, char **argv)
{
    if (argc > 1 && inc_serious_is_cmd(argv[1]))
        return inc_serious_cmd(x, argc, argv);
    opts o = {0};
    int p = parse(argc, argv, &o);
    if (p)
        return p > 0 ? CORE_EXIT_OK : CORE_EXIT_USAGE;
    if (!o.pos[0]) {
        usage(stderr);
        return CORE_EXIT_USAGE;
    }
    bool list = strcmp(o.pos[0], "list") == 0, show = strcmp(o.pos[0], "show") == 0,
         close = strcmp(o.pos[0], "close") == 0;
    if (check_usage(&o, list, show, close) < 0)
        return CORE_EXIT_USAGE;
    char actor[128];
    core_cli_actor(actor, sizeof actor);
    PGconn *db = core_cmd_db(x);
    if (!db)
        return CORE_EXIT_FAIL;
    if (list)
        return cmd_list(db, &o);
    if (show)
        return cmd_show(db, &o, actor);
    return cmd_close(db, &o, actor);
}
