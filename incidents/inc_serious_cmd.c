/* custos incidents serious | report-filed | report | deadlines: serious
 * incidents (EU AI Act Art. 73) from the command line, audited as
 * cli:$USER (docs/incidents.md). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/cli.h"
#include "core/config.h"
#include "core/db.h"
#include "core/event.h"
#include "core/log.h"
#include "incidents/incidents.h"

void inc_serious_usage(FILE *out)
{
    fprintf(out,
            "       custos incidents serious ID --category C [--aware-at TIME]\n"
            "       custos incidents report-filed ID --kind initial|complete --reference R\n"
            "                                     [--filed-by WHO] [--filed-at TIME]\n"
            "       custos incidents report ID --kind initial|complete [--format json|md]\n"
            "                               [-o FILE]\n"
            "       custos incidents deadlines\n"
            "categories (EU AI Act Art. 73): general (15 days from awareness),\n"
            "  widespread_infringement and critical_infrastructure (2 days), death (10 days)\n"
            "--aware-at defaults to now; times: RFC 3339 (2026-11-21T13:04:00Z)\n"
            "serious incidents (EU AI Act Art. 73): report-filed records a report filed with\n"
            "the authority; report exports one (JSON, or Markdown of the same facts);\n"
            "deadlines notifies and escalates what is due now, as custos run does\n");
}

bool inc_serious_is_cmd(const char *word)
{
    return word && (strcmp(word, "serious") == 0 || strcmp(word, "report-filed") == 0 ||
                    strcmp(word, "report") == 0 || strcmp(word, "deadlines") == 0);
}

typedef struct {
    const char *cmd, *id, *category, *aware_at, *kind, *reference, *filed_by, *filed_at,
        *format, *out;
} opts;

/* 0 parsed, 1 --help, -1 usage error (printed). */
static int parse(int argc, char **argv, opts *o)
{
    o->cmd = argv[1];
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fprintf(stdout, "usage:\n");
            inc_serious_usage(stdout);
            return 1;
        }
        const core_cli_optv kv[] = {
            {"--category", &o->category}, {"--aware-at", &o->aware_at},
            {"--kind", &o->kind},         {"--reference", &o->reference},
            {"--filed-by", &o->filed_by}, {"--filed-at", &o->filed_at},
            {"--format", &o->format},     {"-o", &o->out},
            {"--output", &o->out},
        };
        if (core_cli_opt_table(argc, argv, &i, kv, sizeof kv / sizeof kv[0]))
            continue;
        if (argv[i][0] == '-' || o->id) {
            fprintf(stderr, "custos incidents %s: unexpected argument %s\n", o->cmd, argv[i]);
            return -1;
        }
        o->id = argv[i];
    }
    bool deadlines = strcmp(o->cmd, "deadlines") == 0;
    if (deadlines != !o->id) {
        fprintf(stderr, deadlines ? "custos incidents deadlines takes no incident id\n"
                                  : "custos incidents %s: an incident ID is needed\n",
                o->cmd);
        return -1;
    }
    if (strcmp(o->cmd, "serious") == 0 && !o->category) {
        fprintf(stderr, "custos incidents serious: --category is needed\n");
        return -1;
    }
    if ((strcmp(o->cmd, "report-filed") == 0 && (!o->kind || !o->reference)) ||
        (strcmp(o->cmd, "report") == 0 && !o->kind)) {
        fprintf(stderr, "custos incidents %s: --kind%s is needed\n", o->cmd,
                strcmp(o->cmd, "report") ? " and --reference" : "");
        return -1;
    }
    if (o->format && strcmp(o->format, "json") != 0 && strcmp(o->format, "md") != 0) {
        fprintf(stderr, "custos incidents report: --format is json or md\n");
        return -1;
    }
    return 0;
}

static int time_opt(const char *name, const char *s, int64_t *us)
{
    *us = 0;
    if (!s)
        return 0;
    if (core_ts_parse(s, strlen(s), us) < 0) {
        fprintf(stderr, "%s: not an RFC 3339 time: %s\n", name, s);
        return -1;
    }
    return 0;
}

/* Opens the output: a new file (never overwritten) or stdout. -1 said. */
static int open_out(const char *path)
{
    if (!path)
        return STDOUT_FILENO;
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0640);
    if (fd < 0)
        fprintf(stderr, "cannot create %s: %s\n", path, strerror(errno));
    return fd;
}

static int write_all(int fd, const char *text, size_t n)
{
    size_t at = 0;
    while (at < n) {
        ssize_t w = write(fd, text + at, n - at);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        at += (size_t)w;
    }
    return 0;
}

static int cmd_mark(PGconn *db, const opts *o, const char *actor)
{
    int cat = inc_serious_category_parse(o->category);
    if (cat < 0) {
        fprintf(stderr, "--category is one of general, widespread_infringement, "
                        "critical_infrastructure, death\n");
        return CORE_EXIT_USAGE;
    }
    int64_t aware;
    if (time_opt("--aware-at", o->aware_at, &aware) < 0)
        return CORE_EXIT_USAGE;
    if (!o->aware_at)
        aware = core_wall_us();
    char err[1024], due[40];
    int64_t deadline = 0;
    int rc = inc_serious_mark(db, o->id, (inc_serious_category)cat, aware, actor, &deadline, err,
                              sizeof err);
    if (rc == INC_SERIOUS_REFUSED) {
        fprintf(stderr, "%s\n", err);
        return CORE_EXIT_USAGE;
    }
    if (rc <= 0) {
        fprintf(stderr, "%s\n", err);
        return CORE_EXIT_FAIL;
    }
    core_ts_format(deadline, due, sizeof due);
    printf("serious incident %s (Art. %s, %s): report due %s (%d days from awareness)\n", o->id,
           inc_serious_article((inc_serious_category)cat), o->category, due,
           inc_serious_deadline_days((inc_serious_category)cat));
    return CORE_EXIT_OK;
}

static int cmd_filed(PGconn *db, const opts *o, const char *actor)
{
    inc_serious_filing f = {.incident_id = o->id, .kind = o->kind, .reference = o->reference,
                            .filed_by = o->filed_by, .actor = actor};
    if (time_opt("--filed-at", o->filed_at, &f.filed_at_us) < 0)
        return CORE_EXIT_USAGE;
    char err[1024];
    int64_t id = inc_serious_report_filed(db, &f, err, sizeof err);
    if (id == INC_SERIOUS_REFUSED) {
        fprintf(stderr, "%s\n", err);
        return CORE_EXIT_USAGE;
    }
    if (id <= 0) {
        fprintf(stderr, "%s\n", err);
        return CORE_EXIT_FAIL;
    }
    printf("%s report of %s recorded as report %lld\n", o->kind, o->id, (long long)id);
    return CORE_EXIT_OK;
}

static int cmd_report(PGconn *db, const opts *o, const char *actor)
{
    char err[1024];
    bool found = false;
    /* The file first: an export that cannot be written is not audited. */
    int fd = open_out(o->out);
    if (fd < 0)
        return CORE_EXIT_FAIL;
    int rc = CORE_EXIT_FAIL;
    char *text = NULL;
    cJSON *rep = inc_serious_report(db, o->id, o->kind, actor, &found, err, sizeof err);
    if (!rep) {
        if (!found && !err[0])
            fprintf(stderr, "incident %s is not marked serious (or does not exist)\n", o->id);
        else
            fprintf(stderr, "%s\n", err);
        goto done;
    }
    /* JSON as audited (its SHA-256 is of these bytes), then a newline. */
    bool md = o->format && strcmp(o->format, "md") == 0;
    text = md ? inc_serious_report_md(rep) : cJSON_PrintUnformatted(rep);
    if (!text) {
        fprintf(stderr, "out of memory\n");
        goto done;
    }
    if (write_all(fd, text, strlen(text)) < 0 || (!md && write_all(fd, "\n", 1) < 0)) {
        fprintf(stderr, "writing %s: %s\n", o->out ? o->out : "stdout", strerror(errno));
        goto done;
    }
    rc = CORE_EXIT_OK;
done:
    if (o->out) {
        if (close(fd) < 0)
            rc = CORE_EXIT_FAIL;
        if (rc != CORE_EXIT_OK)
            unlink(o->out);
    }
    cJSON_Delete(rep);
    free(text);
    return rc;
}

int inc_serious_cmd(core_cmd_ctx *x, int argc, char **argv)
{
    opts o = {0};
    int p = parse(argc, argv, &o);
    if (p)
        return p > 0 ? CORE_EXIT_OK : CORE_EXIT_USAGE;
    char actor[128];
    core_cli_actor(actor, sizeof actor);
    int rc = CORE_EXIT_FAIL;
    PGconn *db = core_cmd_db(x);
    if (!db)
        return CORE_EXIT_FAIL;
    if (strcmp(o.cmd, "serious") == 0) {
        rc = cmd_mark(db, &o, actor);
    } else if (strcmp(o.cmd, "report-filed") == 0) {
        rc = cmd_filed(db, &o, actor);
    } else if (strcmp(o.cmd, "report") == 0) {
        rc = cmd_report(db, &o, actor);
    } else {
        int notified = 0, escalated = 0;
        char err[1024];
        if (inc_serious_check(db, x->cfg->inc_serious_notify_before_ms, &notified, &escalated, err,
                              sizeof err) < 0) {
            fprintf(stderr, "%s\n", err);
        } else {
            printf("deadlines checked: %d notified, %d escalated\n", notified, escalated);
            rc = CORE_EXIT_OK;
        }
    }
    return rc;
}
