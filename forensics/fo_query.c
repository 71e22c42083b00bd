/* Forensic queries over interactions: a bounded time range (required, at
 * most forensics.max_range_days), optional filters, keyset pages by (ts,
 * event_id), content masked (its length and SHA-256 shown) unless revealed
 * with a reason, streamed with COPY as NDJSON, JSON or CSV. Each query is
 * an audit row (forensic_query: actor, filter, rows, the SHA-256 of the
 * bytes produced).
 *
 * The statement is put together from constant fragments, one per filter
 * given; the values go in as transaction-local settings (set_config,
 * parameterised) read with current_setting(), since COPY takes no
 * parameters. No SQL is built from input. */
#include "forensics/forensics.h"

#include <cjson/cJSON.h>
#include <inttypes.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#include "core/db.h"

#define SET(n) "current_setting('custos.fq_" n "')"

/* The filters: query field, setting, condition. */
typedef struct {
    const char *name; /* in the audit row and the API's query string */
    size_t off;
    const char *cond;
} filter_col;

#define QOFF(f) offsetof(forensics_query, f)
static const filter_col k_filters[] = {
    {"api_key", QOFF(api_key_id), " AND i.api_key_id = " SET("api_key")},
    {"tenant", QOFF(tenant), " AND i.tenant = " SET("tenant")},
    {"user", QOFF(user_id), " AND i.user_id = " SET("user")},
    {"session", QOFF(session_id), " AND i.session_id = " SET("session")},
    {"model", QOFF(model), " AND i.model = " SET("model")},
    {"version", QOFF(model_version), " AND i.model_version = " SET("version")},
    {"client_ip", QOFF(client_ip), " AND i.client_ip = " SET("client_ip") "::inet"},
    {"text", QOFF(text),
     " AND (strpos(lower(i.prompt), lower(" SET("text") ")) > 0 OR strpos(lower(i.response), "
     "lower(" SET("text") ")) > 0)"},
    {"updated_since", QOFF(updated_since),
     " AND i.received_at >= " SET("updated_since") "::timestamptz"},
};
#define N_FILTERS (sizeof k_filters / sizeof k_filters[0])

static const char *field(const forensics_query *q, const filter_col *f)
{
    return *(const char *const *)((const char *)q + f->off);
}

/* The columns: content only when revealed; its length and digest always;
 * the row's cursor last (hex of "ts_us|event_id"). */
#define COLS_HEAD                                                                            \
    "i.ts, i.event_id, i.api_key_id, i.model, i.model_version, i.tenant, i.user_id, "        \
    "i.session_id, host(i.client_ip) AS client_ip, "
#define COLS_TAIL                                                                            \
    "length(i.prompt) AS prompt_chars, encode(sha256(convert_to(i.prompt, 'UTF8')), 'hex') " \
    "AS prompt_sha256, length(i.response) AS response_chars, "                               \
    "encode(sha256(convert_to(i.response, 'UTF8')), 'hex') AS response_sha256, "             \
    "i.prompt_truncated, i.response_truncated, i.prompt_tokens, i.completion_tokens, "       \
    "i.latency_ms, i.status, i.finish_reason, i.refusal, i.scores, i.attrs, i.received_at, " \
    "encode(convert_to((extract(epoch FROM i.ts) * 1000000)::bigint || '|' || i.event_id, "  \
    "'UTF8'), 'hex') AS cursor"
static const char *const k_cols_masked = COLS_HEAD COLS_TAIL;
static const char *const k_cols_revealed = COLS_HEAD "i.prompt, i.response, " COLS_TAIL;

/* A growing statement text made of the constants above. */
typedef struct {
    char s[4096];
    size_t n;
    bool overflow;
} sqlbuf;

static void put(sqlbuf *b, const char *s)
{
    size_t l = strlen(s);
    if (b->n + l + 1 > sizeof b->s) {
        b->overflow = true;
        return;
    }
    memcpy(b->s + b->n, s, l + 1);
    b->n += l;
}

static int build(const forensics_query *q, sqlbuf *b)
{
    put(b, "COPY (SELECT ");
    if (q->format == FORENSICS_CSV) {
        put(b, q->reveal ? k_cols_revealed : k_cols_masked);
    } else {
        put(b, "row_to_json(x) FROM (SELECT ");
        put(b, q->reveal ? k_cols_revealed : k_cols_masked);
    }
    put(b, " FROM interactions i WHERE i.ts >= " SET("since") "::timestamptz AND i.ts < " SET(
               "until") "::timestamptz");
    for (size_t i = 0; i < N_FILTERS; i++)
        if (field(q, &k_filters[i]))
            put(b, k_filters[i].cond);
    if (q->cursor)
        put(b, " AND (i.ts, i.event_id COLLATE \"C\") > (to_timestamp(" SET("cts") "::bigint / "
               "1e6), " SET("cid") " COLLATE \"C\")");
    put(b, " ORDER BY i.ts, i.event_id COLLATE \"C\"");
    if (q->limit > 0)
        put(b, " LIMIT " SET("limit") "::bigint");
    if (q->format != FORENSICS_CSV)
        put(b, ") x");
    put(b, q->format == FORENSICS_CSV
               ? ") TO STDOUT (FORMAT csv, HEADER)"
               : ") TO STDOUT (FORMAT csv, QUOTE e'\\x01', DELIMITER e'\\x02')");
    return b->overflow ? -1 : 0;
}

/* Sets every value given; checks the range and the cursor. 0, 1 refused
 * (err), -1. */
static int set_values(PGconn *c, const core_config *cfg, const forensics_query *q, char *err,
                      size_t errlen)
{
    char maxd[32], lim[32];
    snprintf(maxd, sizeof maxd, "%" PRId64, cfg->fo_max_range_days);
    snprintf(lim, sizeof lim, "%" PRId64, q->limit);
    if (!q->since || !q->until) {
        snprintf(err, errlen, "a forensic query needs --since and --until (RFC 3339)");
        return 1;
    }
    const char *v[] = {q->since, q->until, maxd, lim};
    PGresult *r = core_db_query(
        c, "SELECT set_config('custos.fq_since', $1::timestamptz::text, true), "
           "set_config('custos.fq_until', $2::timestamptz::text, true), "
           "set_config('custos.fq_limit', $4, true), $1::timestamptz < $2::timestamptz, "
           "$2::timestamptz - $1::timestamptz <= make_interval(days => $3::int)",
        4, v, "since/until (RFC 3339, 2026-11-21T13:04:00Z)", err, errlen);
    if (!r)
        return 1;
    int rc = PQgetvalue(r, 0, 3)[0] != 't' ? 2 : PQgetvalue(r, 0, 4)[0] != 't' ? 3 : 0;
    PQclear(r);
    if (rc == 2) {
        snprintf(err, errlen, "since must be before until");
        return 1;
    }
    if (rc == 3) {
        snprintf(err, errlen, "the range is longer than forensics.max_range_days (%s days)",
                 maxd);
        return 1;
    }
    for (size_t i = 0; i < N_FILTERS; i++) {
        const char *val = field(q, &k_filters[i]);
        if (!val)
            continue;
        char name[64];
        snprintf(name, sizeof name, "custos.fq_%s", k_filters[i].name);
        const char *p[] = {name, val};
        /* Casts checked here, so a bad value is the caller's error. */
        const char *sql = strcmp(k_filters[i].name, "client_ip") == 0
                              ? "SELECT set_config($1, $2::inet::text, true)"
                          : strcmp(k_filters[i].name, "updated_since") == 0
                              ? "SELECT set_config($1, $2::timestamptz::text, true)"
                              : "SELECT set_config($1, $2, true)";
        r = core_db_query(c, sql, 2, p, k_filters[i].name, err, errlen);
        if (!r)
            return 1;
        PQclear(r);
    }
    if (q->cursor) {
        const char *p[] = {q->cursor};
        r = core_db_query(
            c, "SELECT set_config('custos.fq_cts', split_part(convert_from(decode($1, 'hex'), "
               "'UTF8'), '|', 1)::bigint::text, true), set_config('custos.fq_cid', "
               "substr(convert_from(decode($1, 'hex'), 'UTF8'), strpos(convert_from(decode($1, "
               "'hex'), 'UTF8'), '|') + 1), true), strpos(convert_from(decode($1, 'hex'), "
               "'UTF8'), '|') > 0",
            1, p, "cursor", err, errlen);
        if (!r) {
            snprintf(err, errlen, "the cursor is not one this query gave");
            return 1;
        }
        bool ok = PQgetvalue(r, 0, 2)[0] == 't';
        PQclear(r);
        if (!ok) {
            snprintf(err, errlen, "the cursor is not one this query gave");
            return 1;
        }
    }
    return 0;
}

/* The output: sink, digest, the last row's cursor. */
typedef struct {
    forensics_sink sink;
    void *ud;
    EVP_MD_CTX *md;
    uint64_t bytes;
    bool stopped; /* the sink said stop (a byte cap) */
} out_t;

/* Writes framing (brackets, separators, the page's tail): always. */
static void emit(out_t *o, const void *p, size_t n)
{
    o->sink(o->ud, p, n);
    EVP_DigestUpdate(o->md, p, n);
    o->bytes += n;
}

/* Writes one row with its separator, when the sink has room for both. */
static int emit_row(out_t *o, const char *sep, size_t sl, const char *row, size_t n)
{
    if (o->stopped || o->sink(o->ud, NULL, sl + n) < 0) {
        o->stopped = true;
        return -1;
    }
    if (sl)
        emit(o, sep, sl);
    emit(o, row, n);
    return 0;
}

/* The cursor of one row: the last "cursor" member (JSON), or the last
 * column (CSV: hex, never quoted). */
static void row_cursor(const char *row, size_t n, bool csv, char *out, size_t outlen)
{
    const char *p = NULL;
    size_t l = 0;
    if (csv) {
        const char *e = row + n;
        while (e > row && (e[-1] == '\n' || e[-1] == '\r'))
            e--;
        const char *s = e;
        while (s > row && s[-1] != ',')
            s--;
        p = s;
        l = (size_t)(e - s);
    } else {
        static const char key[] = ",\"cursor\":\"";
        for (const char *s = row + n - sizeof key + 1; s >= row; s--)
            if (memcmp(s, key, sizeof key - 1) == 0) {
                p = s + sizeof key - 1;
                l = strcspn(p, "\"");
                break;
            }
    }
    if (p && l < outlen) {
        memcpy(out, p, l);
        out[l] = '\0';
    }
}

/* Streams the COPY; JSON is the NDJSON rows in an array. */
static int stream(PGconn *c, const char *sql, const forensics_query *q, out_t *o,
                  forensics_query_result *res, char *err, size_t errlen)
{
    PGresult *r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_COPY_OUT) {
        snprintf(err, errlen, "the query: %s", PQresultErrorMessage(r));
        err[strcspn(err, "\n")] = '\0';
        PQclear(r);
        return -1;
    }
    PQclear(r);
    bool json = q->format == FORENSICS_JSON, csv = q->format == FORENSICS_CSV;
    bool paged = q->limit > 0;
    if (json)
        emit(o, paged ? "{\"rows\":[" : "[", paged ? 9 : 1);
    char *buf;
    int n;
    bool header = csv;
    while ((n = PQgetCopyData(c, &buf, 0)) > 0) {
        if (!o->stopped) {
            if (header) {
                header = false;
                emit(o, buf, (size_t)n);
            } else {
                size_t sl = json && res->rows > 0 ? 2 : 0;
                if (emit_row(o, ",\n", sl, buf, json ? (size_t)n - 1 : (size_t)n) == 0) {
                    res->rows++;
                    row_cursor(buf, (size_t)n, csv, res->next_cursor, sizeof res->next_cursor);
                }
            }
        }
        PQfreemem(buf);
    }
    int rc = 0;
    while ((r = PQgetResult(c))) {
        if (PQresultStatus(r) != PGRES_COMMAND_OK && rc == 0) {
            snprintf(err, errlen, "the query: %s", PQresultErrorMessage(r));
            err[strcspn(err, "\n")] = '\0';
            rc = -1;
        }
        PQclear(r);
    }
    if (n == -2 && rc == 0) {
        core_db_error(c, "the query", err, errlen);
        rc = -1;
    }
    res->truncated = o->stopped;
    /* A page ends with its next cursor: the last row's (NULL when the page
     * was not full: nothing more). */
    bool more = paged && (o->stopped || res->rows == (uint64_t)q->limit) && res->rows > 0;
    if (!more)
        res->next_cursor[0] = '\0';
    if (json) {
        if (paged) {
            char tail[300];
            int tl = more ? snprintf(tail, sizeof tail, "],\"next_cursor\":\"%s\"}\n",
                                     res->next_cursor)
                          : snprintf(tail, sizeof tail, "],\"next_cursor\":null}\n");
            emit(o, tail, (size_t)tl);
        } else {
            emit(o, "]\n", 2);
        }
    }
    return rc;
}

static char *audit_detail(const forensics_query *q, const forensics_query_result *res,
                          const char *extra_name, const char *extra_value)
{
    static const char *const fmt[] = {"ndjson", "json", "csv"};
    cJSON *d = cJSON_CreateObject(), *f = cJSON_AddObjectToObject(d, "filter");
    cJSON_AddStringToObject(f, "since", q->since);
    cJSON_AddStringToObject(f, "until", q->until);
    for (size_t i = 0; i < N_FILTERS; i++)
        if (field(q, &k_filters[i]))
            cJSON_AddStringToObject(f, k_filters[i].name, field(q, &k_filters[i]));
    if (q->cursor)
        cJSON_AddStringToObject(f, "cursor", q->cursor);
    if (q->limit > 0)
        cJSON_AddNumberToObject(f, "limit", (double)q->limit);
    if (extra_name)
        cJSON_AddStringToObject(d, extra_name, extra_value);
    cJSON_AddStringToObject(d, "format", fmt[q->format]);
    cJSON_AddNumberToObject(d, "rows", (double)res->rows);
    cJSON_AddStringToObject(d, "sha256", res->sha256);
    cJSON_AddBoolToObject(d, "revealed", q->reveal);
    if (q->reveal)
        cJSON_AddStringToObject(d, "reason", q->reason);
    if (q->address)
        cJSON_AddStringToObject(d, "address", q->address);
    char *s = cJSON_PrintUnformatted(d);
    cJSON_Delete(d);
    return s;
}

int forensics_query_run(PGconn *c, const core_config *cfg, const forensics_query *q,
                        const char *actor, forensics_sink sink, void *ud,
                        forensics_query_result *res, char *err, size_t errlen)
{
    memset(res, 0, sizeof *res);
    if (q->reveal && (!q->reason || !q->reason[strspn(q->reason, " \t")])) {
        snprintf(err, errlen, "revealing content needs a reason");
        return 1;
    }
    if (q->limit < 0 || q->limit > cfg->fo_page_max) {
        snprintf(err, errlen, "limit must be 1 to forensics.page_max (%" PRId64 ")",
                 cfg->fo_page_max);
        return 1;
    }
    sqlbuf b = {.n = 0};
    if (build(q, &b) < 0) {
        snprintf(err, errlen, "the query is too long");
        return -1;
    }
    out_t o = {.sink = sink, .ud = ud, .md = EVP_MD_CTX_new()};
    EVP_DigestInit_ex(o.md, EVP_sha256(), NULL);
    int rc = -1;
    if (core_db_exec(c, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", err, errlen) < 0)
        goto done;
    if (core_db_exec(c, "SET LOCAL TimeZone = 'UTC'", err, errlen) < 0) {
        core_db_rollback(c);
        goto done;
    }
    rc = set_values(c, cfg, q, err, errlen);
    if (rc != 0) {
        core_db_rollback(c);
        goto done;
    }
    rc = stream(c, b.s, q, &o, res, err, errlen);
    if (rc < 0) {
        core_db_rollback(c);
        goto done;
    }
    if (core_db_commit(c, err, errlen) < 0) {
        rc = -1;
        goto done;
    }
    unsigned char md[32];
    unsigned int ml = 0;
    EVP_DigestFinal_ex(o.md, md, &ml);
    for (int i = 0; i < 32; i++)
        snprintf(res->sha256 + 2 * i, 3, "%02x", md[i]);
    res->bytes = o.bytes;
    char *d = audit_detail(q, res, q->named ? "named_query" : NULL, q->named);
    rc = !d ? -1
            : audit_append_tx(c, actor, "forensic_query", 0, NULL, d, err, errlen) < 0 ? -1 : 0;
    free(d);
done:
    EVP_MD_CTX_free(o.md);
    return rc;
}

int forensics_format_parse(const char *s)
{
    if (!s || strcmp(s, "ndjson") == 0)
        return FORENSICS_NDJSON;
    if (strcmp(s, "json") == 0)
        return FORENSICS_JSON;
    if (strcmp(s, "csv") == 0)
        return FORENSICS_CSV;
    return -1;
}
