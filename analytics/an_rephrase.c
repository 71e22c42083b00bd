/* Refused rephrasings (an_rephrase.h), a probing signal of its own
 * detector row: a refused prompt whose content words are near those of at
 * least probing_rephrase_min - 1 other refused prompts of the key within half
 * an hour is one goal asked again and again in other words, and refused each
 * time: persuasion-style iteration (PAIR), when those prompts are at least
 * probing_weak_share_pct of the key's requests in the hour (a busy key
 * meets near-duplicates by chance). Each refusal is the model's own
 * judgement, so five of them on one goal corroborate each other: an
 * attempt, raising an incident. A benign user who rewords a refused
 * question once or twice stays below it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analytics/an_detectors.h"
#include "analytics/an_features.h"
#include "analytics/an_rephrase.h"
#include "core/json_scan.h"

/* PAIR's iterations come seconds to a minute apart (attacker, target and
 * judge calls); a benign user's refused questions of one session come back
 * over the hour: half an hour holds the one and not the other */
#define WINDOW_US (1800LL * 1000000)
#define PR_BUCKET_US (600LL * 1000000) /* an_probing.c's buckets */
#define NEAR_MIN 4 /* an_rephrase_match in 1/32: Jaccard >= 0.125 */
#define WORDS_MAX 400
#define SCAN_MAX 8192

/* Function words and the commonest verbs and adverbs: they carry no goal. */
static const char *const g_stop[] = {
    "the", "and", "for", "are", "but", "not", "you", "your", "yours", "all", "any", "can", "had",
    "has", "have", "her", "his", "him", "how", "its", "may", "our", "out", "own", "she", "too",
    "use", "was", "way", "who", "why", "yes", "get", "got", "let", "did", "does", "doing", "done",
    "about", "above", "after", "again", "also", "because", "been", "before", "being", "below",
    "between", "both", "could", "each", "even", "ever", "every", "from", "further", "here",
    "into", "just", "like", "make", "more", "most", "much", "must", "need", "only", "other",
    "over", "please", "really", "same", "should", "some", "such", "than", "that", "their",
    "them", "then", "there", "these", "they", "this", "those", "through", "under", "until",
    "very", "want", "were", "what", "when", "where", "which", "while", "will", "with", "would",
    "know", "tell", "give", "help", "explain", "describe", "write", "show", "provide", "able",
    "something", "anything", "someone", "anyone", "thing", "things", "well", "many", "within",
    "without", "could", "might", "shall", "upon", "onto", "ours", "mine", "what's", "it's",
    "i'm", "don't", "can't", "won't", "now", "one", "two", "new", "see", "say", "said", "think",
    "going", "come", "take", "look", "good", "great", "sure", "thank", "thanks", "hello",
};
#define NSTOP (sizeof g_stop / sizeof g_stop[0])

static uint64_t g_stop_h[256];
static bool g_stop_init;

static uint64_t word_hash(const char *w, size_t n) { return an_hash(w, n, 0x5eed); }

static void stop_init(void)
{
    for (size_t i = 0; i < NSTOP; i++) {
        uint64_t h = word_hash(g_stop[i], strlen(g_stop[i]));
        size_t j = h & 255;
        while (g_stop_h[j])
            j = (j + 1) & 255;
        g_stop_h[j] = h;
    }
    g_stop_init = true;
}

static bool is_stop(uint64_t h)
{
    for (size_t j = h & 255; g_stop_h[j]; j = (j + 1) & 255)
        if (g_stop_h[j] == h)
            return true;
    return false;
}

static uint64_t mix64(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    return x ^ (x >> 33);
}

/* The bottom-k sketch: the AN_RP_SKETCH smallest distinct 16-bit hashes of
 * the content words, ascending (UINT16_MAX pads). Up to AN_RP_SKETCH
 * distinct words it is the set itself, so two prompts are compared by their
 * exact Jaccard; a MinHash of 32 minima estimated it with a spread (sd ~0.07
 * at 0.18) as wide as the gap between a rephrasing and a stranger. */
bool an_rephrase_sketch(const char *s, size_t n, uint16_t out[AN_RP_SKETCH])
{
    if (!g_stop_init) /* the engine's one thread; the table is the same for all */
        stop_init();
    for (int k = 0; k < AN_RP_SKETCH; k++)
        out[k] = UINT16_MAX;
    if (n > SCAN_MAX)
        n = SCAN_MAX;
    int words = 0, have = 0;
    char w[32];
    for (size_t i = 0; i < n && words < WORDS_MAX;) {
        size_t len = 0;
        while (i < n && !((s[i] | 32) >= 'a' && (s[i] | 32) <= 'z'))
            i++;
        while (i < n && (((s[i] | 32) >= 'a' && (s[i] | 32) <= 'z') || s[i] == '\'')) {
            if (len < sizeof w)
                w[len] = (char)(s[i] | 32);
            len++;
            i++;
        }
        if (len < 3 || len > sizeof w)
            continue;
        if (is_stop(word_hash(w, len)))
            continue;
        /* crude stems: plural and -ing/-ed forms of one word meet */
        if (len > 5 && !memcmp(w + len - 3, "ing", 3))
            len -= 3;
        else if (len > 4 && !memcmp(w + len - 2, "ed", 2))
            len -= 2;
        else if (len > 3 && w[len - 1] == 's' && w[len - 2] != 's')
            len -= 1;
        words++;
        uint16_t v = (uint16_t)((mix64(word_hash(w, len)) >> 16) % UINT16_MAX); /* < the pad */
        /* insert into the sorted bottom-k, once */
        int at = have;
        while (at > 0 && out[at - 1] > v)
            at--;
        if ((at > 0 && out[at - 1] == v) || at >= AN_RP_SKETCH)
            continue;
        int last = have < AN_RP_SKETCH ? have : AN_RP_SKETCH - 1;
        memmove(out + at + 1, out + at, (size_t)(last - at) * sizeof out[0]);
        out[at] = v;
        if (have < AN_RP_SKETCH)
            have++;
    }
    return words >= 3;
}

/* The Jaccard estimate of two bottom-k sketches, in 1/AN_RP_SKETCH: of the
 * k smallest hashes of the union, the share both hold (exact when the
 * union has at most k words; AN_RP_SKETCH only for the same words). */
int an_rephrase_match(const uint16_t a[AN_RP_SKETCH], const uint16_t b[AN_RP_SKETCH])
{
    int i = 0, j = 0, u = 0, both = 0;
    while (u < AN_RP_SKETCH && (a[i] != UINT16_MAX || b[j] != UINT16_MAX)) {
        if (a[i] == b[j]) {
            both++;
            i++;
            j++;
        } else if (a[i] < b[j]) {
            i++;
        } else {
            j++;
        }
        u++;
        if (i == AN_RP_SKETCH || j == AN_RP_SKETCH)
            break;
    }
    return u ? both * AN_RP_SKETCH / u : 0;
}

static bool holds(const uint16_t sk[AN_RP_SKETCH], uint16_t v)
{
    int lo = 0, hi = AN_RP_SKETCH;
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        if (sk[mid] == v)
            return true;
        if (sk[mid] < v)
            lo = mid + 1;
        else
            hi = mid;
    }
    return false;
}

/* The goal's own words: the newest prompt's words that at least min of the
 * window's refused prompts hold. A short goal ("steal a watch") in frames
 * of a dozen words each keeps two rephrasings under the Jaccard bar, but its
 * words are in every rephrasing and the frames' words are not. Returns how
 * many of the prompts hold two or more of them (0 with fewer than two such
 * words), and through *first the earliest of those prompts. */
static int goal_words(const uint16_t *const sk[], const int64_t at[], int nw, int min,
                      int64_t *first)
{
    const uint16_t *me = sk[nw - 1];
    uint16_t core[AN_RP_SKETCH];
    int nc = 0;
    for (int i = 0; i < AN_RP_SKETCH && me[i] != UINT16_MAX; i++) {
        int c = 0;
        for (int y = 0; y < nw; y++)
            c += holds(sk[y], me[i]);
        if (c >= min)
            core[nc++] = me[i];
    }
    if (nc < 2)
        return 0;
    int n = 0;
    for (int y = 0; y < nw; y++) {
        int c = 0;
        for (int i = 0; i < nc && c < 2; i++)
            c += holds(sk[y], core[i]);
        if (c >= 2) {
            n++;
            if (at[y] < *first)
                *first = at[y];
        }
    }
    return n;
}

static void observe(void *state, an_engine *e, an_key *k, const an_obs *o)
{
    (void)state;
    if (!o->refusal || !o->has_rp)
        return;
    if (!k->rp) {
        if (!(k->rp = calloc(1, sizeof *k->rp)))
            return;
        an_engine_key_bytes(e, sizeof *k->rp);
    }
    an_rp_state *s = k->rp;
    /* the refused prompts of the window, this one last (the ring's oldest,
     * which this one replaces below, still counts, as it did before) */
    const uint16_t *sk[AN_RP_RING + 1];
    int64_t at[AN_RP_RING + 1];
    int nw = 0;
    for (int j = 0; j < s->n; j++) {
        if (o->ts_us - s->ts[j] >= WINDOW_US)
            continue;
        /* the same words again is a repeat (a favourite question, a retry
         * loop), not a rephrasing: it adds nothing */
        if (an_rephrase_match(o->rp, s->mh[j]) == AN_RP_SKETCH)
            return;
        sk[nw] = s->mh[j];
        at[nw++] = s->ts[j];
    }
    sk[nw] = o->rp;
    at[nw++] = o->ts_us;
    /* The goal's cluster: the refused prompts joined to this one by a chain
     * of near pairs (single linkage). Each rephrasing keeps a few of the
     * goal's words and wraps them in a frame of its own, so two far-apart
     * ones can share too few words while both are near a third; counting
     * only the prompts near the newest missed such a cluster. */
    bool in[AN_RP_RING + 1] = {0};
    int stack[AN_RP_RING + 1], top = 0, near = 0;
    int64_t first = o->ts_us;
    in[nw - 1] = true;
    stack[top++] = nw - 1;
    while (top) {
        int x = stack[--top];
        near++;
        if (at[x] < first)
            first = at[x];
        for (int y = 0; y < nw; y++)
            if (!in[y] && an_rephrase_match(sk[x], sk[y]) >= NEAR_MIN) {
                in[y] = true;
                stack[top++] = y;
            }
    }
    /* or a short goal in long frames (before the ring's oldest, in sk[],
     * is overwritten below) */
    const core_config *cfg = an_engine_cfg(e);
    if (near < cfg->an_pr_rephrase_min) {
        int64_t f = o->ts_us;
        int g = goal_words(sk, at, nw, cfg->an_pr_rephrase_min, &f);
        if (g > near) {
            near = g;
            first = f;
        }
    }
    memcpy(s->mh[s->i], o->rp, sizeof s->mh[0]);
    s->ts[s->i] = o->ts_us;
    s->i = (uint8_t)((s->i + 1) % AN_RP_RING);
    if (s->n < AN_RP_RING)
        s->n++;
    if (near < cfg->an_pr_rephrase_min)
        return;
    /* and not a chance meeting: a busy key has dozens of refusals an hour,
     * some of them prompts of one template (the probing detector's 10-minute
     * buckets, this event counted, hold its requests) */
    uint32_t cur = (uint32_t)(o->ts_us / PR_BUCKET_US), req = 0;
    for (int j = 0; j < 6; j++)
        if (k->pr.id[j] + 6 > cur && k->pr.id[j] <= cur)
            req += k->pr.req[j];
    if ((uint64_t)near * 100 < (uint64_t)req * (uint64_t)cfg->an_pr_weak_share_pct)
        return;
    /* once per cluster size reached, and again after the quiet period */
    if (near <= s->alerted_n && o->ts_us - s->alerted_ts < cfg->an_incident_quiet_ms * 1000)
        return;
    s->alerted_n = (uint8_t)near;
    s->alerted_ts = o->ts_us;
    char summary[400], qk[200];
    snprintf(qk, sizeof qk, "%s", o->api_key_id);
    snprintf(summary, sizeof summary,
             "Key %s had %d refused rephrasings of one request within 30 minutes (near-duplicates "
             "by their content words): persuasion-style iteration on a refused goal.",
             qk, near);
    cJSON *ev = cJSON_CreateObject();
    cJSON_AddStringToObject(ev, "pattern", "refused rephrasings");
    cJSON_AddNumberToObject(ev, "rephrasings_30m", near);
    cJSON_AddNumberToObject(ev, "probe_score", (double)((int)(o->probe_score * 100)) / 100);
    cJSON *sig = cJSON_AddArrayToObject(ev, "signals");
    cJSON_AddItemToArray(sig, cJSON_CreateString("refused rephrasings"));
    an_alert a = {
        .type = INC_PROBING,
        .severity = near >= 2 * cfg->an_pr_rephrase_min ? INC_MEDIUM : INC_LOW,
        .trigger = o,
        .first_ts = first,
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

const an_detector an_detector_rephrase = {
    .name = "rephrase", .type = INC_PROBING, .observe = observe};
