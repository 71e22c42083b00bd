/* Probing: jailbreaks, prompt injection, system-prompt extraction,
 * obfuscation. A prompt whose signature-rule weights (plus an encoded
 * payload) reach probing_attempt_score is a strong signal, an attempt: the
 * first raises a low-severity incident for its key, repeated attempts within
 * the hour raise it (3: medium, 10: high, 30: critical), and a burst of
 * near-duplicate variants of one template adds a level. A weaker match
 * (>= 0.3) is one weak signal: alone, refused or not, repeated or not, it is
 * an alert that opens no incident (a benign question naming GPT-4 matches
 * jb.assistant-meta, and models refuse some of those). Weak hits of at least
 * two different rules, on at least two prompts within the hour, whose
 * weights reach the attempt score together, corroborate each other once the
 * model refused one of the key's requests in the hour (weak hits alone are
 * one kind of evidence, which a user's style repeats): an attempt. A weak
 * hit while the key's incident is still open (within the quiet period)
 * joins it as an attempt. Behaviour
 * without signatures: a key whose refusal rate over the last hour reaches
 * probing_refusal_pct (with at least probing_refusal_min requests) is
 * probing too. The learned detector (an_learned.c) is one more signal: its
 * score at the model's threshold counts like a weak match (corroborated by a
 * weak signature on the prompt, another such prompt of the key, or an open
 * incident; alone an alert), at its strong threshold it is an attempt. Every
 * summary names the signals that fired. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analytics/an_detectors.h"
#include "analytics/an_features.h"
#include "analytics/an_learned.h"
#include "core/json_scan.h"

#define BUCKET_US (600LL * 1000000)
#define NB 6
#define VARIANT_BITS 10
#define REFUSAL_REALERT_US (15LL * 60 * 1000000)
/* a rate needs enough refusals to mean something: 5 of 12 happen by chance
 * to a few users of a model that refuses 15% */
#define REFUSALS_MIN 8

static inc_severity level(uint32_t attempts)
{
    return attempts >= 30 ? INC_CRITICAL : attempts >= 10 ? INC_HIGH : attempts >= 3 ? INC_MEDIUM
                                                                                    : INC_LOW;
}

#define WEAK_MIN 0.3f

/* The pattern of a learned score corroborated by a planted instruction:
 * learned_how names it, raise_alert adds its signal. */
static const char k_planted_pattern[] = "learned detector and planted instruction";

static const an_pr_rare k_none; /* what a key that never fired a signal reads */

/* The key's signal state, allocated at its first signal (NULL when out of
 * memory: the signal is then not remembered). */
static an_pr_rare *rare_of(an_engine *e, an_pr_state *s)
{
    if (!s->rare && (s->rare = calloc(1, sizeof *s->rare)))
        an_engine_key_bytes(e, sizeof *s->rare);
    return s->rare;
}

/* Records the weak prompt's rules; true when the weak hits of the hour now
 * corroborate each other (>= 2 rules, >= 2 prompts, weights together >= the
 * attempt score) and refused (the model refused one of the key's requests
 * in the hour). The rules that did are put in out (the caller's). */
static bool corroborated(const an_rules *rules, an_pr_rare *s, const an_obs *o, uint32_t cur,
                         double need, uint32_t req, int64_t share_pct, bool refused,
                         const an_rule **out, int *nout, int64_t *first_ts)
{
    uint32_t serial = ++s->weak_prompts;
    for (int j = 0; j < o->n_rules; j++) {
        s->wk_rule[s->wk_i] = o->rules[j];
        s->wk_ts[s->wk_i] = o->ts_us;
        s->wk_prompt[s->wk_i] = serial;
        s->wk_i = (uint8_t)((s->wk_i + 1) % AN_PR_WEAK);
        if (s->wk_n < AN_PR_WEAK)
            s->wk_n++;
    }
    uint16_t seen[AN_PR_WEAK];
    int nseen = 0;
    uint32_t last_prompt = 0, nprompts = 0;
    double sum = 0;
    int64_t first = o->ts_us;
    for (int j = 0; j < s->wk_n; j++) {
        uint32_t b = (uint32_t)(s->wk_ts[j] / BUCKET_US);
        if (b + NB <= cur || b > cur)
            continue; /* older than the hour */
        if (s->wk_ts[j] < first)
            first = s->wk_ts[j];
        if (s->wk_prompt[j] != last_prompt) /* a prompt's rules are stored together */
            nprompts++;
        last_prompt = s->wk_prompt[j];
        bool dup = false;
        for (int m = 0; m < nseen && !dup; m++)
            dup = seen[m] == s->wk_rule[j];
        if (dup)
            continue;
        seen[nseen++] = s->wk_rule[j];
        sum += an_rules_get(rules, s->wk_rule[j])->weight;
    }
    /* two rules on two prompts reaching the attempt score together, and
     * not a chance meeting: a busy key's thousand prompts an hour hold a few
     * weak matches anyway (about 1 % of benign prompts match one) */
    if (!refused || nseen < 2 || nprompts < 2 || sum * 100 + 1e-3 < need ||
        (uint64_t)nprompts * 100 < (uint64_t)req * (uint64_t)share_pct)
        return false;
    *nout = 0;
    for (int m = 0; m < nseen && *nout < AN_OBS_RULES_MAX; m++)
        out[(*nout)++] = an_rules_get(rules, seen[m]);
    *first_ts = first;
    s->wk_n = s->wk_i = 0; /* counted: the next corroboration needs new evidence */
    return true;
}

/* s at buf + *k as snprintf(buf + *k, cap - *k, "%s", s) writes it (cut
 * to the room left), *k moved on by its whole length. */
static void put_cut(char *buf, size_t cap, size_t *k, const char *s)
{
    size_t n = strlen(s), room = cap - *k - 1;
    memcpy(buf + *k, s, n < room ? n : room);
    buf[*k + (n < room ? n : room)] = '\0';
    *k += n;
}

/* "a, b and c" of the rules' ids into buf (a storm raises this per event:
 * by hand, not printf). */
static void rule_list(char *buf, size_t cap, const an_rule *const *r, int n)
{
    size_t k = 0;
    buf[0] = '\0';
    for (int j = 0; j < n && k + 1 < cap; j++) {
        put_cut(buf, cap, &k, j == 0 ? "" : j == n - 1 ? " and " : ", ");
        if (k + 1 < cap)
            put_cut(buf, cap, &k, r[j]->id);
        else
            k += strlen(r[j]->id);
    }
}

/* What one probing alert says. */
typedef struct {
    const char *pattern;
    inc_severity sev;
    const char *summary;
    const an_rule *const *fired; /* the rules it names */
    int nfired;
    int64_t first_ts;
    bool alert_only;
    uint32_t att, var, req, ref; /* the last hour: attempts, variants, requests, refusals */
} pr_alert;

/* Raises alert pa (its evidence built here). */
static void raise_alert(an_engine *e, const an_pr_rare *s, const an_obs *o, const pr_alert *pa)
{
    const char *pattern = pa->pattern;
    const an_rule *const *fired = pa->fired;
    int nfired = pa->nfired;
    uint32_t att = pa->att, var = pa->var, req = pa->req, ref = pa->ref;
    /* The evidence, written as cJSON_PrintUnformatted wrote the tree it was
     * built as before (these members in this order): a storm raises one
     * alert per event, and building, printing and freeing the tree was a
     * tenth of its analytics. */
    core_json_buf b;
    core_json_buf_init(&b);
#define PUT_LIT(lit) core_json_buf_put(&b, lit, sizeof lit - 1)
    PUT_LIT("{\"pattern\":");
    core_json_put_string(&b, pattern, strlen(pattern));
    static const char *const k_counts[] = {",\"attempts_1h\":", ",\"variants_1h\":",
                                           ",\"requests_1h\":", ",\"refusals_1h\":",
                                           ",\"attempts_total\":"};
    double counts[] = {att, var, req, ref, (double)s->total_attempts};
    for (int k = 0; k < 5; k++) {
        core_json_buf_put(&b, k_counts[k], strlen(k_counts[k]));
        core_json_put_number(&b, counts[k]);
    }
    PUT_LIT(",\"probe_score\":");
    core_json_put_number(&b, round(o->probe_score * 100) / 100);
    if (o->encoded)
        PUT_LIT(",\"encoded_payload\":true");
    else
        PUT_LIT(",\"encoded_payload\":false");
    if (o->learned_level > 0) {
        PUT_LIT(",\"learned_score\":");
        core_json_put_number(&b, round(1000 / (1 + exp(-(double)o->learned))) / 1000);
        cJSON *top = o->learned_top ? cJSON_Parse(o->learned_top) : NULL;
        if (top) {
            PUT_LIT(",\"learned_top\":");
            if (core_json_print_cjson(&b, top) < 0)
                b.oom = true;
            cJSON_Delete(top);
        }
        if (o->learned_planted) {
            PUT_LIT(",\"learned_planted\":");
            core_json_put_string(&b, o->learned_planted, strlen(o->learned_planted));
        }
    }
    PUT_LIT(",\"signals\":[");
    bool first = true;
#define SIGNAL(str)                                                                                \
    do {                                                                                           \
        if (!first)                                                                                \
            core_json_buf_put(&b, ",", 1);                                                         \
        first = false;                                                                             \
        core_json_put_string(&b, (str), strlen(str));                                              \
    } while (0)
    for (int j = 0; j < nfired; j++)
        SIGNAL(fired[j]->id);
    if (strcmp(pattern, "refusal rate") == 0)
        SIGNAL("refusal rate");
    if (o->learned_level > 0)
        SIGNAL("learned score");
    if (strcmp(pattern, k_planted_pattern) == 0)
        SIGNAL("planted instruction");
#undef SIGNAL
#undef PUT_LIT
    core_json_buf_put(&b, "]}", 2);
    char *ev = b.oom ? NULL : core_json_buf_take(&b); /* NULL: no evidence, as before */
    core_json_buf_free(&b);
    an_alert a = {
        .type = INC_PROBING,
        .severity = pa->sev,
        .trigger = o,
        .first_ts = pa->first_ts,
        .api_key_id = o->api_key_id,
        .model = o->model,
        .model_version = o->model_version,
        .summary = pa->summary,
        .evidence = ev,
        .alert_only = pa->alert_only,
    };
    for (int j = 0; j < nfired; j++)
        a.rules[a.n_rules++] = fired[j];
    an_engine_alert(e, &a);
    free(a.evidence);
}

/* The key's requests in the last hour (the buckets still current), and how
 * many of them the model refused. */
static uint32_t req_hour(const an_pr_state *s, uint32_t cur, uint32_t *refused)
{
    uint32_t req_h = 0, ref_h = 0;
    for (int j = 0; j < NB; j++)
        if (s->id[j] + NB > cur && s->id[j] <= cur) {
            req_h += s->req[j];
            ref_h += s->refused[j];
        }
    *refused = ref_h;
    return req_h;
}

/* The learned detector (an_learned.c) on a prompt no signature made an
 * attempt: at its strong threshold an attempt by itself; at its threshold
 * one signal, corroborated by a weak signature on the same prompt, by an
 * instruction its structure features found planted in the prompt's carried
 * content (an imperative addressed to the assistant inside the e-mail,
 * document or table the prompt carries: an_learned_planted), by
 * another learned or weak-signature prompt of the key in the hour (when the
 * two are at least probing_weak_share_pct of its requests: a busy key meets
 * them by chance), or by its open incident. The same prompt again (its
 * sketch equal to one of the key's last 16, a retry or a favourite
 * question) is a repeat: neither another learned prompt nor the open
 * incident corroborates it. req_h: the key's requests in the hour. Returns
 * how the attempt is named, or NULL with *alone set: alone it raises an
 * alert. */
static const char *learned_how(const core_config *cfg, const an_key *k, const an_obs *o,
                               uint32_t cur, uint32_t req_h, bool weak, bool *alone)
{
    const an_pr_state *ps = &k->pr;
    const an_pr_rare *s = ps->rare ? ps->rare : &k_none;
    bool open = s->last_incident_alert &&
                o->ts_us - s->last_incident_alert <= cfg->an_incident_quiet_ms * 1000;
    bool other = s->learned_ts && o->ts_us - s->learned_ts < NB * BUCKET_US;
    for (int j = 0; j < s->wk_n && !other; j++) {
        uint32_t b = (uint32_t)(s->wk_ts[j] / BUCKET_US);
        other = b + NB > cur && b <= cur;
    }
    bool repeat = false;
    for (int j = 0; j < k->ex.ring_n && o->has_prompt && !repeat; j++)
        repeat = an_ex_ring_at(&k->ex, j) == o->simhash;
    if (o->learned_level == 2)
        return "learned detector";
    if (weak)
        return "learned detector and weak signature";
    if (o->learned_planted)
        return k_planted_pattern;
    if (open && !repeat)
        return "learned score, incident open";
    if (other && !repeat && 200 >= (uint64_t)req_h * (uint64_t)cfg->an_pr_weak_share_pct)
        return "learned detector, corroborated";
    *alone = true;
    return NULL;
}

static void observe(void *state, an_engine *e, an_key *k, const an_obs *o)
{
    (void)state; /* all its state is the key's */
    const core_config *cfg = an_engine_cfg(e);
    const an_rules *rules = an_engine_rules(e);
    an_pr_state *s = &k->pr;
    uint32_t cur = (uint32_t)(o->ts_us / BUCKET_US);
    int i = (int)(cur % NB);
    if (s->id[i] != cur) {
        s->id[i] = cur;
        s->req[i] = s->refused[i] = s->attempts[i] = s->variants[i] = 0;
    }
    if (s->req[i] < UINT16_MAX)
        s->req[i]++;
    if (o->refusal == 1 && s->refused[i] < UINT16_MAX)
        s->refused[i]++;
    bool attempt = o->probe_score * 100 + 1e-3 >= cfg->an_pr_attempt_score_pct;
    bool weak = !attempt && o->probe_score >= WEAK_MIN && o->n_rules > 0;
    /* the rules the alert names: this prompt's, or those that corroborated */
    const an_rule *fired[AN_OBS_RULES_MAX];
    int nfired = 0;
    for (int j = 0; j < o->n_rules; j++)
        fired[nfired++] = an_rules_get(rules, o->rules[j]);
    const char *how = attempt ? "signature" : NULL;
    int64_t first_ts = o->ts_us;
    uint32_t ref, req = req_hour(s, cur, &ref); /* this event counted */
    an_pr_rare *w = NULL; /* the signal state, once a signal needs it */
    if (weak && (w = rare_of(e, s))) {
        bool open = w->last_incident_alert &&
                    o->ts_us - w->last_incident_alert <= cfg->an_incident_quiet_ms * 1000;
        if (corroborated(rules, w, o, cur, cfg->an_pr_attempt_score_pct, req,
                         cfg->an_pr_weak_share_pct, ref > 0, fired, &nfired, &first_ts))
            how = "corroborated signatures";
        else if (open)
            how = "weak signature, incident open";
        attempt = how != NULL;
    }
    bool learned_alone = false;
    if (o->learned_level > 0) {
        if (!attempt) {
            how = learned_how(cfg, k, o, cur, req, weak, &learned_alone);
            attempt = how != NULL;
        }
        if ((w = rare_of(e, s)))
            w->learned_ts = o->ts_us;
    }
    /* a variant: close to one of the key's recent prompts (the extraction
     * ring, which has not seen this prompt yet) */
    bool variant = false;
    if (attempt && o->has_prompt)
        for (int j = 0; j < k->ex.ring_n && !variant; j++)
            variant = an_hamming(an_ex_ring_at(&k->ex, j), o->simhash) <= VARIANT_BITS;
    if (attempt && s->attempts[i] < UINT16_MAX)
        s->attempts[i]++;
    if (variant && s->variants[i] < UINT16_MAX)
        s->variants[i]++;
    uint32_t att = 0, var = 0;
    for (int j = 0; j < NB; j++)
        if (s->id[j] + NB > cur && s->id[j] <= cur) {
            att += s->attempts[j];
            var += s->variants[j];
        }
    const char *pattern = NULL;
    inc_severity sev = INC_LOW;
    char summary[512], names[320];
    rule_list(names, sizeof names, fired, nfired);
    if (o->learned_level > 0) {
        size_t nl = strlen(names);
        snprintf(names + nl, sizeof names - nl, "%slearned score %.3f", nl ? " and " : "",
                 1 / (1 + exp(-(double)o->learned)));
        nl = strlen(names);
        if (o->learned_planted)
            snprintf(names + nl, sizeof names - nl,
                     ", an instruction planted in the content it carries (%s: %s)",
                     o->learned_planted, an_learned_planted_text(o->learned_planted));
    }
    if (attempt && (w = rare_of(e, s)))
        w->total_attempts++;
    const an_pr_rare *rd = s->rare ? s->rare : &k_none;
    if (attempt) {
        sev = level(att);
        if (var >= 5 && sev < INC_CRITICAL)
            sev++;
        pattern = var >= 5 ? "variant burst" : how;
        snprintf(summary, sizeof summary,
                 "Key %.64s sent %u jailbreak or prompt-injection attempt%s in the last hour; "
                 "%s: %s%s.",
                 o->api_key_id, att, att == 1 ? "" : "s",
                 strcmp(how, "corroborated signatures") == 0
                     ? "weak signatures on different prompts corroborate each other"
                 : strcmp(how, "signature") == 0 ? "the latest matched"
                 : strcmp(how, "weak signature, incident open") == 0
                     ? "a weak signature while its incident is open"
                     : how,
                 names, var >= 5 ? ", as one of several near-duplicate variants" : "");
    } else if (req >= cfg->an_pr_refusal_min && ref >= REFUSALS_MIN &&
               ref * 100 >= req * cfg->an_pr_refusal_pct &&
               o->refusal == 1 &&
               (!rd->last_refusal_alert || o->ts_us - rd->last_refusal_alert >= REFUSAL_REALERT_US) &&
               (w = rare_of(e, s))) {
        w->last_refusal_alert = o->ts_us;
        sev = INC_MEDIUM;
        pattern = "refusal rate";
        nfired = 0;
        snprintf(summary, sizeof summary,
                 "Key %.64s had %u of %u requests refused in the last hour: it is probing the "
                 "model's guardrails (refusal rate).",
                 o->api_key_id, ref, req);
    } else if (learned_alone) {
        pattern = "learned score";
        snprintf(summary, sizeof summary,
                 "Key %.64s sent a prompt the learned detector flags (%s)%s; alone that is no "
                 "incident.",
                 o->api_key_id, names, o->refusal == 1 ? ", refused" : "");
    } else if (weak) {
        pattern = "weak signature";
        snprintf(summary, sizeof summary,
                 "Key %.64s sent a prompt matching only weak signatures (%s)%s; alone that is "
                 "no incident.",
                 o->api_key_id, names, o->refusal == 1 ? ", refused" : "");
    }
    if (!pattern)
        return;
    bool alert_only = !attempt && (strcmp(pattern, "weak signature") == 0 ||
                                   strcmp(pattern, "learned score") == 0);
    if (!alert_only && (w = rare_of(e, s)))
        w->last_incident_alert = o->ts_us;
    pr_alert pa = {pattern, sev, summary, fired, nfired, first_ts, alert_only, att, var, req, ref};
    raise_alert(e, s->rare ? s->rare : &k_none, o, &pa);
}

const an_detector an_detector_probing = {
    .name = "probing", .type = INC_PROBING, .observe = observe};
