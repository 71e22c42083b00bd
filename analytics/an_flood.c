/* Flood: request or token rates far above a key's baseline, error storms.
 * Per key: the current minute's requests, tokens and failures, and EWMA
 * baselines of earlier minutes (idle minutes count as zero). A minute fires
 * when requests reach flood_min_rpm and flood_mult x the baseline, likewise
 * for tokens. A key with under ten minutes of history has no baseline to be
 * far above (it is new, or custos restarted and lost it): only the absolute
 * flood_cold_rpm / flood_cold_tpm apply, so that every busy key is not a
 * "flood" after each restart. An error storm is
 * flood_error_min failures making flood_error_pct of the minute's requests. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "analytics/an_detectors.h"
#include "analytics/an_features.h"
#include "core/json_scan.h"

#define MIN_US (60LL * 1000000)
#define ALPHA 0.1
#define HISTORY_MIN 10

static void roll(an_fl_state *s, int64_t minute)
{
    if (s->minute == 0) {
        s->minute = minute;
        return;
    }
    if (minute <= s->minute)
        return;
    /* fold the finished minute, then the idle ones as zeros */
    s->base_n = s->minutes_seen ? (float)((1 - ALPHA) * s->base_n + ALPHA * s->n) : (float)s->n;
    s->base_tok = s->minutes_seen ? (float)((1 - ALPHA) * s->base_tok + ALPHA * (double)s->tokens)
                                  : (float)s->tokens;
    int64_t idle = minute - s->minute - 1;
    if (idle > 0) {
        double f = pow(1 - ALPHA, idle > 10000 ? 10000 : (double)idle);
        s->base_n *= (float)f;
        s->base_tok *= (float)f;
    }
    s->minutes_seen += (uint32_t)(1 + (idle > 100000 ? 100000 : idle));
    s->minute = minute;
    s->n = s->errors = 0;
    s->tokens = 0;
    s->fired_n = s->fired_tok = s->fired_err = false;
}

static void alert(an_engine *e, const an_obs *o, an_fl_state *s, const char *what, double value,
                  double base, inc_severity sev)
{
    char summary[256];
    if (strcmp(what, "error storm") == 0)
        snprintf(summary, sizeof summary,
                 "Key %.64s had %u failed requests of %u within a minute: an error storm.",
                 o->api_key_id, s->errors, s->n);
    else
        snprintf(summary, sizeof summary,
                 "Key %.64s sent %.0f %s in a minute, %.0fx its baseline: a flood.",
                 o->api_key_id, value, strcmp(what, "tokens") == 0 ? "tokens" : "requests",
                 base > 0 ? value / base : value);
    cJSON *ev = cJSON_CreateObject();
    cJSON_AddStringToObject(ev, "pattern", what);
    cJSON_AddNumberToObject(ev, "requests_per_minute", s->n);
    cJSON_AddNumberToObject(ev, "tokens_per_minute", (double)s->tokens);
    cJSON_AddNumberToObject(ev, "errors_per_minute", s->errors);
    cJSON_AddNumberToObject(ev, "baseline_requests_per_minute", round(s->base_n * 100) / 100);
    cJSON_AddNumberToObject(ev, "baseline_tokens_per_minute", round(s->base_tok));
    cJSON_AddNumberToObject(ev, "history_minutes", s->minutes_seen);
    an_alert a = {
        .type = INC_FLOOD,
        .severity = sev,
        .trigger = o,
        .first_ts = s->minute * MIN_US,
        .api_key_id = o->api_key_id,
        .model = o->model,
        .model_version = o->model_version,
        .summary = summary,
        .evidence = core_json_print_unformatted(ev), /* NULL when out of memory: none */
    };
    an_engine_alert(e, &a);
    free(a.evidence);
    cJSON_Delete(ev);
}

static void observe(void *state, an_engine *e, an_key *k, const an_obs *o)
{
    (void)state; /* all its state is the key's */
    const core_config *cfg = an_engine_cfg(e);
    an_fl_state *s = &k->fl;
    roll(s, o->ts_us / MIN_US);
    s->n++;
    int64_t tok = (o->prompt_tokens > 0 ? o->prompt_tokens : 0) +
                  (o->completion_tokens > 0 ? o->completion_tokens : 0);
    s->tokens += (uint64_t)tok;
    if (o->has_status && o->status >= 400)
        s->errors++;
    bool hist = s->minutes_seen >= HISTORY_MIN;
    double mult = (double)cfg->an_fl_mult;
    if (!s->fired_n) {
        double need = hist ? fmax((double)cfg->an_fl_min_rpm, mult * s->base_n)
                           : (double)cfg->an_fl_cold_rpm;
        if (s->n >= need) {
            s->fired_n = true;
            alert(e, o, s, "requests", s->n, s->base_n, s->n >= 3 * need ? INC_HIGH : INC_MEDIUM);
        }
    }
    if (!s->fired_tok) {
        double need = hist ? fmax((double)cfg->an_fl_min_tpm, mult * s->base_tok)
                           : (double)cfg->an_fl_cold_tpm;
        if ((double)s->tokens >= need) {
            s->fired_tok = true;
            alert(e, o, s, "tokens", (double)s->tokens, s->base_tok,
                  (double)s->tokens >= 3 * need ? INC_HIGH : INC_MEDIUM);
        }
    }
    if (!s->fired_err && s->errors >= cfg->an_fl_error_min &&
        (uint64_t)s->errors * 100 >= (uint64_t)s->n * (uint64_t)cfg->an_fl_error_pct) {
        s->fired_err = true;
        alert(e, o, s, "error storm", s->errors, 0, INC_MEDIUM);
    }
}

const an_detector an_detector_flood = {
    .name = "flood", .type = INC_FLOOD, .observe = observe};
