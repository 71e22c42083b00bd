/* The series that explain a detection, read for the console
 * (GET /api/v1/series): per step, the requests, tokens and refusals of one
 * key or one model version from interactions, the prompt novelty the
 * extraction detector measured (from its alerts' evidence: it is stored
 * nowhere else), and the baseline the detectors compared against (from the
 * latest alert's evidence that holds one). Nothing is estimated here: what
 * is not stored is null. The SQL is fixed text with numbered parameters. */
#include <inttypes.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "analytics/analytics.h"
#include "core/db.h"

#define TS(col) "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"

/* $1 since (us), $2 step (s), $3 points, $4 until (us), $5 key or model,
 * $6 version (model only). The subject clause is one of two fixed
 * fragments. */
#define SERIES_SQL(SUBJ, ASUBJ)                                                                  \
    "WITH agg AS ("                                                                             \
    " SELECT floor((extract(epoch FROM ts) * 1000000 - $1::bigint) / ($2::bigint * 1000000))"    \
    "::int AS k, count(*) AS requests,"                                                         \
    " coalesce(sum(coalesce(prompt_tokens, 0) + coalesce(completion_tokens, 0)), 0) AS tokens," \
    " count(*) FILTER (WHERE refusal) AS refusals"                                              \
    " FROM interactions WHERE " SUBJ " AND ts >= to_timestamp($1::bigint / 1e6)"                \
    " AND ts < to_timestamp($4::bigint / 1e6) GROUP BY 1),"                                     \
    " nov AS ("                                                                                 \
    " SELECT floor((extract(epoch FROM ts) * 1000000 - $1::bigint) / ($2::bigint * 1000000))"    \
    "::int AS k, max((evidence->>'novelty')::float8) AS novelty"                                \
    " FROM alerts WHERE " ASUBJ " AND ts >= to_timestamp($1::bigint / 1e6)"                     \
    " AND ts < to_timestamp($4::bigint / 1e6) AND jsonb_typeof(evidence->'novelty') = 'number'" \
    " GROUP BY 1)"                                                                              \
    " SELECT coalesce(json_agg(json_build_object("                                              \
    "'t', " TS("to_timestamp(($1::bigint + g::bigint * $2::bigint * 1000000) / 1e6)") ","       \
    " 'requests', coalesce(a.requests, 0), 'tokens', coalesce(a.tokens, 0),"                    \
    " 'refusals', coalesce(a.refusals, 0), 'novelty', n.novelty) ORDER BY g), '[]')::text"      \
    " FROM generate_series(0, $3::int - 1) g LEFT JOIN agg a ON a.k = g"                        \
    " LEFT JOIN nov n ON n.k = g"

static const char k_series_key[] = SERIES_SQL("api_key_id = $5", "api_key_id = $5 AND $6::text IS NULL");
static const char k_series_model[] =
    SERIES_SQL("model = $5 AND model_version = $6", "model = $5 AND model_version = $6");

/* The baseline: the latest alert before until on the subject whose
 * evidence holds one (flood: per minute; extraction: per 5 minutes). */
#define BASE_SQL(ASUBJ)                                                                         \
    "SELECT id, type, " TS("ts") ","                                                            \
    " coalesce((evidence->>'baseline_requests_per_minute')::float8,"                            \
    "  CASE WHEN (evidence->>'key_baseline_per_5min')::float8 >= 0"                              \
    "  THEN (evidence->>'key_baseline_per_5min')::float8 / 5 END),"                              \
    " (evidence->>'baseline_tokens_per_minute')::float8"                                        \
    " FROM alerts WHERE " ASUBJ " AND ts < to_timestamp($1::bigint / 1e6)"                      \
    " AND (jsonb_typeof(evidence->'baseline_requests_per_minute') = 'number'"                   \
    "  OR (jsonb_typeof(evidence->'key_baseline_per_5min') = 'number'"                          \
    "      AND (evidence->>'key_baseline_per_5min')::float8 >= 0))"                              \
    " ORDER BY ts DESC, id DESC LIMIT 1"

static const char k_base_key[] = BASE_SQL("api_key_id = $2 AND $3::text IS NULL");
static const char k_base_model[] = BASE_SQL("api_key_id IS NULL AND model = $2 AND model_version = $3");

cJSON *an_series(PGconn *c, const an_series_query *q, char *err, size_t errlen)
{
    bool key = q->api_key_id != NULL;
    if (key == (q->model != NULL) || (!key && !q->model_version) || q->step_s <= 0 ||
        q->until_us <= q->since_us) {
        snprintf(err, errlen, "series: a key or a model and version, and a range");
        return NULL;
    }
    int64_t n = (q->until_us - q->since_us + (int64_t)q->step_s * 1000000 - 1) /
                ((int64_t)q->step_s * 1000000);
    if (n > AN_SERIES_MAX_POINTS) {
        snprintf(err, errlen, "series: more than %d points", AN_SERIES_MAX_POINTS);
        return NULL;
    }
    char since[24], step[16], points[16], until[24];
    snprintf(since, sizeof since, "%" PRId64, q->since_us);
    snprintf(step, sizeof step, "%d", q->step_s);
    snprintf(points, sizeof points, "%" PRId64, n);
    snprintf(until, sizeof until, "%" PRId64, q->until_us);
    const char *subj = key ? q->api_key_id : q->model, *ver = key ? NULL : q->model_version;
    const char *p[6] = {since, step, points, until, subj, ver};
    PGresult *res = core_db_query(c, key ? k_series_key : k_series_model, 6, p,
                                  "reading the series", err, errlen);
    if (!res)
        return NULL;
    cJSON *pts = cJSON_Parse(PQgetvalue(res, 0, 0));
    PQclear(res);
    if (!pts) {
        snprintf(err, errlen, "reading the series: the database's JSON did not parse");
        return NULL;
    }
    const char *bp[3] = {until, subj, ver};
    res = core_db_query(c, key ? k_base_key : k_base_model, 3, bp, "reading the baseline", err,
                        errlen);
    if (!res) {
        cJSON_Delete(pts);
        return NULL;
    }
    cJSON *out = cJSON_CreateObject();
    cJSON_AddNumberToObject(out, "step", q->step_s);
    cJSON_AddItemToObject(out, "points", pts);
    cJSON *b = cJSON_AddObjectToObject(out, "baseline");
    if (PQntuples(res) == 1) {
        for (int i = 0; i < 2; i++) {
            const char *name = i ? "tokens_per_min" : "requests_per_min";
            if (PQgetisnull(res, 0, 3 + i))
                cJSON_AddNullToObject(b, name);
            else
                cJSON_AddNumberToObject(b, name, strtod(PQgetvalue(res, 0, 3 + i), NULL));
        }
        cJSON *src = cJSON_AddObjectToObject(b, "source");
        cJSON_AddNumberToObject(src, "alert_id", strtod(PQgetvalue(res, 0, 0), NULL));
        cJSON_AddStringToObject(src, "type", PQgetvalue(res, 0, 1));
        cJSON_AddStringToObject(src, "at", PQgetvalue(res, 0, 2));
    } else {
        cJSON_AddNullToObject(b, "requests_per_min");
        cJSON_AddNullToObject(b, "tokens_per_min");
        cJSON_AddNullToObject(b, "source");
    }
    PQclear(res);
    return out;
}
