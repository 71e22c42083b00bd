/* GET /api/v1/series: what a key or a model version did over a bounded
 * range, per step, with the detectors' baseline (analytics/an_series.c
 * holds the SQL). The incident page draws its charts from it. */
#include <stdlib.h>
#include <string.h>

#include "analytics/analytics.h"
#include "web/web_internal.h"

#define SERIES_RANGE_MAX_S (7 * 86400) /* a week at most */
#define SERIES_STEP_MIN_S 10
#define SERIES_STEP_MAX_S 86400

static const char *const k_names[] = {"api_key", "model", "version", "since", "until", "step"};
enum { A_KEY, A_MODEL, A_VERSION, A_SINCE, A_UNTIL, A_STEP, A_N };

web_result web_h_series(web_req *r)
{
    const char *v[A_N];
    if (web_args(r, k_names, A_N, v, 256) < 0)
        return WEB_CLIENT_ERROR;
    if (!v[A_KEY] == !v[A_MODEL])
        return web_reply_error(r, 400, "bad_query", "give api_key, or model and version");
    if (v[A_MODEL] ? !v[A_VERSION] : v[A_VERSION] != NULL)
        return web_reply_error(r, 400, "bad_query", "version goes with model (both or neither)");
    if (!v[A_SINCE] || !v[A_UNTIL])
        return web_reply_error(r, 400, "bad_query", "since and until are required");
    int64_t since = web_parse_time_us(v[A_SINCE]), until = web_parse_time_us(v[A_UNTIL]);
    if (since <= 0 || until <= 0)
        return web_reply_error(r, 400, "bad_query",
                               "since and until are RFC 3339 UTC times (2026-12-01T12:00:00Z)");
    if (until <= since)
        return web_reply_error(r, 400, "bad_query", "until must be after since");
    if (until - since > (int64_t)SERIES_RANGE_MAX_S * 1000000)
        return web_reply_error(r, 400, "bad_query", "the range is at most 7 days");
    int step = 60;
    if (v[A_STEP]) {
        size_t n = strlen(v[A_STEP]);
        if (n > 5 || strspn(v[A_STEP], "0123456789") != n || atoi(v[A_STEP]) < SERIES_STEP_MIN_S ||
            atoi(v[A_STEP]) > SERIES_STEP_MAX_S)
            return web_reply_error(r, 400, "bad_query", "step is %d to %d seconds",
                                   SERIES_STEP_MIN_S, SERIES_STEP_MAX_S);
        step = atoi(v[A_STEP]);
    }
    if ((until - since + (int64_t)step * 1000000 - 1) / ((int64_t)step * 1000000) >
        AN_SERIES_MAX_POINTS)
        return web_reply_error(r, 400, "bad_query",
                               "at most %d points: a longer step or a shorter range",
                               AN_SERIES_MAX_POINTS);
    an_series_query q = {
        .api_key_id = v[A_KEY],
        .model = v[A_MODEL],
        .model_version = v[A_VERSION],
        .since_us = since,
        .until_us = until,
        .step_s = step,
    };
    cJSON *out = an_series(r->db, &q, r->err, sizeof r->err);
    if (!out)
        return WEB_FAIL;
    return web_reply_json(r, 200, out);
}
