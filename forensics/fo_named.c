/* Named forensic queries: the canned questions, one SQL file each in the
 * share folder (sql/forensics/NAME.sql, shipped as <share>/forensics). A
 * file starts with "-- params: a, b" (its $1, $2 in order) and a comment
 * saying what it answers; the rest is one SELECT. Values are bound as
 * parameters; the rows are streamed as NDJSON (single-row mode) and the
 * run is audited as forensic_query with the name. */
#include "forensics/forensics.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#include "core/db.h"
#include "core/share.h"

#define SQL_MAX (64 * 1024)
#define MAX_PARAMS 8

typedef struct {
    char *sql;                      /* the whole file */
    char names[MAX_PARAMS][64];
    int n;
    char about[512];
} named;

static bool name_ok(const char *s)
{
    if (!*s || strlen(s) > 64)
        return false;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_'))
            return false;
    return true;
}

static int load(const char *name, named *q, char *err, size_t errlen)
{
    memset(q, 0, sizeof *q);
    if (!name_ok(name)) {
        snprintf(err, errlen, "'%s' is not a query name ([a-z0-9_]+)", name);
        return 1;
    }
    char dir[4096], path[4200];
    if (!core_share_path("forensics", dir, sizeof dir, err, errlen))
        return -1;
    snprintf(path, sizeof path, "%s/%s.sql", dir, name);
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "no named query '%s' (%s: %s; 'custos forensics list')", name,
                 path, strerror(errno));
        return 1;
    }
    q->sql = malloc(SQL_MAX + 1);
    size_t n = q->sql ? fread(q->sql, 1, SQL_MAX + 1, f) : 0;
    fclose(f);
    if (!q->sql || n > SQL_MAX) {
        snprintf(err, errlen, "%s: larger than 64 KiB", path);
        free(q->sql);
        q->sql = NULL;
        return -1;
    }
    q->sql[n] = '\0';
    if (strncmp(q->sql, "-- params:", 10) != 0) {
        snprintf(err, errlen, "%s: does not start with '-- params:'", path);
        free(q->sql);
        q->sql = NULL;
        return -1;
    }
    const char *p = q->sql + 10;
    while (*p && *p != '\n' && q->n < MAX_PARAMS) {
        p += strspn(p, " ,\t");
        size_t l = strcspn(p, " ,\t\n");
        if (l == 0)
            break;
        snprintf(q->names[q->n++], sizeof q->names[0], "%.*s", (int)(l < 63 ? l : 63), p);
        p += l;
    }
    /* The description: the comment lines after params. */
    p = strchr(q->sql, '\n');
    size_t al = 0;
    while (p && strncmp(p + 1, "-- ", 3) == 0) {
        const char *s = p + 4, *e = strchr(s, '\n');
        size_t l = e ? (size_t)(e - s) : strlen(s);
        if (al + l + 2 < sizeof q->about) {
            if (al)
                q->about[al++] = ' ';
            memcpy(q->about + al, s, l);
            al += l;
            q->about[al] = '\0';
        }
        p = e;
    }
    return 0;
}

int forensics_named_list(FILE *out, char *err, size_t errlen)
{
    char dir[4096];
    if (!core_share_path("forensics", dir, sizeof dir, err, errlen))
        return -1;
    struct dirent **ents = NULL;
    int n = scandir(dir, &ents, NULL, alphasort);
    if (n < 0) {
        snprintf(err, errlen, "%s: %s", dir, strerror(errno));
        return -1;
    }
    for (int i = 0; i < n; i++) {
        char name[256];
        size_t l = strlen(ents[i]->d_name);
        if (l > 4 && l < sizeof name && strcmp(ents[i]->d_name + l - 4, ".sql") == 0) {
            snprintf(name, sizeof name, "%.*s", (int)(l - 4), ents[i]->d_name);
            named q;
            if (load(name, &q, err, errlen) == 0) {
                fprintf(out, "%s", name);
                for (int k = 0; k < q.n; k++)
                    fprintf(out, " %s=...", q.names[k]);
                fprintf(out, "\n    %s\n", q.about);
                free(q.sql);
            }
        }
        free(ents[i]);
    }
    free(ents);
    return 0;
}

int forensics_named_run(PGconn *c, const char *name, int nparams, const char *const *params,
                        const char *actor, forensics_sink sink, void *ud,
                        forensics_query_result *res, char *err, size_t errlen)
{
    memset(res, 0, sizeof *res);
    named q;
    int rc = load(name, &q, err, errlen);
    if (rc != 0)
        return rc;
    const char *vals[MAX_PARAMS] = {NULL};
    char *sql = NULL;
    cJSON *d = NULL;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    EVP_DigestInit_ex(md, EVP_sha256(), NULL);
    rc = 1;
    for (int i = 0; i < nparams; i++) {
        const char *eq = strchr(params[i], '=');
        int k = -1;
        for (int j = 0; eq && j < q.n; j++)
            if (strlen(q.names[j]) == (size_t)(eq - params[i]) &&
                strncmp(q.names[j], params[i], (size_t)(eq - params[i])) == 0)
                k = j;
        if (k < 0) {
            snprintf(err, errlen, "%s takes no parameter '%s'", name, params[i]);
            goto done;
        }
        vals[k] = eq + 1;
    }
    d = cJSON_CreateObject();
    cJSON_AddStringToObject(d, "named_query", name);
    cJSON *pj = cJSON_AddObjectToObject(d, "filter");
    for (int j = 0; j < q.n; j++) {
        if (!vals[j]) {
            snprintf(err, errlen, "%s needs %s=VALUE", name, q.names[j]);
            goto done;
        }
        cJSON_AddStringToObject(pj, q.names[j], vals[j]);
    }
    rc = -1;
    size_t sl = strlen(q.sql) + 64;
    sql = malloc(sl);
    if (!sql) {
        snprintf(err, errlen, "out of memory");
        goto done;
    }
    snprintf(sql, sl, "SELECT row_to_json(q)::text FROM (%s) q", q.sql);
    if (core_db_exec(c, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", err, errlen) < 0)
        goto done;
    if (core_db_exec(c, "SET LOCAL TimeZone = 'UTC'", err, errlen) < 0 ||
        !PQsendQueryParams(c, sql, q.n, NULL, vals, NULL, NULL, 0)) {
        if (!err[0])
            core_db_error(c, name, err, errlen);
        core_db_rollback(c);
        goto done;
    }
    PQsetSingleRowMode(c);
    PGresult *r;
    bool failed = false;
    while ((r = PQgetResult(c))) {
        ExecStatusType st = PQresultStatus(r);
        if (st == PGRES_SINGLE_TUPLE && !failed) {
            const char *row = PQgetvalue(r, 0, 0);
            size_t n = strlen(row);
            sink(ud, row, n);
            sink(ud, "\n", 1);
            EVP_DigestUpdate(md, row, n);
            EVP_DigestUpdate(md, "\n", 1);
            res->rows++;
            res->bytes += n + 1;
        } else if (st != PGRES_SINGLE_TUPLE && st != PGRES_TUPLES_OK && !failed) {
            /* A bad value ('tomorrow' for a time) is the server's cast error:
             * the caller's mistake, said as the server says it. */
            snprintf(err, errlen, "%s: %s", name, PQresultErrorMessage(r));
            err[strcspn(err, "\n")] = '\0';
            failed = true;
        }
        PQclear(r);
    }
    if (failed) {
        core_db_rollback(c);
        rc = 1;
        goto done;
    }
    if (core_db_commit(c, err, errlen) < 0)
        goto done;
    unsigned char h[32];
    unsigned int hl = 0;
    EVP_DigestFinal_ex(md, h, &hl);
    for (int i = 0; i < 32; i++)
        snprintf(res->sha256 + 2 * i, 3, "%02x", h[i]);
    cJSON_AddNumberToObject(d, "rows", (double)res->rows);
    cJSON_AddStringToObject(d, "sha256", res->sha256);
    cJSON_AddStringToObject(d, "format", "ndjson");
    char *js = cJSON_PrintUnformatted(d);
    rc = js && audit_append_tx(c, actor, "forensic_query", 0, NULL, js, err, errlen) == 0 ? 0
                                                                                          : -1;
    free(js);
done:
    EVP_MD_CTX_free(md);
    cJSON_Delete(d);
    free(sql);
    free(q.sql);
    return rc;
}
