/* custos gen, private to tools/gen*.c: the generator's state, its random
 * numbers and output buffer (inline: they run for every field of every
 * line), and what the files share. gen.c: options and the run; gen_text.c:
 * the prompt sets and the text of prompts and answers; tools_gen_event.c: the
 * traffic's shape (tenants, models, keys, attacks) and the line. */
#ifndef TOOLS_GEN_H
#define TOOLS_GEN_H

#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <arpa/inet.h>

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

static inline uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* A bijection on 64 bits (splitmix64's finaliser): distinct inputs give
 * distinct outputs, which is what makes event ids unique per seed. */
static inline uint64_t mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

static inline uint64_t rng_next(rng *r)
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

static inline void rng_seed(rng *r, uint64_t seed)
{
    for (int i = 0; i < 4; i++)
        r->s[i] = splitmix64(&seed);
}

/* Uniform in [0, 1). */
static inline double rng_unit(rng *r) { return (double)(rng_next(r) >> 11) * 0x1.0p-53; }

/* Uniform in [0, n). */
static inline uint32_t rng_below(rng *r, uint32_t n)
{
    return (uint32_t)(((rng_next(r) >> 32) * (uint64_t)n) >> 32);
}

static inline double rng_normal(rng *r)
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

/* Escapes s[0..n) as the inside of a JSON string into dst (>= 6n bytes);
 * returns the bytes written. UTF-8 passes through unchanged. */
size_t tools_gen_escape(char *dst, const char *s, size_t n);

/* Reads DIR/NAME: one {"prompt": "..."} object per line. Prints why and
 * returns -1 when the file cannot be read or holds no prompt. */
int tools_gen_pool_load(pool *p, const char *dir, const char *name);
void tools_gen_pool_free(pool *p);

/* ---- the output buffer --------------------------------------------------- */

typedef struct {
    char *buf;
    size_t len;
    int fd;
    int closed; /* the reader went away (EPIPE): stop quietly */
    int failed; /* any other write error */
    int format; /* --format (gen_format.h): not native: lines converted at each flush */
    unsigned long long lines; /* lines converted so far */
} out;

/* Writes the buffer out (EPIPE: closed; other errors: failed, said). */
void tools_gen_flush(out *o);

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
static inline void put_fixed(out *o, double v, int dec)
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

static inline void put_hex(out *o, uint64_t v, int digits)
{
    static const char hex[] = "0123456789abcdef";
    for (int i = digits - 1; i >= 0; i--)
        o->buf[o->len++] = hex[(v >> (4 * i)) & 15];
}

static inline void put_esc(out *o, const char *s, size_t n)
{
    o->len += tools_gen_escape(o->buf + o->len, s, n);
}

/* ---- the world ---- */

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

/* ---- text ---- */

/* the kinds of benign prompt, one prompt set each */
enum { K_MATH, K_TASK, K_CHAT, K_NKINDS };

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

typedef struct {
    char *buf;
    size_t len;
} scratch;

/* Appends t, cut to what the scratch holds. */
void tools_gen_sc_cat(scratch *s, const char *t);
/* Writes a plausible answer of about target_tokens tokens to s. */
void tools_gen_response(rng *r, int kind, int target_tokens, scratch *s);
/* Replaces every occurrence of pat in src with rep into s. */
void tools_gen_subst(scratch *s, const char *src, const char *pat, const char *rep);
/* A response that leaks credentials and personal data into s. */
void tools_gen_leak(rng *r, scratch *s);

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
    int format; /* tools_gen_format */
    const char *from; /* --from FILE: convert its native lines instead */
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

/* Key number idx of the run with seed, drawn from r. */
void tools_gen_make_key(rng *r, uint64_t seed, uint32_t idx, key *k);
/* Writes event number i (its event time ts_us) as one JSON line. */
void tools_gen_event(gen *g, uint64_t i, int64_t ts_us);

#endif
