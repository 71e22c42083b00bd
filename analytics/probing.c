/* Probing: jailbreaks, prompt injection, system-prompt extraction,
 * obfuscation. A prompt whose signature-rule weights (plus an encoded
 * payload) reach probing_attempt_score is an attempt: the first raises a
 * low-severity incident for its key, repeated attempts within the hour raise
 * it (3: medium, 10: high, 30: critical), and a burst of near-duplicate
 * variants of one template adds a level. Weaker matches (>= 0.3) count as an
 * attempt when the model refused that prompt, or when they add up to twice
 * the threshold within the hour. Behaviour without signatures: a
 * key whose refusal rate over the last hour reaches probing_refusal_pct
 * (with at least probing_refusal_min requests) is probing too. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "analytics/engine.h"

#define BUCKET_US (600LL * 1000000)
#define NB 6
#define VARIANT_BITS 10
#define REFUSAL_REALERT_US (15LL * 60 * 1000000)
/* a rate needs enough refusals to mean something: 5 of 12 happen by chance
 * to a few users of a model that refuses 15% */
#define REFUSALS_MIN 8

static an_severity level(uint32_t attempts)
{
    return attempts >= 30 ? AN_CRITICAL : attempts >= 10 ? AN_HIGH : attempts >= 3 ? AN_MEDIUM
                                                                                    : AN_LOW;
}

void an_probing_observe(an_engine *e, an_key *k, const an_obs *o)
{
    const core_config *cfg = an_engine_cfg(e);
    an_pr_state *s = &k->pr;
    uint32_t cur = (uint32_t)(o->ts_us / BUCKET_US);
    int i = (int)(cur % NB);
    if (s->id[i] != cur) {
        s->id[i] = cur;
        s->req[i] = s->refused[i] = s->attempts[i] = s->variants[i] = s->weak[i] = 0;
    }
    if (s->req[i] < UINT16_MAX)
        s->req[i]++;
    if (o->refusal == 1 && s->refused[i] < UINT16_MAX)
        s->refused[i]++;
    bool attempt = o->probe_score * 100 + 1e-3 >= cfg->an_pr_attempt_score_pct;
    /* weaker hits add up: two or three half-clear prompts in the hour are an
     * attempt too (twice the threshold in all) */
    bool accumulated = false;
    if (!attempt && o->probe_score >= 0.3f && o->refusal == 1) {
        /* a half-clear prompt that the model refused is an attempt */
        attempt = accumulated = true;
    } else if (!attempt && o->probe_score >= 0.3f) {
        uint32_t w = (uint32_t)(o->probe_score * 100 + 0.5f);
        s->weak[i] = (uint16_t)(s->weak[i] + w > UINT16_MAX ? UINT16_MAX : s->weak[i] + w);
        uint32_t sum = 0;
        for (int j = 0; j < NB; j++)
            if (s->id[j] + NB > cur && s->id[j] <= cur)
                sum += s->weak[j];
        if (sum > w && sum >= 2 * (uint32_t)cfg->an_pr_attempt_score_pct) {
            attempt = accumulated = true;
            for (int j = 0; j < NB; j++)
                s->weak[j] = 0; /* counted: the next attempt needs new evidence */
        }
    }
    /* a variant: close to one of the key's recent prompts (the extraction
     * ring, which has not seen this prompt yet) */
    bool variant = false;
    if (attempt && o->has_prompt)
        for (int j = 0; j < k->ex.ring_n && !variant; j++)
            variant = an_hamming(k->ex.ring[j], o->simhash) <= VARIANT_BITS;
    if (attempt && s->attempts[i] < UINT16_MAX)
        s->attempts[i]++;
    if (variant && s->variants[i] < UINT16_MAX)
        s->variants[i]++;
    uint32_t req = 0, ref = 0, att = 0, var = 0;
    for (int j = 0; j < NB; j++)
        if (s->id[j] + NB > cur && s->id[j] <= cur) {
            req += s->req[j];
            ref += s->refused[j];
            att += s->attempts[j];
            var += s->variants[j];
        }
    const char *pattern = NULL;
    an_severity sev = AN_LOW;
    if (attempt) {
        s->total_attempts++;
        sev = level(att);
        if (var >= 5 && sev < AN_CRITICAL)
            sev++;
        pattern = var >= 5 ? "variant burst" : accumulated ? "accumulated signatures" : "signature";
    } else if (req >= cfg->an_pr_refusal_min && ref >= REFUSALS_MIN &&
               ref * 100 >= req * cfg->an_pr_refusal_pct &&
               o->refusal == 1 &&
               (!s->last_refusal_alert || o->ts_us - s->last_refusal_alert >= REFUSAL_REALERT_US)) {
        s->last_refusal_alert = o->ts_us;
        sev = AN_MEDIUM;
        pattern = "refusal rate";
    }
    if (!pattern)
        return;
    char summary[256];
    if (attempt)
        snprintf(summary, sizeof summary,
                 "Key %.64s sent %u jailbreak or prompt-injection attempt%s in the last hour "
                 "(latest matched %d rule%s).",
                 o->api_key_id, att, att == 1 ? "" : "s", o->n_rules, o->n_rules == 1 ? "" : "s");
    else
        snprintf(summary, sizeof summary,
                 "Key %.64s had %u of %u requests refused in the last hour: it is probing the "
                 "model's guardrails.",
                 o->api_key_id, ref, req);
    cJSON *ev = cJSON_CreateObject();
    cJSON_AddStringToObject(ev, "pattern", pattern);
    cJSON_AddNumberToObject(ev, "attempts_1h", att);
    cJSON_AddNumberToObject(ev, "variants_1h", var);
    cJSON_AddNumberToObject(ev, "requests_1h", req);
    cJSON_AddNumberToObject(ev, "refusals_1h", ref);
    cJSON_AddNumberToObject(ev, "attempts_total", s->total_attempts);
    cJSON_AddNumberToObject(ev, "probe_score", round(o->probe_score * 100) / 100);
    cJSON_AddBoolToObject(ev, "encoded_payload", o->encoded);
    an_alert a = {
        .type = AN_PROBING,
        .severity = sev,
        .trigger = o,
        .first_ts = o->ts_us,
        .api_key_id = o->api_key_id,
        .model = o->model,
        .model_version = o->model_version,
        .summary = summary,
        .evidence = ev,
    };
    const an_rules *rules = an_engine_rules(e);
    for (int j = 0; j < o->n_rules; j++)
        a.rules[a.n_rules++] = an_rules_get(rules, o->rules[j]);
    an_engine_alert(e, &a);
    cJSON_Delete(a.evidence);
}
