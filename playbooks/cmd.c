/* custos playbook | actions | audit: the subcommands of the playbooks. */
#include <errno.h>
#include <inttypes.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/cli.h"
#include "core/db.h"
#include "core/log.h"
#include "core/signals.h"
#include "playbooks/pb_engine.h"
#include "playbooks/playbooks.h"
#include "playbooks/pb_store.h"

#define MAX_INCIDENT (4 << 20)

static char *read_file(const char *path, size_t *len, char *err, size_t errlen)
{
    struct stat st;
    if (strcmp(path, "-") != 0 && stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
        snprintf(err, errlen, "%s: is a directory, not a file", path);
        return NULL;
    }
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return NULL;
    }
    char *buf = malloc(MAX_INCIDENT + 1);
    size_t n = buf ? fread(buf, 1, MAX_INCIDENT + 1, f) : 0;
    if (f != stdin)
        fclose(f);
    if (!buf || n > MAX_INCIDENT) {
        snprintf(err, errlen, "%s: %s", path, buf ? "larger than 4 MiB" : "out of memory");
        free(buf);
        return NULL;
    }
    buf[n] = '\0';
    *len = n;
    return buf;
}

static const char *default_actor(char *buf, size_t n)
{
    const char *u = getenv("USER");
    if (!u || !*u) {
        struct passwd *pw = getpwuid(getuid());
        u = pw ? pw->pw_name : "unknown";
    }
    snprintf(buf, n, "cli:%s", u);
    return buf;
}

/* ---- custos playbook ---- */

static void playbook_usage(FILE *out)
{
    fprintf(out,
            "usage: custos playbook test FILE --incident F [--event E] [--deliveries N] [--db]\n"
            "                               [--json]\n"
            "       custos playbook check [DIR]\n"
            "       custos playbook reload\n"
            "       custos playbook apply --incident F\n"
            "       custos playbook serve [--exit-on-eof]\n"
            "       (all take --config FILE and --log-level LEVEL)\n"
            "\n"
            "test    runs one playbook against a sample incident in dry run and prints the\n"
            "        actions it would take; nothing is changed. --event opened|updated|\n"
            "        action_failed, --deliveries N sets incident.counts.deliveries, --db\n"
            "        lets custos.key_info/model_info read the database.\n"
            "check   loads every playbook of DIR (default playbooks.dir) and reports.\n"
            "reload  checks the folder, then asks the running daemon(s) to reload\n"
            "        (PostgreSQL NOTIFY custos_playbooks); a refused file keeps its old version.\n"
            "apply   handles one incident as the daemon does: actions are recorded and\n"
            "        executed through the configured effectors.\n"
            "serve   the live playbooks alone: incidents as JSON lines on stdin, timers\n"
            "        (approval expiry, auto-revert), reload on SIGHUP or NOTIFY. A run that\n"
            "        overstays its deadline by the margin is abandoned (logged, counted, a\n"
            "        new worker takes over); SIGTERM then exits 4 within the grace period.\n");
}

static void print_actions(const cJSON *acts, bool json, FILE *out)
{
    const cJSON *a;
    cJSON_ArrayForEach(a, acts)
    {
        if (json) {
            char *s = cJSON_PrintUnformatted(a);
            fprintf(out, "%s\n", s ? s : "{}");
            free(s);
            continue;
        }
        char *p = cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(a, "params"));
        fprintf(out, "action %d %s %s %s%s\n  would: %s\n  params: %s\n",
                (int)cJSON_GetObjectItemCaseSensitive(a, "id")->valuedouble,
                cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(a, "state")),
                cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(a, "kind")),
                cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(a, "subject")),
                cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(a, "approval_required"))
                    ? " (approval required)" : "",
                cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(a, "would")), p ? p : "");
        free(p);
    }
}

static bool print_runs(const cJSON *runs, bool json, FILE *out)
{
    bool ok = true;
    const cJSON *r;
    cJSON_ArrayForEach(r, runs)
    {
        const char *st = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(r, "status"));
        ok = ok && strcmp(st, "ok") == 0;
        if (json) {
            char *s = cJSON_PrintUnformatted(r);
            fprintf(out, "%s\n", s ? s : "{}");
            free(s);
            continue;
        }
        const char *e = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(r, "error"));
        fprintf(out, "run %s: %s%s, %d action(s), %.0f us%s%s\n",
                cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(r, "playbook")), st,
                cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(r, "matched")) ? ""
                                                                             : " (when() said no)",
                (int)cJSON_GetObjectItemCaseSensitive(r, "actions")->valuedouble,
                cJSON_GetObjectItemCaseSensitive(r, "us")->valuedouble, e ? ": " : "",
                e ? e : "");
    }
    return ok;
}

static int playbook_test(core_config *cfg, const char *file, const char *incident,
                         const char *event, const char *deliveries, bool use_db, bool json)
{
    int rc = CORE_EXIT_FAIL;
    char err[1024];
    PGconn *db = NULL;
    pb_engine *e = NULL;
    char *inc = NULL;
    size_t len;
    int ev = PB_EV_OPENED;
    if (event && (ev = pb_event_parse(event)) < 0) {
        fprintf(stderr, "custos playbook test: --event must be opened, updated or action_failed\n");
        return CORE_EXIT_USAGE;
    }
    int64_t dl = deliveries ? core_cli_num("--deliveries", deliveries, 1, 1000000000) : 0;
    if (use_db) {
        db = core_cli_db(cfg, "playbook test", false);
        if (!db)
            goto done;
    }
    pb_engine_opts o = {.cfg = cfg, .db = db, .persist = false, .force_dry_run = true};
    e = pb_engine_new(&o, err, sizeof err);
    if (!e || pb_engine_load_file(e, file, err, sizeof err) < 0) {
        fprintf(stderr, "custos playbook test: refused: %s\n", err);
        goto done;
    }
    inc = read_file(incident, &len, err, sizeof err);
    if (!inc) {
        fprintf(stderr, "custos playbook test: --incident %s\n", err);
        goto done;
    }
    if (pb_engine_incident(e, inc, len, ev, dl, err, sizeof err) < 0) {
        fprintf(stderr, "custos playbook test: --incident %s: %s\n", incident, err);
        goto done;
    }
    const cJSON *runs = pb_engine_last_runs(e);
    if (cJSON_GetArraySize(runs) == 0)
        fprintf(json ? stderr : stdout, "the incident does not match the playbook's on = {...} "
                                        "(types, min_severity, events): nothing ran\n");
    bool ok = print_runs(runs, json, stdout);
    print_actions(pb_engine_memory_actions(e), json, stdout);
    rc = ok ? CORE_EXIT_OK : CORE_EXIT_FAIL;
done:
    free(inc);
    pb_engine_free(e);
    if (db)
        PQfinish(db);
    return rc;
}

int pb_config_check(const core_config *cfg, FILE *out, char *err, size_t errlen)
{
    const char *dir = pb_engine_dir(cfg);
    pb_engine_opts o = {.cfg = cfg};
    pb_engine *e = pb_engine_new(&o, err, errlen);
    if (!e)
        return -1;
    char *rep = NULL;
    size_t replen = 0;
    FILE *mem = open_memstream(&rep, &replen);
    int refused = pb_engine_load_dir(e, dir, mem ? mem : stderr);
    size_t loaded = pb_engine_count(e);
    pb_engine_free(e);
    if (mem)
        fclose(mem);
    int rc = 0;
    if (refused < 0) {
        snprintf(err, errlen, "playbooks.dir %s cannot be read", dir);
        rc = -1;
    } else if (refused > 0) {
        /* The report's "refused FILE:LINE: why" lines, on stderr. */
        char *save = NULL;
        for (char *line = rep ? strtok_r(rep, "\n", &save) : NULL; line;
             line = strtok_r(NULL, "\n", &save))
            if (strncmp(line, "refused", 7) == 0)
                fprintf(stderr, "custos: %s\n", line);
        snprintf(err, errlen, "%d playbook file(s) in %s refused (custos run would refuse them too)",
                 refused, dir);
        rc = -1;
    } else {
        fprintf(out, "# playbooks: %zu loaded from %s\n", loaded, dir);
    }
    free(rep);
    return rc;
}

static int playbook_check(core_config *cfg, const char *dir, int *refused_out)
{
    char err[512];
    pb_engine_opts o = {.cfg = cfg};
    pb_engine *e = pb_engine_new(&o, err, sizeof err);
    if (!e) {
        fprintf(stderr, "custos playbook: %s\n", err);
        return -1;
    }
    int refused = pb_engine_load_dir(e, dir, stdout);
    pb_engine_free(e);
    *refused_out = refused;
    return refused < 0 ? -1 : 0;
}

static int playbook_reload(core_config *cfg)
{
    int refused = 0;
    char err[1024];
    if (playbook_check(cfg, pb_engine_dir(cfg), &refused) < 0)
        return CORE_EXIT_FAIL;
    PGconn *db = core_cli_db(cfg, "playbook reload", false);
    if (!db)
        return CORE_EXIT_FAIL;
    int rc = core_db_exec(db, "NOTIFY custos_playbooks, 'reload'", err, sizeof err);
    PQfinish(db);
    if (rc < 0) {
        fprintf(stderr, "custos playbook reload: %s\n", err);
        return CORE_EXIT_FAIL;
    }
    printf("reload requested (NOTIFY custos_playbooks)%s\n",
           refused ? "; refused files keep their previous version" : "");
    return refused ? CORE_EXIT_FAIL : CORE_EXIT_OK;
}

/* An engine with the database and the effectors, as the daemon has. On
 * failure err says why; *db and *fx are the caller's to release either way. */
static pb_engine *open_engine_err(const core_config *cfg, PGconn **db, pb_fx **fx, bool with_fx,
                                  char *err, size_t errlen)
{
    *fx = NULL;
    *db = core_cli_db_err(cfg, true, err, errlen);
    if (!*db)
        return NULL;
    if (with_fx && !(*fx = pb_fx_new(cfg, err, errlen)))
        return NULL;
    pb_engine_opts o = {.cfg = cfg, .db = *db, .persist = true, .fx = *fx};
    pb_engine *e = pb_engine_new(&o, err, errlen);
    if (!e)
        return NULL;
    /* An action that fails here escalates through the playbooks, as in
     * the daemon. A refused file is reported by the loader's log. */
    if (with_fx && pb_engine_load_dir(e, pb_engine_dir(cfg), NULL) < 0) {
        snprintf(err, errlen, "playbooks.dir %s cannot be read", pb_engine_dir(cfg));
        pb_engine_free(e);
        return NULL;
    }
    return e;
}

static pb_engine *open_engine(core_config *cfg, PGconn **db, pb_fx **fx, bool with_fx,
                              const char *command)
{
    char err[1400];
    pb_engine *e = open_engine_err(cfg, db, fx, with_fx, err, sizeof err);
    if (!e) {
        fprintf(stderr, "custos %s: %s\n", command, err);
        return NULL;
    }
    return e;
}

static int playbook_apply(core_config *cfg, const char *incident)
{
    int rc = CORE_EXIT_FAIL;
    PGconn *db = NULL;
    pb_fx *fx = NULL;
    char err[1024];
    size_t len;
    char *inc = NULL;
    pb_engine *e = open_engine(cfg, &db, &fx, true, "playbook apply");
    if (!e)
        goto done;
    inc = read_file(incident, &len, err, sizeof err);
    if (!inc || pb_engine_incident(e, inc, len, -1, 0, err, sizeof err) < 0) {
        fprintf(stderr, "custos playbook apply: %s\n", err);
        goto done;
    }
    bool ok = print_runs(pb_engine_last_runs(e), false, stdout);
    rc = ok ? CORE_EXIT_OK : CORE_EXIT_FAIL;
done:
    free(inc);
    pb_engine_free(e);
    pb_fx_free(fx);
    if (db)
        PQfinish(db);
    return rc;
}

static int playbook_serve(core_config *cfg, bool exit_on_eof)
{
    char err[1024];
    core_signals_install();
    pb_live *pl = pb_live_start(cfg, err, sizeof err);
    if (!pl) {
        core_log(CORE_LOG_ERROR, "playbooks", "cannot start", "error=%s",
                 core_log_quote((char[1100]){0}, 1100, err));
        return CORE_EXIT_FAIL;
    }
    /* Lines up to 4 MiB; stdin closing ends the input, not the timers. */
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    while (!core_stop && (n = getline(&line, &cap, stdin)) >= 0) {
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
            line[--n] = '\0';
        if (n > 0)
            pb_live_incident(pl, line);
    }
    free(line);
    while (!core_stop && !exit_on_eof)
        pause();
    if (pb_live_stop(pl)) {
        /* a playbook thread may still be running: no exit handlers */
        core_log(CORE_LOG_ERROR, "playbooks", "exiting with an abandoned playbook run",
                 "exit_status=%d", CORE_EXIT_ABANDONED);
        fflush(NULL);
        _exit(CORE_EXIT_ABANDONED);
    }
    return CORE_EXIT_OK;
}

int pb_cmd_playbook(int argc, char **argv)
{
    const char *incident = NULL, *event = NULL, *deliveries = NULL;
    const char *pos[2] = {NULL, NULL};
    int npos = 0;
    bool use_db = false, json = false, exit_on_eof = false;
    for (int i = 1; i < argc; i++) {
        const char *v;
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            playbook_usage(stdout);
            return CORE_EXIT_OK;
        } else if (core_cli_opt(argc, argv, &i, "--incident", &v)) {
            incident = v;
        } else if (core_cli_opt(argc, argv, &i, "--event", &v)) {
            event = v;
        } else if (core_cli_opt(argc, argv, &i, "--deliveries", &v)) {
            deliveries = v;
        } else if (strcmp(argv[i], "--db") == 0) {
            use_db = true;
        } else if (strcmp(argv[i], "--json") == 0) {
            json = true;
        } else if (strcmp(argv[i], "--exit-on-eof") == 0) {
            exit_on_eof = true;
        } else if (argv[i][0] != '-' && npos < 2) {
            pos[npos++] = argv[i];
        } else {
            fprintf(stderr, "custos playbook: unknown argument '%s'\n", argv[i]);
            playbook_usage(stderr);
            return CORE_EXIT_USAGE;
        }
    }
    if (!pos[0]) {
        playbook_usage(stderr);
        return CORE_EXIT_USAGE;
    }
    core_config cfg;
    int rc;
    if (core_cli_config(&cfg, NULL, NULL) < 0) {
        rc = CORE_EXIT_CONFIG;
        goto done;
    }
    if (strcmp(pos[0], "test") == 0) {
        if (!pos[1] || !incident) {
            fprintf(stderr, "custos playbook test: needs FILE and --incident F\n");
            rc = CORE_EXIT_USAGE;
        } else {
            rc = playbook_test(&cfg, pos[1], incident, event, deliveries, use_db, json);
        }
    } else if (strcmp(pos[0], "check") == 0) {
        int refused = 0;
        rc = playbook_check(&cfg, pos[1] ? pos[1] : pb_engine_dir(&cfg), &refused) < 0 || refused
                 ? CORE_EXIT_FAIL : CORE_EXIT_OK;
    } else if (strcmp(pos[0], "reload") == 0) {
        rc = playbook_reload(&cfg);
    } else if (strcmp(pos[0], "apply") == 0 && incident) {
        rc = playbook_apply(&cfg, incident);
    } else if (strcmp(pos[0], "serve") == 0) {
        rc = playbook_serve(&cfg, exit_on_eof);
    } else {
        playbook_usage(stderr);
        rc = CORE_EXIT_USAGE;
    }
done:
    core_config_free(&cfg);
    return rc;
}

/* ---- custos actions ---- */

/* What a person's decision or request needs: pb_actions on a pool of one
 * connection, and that connection. 0, or -1 said on stderr (what cmd
 * failed); *pool, *pa, *db are set for close_actions either way. */
static int open_actions(const core_config *cfg, const char *cmd, core_db_pool **pool,
                        pb_actions **pa, PGconn **db)
{
    char err[1024];
    *pa = NULL;
    *db = NULL;
    *pool = core_db_pool_new(cfg->pg_dsn, (int)cfg->pg_connect_timeout_s, 1);
    if (!*pool) {
        fprintf(stderr, "custos actions %s: out of memory\n", cmd);
        return -1;
    }
    *pa = pb_actions_open(cfg, *pool, err, sizeof err);
    if (*pa)
        *db = core_db_pool_get(*pool, (int64_t)cfg->pg_connect_timeout_s * 1000, err, sizeof err);
    if (!*pa || !*db) {
        fprintf(stderr, "custos actions %s: %s\n", cmd, err);
        return -1;
    }
    return 0;
}

static void close_actions(core_db_pool *pool, pb_actions *pa, PGconn *db)
{
    if (db)
        core_db_pool_put(pool, db);
    pb_actions_close(pa);
    core_db_pool_free(pool);
}

/* actions approve | reject: one decision through pb_actions, as the web
 * console makes it. */
static int decide(const core_config *cfg, bool approve, int64_t id, const char *actor,
                  const char *reason, pb_gate gate)
{
    const char *verb = approve ? "approve" : "reject";
    char err[1024], st[32] = "";
    int rc = CORE_EXIT_FAIL;
    core_db_pool *pool;
    pb_actions *pa;
    PGconn *db;
    if (open_actions(cfg, verb, &pool, &pa, &db) < 0)
        goto done;
    if (approve ? pb_action_approve(pa, db, id, actor, reason, gate, st, sizeof st, err,
                                    sizeof err)
                : pb_action_reject(pa, db, id, actor, reason, err, sizeof err)) {
        fprintf(stderr, "custos actions %s: %s\n", verb, err);
        goto done;
    }
    if (approve) {
        printf("action %" PRId64 " approved by %s: %s\n", id, actor, st);
        rc = strcmp(st, "done") == 0 ? CORE_EXIT_OK : CORE_EXIT_FAIL;
    } else {
        printf("action %" PRId64 " rejected by %s\n", id, actor);
        rc = CORE_EXIT_OK;
    }
done:
    close_actions(pool, pa, db);
    return rc;
}

/* actions request: a person's own containment through pb_actions, as the
 * web console's keys and models pages ask for it. */
static int request(const core_config *cfg, const pb_request *rq, const char *actor)
{
    char err[1024], st[32] = "";
    int rc = CORE_EXIT_FAIL;
    core_db_pool *pool;
    pb_actions *pa;
    PGconn *db;
    if (open_actions(cfg, "request", &pool, &pa, &db) < 0)
        goto done;
    int64_t id = 0;
    int got = pb_action_request(pa, db, rq, actor, &id, st, sizeof st, err, sizeof err);
    if (got != 0) {
        if (got == 3)
            fprintf(stderr, "custos actions request: action %" PRId64 " is recorded and waits "
                            "for approval: %s\n", id, err);
        else
            fprintf(stderr, "custos actions request: %s\n", err);
        rc = got == 1 || got == 2 ? CORE_EXIT_USAGE : CORE_EXIT_FAIL;
        goto done;
    }
    printf("action %" PRId64 " (%s %s) requested and approved by %s: %s\n", id, rq->kind,
           rq->key_id ? rq->key_id : rq->model, actor, st);
    rc = strcmp(st, "done") == 0 || strcmp(st, "dry_run") == 0 ? CORE_EXIT_OK : CORE_EXIT_FAIL;
done:
    close_actions(pool, pa, db);
    return rc;
}

static void actions_usage(FILE *out)
{
    fprintf(out,
            "usage: custos actions list [--state S] [--incident ID] [--limit N] [--json]\n"
            "       custos actions approve ID [--reason TEXT] [--gate G] [--actor NAME]\n"
            "       custos actions reject ID --reason TEXT [--actor NAME]\n"
            "       custos actions request --kind KIND (--key ID | --model M --from V [--to V])\n"
            "                              --reason TEXT [--rps N] [--ttl SECONDS]\n"
            "                              [--incident ID] [--gate G --gate-reason TEXT]\n"
            "                              [--actor NAME]\n"
            "       custos actions tick\n"
            "       (all take --config FILE and --log-level LEVEL)\n"
            "\n"
            "list shows the newest first (--state pending: the approval queue).\n"
            "approve executes the action at once through the configured effectors and\n"
            "prints its final state; reject records the reason. Both are audited with the\n"
            "actor (default cli:$USER). request is a person's own containment: KIND is\n"
            "revoke_key, restore_key, throttle_key (--rps required), unthrottle_key or\n"
            "rollback_model (--to a version or previous, the default); --ttl undoes a\n"
            "revoke or a throttle after SECONDS. It is recorded, approved by the actor and\n"
            "executed at once through the effectors, audited at every step; exit 0 when it\n"
            "is done. tick expires overdue approvals and reverts actions whose ttl ran out,\n"
            "as the daemon does every playbooks.tick_ms.\n"
            "The preservation gate (EU AI Act Art. 73(6)): a rollback_model that a serious\n"
            "incident concerns is approved only with --gate authority_informed (the reason\n"
            "says how and when the authority was informed) or --gate override (the reason\n"
            "says why it cannot wait); approve takes the reason as --reason, request as\n"
            "--gate-reason. The reason is one line of at most 1000 bytes, kept with the\n"
            "approval and in the audit chain.\n");
}

int pb_cmd_actions(int argc, char **argv)
{
    const char *state = NULL, *incident = NULL, *limit = "50",
               *actor = NULL, *reason = NULL, *kind = NULL, *key = NULL, *model = NULL,
               *from = NULL, *to = NULL, *rps = NULL, *ttl = NULL, *gate = NULL,
               *gate_reason = NULL;
    const char *pos[2] = {NULL, NULL};
    int npos = 0;
    bool json = false;
    for (int i = 1; i < argc; i++) {
        const char *v;
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            actions_usage(stdout);
            return CORE_EXIT_OK;
        } else if (core_cli_opt(argc, argv, &i, "--state", &v)) {
            state = v;
        } else if (core_cli_opt(argc, argv, &i, "--incident", &v)) {
            incident = v;
        } else if (core_cli_opt(argc, argv, &i, "--limit", &v)) {
            limit = v;
        } else if (core_cli_opt(argc, argv, &i, "--actor", &v)) {
            actor = v;
        } else if (core_cli_opt(argc, argv, &i, "--reason", &v)) {
            reason = v;
        } else if (core_cli_opt(argc, argv, &i, "--kind", &v)) {
            kind = v;
        } else if (core_cli_opt(argc, argv, &i, "--key", &v)) {
            key = v;
        } else if (core_cli_opt(argc, argv, &i, "--model", &v)) {
            model = v;
        } else if (core_cli_opt(argc, argv, &i, "--from", &v)) {
            from = v;
        } else if (core_cli_opt(argc, argv, &i, "--to", &v)) {
            to = v;
        } else if (core_cli_opt(argc, argv, &i, "--rps", &v)) {
            rps = v;
        } else if (core_cli_opt(argc, argv, &i, "--ttl", &v)) {
            ttl = v;
        } else if (core_cli_opt(argc, argv, &i, "--gate", &v)) {
            gate = v;
        } else if (core_cli_opt(argc, argv, &i, "--gate-reason", &v)) {
            gate_reason = v;
        } else if (strcmp(argv[i], "--json") == 0) {
            json = true;
        } else if (argv[i][0] != '-' && npos < 2) {
            pos[npos++] = argv[i];
        } else {
            fprintf(stderr, "custos actions: unknown argument '%s'\n", argv[i]);
            return CORE_EXIT_USAGE;
        }
    }
    if (!pos[0]) {
        actions_usage(stderr);
        return CORE_EXIT_USAGE;
    }
    bool list = strcmp(pos[0], "list") == 0, approve = strcmp(pos[0], "approve") == 0,
         reject = strcmp(pos[0], "reject") == 0, tick = strcmp(pos[0], "tick") == 0,
         req = strcmp(pos[0], "request") == 0;
    if (!list && !approve && !reject && !tick && !req) {
        actions_usage(stderr);
        return CORE_EXIT_USAGE;
    }
    int64_t id = 0;
    if (approve || reject) {
        if (!pos[1]) {
            fprintf(stderr, "custos actions %s: needs the action ID\n", pos[0]);
            return CORE_EXIT_USAGE;
        }
        id = core_cli_num("ID", pos[1], 1, INT64_MAX);
    }
    if (reject && (!reason || !*reason)) {
        fprintf(stderr, "custos actions reject: --reason TEXT is required\n");
        return CORE_EXIT_USAGE;
    }
    int g = gate ? pb_gate_parse(gate) : PB_GATE_NONE;
    if (g < 0 || (gate && !approve && !req) || (gate_reason && !req)) {
        fprintf(stderr, "custos actions: --gate is authority_informed or override, for approve "
                        "and request; --gate-reason is request's\n");
        return CORE_EXIT_USAGE;
    }
    pb_request rq = {.kind = kind, .key_id = key, .model = model, .from = from, .to = to,
                     .reason = reason, .incident_id = incident, .gate = (pb_gate)g,
                     .gate_reason = gate_reason};
    if (req) {
        if (!kind || !reason) {
            fprintf(stderr, "custos actions request: --kind KIND and --reason TEXT are required\n");
            return CORE_EXIT_USAGE;
        }
        if (rps) {
            char *end;
            rq.rps = strtod(rps, &end);
            if (end == rps || *end) {
                fprintf(stderr, "custos actions request: --rps takes a number\n");
                return CORE_EXIT_USAGE;
            }
        }
        if (ttl)
            rq.ttl_s = core_cli_num("--ttl", ttl, 1, 30LL * 24 * 3600);
    }
    if (list && state && pb_action_state_word(state))
        state = pb_action_state_word(state); /* "pending" is pending_approval */
    int lim = (int)core_cli_num("--limit", limit, 1, 100000);
    core_config cfg;
    int rc = CORE_EXIT_FAIL;
    PGconn *db = NULL;
    pb_fx *fx = NULL;
    pb_engine *e = NULL;
    char err[1024], abuf[128];
    if (!actor)
        actor = default_actor(abuf, sizeof abuf);
    if (core_cli_config(&cfg, NULL, NULL) < 0) {
        rc = CORE_EXIT_CONFIG;
        goto done;
    }
    if (list || tick) {
        e = open_engine(&cfg, &db, &fx, tick, "actions");
        if (!e)
            goto done;
    }
    if (list) {
        if (pb_store_list(db, state, incident, lim, json, stdout, err, sizeof err) < 0) {
            fprintf(stderr, "custos actions list: %s\n", err);
            goto done;
        }
        rc = CORE_EXIT_OK;
    } else if (approve || reject) {
        rc = decide(&cfg, approve, id, actor, reason, (pb_gate)g);
    } else if (req) {
        rc = request(&cfg, &rq, actor);
    } else {
        int n = pb_engine_tick(e, err, sizeof err);
        if (n < 0) {
            fprintf(stderr, "custos actions tick: %s\n", err);
            goto done;
        }
        printf("%d action(s) expired or reverted\n", n);
        rc = CORE_EXIT_OK;
    }
done:
    pb_engine_free(e);
    pb_fx_free(fx);
    if (db)
        PQfinish(db);
    core_config_free(&cfg);
    return rc;
}
