/* Secrets and their checks: random tokens, SHA-256, Argon2id passwords and
 * the sign-in throttle. Nothing here logs. */
#include <pthread.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "web/web_internal.h"

void web_random_token(char out[WEB_TOKEN_CHARS + 1])
{
    unsigned char raw[32];
    randombytes_buf(raw, sizeof raw);
    sodium_bin2base64(out, WEB_TOKEN_CHARS + 1, raw, sizeof raw,
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    sodium_memzero(raw, sizeof raw);
}

void web_sha256(const char *s, size_t len, unsigned char out[32])
{
    crypto_hash_sha256(out, (const unsigned char *)s, len);
}

/* ---- passwords ---- */

/* ASVS 2.4.1 and OWASP's Argon2id minimum (19 MiB, 2 passes) are met by
 * libsodium's interactive limits (64 MiB, 2 passes). */
#define PW_OPS crypto_pwhash_OPSLIMIT_INTERACTIVE
#define PW_MEM crypto_pwhash_MEMLIMIT_INTERACTIVE
_Static_assert(crypto_pwhash_OPSLIMIT_INTERACTIVE >= 2, "Argon2id passes");
_Static_assert(crypto_pwhash_MEMLIMIT_INTERACTIVE >= 19u << 20, "Argon2id memory");

const char *web_password_problem(const char *pw)
{
    if (!pw)
        return "no password";
    size_t chars = 0;
    for (const unsigned char *p = (const unsigned char *)pw; *p; p++)
        if ((*p & 0xC0) != 0x80) /* count UTF-8 characters, not bytes */
            chars++;
    if (chars < 12)
        return "a password needs at least 12 characters";
    if (chars > 128 || strlen(pw) > 512)
        return "a password may have at most 128 characters";
    return NULL;
}

int web_password_hash(const char *pw, char out[128])
{
    _Static_assert(crypto_pwhash_STRBYTES <= 128, "hash buffer");
    if (sodium_init() < 0)
        return -1;
    return crypto_pwhash_str(out, pw, strlen(pw), PW_OPS, PW_MEM) == 0 ? 0 : -1;
}

static pthread_once_t g_dummy_once = PTHREAD_ONCE_INIT;
static char g_dummy_hash[crypto_pwhash_STRBYTES];

static void make_dummy(void)
{
    char pw[WEB_TOKEN_CHARS + 1];
    if (sodium_init() < 0)
        return;
    web_random_token(pw);
    if (crypto_pwhash_str(g_dummy_hash, pw, strlen(pw), PW_OPS, PW_MEM) != 0)
        g_dummy_hash[0] = '\0';
}

bool web_password_verify(const char *hash, const char *pw)
{
    pthread_once(&g_dummy_once, make_dummy);
    if (!pw)
        pw = "";
    if (!hash || strncmp(hash, "$argon2id$", 10) != 0) {
        /* The same work as a real check, and always false. */
        if (g_dummy_hash[0]) {
            volatile int burnt = crypto_pwhash_str_verify(g_dummy_hash, pw, strlen(pw));
            (void)burnt;
        }
        return false;
    }
    return crypto_pwhash_str_verify(hash, pw, strlen(pw)) == 0;
}

/* ---- throttle ---- */

/* A fixed table of counters (bounded memory whatever the attacker sends),
 * open addressing over a short probe window; the oldest entry in the
 * window gives way. A counter forgets failures 15 minutes after the last. */
#define TH_SLOTS 4096
#define TH_PROBE 16
#define TH_FORGET_MS (15 * 60 * 1000)
#define TH_MAX_DELAY_MS (15 * 60 * 1000)

typedef struct {
    char key[80]; /* "u:name" or "a:address"; "" free */
    int failures;
    int64_t last_ms;
} th_entry;

struct web_throttle {
    pthread_mutex_t mu;
    int account_free, ip_free;
    th_entry slot[TH_SLOTS];
};

web_throttle *web_throttle_new(int account_free, int ip_free)
{
    web_throttle *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    pthread_mutex_init(&t->mu, NULL);
    t->account_free = account_free;
    t->ip_free = ip_free;
    return t;
}

void web_throttle_free(web_throttle *t)
{
    if (!t)
        return;
    pthread_mutex_destroy(&t->mu);
    free(t);
}

int64_t web_throttle_delay_ms(int excess)
{
    if (excess <= 0)
        return 0;
    if (excess > 20)
        return TH_MAX_DELAY_MS;
    int64_t d = (int64_t)1000 << (excess - 1);
    return d < TH_MAX_DELAY_MS ? d : TH_MAX_DELAY_MS;
}

static uint32_t fnv1a(const char *s)
{
    uint32_t h = 2166136261u;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

/* The entry of key (created when create), or NULL. Under t->mu. */
static th_entry *th_find(web_throttle *t, const char *key, bool create, int64_t now_ms)
{
    uint32_t h = fnv1a(key);
    th_entry *victim = NULL;
    bool victim_free = false;
    for (int i = 0; i < TH_PROBE; i++) {
        th_entry *e = &t->slot[(h + (uint32_t)i) % TH_SLOTS];
        bool is_free = !e->key[0] || now_ms - e->last_ms > TH_FORGET_MS;
        if (!is_free && strcmp(e->key, key) == 0)
            return e;
        if (victim_free)
            continue;
        if (is_free || !victim || e->last_ms < victim->last_ms) {
            victim = e;
            victim_free = is_free;
        }
    }
    if (!create)
        return NULL;
    memset(victim, 0, sizeof *victim);
    snprintf(victim->key, sizeof victim->key, "%s", key);
    victim->last_ms = now_ms;
    return victim;
}

static void th_key(char *out, size_t len, char kind, const char *s)
{
    snprintf(out, len, "%c:%s", kind, s ? s : "");
}

static int64_t entry_wait(const th_entry *e, int free_failures, int64_t now_ms)
{
    if (!e)
        return 0;
    int64_t until = e->last_ms + web_throttle_delay_ms(e->failures - free_failures);
    return until > now_ms ? until - now_ms : 0;
}

int64_t web_throttle_wait_ms(web_throttle *t, const char *account, const char *addr,
                             int64_t now_ms)
{
    char ka[80], kb[80];
    th_key(ka, sizeof ka, 'u', account);
    th_key(kb, sizeof kb, 'a', addr);
    pthread_mutex_lock(&t->mu);
    int64_t wa = entry_wait(th_find(t, ka, false, now_ms), t->account_free, now_ms);
    int64_t wb = entry_wait(th_find(t, kb, false, now_ms), t->ip_free, now_ms);
    pthread_mutex_unlock(&t->mu);
    return wa > wb ? wa : wb;
}

int64_t web_throttle_failure(web_throttle *t, const char *account, const char *addr,
                             int64_t now_ms)
{
    char ka[80], kb[80];
    th_key(ka, sizeof ka, 'u', account);
    th_key(kb, sizeof kb, 'a', addr);
    pthread_mutex_lock(&t->mu);
    th_entry *e = th_find(t, ka, true, now_ms);
    e->failures++;
    e->last_ms = now_ms;
    int64_t wa = web_throttle_delay_ms(e->failures - t->account_free);
    e = th_find(t, kb, true, now_ms);
    e->failures++;
    e->last_ms = now_ms;
    int64_t wb = web_throttle_delay_ms(e->failures - t->ip_free);
    pthread_mutex_unlock(&t->mu);
    return wa > wb ? wa : wb;
}

void web_throttle_success(web_throttle *t, const char *account, int64_t now_ms)
{
    char ka[80];
    th_key(ka, sizeof ka, 'u', account);
    pthread_mutex_lock(&t->mu);
    th_entry *e = th_find(t, ka, false, now_ms);
    if (e)
        e->key[0] = '\0';
    pthread_mutex_unlock(&t->mu);
}
