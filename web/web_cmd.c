/* custos web, custos user, custos token. */
#include <pwd.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "core/cli.h"
#include "core/log.h"
#include "core/signals.h"
#include "web/web.h"
#include "web/web_internal.h"

/* Options every one of these commands takes; the others are left in
 * rest[] (at most 8). Returns -1 after printing a usage error. */
static int common_opts(int argc, char **argv, const char **cfgpath, const char **lvl,
                       char **rest, int *nrest, void (*usage)(FILE *))
{
    *nrest = 0;
    for (int i = 1; i < argc; i++) {
        const char *v;
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            exit(CORE_EXIT_OK);
        } else if (core_cli_opt(argc, argv, &i, "--config", &v)) {
            *cfgpath = v;
        } else if (core_cli_opt(argc, argv, &i, "--log-level", &v)) {
            *lvl = v;
        } else if (*nrest < 8) {
            rest[(*nrest)++] = argv[i];
        } else {
            fprintf(stderr, "custos %s: too many arguments\n", argv[0]);
            usage(stderr);
            return -1;
        }
    }
    return 0;
}

/* ---- custos web ---- */

static void web_usage(FILE *out)
{
    fprintf(out,
            "usage: custos [-c FILE] web [--config FILE] [--log-level LEVEL] [--routes]\n"
            "\n"
            "Serves the console's HTTP API alone (no collector, analytics or playbooks) on\n"
            "web.listen (default 127.0.0.1:8440), whatever web.enabled says, until\n"
            "SIGTERM/SIGINT. HTTPS when web.tls_cert and web.tls_key are set; otherwise put\n"
            "a TLS reverse proxy in front. Users: 'custos user add'; tokens: 'custos token\n"
            "create'. docs/api.md lists the routes. The database must be at this binary's\n"
            "schema version ('custos migrate').\n"
            "\n"
            "--routes prints the route table (method, pattern, what it needs, flags) and exits.\n");
}

static void print_routes(void)
{
    for (size_t i = 0; i < web_routes_count; i++) {
        const web_route *r = &web_routes[i];
        printf("%s %s %s%s%s%s\n", r->method, r->pattern, web_need_name(r->need),
               r->flags & WEB_F_CSRF ? " csrf" : "", r->flags & WEB_F_AUDITED ? " audited" : "",
               r->flags & WEB_F_BODY ? " body" : "");
    }
}

int web_cmd_web(int argc, char **argv)
{
    const char *cfgpath = NULL, *lvl = NULL;
    char *rest[8];
    int nrest;
    if (common_opts(argc, argv, &cfgpath, &lvl, rest, &nrest, web_usage) < 0)
        return CORE_EXIT_USAGE;
    if (nrest == 1 && strcmp(rest[0], "--routes") == 0) {
        print_routes();
        return CORE_EXIT_OK;
    }
    if (nrest) {
        fprintf(stderr, "custos web: unknown argument '%s'\n", rest[0]);
        web_usage(stderr);
        return CORE_EXIT_USAGE;
    }
    core_config cfg;
    if (core_cli_config(&cfg, cfgpath, lvl) < 0) {
        core_config_free(&cfg);
        return CORE_EXIT_CONFIG;
    }
    core_signals_install();
    char err[1024];
    web_server *ws = web_service_start(&cfg, err, sizeof err);
    if (!ws) {
        char q[1100];
        core_log(CORE_LOG_ERROR, "web", "cannot start", "error=%s", core_log_quote(q, sizeof q, err));
        core_config_free(&cfg);
        return CORE_EXIT_FAIL;
    }
    while (!core_stop) {
        struct timespec ts = {0, 50 * 1000000L};
        nanosleep(&ts, NULL);
    }
    web_service_stop(ws);
    core_config_free(&cfg);
    return CORE_EXIT_OK;
}

/* ---- shared by user and token ---- */

static void cli_actor(char *out, size_t len)
{
    struct passwd *pw = getpwuid(geteuid());
    snprintf(out, len, "cli:%s", pw && pw->pw_name ? pw->pw_name : "?");
}

static PGconn *open_db(const char *cmd, const char *cfgpath, const char *lvl, core_config *cfg)
{
    if (core_cli_config(cfg, cfgpath, lvl) < 0)
        return NULL;
    char err[1024];
    PGconn *c = core_db_connect(cfg->pg_dsn, (int)cfg->pg_connect_timeout_s, err, sizeof err);
    if (!c || core_db_check_schema(c, err, sizeof err) < 0) {
        fprintf(stderr, "custos %s: %s\n", cmd, err);
        if (c)
            PQfinish(c);
        return NULL;
    }
    return c;
}

/* Reads one line (no newline) of at most len-1 bytes from f; -1 at EOF or
 * when longer. */
static int read_line(FILE *f, char *buf, size_t len)
{
    if (!fgets(buf, (int)len, f))
        return -1;
    size_t n = strlen(buf);
    if (n && buf[n - 1] == '\n')
        buf[--n] = '\0';
    else if (n == len - 1 && !feof(f))
        return -1;
    if (n && buf[n - 1] == '\r')
        buf[--n] = '\0';
    return 0;
}

/* A prompt with echo off on the terminal. */
static int prompt_noecho(const char *prompt, char *buf, size_t len)
{
    FILE *tty = fopen("/dev/tty", "r+");
    if (!tty)
        return -1;
    struct termios old, quiet;
    int fd = fileno(tty);
    if (tcgetattr(fd, &old) < 0) {
        fclose(tty);
        return -1;
    }
    quiet = old;
    quiet.c_lflag &= ~(tcflag_t)(ECHO | ECHONL);
    fputs(prompt, tty);
    fflush(tty);
    tcsetattr(fd, TCSAFLUSH, &quiet);
    int rc = read_line(tty, buf, len);
    tcsetattr(fd, TCSAFLUSH, &old);
    fputs("\n", tty);
    fclose(tty);
    return rc;
}

/* The new password: twice at a no-echo prompt on a terminal, else one line
 * of stdin (for scripts: printf '%s\n' "$PW" | custos user add ...). */
static int get_password(const char *cmd, char *pw, size_t len)
{
    if (isatty(STDIN_FILENO)) {
        char again[1025];
        if (prompt_noecho("new password: ", pw, len) < 0 ||
            prompt_noecho("again: ", again, sizeof again) < 0) {
            fprintf(stderr, "custos %s: cannot read the password from the terminal\n", cmd);
            return -1;
        }
        bool same = strlen(pw) == strlen(again) && sodium_memcmp(pw, again, strlen(pw)) == 0;
        sodium_memzero(again, sizeof again);
        if (!same) {
            fprintf(stderr, "custos %s: the two passwords differ\n", cmd);
            return -1;
        }
    } else if (read_line(stdin, pw, len) < 0) {
        fprintf(stderr, "custos %s: no password on stdin (one line, at most %zu bytes)\n", cmd,
                len - 1);
        return -1;
    }
    const char *why = web_password_problem(pw);
    if (why) {
        fprintf(stderr, "custos %s: %s\n", cmd, why);
        return -1;
    }
    return 0;
}

/* ---- custos user ---- */

static void user_usage(FILE *out)
{
    fprintf(out,
            "usage: custos user add NAME --role ROLE\n"
            "       custos user list\n"
            "       custos user disable NAME | enable NAME\n"
            "       custos user role NAME ROLE\n"
            "       custos user passwd NAME\n"
            "   (each also takes --config FILE and --log-level LEVEL)\n"
            "\n"
            "Console users. ROLE: viewer (queue and incidents, content masked), analyst\n"
            "(+ triage), responder (+ approve/reject actions), auditor (read-only and\n"
            "forensics, no changes), admin (+ users and tokens). The password (12 to 128\n"
            "characters) is asked twice without echo on a terminal, or read as one line\n"
            "from stdin; never give it as an argument. disable, role and passwd end the\n"
            "user's sessions. Every change is a row of the audit chain.\n");
}

static int report(const char *cmd, int rc, const char *err, const char *ok)
{
    if (rc < 0) {
        fprintf(stderr, "custos %s: %s\n", cmd, err);
        return CORE_EXIT_FAIL;
    }
    if (rc > 0) {
        fprintf(stderr, "custos %s: %s\n", cmd, err);
        return CORE_EXIT_FAIL;
    }
    if (ok)
        printf("%s\n", ok);
    return CORE_EXIT_OK;
}

static int parse_role_arg(const char *cmd, const char *s)
{
    int r = web_role_parse(s);
    if (r < 0)
        fprintf(stderr, "custos %s: unknown role '%s' (viewer, analyst, responder, auditor, admin)\n",
                cmd, s ? s : "");
    return r;
}

int web_cmd_user(int argc, char **argv)
{
    const char *cfgpath = NULL, *lvl = NULL, *role_s = NULL;
    char *rest[8];
    int nrest = 0;
    /* --role is the sub-command's own option. */
    char *args[32];
    int nargs = 0;
    for (int i = 0; i < argc && nargs < 32; i++) {
        const char *v;
        if (i > 0 && core_cli_opt(argc, argv, &i, "--role", &v))
            role_s = v;
        else
            args[nargs++] = argv[i];
    }
    if (common_opts(nargs, args, &cfgpath, &lvl, rest, &nrest, user_usage) < 0)
        return CORE_EXIT_USAGE;
    if (nrest == 0) {
        user_usage(stderr);
        return CORE_EXIT_USAGE;
    }
    const char *sub = rest[0];
    int need = strcmp(sub, "list") == 0 ? 1 : strcmp(sub, "role") == 0 ? 3 : 2;
    bool known = strcmp(sub, "add") == 0 || strcmp(sub, "list") == 0 ||
                 strcmp(sub, "disable") == 0 || strcmp(sub, "enable") == 0 ||
                 strcmp(sub, "role") == 0 || strcmp(sub, "passwd") == 0;
    if (!known || nrest != need || (role_s && strcmp(sub, "add") != 0)) {
        fprintf(stderr, "custos user: bad arguments\n");
        user_usage(stderr);
        return CORE_EXIT_USAGE;
    }
    int role = -1;
    if (strcmp(sub, "add") == 0 && (role = parse_role_arg("user add", role_s)) < 0)
        return CORE_EXIT_USAGE;
    if (strcmp(sub, "role") == 0 && (role = parse_role_arg("user role", rest[2])) < 0)
        return CORE_EXIT_USAGE;

    core_config cfg;
    PGconn *c = open_db("user", cfgpath, lvl, &cfg);
    if (!c) {
        core_config_free(&cfg);
        return CORE_EXIT_FAIL;
    }
    char actor[80], err[1024], msg[256];
    cli_actor(actor, sizeof actor);
    int rc = CORE_EXIT_FAIL;
    if (strcmp(sub, "list") == 0) {
        cJSON *a = web_user_list(c, err, sizeof err);
        if (!a) {
            fprintf(stderr, "custos user list: %s\n", err);
        } else {
            printf("%-24s %-10s %-8s %-21s %s\n", "NAME", "ROLE", "STATE", "CREATED", "SESSIONS");
            const cJSON *u;
            cJSON_ArrayForEach(u, a)
            {
                printf("%-24s %-10s %-8s %-21s %d\n",
                       cJSON_GetObjectItem(u, "name")->valuestring,
                       cJSON_GetObjectItem(u, "role")->valuestring,
                       cJSON_IsTrue(cJSON_GetObjectItem(u, "disabled")) ? "disabled" : "active",
                       cJSON_GetObjectItem(u, "created_at")->valuestring,
                       cJSON_GetObjectItem(u, "open_sessions")->valueint);
            }
            cJSON_Delete(a);
            rc = CORE_EXIT_OK;
        }
    } else if (strcmp(sub, "add") == 0 || strcmp(sub, "passwd") == 0) {
        char pw[1025];
        if (get_password(strcmp(sub, "add") == 0 ? "user add" : "user passwd", pw, sizeof pw) == 0) {
            int r = strcmp(sub, "add") == 0
                        ? web_user_add(c, actor, rest[1], (web_role)role, pw, err, sizeof err)
                        : web_user_set_password(c, actor, rest[1], pw, err, sizeof err);
            snprintf(msg, sizeof msg, strcmp(sub, "add") == 0 ? "user %s added (%s)"
                                                              : "password of %s changed%s",
                     rest[1], strcmp(sub, "add") == 0 ? web_role_name((web_role)role) : "");
            rc = report(strcmp(sub, "add") == 0 ? "user add" : "user passwd", r, err, msg);
        }
        sodium_memzero(pw, sizeof pw);
    } else if (strcmp(sub, "disable") == 0 || strcmp(sub, "enable") == 0) {
        bool dis = strcmp(sub, "disable") == 0;
        int r = web_user_set_disabled(c, actor, rest[1], dis, err, sizeof err);
        snprintf(msg, sizeof msg, "user %s %s", rest[1], dis ? "disabled (sessions ended)" : "enabled");
        rc = report(dis ? "user disable" : "user enable", r, err, msg);
    } else {
        int r = web_user_set_role(c, actor, rest[1], (web_role)role, err, sizeof err);
        snprintf(msg, sizeof msg, "user %s is now %s (sessions ended)", rest[1],
                 web_role_name((web_role)role));
        rc = report("user role", r, err, msg);
    }
    PQfinish(c);
    core_config_free(&cfg);
    return rc;
}

/* ---- custos token ---- */

static void token_usage(FILE *out)
{
    fprintf(out,
            "usage: custos token create --role ROLE --name NAME\n"
            "       custos token list\n"
            "       custos token revoke NAME\n"
            "   (each also takes --config FILE and --log-level LEVEL)\n"
            "\n"
            "API tokens for automation, sent as 'Authorization: Bearer TOKEN'. create prints\n"
            "the token once: only its SHA-256 is kept. list shows when each was last used.\n"
            "Every change is a row of the audit chain.\n");
}

int web_cmd_token(int argc, char **argv)
{
    const char *cfgpath = NULL, *lvl = NULL, *role_s = NULL, *name = NULL;
    char *rest[8];
    int nrest = 0;
    char *args[32];
    int nargs = 0;
    for (int i = 0; i < argc && nargs < 32; i++) {
        const char *v;
        if (i > 0 && core_cli_opt(argc, argv, &i, "--role", &v))
            role_s = v;
        else if (i > 0 && core_cli_opt(argc, argv, &i, "--name", &v))
            name = v;
        else
            args[nargs++] = argv[i];
    }
    if (common_opts(nargs, args, &cfgpath, &lvl, rest, &nrest, token_usage) < 0)
        return CORE_EXIT_USAGE;
    const char *sub = nrest ? rest[0] : "";
    bool create = strcmp(sub, "create") == 0, list = strcmp(sub, "list") == 0,
         revoke = strcmp(sub, "revoke") == 0;
    if (!(create && nrest == 1 && role_s && name) && !(list && nrest == 1 && !role_s && !name) &&
        !(revoke && nrest == 2 && !role_s && !name)) {
        fprintf(stderr, "custos token: bad arguments\n");
        token_usage(stderr);
        return CORE_EXIT_USAGE;
    }
    int role = -1;
    if (create && (role = parse_role_arg("token create", role_s)) < 0)
        return CORE_EXIT_USAGE;
    core_config cfg;
    PGconn *c = open_db("token", cfgpath, lvl, &cfg);
    if (!c) {
        core_config_free(&cfg);
        return CORE_EXIT_FAIL;
    }
    char actor[80], err[1024], msg[256];
    cli_actor(actor, sizeof actor);
    int rc = CORE_EXIT_FAIL;
    if (create) {
        char secret[WEB_TOKEN_CHARS + 8];
        int64_t id = 0;
        int r = web_token_create(c, actor, name, (web_role)role, secret, &id, err, sizeof err);
        if (r == 0) {
            printf("%s\n", secret);
            fprintf(stderr, "token %s (id %lld, %s) created; it is shown only this once\n", name,
                    (long long)id, web_role_name((web_role)role));
            rc = CORE_EXIT_OK;
        } else {
            rc = report("token create", r, err, NULL);
        }
        sodium_memzero(secret, sizeof secret);
    } else if (list) {
        cJSON *a = web_token_list(c, err, sizeof err);
        if (!a) {
            fprintf(stderr, "custos token list: %s\n", err);
        } else {
            printf("%-6s %-24s %-10s %-21s %-21s %s\n", "ID", "NAME", "ROLE", "CREATED",
                   "LAST USED", "REVOKED");
            const cJSON *t;
            cJSON_ArrayForEach(t, a)
            {
                const cJSON *lu = cJSON_GetObjectItem(t, "last_used_at");
                const cJSON *rv = cJSON_GetObjectItem(t, "revoked_at");
                printf("%-6d %-24s %-10s %-21s %-21s %s\n", cJSON_GetObjectItem(t, "id")->valueint,
                       cJSON_GetObjectItem(t, "name")->valuestring,
                       cJSON_GetObjectItem(t, "role")->valuestring,
                       cJSON_GetObjectItem(t, "created_at")->valuestring,
                       cJSON_IsString(lu) ? lu->valuestring : "never",
                       cJSON_IsString(rv) ? rv->valuestring : "-");
            }
            cJSON_Delete(a);
            rc = CORE_EXIT_OK;
        }
    } else {
        int r = web_token_revoke(c, actor, rest[1], err, sizeof err);
        snprintf(msg, sizeof msg, "token %s revoked", rest[1]);
        rc = report("token revoke", r, err, msg);
    }
    PQfinish(c);
    core_config_free(&cfg);
    return rc;
}
