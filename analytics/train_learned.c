/* train_learned: trains the learned prompt detector (analytics/an_learned.c)
 * on data/prompts, or evaluates a model file on the held-back half.
 *
 *   train_learned [--data DIR] [--out FILE] [--bits B] [--epochs E] [--seed S]
 *                 [--lr X] [--l2 X] [--target-fp X] [--synth-suffix 0|1]
 *   train_learned --eval FILE [--data DIR] [--synth-suffix 0|1]
 *
 * Split (as the scenario generator, tools/scenarios/): the parity of the FNV-1a 64 hash of a
 * prompt's text; even = tuning half, odd = held back. The tuning half is
 * split again by bit 1 of the hash: 0 = train, 1 = validation. Weights are
 * learned on train only; the threshold is chosen on validation only; --eval
 * reports the held-back half only. Sets: attack_*, jailbreak_*, sysprompt_*
 * and harmful_* are positives, benign_* negatives (eval_* and other files
 * are not read). GPTFuzz templates are filled with a GPTFuzz harmful
 * question of the same half, DAN prompts get "ChatGPT". --synth-suffix adds
 * a synthetic adversarial-suffix set (random printable tokens after a
 * harmful request of the same half): there are no GCG prompts in the repo,
 * so this is a stand-in, reported apart. */
#include <dirent.h>
#include <stdint.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>
#include <openssl/evp.h>

#include "analytics/an_learned.h"

#define MAX_SETS 64
#define MAX_PROMPT (1u << 20)
#define STRONG_MARGIN 1.0f
/* the dense features learn faster: a handful of them against 2^16 buckets */
#ifndef DENSE_LR
#define DENSE_LR 10
#endif

typedef struct {
    char name[64];
    int label; /* 1 attack, 0 benign */
    int hard;  /* a hard-negative set */
    int synthetic;
} set_t;

typedef struct {
    char *text;
    size_t len;
    int set, label, heldback, val;
    uint32_t *h, nf;
    float dense[AN_LEARNED_NDENSE];
    uint8_t row_planted; /* an_learned_scratch.row_planted (not a feature) */
    float score;
} ex_t;

static set_t g_set[MAX_SETS];
static int g_nset;
static ex_t *g_ex;
static size_t g_nex, g_capex;

static const char *const g_hard[] = {"benign_bipia_clean_contexts",     "benign_xstest_safe",
                                     "benign_notinject_trigger_words",  "benign_awesome_chatgpt_roleplay",
                                     "benign_gpteacher_roleplay",       "benign_pap_persuasion_examples",
                                     /* benign text in the multilingual set's languages
                                      * (data/prompts/make_l10n.py) */
                                     "benign_l10n_debian"};

/* The tool stops on an allocation that fails: there is nothing to fall back to. */
static void *need(void *p)
{
    if (!p) {
        fprintf(stderr, "train_learned: out of memory\n");
        exit(2);
    }
    return p;
}

static uint64_t fnv(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ULL;
    }
    return h;
}

static uint64_t g_rng;
static uint64_t rnd(void)
{
    g_rng ^= g_rng << 13;
    g_rng ^= g_rng >> 7;
    g_rng ^= g_rng << 17;
    return g_rng;
}

static char *replace(const char *s, const char *what, const char *with)
{
    size_t ls = strlen(s), lw = strlen(what), lr = strlen(with), cap = ls + 1;
    for (const char *p = strstr(s, what); p; p = strstr(p + lw, what))
        cap += lr;
    char *out = malloc(cap), *o = out;
    if (!out)
        return NULL;
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

static int set_add(const char *name, int label, int synthetic)
{
    if (g_nset == MAX_SETS) {
        fprintf(stderr, "train_learned: more than %d sets\n", MAX_SETS);
        exit(2);
    }
    set_t *s = &g_set[g_nset];
    snprintf(s->name, sizeof s->name, "%s", name);
    s->label = label;
    s->synthetic = synthetic;
    for (size_t i = 0; i < sizeof g_hard / sizeof g_hard[0]; i++)
        s->hard |= strcmp(name, g_hard[i]) == 0;
    return g_nset++;
}

/* Takes text (heap). The split comes from key, the original prompt's text. */
static void ex_add(int set, char *text, const char *key)
{
    if (!text) {
        fprintf(stderr, "train_learned: out of memory\n");
        exit(2);
    }
    if (g_nex == g_capex) {
        g_capex = g_capex ? g_capex * 2 : 1024;
        g_ex = realloc(g_ex, g_capex * sizeof *g_ex);
        if (!g_ex) {
            fprintf(stderr, "train_learned: out of memory\n");
            exit(2);
        }
    }
    uint64_t h = fnv(key);
    ex_t *e = &g_ex[g_nex++];
    memset(e, 0, sizeof *e);
    e->text = text;
    e->len = strlen(text);
    e->set = set;
    e->label = g_set[set].label;
    e->heldback = (int)(h & 1);
    e->val = (int)((h >> 1) & 1);
}

typedef struct {
    char **v;
    int n;
} strs;

/* Reads one jsonl file's prompts; feeds its bytes to the inputs digest. */
static strs read_set(const char *dir, const char *file, EVP_MD_CTX *md)
{
    strs s = {0};
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    FILE *f = fopen(path, "r");
    if (!f) {
        perror(path);
        exit(2);
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    int capv = 0;
    EVP_DigestUpdate(md, file, strlen(file) + 1);
    while ((n = getline(&line, &cap, f)) > 0) {
        EVP_DigestUpdate(md, line, (size_t)n);
        if ((size_t)n > MAX_PROMPT)
            continue;
        cJSON *j = cJSON_Parse(line);
        const cJSON *p = cJSON_GetObjectItem(j, "prompt");
        if (cJSON_IsString(p)) {
            if (s.n == capv) {
                capv = capv ? capv * 2 : 256;
                s.v = need(realloc(s.v, (size_t)capv * sizeof *s.v));
            }
            s.v[s.n++] = need(strdup(p->valuestring));
        }
        cJSON_Delete(j);
    }
    free(line);
    fclose(f);
    return s;
}

static int cmp_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* A GCG / random-search-like suffix: printable tokens of 1-8 characters. */
static char *synth_suffix(const char *q, uint64_t seed)
{
    static const char *const vocab[] = {"describing", "similarlyNow", "oppositeley", "Me",
                                        "giving", "**ONE", "please", "revert", "Two", "Sure",
                                        "here", "tutorial", "manual", "sentence", "!--", "](",
                                        "\\", "+", "Write", "cave", "{", "}", "Ok", "<>"};
    size_t ql = strlen(q);
    char *out = malloc(ql + 400);
    if (!out)
        return NULL;
    memcpy(out, q, ql);
    size_t k = ql;
    g_rng = fnv(q) ^ seed ^ 0x5bd1e995;
    if (!g_rng)
        g_rng = 1;
    int ntok = 12 + (int)(rnd() % 14);
    for (int t = 0; t < ntok; t++) {
        out[k++] = ' ';
        if (rnd() % 3 == 0) {
            const char *w = vocab[rnd() % (sizeof vocab / sizeof vocab[0])];
            size_t wl = strlen(w);
            memcpy(out + k, w, wl);
            k += wl;
        } else {
            int l = 1 + (int)(rnd() % 8);
            for (int c = 0; c < l; c++)
                out[k++] = (char)('!' + rnd() % 94);
        }
    }
    out[k] = '\0';
    return out;
}

static void load_all(const char *dir, int synth, uint8_t sha[32])
{
    DIR *d = opendir(dir);
    if (!d) {
        perror(dir);
        exit(2);
    }
    char *names[256];
    int nn = 0;
    for (struct dirent *de; (de = readdir(d)) && nn < 256;) {
        size_t l = strlen(de->d_name);
        if (l > 6 && strcmp(de->d_name + l - 6, ".jsonl") == 0)
            names[nn++] = need(strdup(de->d_name));
    }
    closedir(d);
    qsort(names, (size_t)nn, sizeof *names, cmp_name);
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    EVP_DigestInit_ex(md, EVP_sha256(), NULL);
    strs harm = {0};
    for (int i = 0; i < nn; i++)
        if (strcmp(names[i], "harmful_questions_gptfuzz.jsonl") == 0)
            harm = read_set(dir, names[i], md);
    strs harm_half[2] = {{0}, {0}};
    for (int i = 0; i < harm.n; i++) {
        strs *x = &harm_half[fnv(harm.v[i]) & 1];
        x->v = need(realloc(x->v, (size_t)(x->n + 1) * sizeof *x->v));
        x->v[x->n++] = harm.v[i];
    }
    int synth_set = -1;
    for (int i = 0; i < nn; i++) {
        char base[64];
        snprintf(base, sizeof base, "%.*s", (int)(strlen(names[i]) - 6), names[i]);
        int label;
        if (!strncmp(base, "benign_", 7))
            label = 0;
        else if (!strncmp(base, "attack_", 7) || !strncmp(base, "jailbreak_", 10) ||
                 !strncmp(base, "sysprompt_", 10) || !strncmp(base, "harmful_", 8))
            label = 1;
        else
            continue;
        strs s = strcmp(base, "harmful_questions_gptfuzz") == 0 ? harm
                                                                : read_set(dir, names[i], md);
        int set = set_add(base, label, 0);
        for (int j = 0; j < s.n; j++) {
            const char *p = s.v[j];
            char *t;
            if (strstr(p, "[INSERT PROMPT HERE]")) {
                const strs *hh = &harm_half[fnv(p) & 1];
                t = replace(p, "[INSERT PROMPT HERE]",
                            hh->n ? hh->v[(fnv(p) >> 8) % (uint64_t)hh->n] : "");
            } else
                t = replace(p, "{generator.name}", "ChatGPT");
            ex_add(set, t, p);
            /* harmful requests of every half get a synthetic suffix twin */
            if (synth && (strcmp(base, "harmful_questions_gptfuzz") == 0 ||
                          strcmp(base, "attack_xstest_unsafe_contrast") == 0 ||
                          strcmp(base, "attack_hh_redteam_first_turn") == 0)) {
                if (synth_set < 0)
                    synth_set = set_add("synthetic_adversarial_suffix", 1, 1);
                ex_add(synth_set, synth_suffix(p, 7), p);
            }
        }
        if (s.v != harm.v) {
            for (int j = 0; j < s.n; j++)
                free(s.v[j]);
            free(s.v);
        }
    }
    unsigned int len = 0;
    EVP_DigestFinal_ex(md, sha, &len);
    EVP_MD_CTX_free(md);
    for (int i = 0; i < harm.n; i++)
        free(harm.v[i]);
    free(harm.v);
    free(harm_half[0].v);
    free(harm_half[1].v);
    for (int i = 0; i < nn; i++)
        free(names[i]);
}

/* The bigram language model of the benign train text (add-1/2 smoothing). */
static void train_lm(an_learned_model *m, an_learned_scratch *s)
{
    static uint32_t cnt[256][256];
    static uint64_t row[256];
    for (size_t i = 0; i < g_nex; i++) {
        const ex_t *e = &g_ex[i];
        if (e->heldback || e->val || e->label)
            continue;
        an_learned_featurize(NULL, s, e->text, e->len);
        unsigned char p = ' ';
        for (size_t k = 0; k < s->len; k++) {
            cnt[p][s->text[k]]++;
            row[p]++;
            p = s->text[k];
        }
    }
    for (int a = 0; a < 256; a++)
        for (int b = 0; b < 256; b++) {
            double nll = -log((cnt[a][b] + 0.5) / ((double)row[a] + 128.0));
            long q = lround(nll * 16);
            m->lm[a * 256 + b] = (uint8_t)(q > 255 ? 255 : q < 0 ? 0 : q);
        }
}

static void featurize_all(const an_learned_model *m, an_learned_scratch *s, int heldback)
{
    for (size_t i = 0; i < g_nex; i++) {
        ex_t *e = &g_ex[i];
        if (e->heldback != heldback)
            continue;
        an_learned_featurize(m, s, e->text, e->len);
        free(e->h);
        e->h = malloc((s->nf ? s->nf : 1) * sizeof *e->h);
        if (!e->h) {
            fprintf(stderr, "train_learned: out of memory\n");
            exit(2);
        }
        memcpy(e->h, s->h, s->nf * sizeof *e->h);
        e->nf = s->nf;
        memcpy(e->dense, s->dense, sizeof e->dense);
        e->row_planted = s->row_planted;
    }
}

/* Releases every example (at the end of a run). */
static void free_all(void)
{
    for (size_t i = 0; i < g_nex; i++) {
        free(g_ex[i].text);
        free(g_ex[i].h);
    }
    free(g_ex);
    g_ex = NULL;
    g_nex = g_capex = 0;
}

static int cmp_desc(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return x < y ? 1 : x > y ? -1 : 0;
}

/* The least threshold whose false positives among scores stay within
 * allowed (scores >= threshold are flagged). */
static float thr_for(float *sc, size_t n, size_t allowed)
{
    if (n == 0 || allowed >= n)
        return -INFINITY;
    qsort(sc, n, sizeof *sc, cmp_desc);
    return nextafterf(sc[allowed], INFINITY);
}

/* Per-set figures at threshold t over the examples of one part. */
static void table(const char *title, int heldback, int val, float t, float strong, int targets)
{
    size_t n[MAX_SETS] = {0}, hit[MAX_SETS] = {0}, hs[MAX_SETS] = {0};
    for (size_t i = 0; i < g_nex; i++) {
        const ex_t *e = &g_ex[i];
        if (e->heldback != heldback || (!heldback && e->val != val))
            continue;
        n[e->set]++;
        hit[e->set] += e->score >= t;
        hs[e->set] += e->score >= strong;
    }
    printf("\n%s (threshold: logit %.3f = score %.6f; strong: logit %.3f = score %.6f)\n", title, t,
           1 / (1 + exp(-t)), strong, 1 / (1 + exp(-strong)));
    printf("| set | kind | prompts | flagged | share | at strong |%s\n",
           targets ? " target |" : "");
    printf("|---|---|---|---|---|---|%s\n", targets ? "---|" : "");
    size_t bn = 0, bh = 0, bs = 0;
    int missed = 0;
    for (int k = 0; k < 2; k++)
        for (int s = 0; s < g_nset; s++) {
            if (g_set[s].label != (k == 0) || !n[s])
                continue;
            double share = (double)hit[s] / (double)n[s];
            const char *kind = g_set[s].label ? (g_set[s].synthetic ? "attack (synthetic)" : "attack: catch")
                               : g_set[s].hard ? "hard negative: FP"
                                               : "benign: FP";
            char tgt[64] = "";
            if (targets) {
                int ok = g_set[s].label ? share >= 0.85 : g_set[s].hard ? share <= 0.005 : 1;
                snprintf(tgt, sizeof tgt, " %s %s |",
                         g_set[s].label ? ">= 0.85" : g_set[s].hard ? "<= 0.5%" : "(pooled)",
                         ok ? "met" : "MISSED");
                missed += !ok;
            }
            printf("| %s | %s | %zu | %zu | %s%.*f%s | %zu |%s\n", g_set[s].name, kind, n[s], hit[s],
                   "", g_set[s].label ? 3 : 2, g_set[s].label ? share : 100 * share,
                   g_set[s].label ? "" : "%", hs[s], tgt);
            if (!g_set[s].label) {
                bn += n[s];
                bh += hit[s];
                bs += hs[s];
            }
        }
    double pooled = bn ? (double)bh / (double)bn : 0;
    printf("benign pooled: %zu of %zu = %.3f%% (at strong: %zu = %.3f%%)%s\n", bh, bn,
           100 * pooled, bs, bn ? 100.0 * (double)bs / (double)bn : 0,
           targets ? (pooled <= 0.001 ? "  target <= 0.1%: met" : "  target <= 0.1%: MISSED") : "");
    if (targets)
        printf("targets missed: %d set%s%s\n", missed + (pooled > 0.001), missed + (pooled > 0.001) == 1 ? "" : "s",
               " (persuasion attacks: no set in data/prompts; measured per key, not here)");
}

static void score_part(const an_learned_model *m, an_learned_scratch *s, int heldback)
{
    for (size_t i = 0; i < g_nex; i++) {
        ex_t *e = &g_ex[i];
        if (e->heldback == heldback)
        {
            an_learned_featurize(m, s, e->text, e->len);
            e->score = (float)an_learned_logit(m, s, NULL, NULL);
        }
    }
}

/* --dump: the tuning half's logits, one prompt a line (part, set, logit,
 * the dense features separated by commas, row_planted, the prompt's start with tabs and
 * line breaks as spaces), to read what the model misses; the held-back half
 * is never written. */
static int dump_tuning(const char *path)
{
    FILE *f = fopen(path, "w");
    if (!f) {
        perror(path);
        return -1;
    }
    for (size_t i = 0; i < g_nex; i++) {
        const ex_t *e = &g_ex[i];
        if (e->heldback)
            continue;
        fprintf(f, "%s\t%s\t%.3f\t", e->val ? "val" : "train", g_set[e->set].name, e->score);
        for (int d = 0; d < AN_LEARNED_NDENSE; d++) /* the dense features, in file order */
            fprintf(f, "%s%.3g", d ? "," : "", e->dense[d]);
        fprintf(f, "\t%d\t", e->row_planted);
        for (size_t k = 0; k < e->len && k < 300; k++)
            fputc(e->text[k] == '\t' || e->text[k] == '\n' ? ' ' : e->text[k], f);
        fputc('\n', f);
    }
    return fclose(f);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* CPU time of this thread: on a shared machine, wall time counts the others */
static double cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static int eval(const char *path, an_learned_scratch *s)
{
    char err[512];
    an_learned_model *m = an_learned_load(path, err, sizeof err);
    if (!m) {
        fprintf(stderr, "train_learned: %s\n", err);
        return 1;
    }
    printf("model %s: 2^%u buckets, threshold logit %.3f, strong logit %.3f\ntrained with: %s\n", path,
           m->bits, m->threshold, m->strong, m->cmd);
    score_part(m, s, 1);
    table("Held-back half (odd FNV-1a 64 hash), never trained or tuned on", 1, 0, m->threshold,
          m->strong, 1);
    /* benign prompts mostly not in Latin script (a third of their bytes or
     * more non-ASCII): the only benign counterpart of the multilingual set */
    size_t nn = 0, nh = 0;
    for (size_t i = 0; i < g_nex; i++) {
        const ex_t *e = &g_ex[i];
        if (!e->heldback || e->label)
            continue;
        size_t hi = 0;
        for (size_t k = 0; k < e->len; k++)
            hi += (unsigned char)e->text[k] >= 0x80;
        if (3 * hi >= e->len) {
            nn++;
            nh += e->score >= m->threshold;
        }
    }
    printf("benign prompts mostly non-ASCII (non-Latin script), all sets: %zu of %zu flagged\n", nh, nn);
    /* cost: score every held-back prompt, best of three passes, one thread */
    double best = 1e30;
    size_t bytes = 0;
    for (int r = 0; r < 3; r++) {
        double t0 = cpu_s();
        volatile float sink = 0;
        bytes = 0;
        for (size_t i = 0; i < g_nex; i++)
            if (g_ex[i].heldback) {
                size_t n = g_ex[i].len;
                sink += (float)an_learned_logit_fast(m, s, g_ex[i].text, n);
                bytes += n < AN_LEARNED_MAX_BYTES ? n : AN_LEARNED_MAX_BYTES;
            }
        double dt = cpu_s() - t0;
        if (dt < best)
            best = dt;
    }
    printf("inference: %.2f us per KB of prompt (%zu KB scored, thread CPU time, best of 3 passes, featurize and score as "
           "custos does: an_learned_logit_fast)\n",
           best * 1e6 / ((double)bytes / 1024), bytes / 1024);
    an_learned_free(m);
    return 0;
}

typedef struct {
    const char *data, *out, *evalf, *dump;
    uint32_t bits;
    int epochs, synth;
    uint64_t seed;
    double lr, l2, target_fp, hard_fp, hard_weight;
} train_opts;

static void usage(FILE *f)
{
    fprintf(f, "usage: train_learned [--data DIR] [--out FILE] [--bits 10..24] "
               "[--epochs N] [--seed N] [--lr X] [--l2 X] [--target-fp X] "
               "[--synth-suffix 0|1] [--hard-weight X] [--dump FILE] | --eval FILE [--data DIR]\n"
               "Trains the learned probing detector on the tuning half of DIR (attack_*, "
               "jailbreak_*,\nsysprompt_*, harmful_* positives, benign_* negatives) and writes "
               "the model; --eval\nreports a model on the held-back half. The shipped model's "
               "command: docs/analytics.md.\n");
}

/* 0, 1 after --help, or 2 after a usage message. */
static int parse_args(int argc, char **argv, train_opts *o)
{
    *o = (train_opts){"data/prompts", "analytics/models/learned.bin", NULL, NULL, 16, 8, 1, 1,
                      0.1, 1e-5, 0.001, 0.005, 1};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 1;
        }
        if (!v) {
            fprintf(stderr, "train_learned: %s needs a value\n", a);
            return 2;
        }
        if (!strcmp(a, "--data"))
            o->data = v;
        else if (!strcmp(a, "--out"))
            o->out = v;
        else if (!strcmp(a, "--eval"))
            o->evalf = v;
        else if (!strcmp(a, "--bits"))
            o->bits = (uint32_t)atoi(v);
        else if (!strcmp(a, "--epochs"))
            o->epochs = atoi(v);
        else if (!strcmp(a, "--seed"))
            o->seed = strtoull(v, NULL, 10);
        else if (!strcmp(a, "--lr"))
            o->lr = atof(v);
        else if (!strcmp(a, "--l2"))
            o->l2 = atof(v);
        else if (!strcmp(a, "--target-fp"))
            o->target_fp = atof(v);
        else if (!strcmp(a, "--synth-suffix"))
            o->synth = atoi(v);
        else if (!strcmp(a, "--hard-weight"))
            o->hard_weight = atof(v);
        else if (!strcmp(a, "--dump"))
            o->dump = v;
        else {
            fprintf(stderr, "train_learned: unknown option %s\n", a);
            usage(stderr);
            return 2;
        }
        i++;
    }
    if (o->bits < 10 || o->bits > 24 || o->epochs < 1 || o->epochs > 100) {
        fprintf(stderr, "train_learned: --bits 10..24, --epochs 1..100\n");
        return 2;
    }
    return 0;
}

/* Every set weighs about the same (a set's weight: the median set size
 * over its size, within 1/4..4), then both classes the same: fills setw
 * and returns the positive class's weight. */
static double set_weights(const size_t *idx, size_t ntr, double *setw, double hard_weight)
{
    size_t nset_tr[MAX_SETS] = {0};
    for (size_t q = 0; q < ntr; q++)
        nset_tr[g_ex[idx[q]].set]++;
    size_t sizes[MAX_SETS], ns = 0;
    for (int st = 0; st < g_nset; st++)
        if (nset_tr[st])
            sizes[ns++] = nset_tr[st];
    for (size_t a = 1; a < ns; a++)
        for (size_t c = a; c > 0 && sizes[c - 1] > sizes[c]; c--) {
            size_t tt = sizes[c];
            sizes[c] = sizes[c - 1];
            sizes[c - 1] = tt;
        }
    double med = ns ? (double)sizes[ns / 2] : 1, cw[2] = {0, 0};
    for (int st = 0; st < g_nset; st++) {
        double x = nset_tr[st] ? med / (double)nset_tr[st] : 1;
        setw[st] = (getenv("NOSETW") ? 1 : x < 0.25 ? 0.25 : x > 4 ? 4 : x) *
                   (g_set[st].hard ? hard_weight : 1);
        cw[g_set[st].label] += setw[st] * (double)nset_tr[st];
    }
    return cw[1] > 0 ? cw[0] / cw[1] : 1;
}

/* AdaGrad with L2 over the training examples idx[0..ntr), seeded, then the
 * weights quantised into m (int8, the scale from the largest weight).
 * Returns the count of non-zero weights. */
static size_t sgd(an_learned_model *m, const train_opts *o, size_t *idx, size_t ntr)
{
    double setw[MAX_SETS];
    double wpos = set_weights(idx, ntr, setw, o->hard_weight);
    uint32_t bits = o->bits;
    double lr = o->lr, l2 = o->l2;
    uint64_t seed = o->seed;
    int epochs = o->epochs;
    size_t nw = (size_t)1 << bits;
    float *w = need(calloc(nw, sizeof *w)), *g2 = need(calloc(nw, sizeof *g2));
    double dw[AN_LEARNED_NDENSE] = {0}, dg2[AN_LEARNED_NDENSE] = {0}, b = 0, bg2 = 0;
    g_rng = seed * 0x9E3779B97F4A7C15ULL + 1;
    uint32_t shift = 32 - bits;
    for (int ep = 0; ep < epochs; ep++) {
        for (size_t i = ntr; i > 1; i--) { /* Fisher-Yates, seeded */
            size_t j = (size_t)(rnd() % i);
            size_t t = idx[i - 1];
            idx[i - 1] = idx[j];
            idx[j] = t;
        }
        double loss = 0;
        for (size_t q = 0; q < ntr; q++) {
            const ex_t *e = &g_ex[idx[q]];
            double v = an_learned_norm(e->nf), z = b;
            for (uint32_t j = 0; j < e->nf; j++)
                z += w[e->h[j] >> shift] * ((e->h[j] & 1) ? -v : v);
            for (int d = 0; d < AN_LEARNED_NDENSE; d++)
                z += dw[d] * e->dense[d];
            double p = 1 / (1 + exp(-z)), y = e->label, wt = setw[e->set] * (e->label ? wpos : 1);
            loss += -wt * (y ? log(p + 1e-12) : log(1 - p + 1e-12));
            double g = (p - y) * wt;
            for (uint32_t j = 0; j < e->nf; j++) {
                uint32_t bk = e->h[j] >> shift;
                double gr = g * ((e->h[j] & 1) ? -v : v) + l2 * w[bk];
                g2[bk] += (float)(gr * gr);
                w[bk] -= (float)(lr * gr / sqrt(g2[bk] + 1e-8));
            }
            for (int d = 0; d < AN_LEARNED_NDENSE; d++) {
                double gr = g * e->dense[d];
                dg2[d] += gr * gr;
                dw[d] -= DENSE_LR * lr * gr / sqrt(dg2[d] + 1e-8);
            }
            bg2 += g * g;
            b -= lr * g / sqrt(bg2 + 1e-8);
        }
        fprintf(stderr, "epoch %d: mean weighted log-loss %.4f\n", ep + 1, loss / (double)ntr);
    }
    /* quantise: int8, the scale from the largest weight */
    float mx = 1e-9f;
    for (size_t i = 0; i < nw; i++)
        if (fabsf(w[i]) > mx)
            mx = fabsf(w[i]);
    m->scale = mx / 127;
    size_t nz = 0;
    for (size_t i = 0; i < nw; i++) {
        long q = lroundf(w[i] / m->scale);
        m->w[i] = (int8_t)(q > 127 ? 127 : q < -127 ? -127 : q);
        nz += m->w[i] != 0;
    }
    m->bias = (float)b;
    for (int d = 0; d < AN_LEARNED_NDENSE; d++)
        m->dense_w[d] = (float)dw[d];
    free(w);
    free(g2);
    return nz;
}

/* Thresholds on validation only: pooled benign FP <= target, every
 * hard-negative set <= hard_fp; strong: a logit above every validation
 * benign prompt, plus a margin of one (odds e times higher). Returns the
 * count of validation benign prompts. */
static size_t thresholds(an_learned_model *m, an_learned_scratch *s, const train_opts *o)
{
    double target_fp = o->target_fp, hard_fp = o->hard_fp;
    score_part(m, s, 0);
    float *sc = need(malloc((g_nex ? g_nex : 1) * sizeof *sc));
    size_t nb = 0;
    for (size_t i = 0; i < g_nex; i++)
        if (!g_ex[i].heldback && g_ex[i].val && !g_ex[i].label)
            sc[nb++] = g_ex[i].score;
    float t = thr_for(sc, nb, (size_t)floor(target_fp * (double)nb));
    /* strong: a logit above every validation benign prompt, plus a margin of one
     * (odds e times higher) */
    float strong = nb ? sc[0] + STRONG_MARGIN : t;
    for (int st = 0; st < g_nset; st++) {
        if (!g_set[st].hard)
            continue;
        size_t n = 0;
        for (size_t i = 0; i < g_nex; i++)
            if (!g_ex[i].heldback && g_ex[i].val && g_ex[i].set == st)
                sc[n++] = g_ex[i].score;
        float ts = thr_for(sc, n, (size_t)floor(hard_fp * (double)n));
        if (ts > t)
            t = ts;
    }
    if (strong < t + STRONG_MARGIN)
        strong = t + STRONG_MARGIN;
    m->threshold = t;
    m->strong = strong;
    free(sc);
    return nb;
}

/* What was trained and what sets the thresholds: the highest validation
 * benign prompts, and the validation table. */
static void report(an_learned_model *m, an_learned_scratch *s, const train_opts *o,
                   const uint8_t *sha, size_t ntr, size_t npos, size_t nz, size_t nb, double t0)
{
    uint32_t bits = o->bits;
    int epochs = o->epochs;
    double target_fp = o->target_fp, hard_fp = o->hard_fp;
    printf("training command: %s\n", m->cmd);
    printf("inputs sha256: ");
    for (int i = 0; i < 32; i++)
        printf("%02x", sha[i]);
    printf("\ntrain %zu prompts (%zu attacks), 2^%u buckets (%zu non-zero), %d epochs, %.1f s\n",
           ntr, npos, bits, nz, epochs, now_s() - t0);
    printf("dense weights: lm_worst_window %.3f lm_mean %.3f ctx_imperatives %.3f prose_in_table %.3f "
           "ctx_to_answer %.3f ctx_sentence_imperatives %.3f harm_to_person %.3f prose_after_table %.3f; bias %.3f\n",
           m->dense_w[0], m->dense_w[1], m->dense_w[2], m->dense_w[3], m->dense_w[4],
           m->dense_w[5], m->dense_w[6], m->dense_w[7], m->bias);
    printf("validation benign: %zu prompts; threshold logit %.3f (pooled FP <= %.2f%%, hard-negative "
           "sets <= %.1f%%), strong %.3f (every validation benign + %.1f)\n",
           nb, m->threshold, 100 * target_fp, 100 * hard_fp, m->strong, STRONG_MARGIN);
    /* what sets the thresholds: the highest validation benign prompts */
    printf("highest validation benign logits:\n");
    for (int r = 0; r < 8; r++) {
        size_t bi = SIZE_MAX;
        for (size_t i = 0; i < g_nex; i++)
            if (!g_ex[i].heldback && g_ex[i].val && !g_ex[i].label && g_ex[i].score > -1e30f &&
                (bi == SIZE_MAX || g_ex[i].score > g_ex[bi].score))
                bi = i;
        if (bi == SIZE_MAX)
            break;
        printf("  %.3f %s: %.70s\n", g_ex[bi].score, g_set[g_ex[bi].set].name, g_ex[bi].text);
        g_ex[bi].score = -1e31f; /* shown; restored below */
    }
    score_part(m, s, 0);
    table("Validation (tuning half, bit 1 of the hash set)", 0, 1, m->threshold, m->strong, 0);
}

int main(int argc, char **argv)
{
    train_opts o;
    int pa = parse_args(argc, argv, &o);
    if (pa != 0)
        return pa == 1 ? 0 : 2;
    an_learned_scratch *s = an_learned_scratch_new();
    uint8_t sha[32];
    load_all(o.data, o.synth, sha);
    if (o.evalf) {
        int rc = eval(o.evalf, s);
        free(s);
        free_all();
        return rc;
    }
    an_learned_model *m = an_learned_new(o.bits);
    if (!s || !m) {
        fprintf(stderr, "train_learned: out of memory\n");
        return 2;
    }
    memcpy(m->inputs_sha256, sha, 32);
    size_t k = 0;
    for (int i = 0; i < argc && k + 2 < sizeof m->cmd; i++)
        k += (size_t)snprintf(m->cmd + k, sizeof m->cmd - k, "%s%s", i ? " " : "", argv[i]);
    double t0 = now_s();
    train_lm(m, s);
    featurize_all(m, s, 0);
    size_t ntr = 0, npos = 0;
    size_t *idx = need(malloc((g_nex ? g_nex : 1) * sizeof *idx));
    for (size_t i = 0; i < g_nex; i++)
        if (!g_ex[i].heldback && !g_ex[i].val) {
            idx[ntr++] = i;
            npos += g_ex[i].label;
        }
    size_t nz = sgd(m, &o, idx, ntr);
    size_t nb = thresholds(m, s, &o);
    char err[512];
    if (an_learned_save(m, o.out, err, sizeof err) != 0) {
        fprintf(stderr, "train_learned: %s\n", err);
        return 1;
    }
    report(m, s, &o, sha, ntr, npos, nz, nb, t0);
    if (o.dump && dump_tuning(o.dump) != 0)
        return 1;
    printf("wrote %s\n", o.out);
    free(idx);
    an_learned_free(m);
    free(s);
    free_all();
    return 0;
}
