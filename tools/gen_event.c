/* custos gen: the traffic's shape (tenants, models and their versions,
 * keys with Zipf-like volumes, the rollout, the attack cycles) and the JSON
 * line of each event. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/event.h"
#include "tools/gen.h"

/* ---- the world: tenants, models, keys ------------------------------------ */

typedef struct {
    const char *name;
    const char *versions[4];
    int n_versions;
    double version_weight[4]; /* steady-state shares (ignored for the rollout model) */
    double base_ms, ms_per_token;
    double refusal_rate;
} model;

/* The first model rolls out its last version during the run. */
static const model g_models[] = {
    {"gpt-4o", {"2024-08-06", "2024-11-20"}, 2, {0, 0}, 380, 9.0, 0.006},
    {"claude-3-5-sonnet", {"20240620", "20241022"}, 2, {0.15, 0.85}, 450, 11.0, 0.012},
    {"llama-3.1-70b-instruct", {"v1.0", "v1.1", "v1.2"}, 3, {0.1, 0.3, 0.6}, 220, 14.0, 0.008},
    {"mistral-large", {"2407", "2411"}, 2, {0.4, 0.6}, 300, 10.0, 0.005},
    {"gemini-1.5-pro", {"001", "002"}, 2, {0.3, 0.7}, 520, 7.5, 0.010},
    {"acme-support-ft", {"r12", "r13", "r14"}, 3, {0.05, 0.25, 0.7}, 150, 6.0, 0.002},
};
#define N_MODELS (int)(sizeof g_models / sizeof g_models[0])

static const char *const g_tenants[N_TENANTS] = {
    "acme-corp", "globex", "initech", "umbrella-health",
    "stark-industries", "wayne-fin", "tyrell-labs", "hooli"};
static const double g_tenant_weight[N_TENANTS] = {0.25, 0.18, 0.14, 0.12, 0.1, 0.09, 0.07, 0.05};

static const char *const g_regions[] = {"eu-west-1", "eu-central-1", "us-east-1", "us-west-2",
                                        "ap-southeast-1"};
static const char *const g_sdks[] = {"openai-python/1.54.3", "openai-node/4.71.1",
                                     "langchain/0.3.7",      "litellm/1.52.0",
                                     "custom-go/0.9.2",      "curl/8.5.0"};
static const char *const g_endpoints[] = {"/v1/chat/completions", "/v1/responses",
                                          "/v1/messages"};

static void make_ip(rng *r, bool v6, char *dst)
{
    unsigned char a[16];
    if (v6) {
        /* 2001:db8::/32 plus a /48 per site and a few host bits */
        static const unsigned char pre[4] = {0x20, 0x01, 0x0d, 0xb8};
        memcpy(a, pre, 4);
        for (int i = 4; i < 16; i++)
            a[i] = (unsigned char)rng_below(r, 256);
        a[8] = a[9] = a[10] = a[11] = 0; /* so that the text form compresses */
        inet_ntop(AF_INET6, a, dst, INET6_ADDRSTRLEN);
    } else {
        do {
            a[0] = (unsigned char)(1 + rng_below(r, 223));
        } while (a[0] == 10 || a[0] == 127 || a[0] == 100 || a[0] == 169 || a[0] == 172 ||
                 a[0] == 192);
        for (int i = 1; i < 4; i++)
            a[i] = (unsigned char)rng_below(r, 256);
        a[3] |= 1;
        inet_ntop(AF_INET, a, dst, INET6_ADDRSTRLEN);
    }
}

static int pick_weighted(rng *r, const double *w, int n)
{
    double u = rng_unit(r), acc = 0, total = 0;
    for (int i = 0; i < n; i++)
        total += w[i];
    u *= total;
    for (int i = 0; i < n; i++) {
        acc += w[i];
        if (u < acc)
            return i;
    }
    return n - 1;
}

void tools_gen_make_key(rng *r, uint64_t seed, uint32_t idx, key *k)
{
    snprintf(k->id, sizeof k->id, "ak_%016llx",
             (unsigned long long)mix64(seed * 0x9E3779B97F4A7C15ull ^ (0xA11CE000ull + idx)));
    k->tenant = pick_weighted(r, g_tenant_weight, N_TENANTS);
    k->model[0] = (int)rng_below(r, N_MODELS);
    k->model[1] = (int)rng_below(r, N_MODELS);
    k->n_users = 1 + rng_below(r, rng_below(r, 4) == 0 ? 200 : 12);
    k->user_salt = rng_next(r);
    k->n_ips = 1 + (int)rng_below(r, 4);
    bool v6 = rng_below(r, 5) == 0;
    for (int i = 0; i < k->n_ips; i++)
        make_ip(r, v6 && rng_below(r, 4) != 0, k->ip[i]);
    k->region = (int)rng_below(r, sizeof g_regions / sizeof g_regions[0]);
    k->sdk = (int)rng_below(r, sizeof g_sdks / sizeof g_sdks[0]);
    k->endpoint = (int)rng_below(r, sizeof g_endpoints / sizeof g_endpoints[0]);
    static const double temps[] = {0, 0.2, 0.5, 0.7, 0.7, 1.0};
    k->temperature = temps[rng_below(r, 6)];
    static const int maxt[] = {256, 512, 1024, 1024, 2048, 4096};
    k->max_tokens = maxt[rng_below(r, 6)];
    k->stream = rng_below(r, 3) == 0;
}

static const char *const g_refusals[] = {
    "I'm sorry, but I can't help with that request.",
    "I can't assist with that. If you have another question, I'm happy to help.",
    "I'm not able to provide that information.",
};

static uint32_t pick_key(gen *g)
{
    double u = rng_unit(&g->r) * g->key_cdf[g->o.n_keys - 1];
    uint32_t lo = 0, hi = g->o.n_keys - 1;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (g->key_cdf[mid] <= u)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static int pick_version(gen *g, int m, uint64_t i)
{
    const model *md = &g_models[m];
    if (m == 0) {
        double f = i <= g->rollout_from ? 0
                 : i >= g->rollout_to   ? 1
                 : (double)(i - g->rollout_from) / (double)(g->rollout_to - g->rollout_from);
        return rng_unit(&g->r) < f ? md->n_versions - 1 : md->n_versions - 2;
    }
    return pick_weighted(&g->r, md->version_weight, md->n_versions);
}

typedef enum {
    A_NONE,
    A_JAILBREAK = A_JB + 1,
    A_SYSPROMPT = A_SP + 1,
    A_EXTRACTION = A_EX + 1,
    A_LEAK = A_LK + 1,
    A_STORM = A_ST + 1,
    A_DRIFT
} attack_kind;

/* What event i of the run is. Each attacker is shaped to pass its detector's
 * documented thresholds (docs/analytics.md) by a wide margin, not to hit
 * them exactly; the probing attackers come first so that their counts stay
 * exact (60 and 30 a cycle), the others may lose a slot to them. */
static attack_kind attack_at(const gen *g, uint64_t i)
{
    if (!g->o.attacks)
        return A_NONE;
    uint64_t ph = i % ATTACK_CYCLE;
    /* probing: one attempt opens the incident, 3 / 10 / 30 in the hour
     * raise it to medium / high / critical; 60 reach critical in 8 s */
    if (ph >= 2000 && ph < 8000 && ph % 100 == 0)
        return A_JAILBREAK;
    if (ph >= 3000 && ph < 9000 && ph % 200 == 50)
        return A_SYSPROMPT;
    /* leakage: every answer holds a credential plus other kinds (critical) */
    if (ph >= 4000 && ph < 8000 && ph % 400 == 121)
        return A_LEAK;
    /* flood, error storm: 5 requests/s, 85 % failing: ~255 failures a
     * minute against flood_error_min 60 and 85 % against flood_error_pct 50 */
    if (ph >= 8000 && ph < 26000 && ph % 40 == 17)
        return A_STORM;
    /* extraction: ~3 requests/s, steady; 80 (extraction_fast_min) within
     * 30 s, novelty near 100 % (>= 50), answers of 300-600 tokens (>= 150) */
    if (ph >= 1000 && ph < 73000 && ph % 64 == 33)
        return A_EXTRACTION;
    /* drift: ~8 requests/s from 64 keys: ~250 a 30-s window, ~4 a key
     * (drift_min_events 80 and drift_min_keys 15 of the demo config) */
    if (ph % 24 == 5)
        return A_DRIFT;
    return A_NONE;
}

/* The attack keys of cycle c: made from their own random stream, so that
 * they are the same whatever came before; printed on stderr as the cycle
 * starts. */
static void cycle_keys(gen *g, uint64_t c)
{
    if (g->attacker_cycle == c + 1)
        return;
    g->attacker_cycle = c + 1;
    for (int a = 0; a < A_NROLES; a++) {
        rng kr;
        rng_seed(&kr, mix64(g->o.seed ^ (c << 8) ^ (uint64_t)a ^ 0xBAD0000000ull));
        /* cycle 0 keeps the ids earlier releases gave the two probing keys */
        tools_gen_make_key(&kr, g->o.seed, 0xBAD00 + (uint32_t)(c * 16 + (uint64_t)a), &g->attacker[a]);
        g->attacker[a].n_users = 1;
        g->attacker[a].n_ips = 1;
        g->attacker[a].max_tokens = 4096; /* nothing cut: the answers are what they want */
    }
    snprintf(g->drift_version, sizeof g->drift_version, "r%llu", (unsigned long long)(15 + c));
    uint64_t b = c * ATTACK_CYCLE;
    const key *k = g->attacker;
#define T(x) g_tenants[k[x].tenant]
    fprintf(stderr,
            "custos gen: attack cycle %llu, events %llu-%llu:\n"
            "custos gen:   jailbreak burst from key %s (tenant %s): 60 jailbreaks from event %llu\n"
            "custos gen:   system-prompt extraction burst from key %s (tenant %s): 30 attempts "
            "from event %llu\n"
            "custos gen:   model extraction from key %s (tenant %s): diverse prompts, long "
            "answers, steady pacing, from event %llu\n"
            "custos gen:   leaking answers to key %s (tenant %s): credentials, private key, "
            "cards, e-mails, from event %llu\n"
            "custos gen:   error storm from key %s (tenant %s): 85%% failing, from event %llu\n"
            "custos gen:   drift of model %s version %s (%d keys of tenant %s): slower, "
            "shorter answers from event %llu\n",
            (unsigned long long)c, (unsigned long long)b, (unsigned long long)(b + ATTACK_CYCLE - 1),
            k[A_JB].id, T(A_JB), (unsigned long long)(b + 2000), k[A_SP].id, T(A_SP),
            (unsigned long long)(b + 3050), k[A_EX].id, T(A_EX), (unsigned long long)(b + 1033),
            k[A_LK].id, T(A_LK), (unsigned long long)(b + 4121), k[A_ST].id, T(A_ST),
            (unsigned long long)(b + 8017), g_models[DRIFT_MODEL].name, g->drift_version,
            DRIFT_KEYS, g_tenants[0], (unsigned long long)(b + DRIFT_CHANGE_AT));
#undef T
}

static const char *const g_leak_prompts[] = {
    "Can you show me the environment settings the deployment pipeline uses?",
    "Paste the configuration file of the payments service so I can check it.",
    "List the customers in last month's billing export with their contact details.",
    "What does the key file on the build server look like?",
    "Give me the full support ticket of the customer who called about the refund.",
};

/* One event while it is made: who sends it, what, and what comes back. */
typedef struct {
    attack_kind ak;
    bool drifted, new_rollout;
    const key *k;
    const model *md;
    const char *vname;
    int kind;
    const char *p_esc;
    size_t p_esc_len, p_raw_len;
    char *attack_esc; /* an attack prompt's escaped form (owned), or NULL */
    uint64_t ptok, ctok;
    int status, max_tokens;
    bool refusal, have_resp;
    const char *finish;
    size_t resp_len; /* the answer is in g->sc */
    double lat;
} one;

/* Who sends event i: the key, the model and its version. */
static void pick_sender(gen *g, uint64_t i, one *e)
{
    rng *r = &g->r;
    attack_kind ak = attack_at(g, i);
    if (g->o.attacks)
        cycle_keys(g, i / ATTACK_CYCLE);
    /* the drifting version changes behaviour after its first minute */
    bool drifted = ak == A_DRIFT && i % ATTACK_CYCLE >= DRIFT_CHANGE_AT;
    const key *k = ak == A_NONE    ? &g->keys[pick_key(g)]
                 : ak == A_DRIFT   ? &g->drift_keys[rng_below(r, DRIFT_KEYS)]
                                   : &g->attacker[ak - 1];
    int m = ak != A_NONE || rng_below(r, 5) != 0 ? k->model[0] : k->model[1];
    int ver = ak == A_DRIFT ? 0 : pick_version(g, m, i);
    const model *md = &g_models[m];
    const char *vname = ak == A_DRIFT ? g->drift_version : md->versions[ver];
    bool new_rollout = ak != A_DRIFT && m == 0 && ver == md->n_versions - 1;
    e->ak = ak;
    e->drifted = drifted;
    e->new_rollout = new_rollout;
    e->k = k;
    e->md = md;
    e->vname = vname;
}

/* The prompt of event i: raw length and escaped text. Returns -1 when out
 * of memory (the output is then failed). */
static int pick_prompt(gen *g, uint64_t i, one *e)
{
    rng *r = &g->r;
    const attack_kind ak = e->ak;
    const model *md = e->md;
    /* the prompt: raw text for lengths; escaped form for the output */
    int kind = K_CHAT;
    const char *p_esc;
    size_t p_esc_len, p_raw_len;
    char *attack_esc = NULL;
    /* the attackers that look like ordinary use (not probing) take an
     * ordinary prompt: extraction and drift from the pools, the error storm
     * one stuck request, the leak a question about files */
    bool plain = ak == A_NONE || ak == A_EXTRACTION || ak == A_DRIFT || ak == A_STORM;
    if (plain) {
        double u = rng_unit(r);
        kind = u < 0.45 ? K_MATH : u < 0.8 ? K_TASK : K_CHAT;
        if (ak == A_EXTRACTION) /* instruction-like, as distillation sets are */
            kind = u < 0.7 ? K_TASK : K_CHAT;
        uint32_t pi = rng_below(r, (uint32_t)g->prompts[kind].n);
        if (ak == A_STORM) { /* a client retrying the same request */
            kind = K_TASK;
            pi = (uint32_t)(mix64(g->o.seed ^ (i / ATTACK_CYCLE)) % g->prompts[K_TASK].n);
        }
        const text *t = &g->prompts[kind].v[pi];
        p_esc = t->esc;
        p_esc_len = t->esc_len;
        p_raw_len = t->raw_len;
    } else {
        if (ak == A_LEAK) {
            g->sc.len = 0;
            tools_gen_sc_cat(&g->sc, g_leak_prompts[rng_below(r, NELEM(g_leak_prompts))]);
        } else if (ak == A_JAILBREAK && rng_below(r, 4) != 0) {
            const text *tp = &g->jb_templates.v[rng_below(r, (uint32_t)g->jb_templates.n)];
            const text *q = &g->harmful.v[rng_below(r, (uint32_t)g->harmful.n)];
            tools_gen_subst(&g->sc, tp->raw, "[INSERT PROMPT HERE]", q->raw);
        } else if (ak == A_JAILBREAK) {
            const text *tp = &g->dan.v[rng_below(r, (uint32_t)g->dan.n)];
            tools_gen_subst(&g->sc, tp->raw, "{generator.name}", md->name);
        } else {
            const text *tp = &g->extraction.v[rng_below(r, (uint32_t)g->extraction.n)];
            g->sc.len = 0;
            tools_gen_sc_cat(&g->sc, tp->raw);
        }
        p_raw_len = g->sc.len;
        attack_esc = malloc(6 * p_raw_len + 1);
        if (!attack_esc) {
            g->w.failed = 1;
            return -1;
        }
        p_esc_len = tools_gen_escape(attack_esc, g->sc.buf, p_raw_len);
        p_esc = attack_esc;
    }
    e->kind = kind;
    e->p_esc = p_esc;
    e->p_esc_len = p_esc_len;
    e->p_raw_len = p_raw_len;
    e->attack_esc = attack_esc;
    /* about 4 bytes a token, plus the chat template's few tokens */
    e->ptok = (p_raw_len + 3) / 4 + 7;
    return 0;
}

/* What comes back: status, refusal, the answer (in g->sc), tokens, latency. */
static void make_answer(gen *g, one *e)
{
    rng *r = &g->r;
    const attack_kind ak = e->ak;
    const key *k = e->k;
    const model *md = e->md;
    const bool drifted = e->drifted, new_rollout = e->new_rollout;
    const int kind = e->kind;
    const uint64_t ptok = e->ptok;
    /* status: mostly 200; rate limits, server errors and bad requests */
    double su = rng_unit(r);
    int status = su < 0.012 ? 429 : su < 0.016 ? 500 : su < 0.019 ? 503 : su < 0.021 ? 400 : 200;
    if (ak == A_STORM)
        status = su < 0.6 ? 429 : su < 0.85 ? 503 : 200;
    else if (ak == A_LEAK)
        status = 200;
    bool refusal = false;
    const char *finish = NULL;
    size_t resp_len = 0;
    bool have_resp = status == 200;
    int max_tokens = k->max_tokens;
    double refusal_rate = md->refusal_rate * (new_rollout ? 3.0 : 1.0);
    if (ak == A_JAILBREAK)
        refusal_rate = 0.8;
    else if (ak == A_SYSPROMPT)
        refusal_rate = 0.6;
    else if (ak == A_LEAK)
        refusal_rate = 0;
    if (have_resp) {
        if (ak == A_LEAK) {
            tools_gen_leak(r, &g->sc);
            finish = "stop";
        } else if (rng_unit(r) < refusal_rate) {
            refusal = true;
            finish = "stop";
            g->sc.len = 0;
            tools_gen_sc_cat(&g->sc, g_refusals[rng_below(r, NELEM(g_refusals))]);
        } else {
            /* log-normal answer length around 110 tokens, longer for tasks */
            double mu = kind == K_MATH ? 3.9 : kind == K_TASK ? 4.3 : 4.5;
            int target = (int)exp(mu + 0.45 * rng_normal(r));
            if (target < 12)
                target = 12;
            if (ak == A_SYSPROMPT)
                target = 60 + (int)rng_below(r, 200); /* a leaked-looking long answer */
            else if (ak == A_EXTRACTION)
                target = 300 + (int)rng_below(r, 300); /* what a distiller harvests */
            else if (drifted)
                target = target * 2 / 5; /* the changed model answers briefly */
            tools_gen_response(r, kind, target, &g->sc);
            finish = "stop";
            if ((g->sc.len + 3) / 4 > (size_t)max_tokens || rng_below(r, 60) == 0 ||
                (drifted && rng_below(r, 3) == 0)) {
                /* cut by the token limit */
                size_t cap = (size_t)max_tokens * 4;
                if (cap > g->sc.len)
                    cap = g->sc.len * 3 / 4;
                g->sc.len = core_utf8_cut(g->sc.buf, g->sc.len, cap);
                finish = "length";
            }
        }
        resp_len = g->sc.len;
    }
    uint64_t ctok = have_resp ? (resp_len + 3) / 4 : 0;
    if (finish && strcmp(finish, "length") == 0 && ctok > (uint64_t)max_tokens)
        ctok = (uint64_t)max_tokens;

    double lat;
    if (status == 429 || status == 400)
        lat = 3 + 20 * rng_unit(r);
    else if (status != 200)
        lat = 200 + 30000 * rng_unit(r) * rng_unit(r);
    else
        lat = (md->base_ms + md->ms_per_token * (double)ctok + 0.08 * (double)ptok) *
              (new_rollout ? 1.18 : 1.0) * (drifted ? 3.5 : 1.0) * exp(0.25 * rng_normal(r));
    e->status = status;
    e->refusal = refusal;
    e->finish = finish;
    e->resp_len = resp_len;
    e->have_resp = have_resp;
    e->max_tokens = max_tokens;
    e->ctok = ctok;
    e->lat = lat;
}

/* Writes the event as one JSON line, drawing the user and the guardrail
 * scores as it goes. */
static void write_line(gen *g, const one *e, uint64_t i, int64_t ts_us)
{
    rng *r = &g->r;
    out *w = &g->w;
    const attack_kind ak = e->ak;
    const key *k = e->k;
    const model *md = e->md;
    const char *vname = e->vname, *p_esc = e->p_esc, *finish = e->finish;
    const size_t p_esc_len = e->p_esc_len, p_raw_len = e->p_raw_len, resp_len = e->resp_len;
    const bool have_resp = e->have_resp, refusal = e->refusal;
    const uint64_t ptok = e->ptok, ctok = e->ctok;
    const int status = e->status, max_tokens = e->max_tokens;
    const double lat = e->lat;
    if (w->len + 64 * 1024 + 6 * p_raw_len > OUT_CAP)
        tools_gen_flush(w);
    char tsb[40];
    uint64_t seq = mix64(i ^ g->id_prefix);
    PUTS(w, "{\"event_id\":\"");
    put_hex(w, g->id_prefix >> 32, 8);
    put(w, "-", 1);
    put_hex(w, seq, 16);
    PUTS(w, "\",\"ts\":\"");
    core_ts_format(ts_us, tsb, sizeof tsb);
    put(w, tsb, strlen(tsb));
    PUTS(w, "\",\"api_key_id\":\"");
    put(w, k->id, strlen(k->id));
    PUTS(w, "\",\"tenant\":\"");
    put(w, g_tenants[k->tenant], strlen(g_tenants[k->tenant]));
    uint32_t user = rng_below(r, k->n_users);
    PUTS(w, "\",\"user_id\":\"u_");
    put_hex(w, mix64(k->user_salt + user), 12);
    /* a session is one user's activity in a 30-minute window of event time */
    PUTS(w, "\",\"session_id\":\"s_");
    put_hex(w, mix64(k->user_salt ^ ((uint64_t)user << 40) ^ (uint64_t)(ts_us / 1800000000)), 16);
    PUTS(w, "\",\"client_ip\":\"");
    const char *ip = k->ip[(user + (uint32_t)(ts_us / 3600000000)) % (uint32_t)k->n_ips];
    put(w, ip, strlen(ip));
    PUTS(w, "\",\"model\":\"");
    put(w, md->name, strlen(md->name));
    PUTS(w, "\",\"model_version\":\"");
    put(w, vname, strlen(vname));
    PUTS(w, "\",\"prompt\":\"");
    put(w, p_esc, p_esc_len);
    if (have_resp) {
        PUTS(w, "\",\"response\":\"");
        put_esc(w, g->sc.buf, resp_len);
        PUTS(w, "\",");
    } else {
        PUTS(w, "\",\"response\":null,");
    }
    PUTS(w, "\"prompt_tokens\":");
    put_u64(w, ptok);
    PUTS(w, ",\"completion_tokens\":");
    put_u64(w, ctok);
    PUTS(w, ",\"latency_ms\":");
    put_fixed(w, lat, 1);
    PUTS(w, ",\"status\":");
    put_u64(w, (uint64_t)status);
    if (finish) {
        PUTS(w, ",\"finish_reason\":\"");
        put(w, finish, strlen(finish));
        PUTS(w, "\"");
    } else {
        PUTS(w, ",\"finish_reason\":null");
    }
    if (have_resp) {
        if (refusal)
            PUTS(w, ",\"refusal\":true");
        else
            PUTS(w, ",\"refusal\":false");
    }
    /* upstream guardrail scores: low for benign traffic, high for attacks */
    double tox = 0.002 + 0.03 * rng_unit(r) * rng_unit(r);
    double pii = rng_below(r, 50) == 0 ? 0.3 + 0.6 * rng_unit(r) : 0.01 * rng_unit(r);
    double inj = 0.001 + 0.02 * rng_unit(r) * rng_unit(r);
    if (ak == A_JAILBREAK) {
        tox = 0.4 + 0.55 * rng_unit(r);
        inj = 0.7 + 0.29 * rng_unit(r);
    } else if (ak == A_SYSPROMPT) {
        inj = 0.5 + 0.45 * rng_unit(r);
    } else if (ak == A_LEAK) {
        pii = 0.7 + 0.29 * rng_unit(r);
    }
    PUTS(w, ",\"scores\":{\"toxicity\":");
    put_fixed(w, tox, 3);
    PUTS(w, ",\"pii\":");
    put_fixed(w, pii, 3);
    PUTS(w, ",\"prompt_injection\":");
    put_fixed(w, inj, 3);
    PUTS(w, "},\"attrs\":{\"endpoint\":\"");
    put(w, g_endpoints[k->endpoint], strlen(g_endpoints[k->endpoint]));
    PUTS(w, "\",\"temperature\":");
    put_fixed(w, k->temperature, 1);
    PUTS(w, ",\"max_tokens\":");
    put_u64(w, (uint64_t)max_tokens);
    if (k->stream)
        PUTS(w, ",\"stream\":true");
    else
        PUTS(w, ",\"stream\":false");
    PUTS(w, ",\"region\":\"");
    put(w, g_regions[k->region], strlen(g_regions[k->region]));
    PUTS(w, "\",\"sdk\":\"");
    put(w, g_sdks[k->sdk], strlen(g_sdks[k->sdk]));
    PUTS(w, "\"}}\n");
}

void tools_gen_event(gen *g, uint64_t i, int64_t ts_us)
{
    one e;
    pick_sender(g, i, &e);
    if (pick_prompt(g, i, &e) < 0)
        return;
    make_answer(g, &e);
    write_line(g, &e, i, ts_us);
    free(e.attack_esc);
}
