/* /api/v1/incidents: the queue (filters in the query string, keyset pages)
 * and one incident, through incidents/'s read queries (web/ holds no SQL
 * for their tables). Prompt and response content is never in these
 * answers: revealing it is its own audited call. */
#include <ctype.h>
#include <inttypes.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "audit/audit.h"
#include "core/log.h"
#include "core/metrics.h"
#include "incidents/incidents.h"
#include "web/web_internal.h"

CORE_METRIC_DEFINE(web_m_counts_hits, CORE_COUNTER, "custos_web_counts_cache_hits_total",
                   "queue first pages whose counts per status came from the cache")
CORE_METRIC_DEFINE(web_m_counts_misses, CORE_COUNTER, "custos_web_counts_cache_misses_total",
                   "queue first pages whose counts per status were counted in PostgreSQL")

/* The query-string parameters of the list, and the inc_filter field each
 * fills (NULL: handled apart). */
static const char *const k_params[] = {"status", "disposition", "type",     "severity",
                                       "api_key", "tenant",      "model",    "version",
                                       "assignee", "q",          "since",    "until",
                                       "cursor",  "limit"};
#define N_PARAMS (sizeof k_params / sizeof k_params[0])
#define VALUE_MAX 256

typedef struct {
    const char *v[N_PARAMS];
} args;

static const web_args_rules k_rules = {.code = "bad_filter",
                                       .unknown = "is not a filter of this list",
                                       .too_long = "is longer than 256 bytes",
                                       .maxlen = VALUE_MAX,
                                       .empty_ok = true};

static const char *arg(const args *a, const char *name)
{
    return web_arg(k_params, N_PARAMS, a->v, name);
}

/* RFC 3339 in UTC ("2026-12-01T12:00:00Z", optional fraction up to
 * microseconds) to microseconds since the epoch; -1 when not one. */
int64_t web_parse_time_us(const char *s)
{
    struct tm tm = {0};
    const char *p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
    if (!p)
        return -1;
    int64_t frac = 0;
    if (*p == '.') {
        p++;
        int digits = 0;
        while (isdigit((unsigned char)*p) && digits < 6) {
            frac = frac * 10 + (*p - '0');
            p++;
            digits++;
        }
        if (digits == 0 || isdigit((unsigned char)*p))
            return -1;
        while (digits++ < 6)
            frac *= 10;
    }
    if (strcmp(p, "Z") != 0)
        return -1;
    time_t t = timegm(&tm);
    if (t < 0)
        return -1;
    return (int64_t)t * 1000000 + frac;
}

/* ---- the counts per status of the queue's first page, cached ----
 * Counting reads every incident the filter keeps (a sequential scan of a
 * large table: 250 ms at 100k incidents), where the page itself is an index
 * range. So counts are kept per filter while the change feed says that no
 * incident changed since they were counted (web_hub_mark): exact, as late as
 * the stream (milliseconds), never older than COUNTS_MAX_AGE_MS, and not
 * cached at all while the stream hub does not listen. */
#define COUNTS_SLOTS 32
#define COUNTS_KEY_MAX 1024
#define COUNTS_MAX_AGE_MS 60000

static struct {
    char key[COUNTS_KEY_MAX];
    web_hub *hub;
    web_hub_mark_t mark;
    int64_t made_ms, used_ms;
    char *json;
} g_counts[COUNTS_SLOTS];
static pthread_mutex_t g_counts_mu = PTHREAD_MUTEX_INITIALIZER;

/* The filter as a cache key ("name=len:value;" per field set); false when
 * it does not fit (not cached). */
static bool counts_key(const inc_filter *f, char *out, size_t outlen)
{
    const struct {
        const char *name, *v;
    } fields[] = {{"status", f->status},     {"disposition", f->disposition},
                  {"type", f->type},         {"severity", f->severity},
                  {"api_key", f->api_key_id}, {"tenant", f->tenant},
                  {"model", f->model},       {"version", f->model_version},
                  {"assignee", f->assignee}, {"q", f->text}};
    size_t n = 0;
    int w = snprintf(out, outlen, "since=%" PRId64 ";until=%" PRId64 ";", f->since_us, f->until_us);
    if (w < 0 || (size_t)w >= outlen)
        return false;
    n = (size_t)w;
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        if (!fields[i].v)
            continue;
        w = snprintf(out + n, outlen - n, "%s=%zu:%s;", fields[i].name, strlen(fields[i].v),
                     fields[i].v);
        if (w < 0 || (size_t)w >= outlen - n)
            return false;
        n += (size_t)w;
    }
    return true;
}

static cJSON *counts_lookup(web_hub *hub, const char *key, int64_t now)
{
    cJSON *out = NULL;
    pthread_mutex_lock(&g_counts_mu);
    for (int i = 0; i < COUNTS_SLOTS && !out; i++) {
        if (!g_counts[i].json || g_counts[i].hub != hub || strcmp(g_counts[i].key, key) != 0)
            continue;
        if (now - g_counts[i].made_ms < COUNTS_MAX_AGE_MS &&
            web_hub_incidents_unchanged(hub, &g_counts[i].mark)) {
            out = cJSON_Parse(g_counts[i].json);
            g_counts[i].used_ms = now;
        }
    }
    pthread_mutex_unlock(&g_counts_mu);
    return out;
}

/* Keeps counts (a copy) in the least recently used slot. */
static void counts_store(web_hub *hub, const char *key, const web_hub_mark_t *mark,
                         const cJSON *counts, int64_t now)
{
    char *text = cJSON_PrintUnformatted(counts);
    if (!text)
        return;
    pthread_mutex_lock(&g_counts_mu);
    int slot = -1;
    for (int i = 0; i < COUNTS_SLOTS && slot < 0; i++)
        if (g_counts[i].json && g_counts[i].hub == hub && strcmp(g_counts[i].key, key) == 0)
            slot = i;
    for (int i = 0; i < COUNTS_SLOTS && slot < 0; i++)
        if (!g_counts[i].json)
            slot = i;
    if (slot < 0) {
        slot = 0;
        for (int i = 1; i < COUNTS_SLOTS; i++)
            if (g_counts[i].used_ms < g_counts[slot].used_ms)
                slot = i;
    }
    free(g_counts[slot].json);
    snprintf(g_counts[slot].key, sizeof g_counts[slot].key, "%s", key);
    g_counts[slot].hub = hub;
    g_counts[slot].mark = *mark;
    g_counts[slot].made_ms = g_counts[slot].used_ms = now;
    g_counts[slot].json = text;
    pthread_mutex_unlock(&g_counts_mu);
}

static cJSON *counts_by_status(web_req *r, const inc_filter *f)
{
    web_hub *hub = web_server_hub(r->srv);
    char key[COUNTS_KEY_MAX];
    bool keyed = hub && counts_key(f, key, sizeof key);
    int64_t now = core_mono_ms();
    if (keyed) {
        cJSON *hit = counts_lookup(hub, key, now);
        if (hit) {
            core_metric_add(&web_m_counts_hits, 1);
            return hit;
        }
    }
    core_metric_add(&web_m_counts_misses, 1);
    /* The mark before the count: a change the count misses has a later id. */
    web_hub_mark_t mark;
    bool marked = keyed && web_hub_mark(hub, &mark);
    cJSON *counts = inc_counts_by_status(r->db, f, r->err, sizeof r->err);
    if (counts && marked)
        counts_store(hub, key, &mark, counts, now);
    return counts;
}

web_result web_h_incidents_list(web_req *r)
{
    args a;
    if (web_args_with(r, &k_rules, k_params, N_PARAMS, a.v) < 0)
        return WEB_CLIENT_ERROR;
    inc_filter f = {
        .status = arg(&a, "status"),
        .disposition = arg(&a, "disposition"),
        .type = arg(&a, "type"),
        .severity = arg(&a, "severity"),
        .api_key_id = arg(&a, "api_key"),
        .tenant = arg(&a, "tenant"),
        .model = arg(&a, "model"),
        .model_version = arg(&a, "version"),
        .assignee = arg(&a, "assignee"),
        .text = arg(&a, "q"),
        .cursor = arg(&a, "cursor"),
        .limit = 50,
    };
    if (f.status && inc_status_parse(f.status) < 0)
        return web_reply_error(r, 400, "bad_filter", "unknown status '%.64s'", f.status);
    const char *lim = arg(&a, "limit");
    if (lim) {
        size_t n = strlen(lim);
        if (n == 0 || n > 3 || strspn(lim, "0123456789") != n || atoi(lim) < 1 || atoi(lim) > 500)
            return web_reply_error(r, 400, "bad_filter", "limit is 1 to 500");
        f.limit = atoi(lim);
    }
    const char *since = arg(&a, "since"), *until = arg(&a, "until");
    if (since && (f.since_us = web_parse_time_us(since)) <= 0)
        return web_reply_error(r, 400, "bad_filter",
                               "since is an RFC 3339 UTC time (2026-12-01T12:00:00Z)");
    if (until && (f.until_us = web_parse_time_us(until)) <= 0)
        return web_reply_error(r, 400, "bad_filter",
                               "until is an RFC 3339 UTC time (2026-12-01T12:00:00Z)");
    /* The caller's mistakes first: past this, a failure is the server's. */
    if (inc_filter_check(&f, r->err, sizeof r->err) < 0)
        return web_reply_error(r, 400, "bad_filter", "%s", r->err);
    cJSON *page = inc_list(r->db, &f, r->err, sizeof r->err);
    if (!page)
        return WEB_FAIL;
    /* The first page carries the counts per status over the same filter. */
    if (!f.cursor) {
        cJSON *counts = counts_by_status(r, &f);
        if (!counts) {
            cJSON_Delete(page);
            return WEB_FAIL;
        }
        cJSON_AddItemToObject(page, "counts", counts);
    }
    cJSON *it;
    cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(page, "incidents")) inc_add_id_names(it);
    return web_reply_json(r, 200, page);
}

web_result web_h_incident_get(web_req *r)
{
    bool found = false;
    r->err[0] = '\0';
    cJSON *inc = inc_get(r->db, r->params.v[0], false, &found, r->err, sizeof r->err);
    if (!inc) {
        if (!found && r->err[0] == '\0')
            return web_reply_error(r, 404, "not_found", "no incident %s", r->params.v[0]);
        return WEB_FAIL;
    }
    inc_add_id_names(inc);
    return web_reply_json(r, 200, inc);
}

/* ---- changes (triage: analyst, responder, admin) ---- */

#define TEXT_MAX 10000 /* a reason or a comment, as incidents/ keeps them */

/* Whether a -1 from incidents/ was the database's (the transaction is in
 * error or the connection is gone) rather than a refused change. */
static bool db_broke(PGconn *c)
{
    return PQstatus(c) != CONNECTION_OK || PQtransactionStatus(c) == PQTRANS_INERROR;
}

/* Applies ch in a transaction of its own. The audit row is incidents/'s
 * (inc_apply_change appends it); the chain's head moving shows it did.
 * Returns 1 applied (*changed: a row was written), 0 no such incident, 2
 * refused by the status rule (r->err says why), -1 failure (r->err). */
static int apply_one(web_req *r, const inc_change *ch, bool *changed)
{
    int64_t before = 0, after = 0;
    char hash[65];
    *changed = false;
    if (core_db_begin(r->db, r->err, sizeof r->err) < 0)
        return -1;
    if (audit_head(r->db, &before, hash, r->err, sizeof r->err) < 0)
        goto fail;
    int rc = inc_apply_change(r->db, ch, r->err, sizeof r->err);
    if (rc < 0 && db_broke(r->db))
        goto fail;
    if (rc <= 0) {
        core_db_rollback(r->db);
        return rc == 0 ? 0 : 2;
    }
    if (audit_head(r->db, &after, hash, r->err, sizeof r->err) < 0 ||
        core_db_commit(r->db, r->err, sizeof r->err) < 0)
        goto fail;
    /* No new row: the change asked for what was already there. */
    *changed = after > before;
    return 1;
fail:
    core_db_rollback(r->db);
    return -1;
}

static web_result apply_change(web_req *r, inc_change *ch)
{
    bool changed;
    int rc = apply_one(r, ch, &changed);
    if (rc < 0)
        return WEB_FAIL;
    if (rc == 0)
        return web_reply_error(r, 404, "not_found", "no incident %s", ch->incident_id);
    if (rc == 2)
        return web_reply_error(r, 400, "refused", "%s", r->err);
    r->audited = changed;
    r->unchanged = !changed;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "incident_id", ch->incident_id);
    cJSON_AddBoolToObject(o, "changed", changed);
    return web_reply_json(r, 200, o);
}

/* A string member parsed by parse (an incidents/ vocabulary): -1 absent,
 * the value, or -2 answered 400. */
static int vocab(web_req *r, const char *name, int (*parse)(const char *))
{
    const char *s = NULL;
    int got = web_json_string(r, name, 64, false, &s);
    if (got < 0)
        return -2;
    if (got == 0)
        return -1;
    int v = parse(s);
    if (v < 0) {
        web_reply_error(r, 400, "bad_request", "unknown %s '%.64s'", name, s);
        return -2;
    }
    return v;
}

/* The change members of r->json into ch (status, disposition, severity,
 * assignee, reason). -1 answered 400. */
static int change_members(web_req *r, inc_change *ch)
{
    if ((ch->status = vocab(r, "status", inc_status_parse)) == -2 ||
        (ch->disposition = vocab(r, "disposition", inc_disposition_parse)) == -2 ||
        (ch->severity = vocab(r, "severity", inc_severity_parse)) == -2)
        return -1;
    if (web_json_string(r, "assignee", 200, false, &ch->assignee) < 0 ||
        web_json_string(r, "reason", TEXT_MAX, false, &ch->reason) < 0)
        return -1;
    if (ch->status < 0 && ch->disposition < 0 && ch->severity < 0 && !ch->assignee &&
        !ch->reason) {
        web_reply_error(r, 400, "bad_request",
                        "nothing to change (status, disposition, severity, assignee, reason)");
        return -1;
    }
    return 0;
}

web_result web_h_incident_change(web_req *r)
{
    static const char *const allowed[] = {"status", "disposition", "severity", "assignee",
                                          "reason", NULL};
    if (!web_json_only(r, allowed))
        return WEB_CLIENT_ERROR;
    inc_change ch = {.incident_id = r->params.v[0], .actor = r->auth.actor};
    if (change_members(r, &ch) < 0)
        return WEB_CLIENT_ERROR;
    return apply_change(r, &ch);
}

#define BULK_MAX 100

static bool incident_id_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > WEB_PARAM_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)s[i]) && !strchr("._:@-", s[i]))
            return false;
    return true;
}

/* The same change to up to 100 incidents, each in its own transaction (one
 * refused does not hold the others back); one result per id, in order. */
web_result web_h_incidents_bulk(web_req *r)
{
    static const char *const allowed[] = {"ids", "status", "disposition", "severity", "assignee",
                                          "reason", NULL};
    if (!web_json_only(r, allowed))
        return WEB_CLIENT_ERROR;
    const cJSON *ids = cJSON_GetObjectItemCaseSensitive(r->json, "ids");
    int n = cJSON_IsArray(ids) ? cJSON_GetArraySize(ids) : -1;
    if (n < 1 || n > BULK_MAX)
        return web_reply_error(r, 400, "bad_request", "'ids' is an array of 1 to %d incident ids",
                               BULK_MAX);
    const cJSON *id;
    cJSON_ArrayForEach(id, ids)
    {
        if (!cJSON_IsString(id) || !incident_id_ok(id->valuestring))
            return web_reply_error(r, 400, "bad_request", "'ids' holds something that is not an "
                                                          "incident id");
    }
    inc_change ch = {.actor = r->auth.actor};
    if (change_members(r, &ch) < 0)
        return WEB_CLIENT_ERROR;
    cJSON *out = cJSON_CreateObject(), *results = cJSON_AddArrayToObject(out, "results");
    int changed_n = 0;
    cJSON_ArrayForEach(id, ids)
    {
        ch.incident_id = id->valuestring;
        bool changed = false;
        int rc = apply_one(r, &ch, &changed);
        if (rc < 0) {
            cJSON_Delete(out);
            /* The ones before were applied (and audited): say so in the log. */
            r->audited = changed_n > 0;
            return WEB_FAIL;
        }
        cJSON *res = cJSON_CreateObject();
        cJSON_AddStringToObject(res, "incident_id", ch.incident_id);
        if (rc == 1) {
            cJSON_AddBoolToObject(res, "changed", changed);
            changed_n += changed;
        } else {
            cJSON *e = cJSON_AddObjectToObject(res, "error");
            cJSON_AddStringToObject(e, "code", rc == 0 ? "not_found" : "refused");
            cJSON_AddStringToObject(e, "message", rc == 0 ? "no such incident" : r->err);
        }
        cJSON_AddItemToArray(results, res);
    }
    cJSON_AddNumberToObject(out, "changed", changed_n);
    r->audited = changed_n > 0;
    r->unchanged = changed_n == 0;
    return web_reply_json(r, 200, out);
}

web_result web_h_incident_take(web_req *r)
{
    inc_change ch = {.incident_id = r->params.v[0], .actor = r->auth.actor, .status = -1,
                     .severity = -1, .disposition = -1, .assignee = r->auth.actor};
    return apply_change(r, &ch);
}

web_result web_h_incident_comment(web_req *r)
{
    static const char *const allowed[] = {"text", NULL};
    if (!web_json_only(r, allowed))
        return WEB_CLIENT_ERROR;
    const char *text = NULL;
    if (web_json_string(r, "text", TEXT_MAX, true, &text) < 0)
        return WEB_CLIENT_ERROR;
    if (!*text)
        return web_reply_error(r, 400, "bad_request", "a comment has 1 to %d bytes", TEXT_MAX);
    if (core_db_begin(r->db, r->err, sizeof r->err) < 0)
        return WEB_FAIL;
    int64_t id = inc_comment_add(r->db, r->params.v[0], r->auth.actor, text, r->err,
                                 sizeof r->err);
    if (id < 0) {
        bool broke = db_broke(r->db);
        core_db_rollback(r->db);
        if (broke)
            return WEB_FAIL;
        return web_reply_error(r, 404, "not_found", "no incident %s", r->params.v[0]);
    }
    if (core_db_commit(r->db, r->err, sizeof r->err) < 0)
        return WEB_FAIL;
    r->audited = true; /* inc_comment_add audits, in the same transaction */
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "id", (double)id);
    cJSON_AddStringToObject(o, "incident_id", r->params.v[0]);
    return web_reply_json(r, 201, o);
}

/* ---- content reveal (all roles but viewer), with a reason, audited ---- */

web_result web_h_incident_reveal(web_req *r)
{
    static const char *const allowed[] = {"reason", NULL};
    if (!web_json_only(r, allowed))
        return WEB_CLIENT_ERROR;
    const char *reason = NULL;
    if (web_json_string(r, "reason", 1000, true, &reason) < 0)
        return WEB_CLIENT_ERROR;
    const char *p = reason;
    while (*p == ' ' || *p == '\t')
        p++;
    if (!*p)
        return web_reply_error(r, 400, "bad_request", "revealing content needs a reason");
    const char *id = r->params.v[0];
    /* The audit row and the read in one transaction: no content leaves
     * without its row, and no row without the incident. */
    if (core_db_begin(r->db, r->err, sizeof r->err) < 0)
        return WEB_FAIL;
    bool found = false;
    r->err[0] = '\0';
    cJSON *inc = inc_get(r->db, id, true, &found, r->err, sizeof r->err);
    if (!inc) {
        core_db_rollback(r->db);
        if (!found && r->err[0] == '\0')
            return web_reply_error(r, 404, "not_found", "no incident %s", id);
        return WEB_FAIL;
    }
    cJSON *d = cJSON_CreateObject();
    cJSON_AddStringToObject(d, "address", r->addr);
    cJSON_AddStringToObject(d, "reason", reason);
    cJSON_AddNumberToObject(d, "events",
                            cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(inc, "events")));
    char *js = cJSON_PrintUnformatted(d);
    cJSON_Delete(d);
    if (!js || audit_append(r->db, r->auth.actor, "content_revealed", 0, id, js, r->err,
                            sizeof r->err) < 0 ||
        core_db_commit(r->db, r->err, sizeof r->err) < 0) {
        if (!js)
            snprintf(r->err, sizeof r->err, "out of memory");
        free(js);
        cJSON_Delete(inc);
        core_db_rollback(r->db);
        return WEB_FAIL;
    }
    free(js);
    r->audited = true;
    return web_reply_json(r, 200, inc);
}
