/* The labelled scenario generator (scengen), private to its two files:
 * scengen.c holds the command, the prompt sets, the events and the labels;
 * scengen_traffic.c the scenarios (benign population, look-alikes,
 * attacks). Everything draws from one seeded random stream, in a fixed
 * order: the same arguments give the same files. */
#ifndef TOOLS_SCENGEN_H
#define TOOLS_SCENGEN_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>

/* ---- random numbers (one xorshift stream, seeded by --seed) ---- */

extern uint64_t g_rng;

static inline uint64_t rnd(void)
{
    g_rng ^= g_rng >> 12;
    g_rng ^= g_rng << 25;
    g_rng ^= g_rng >> 27;
    return g_rng * 2685821657736338717ULL;
}
static inline double urand(void) { return (double)(rnd() >> 11) / 9007199254740992.0; }
static inline int irand(int n) { return (int)(urand() * n); }
static inline double expo(double mean) { return -mean * log(1 - urand()); }
static inline double gauss(void)
{
    double u = urand() + 1e-12, v = urand();
    return sqrt(-2 * log(u)) * cos(2 * M_PI * v);
}
static inline double lognorm(double median, double sigma) { return median * exp(sigma * gauss()); }

/* ---- prompts ---- */

typedef struct {
    char **v;
    int n, cap;
} strs;

void push(strs *s, char *x);

extern strs g_vendor; /* benign prompts that name an AI vendor or model */

/* A benign prompt (one random draw). */
const char *benign_prompt(void);
/* What an extraction attacker sends: diverse questions, not the templated
 * tasks (e-mail and table contexts, tool-use preambles) of the other sets.
 * Draws one random number, as benign_prompt() does. */
const char *question_prompt(void);
/* A held-out or tuning attack prompt: a filled jailbreak template, a DAN
 * prompt or a system-prompt extraction attempt. Caller frees. */
char *attack_prompt(void);
/* Rephrasing variant of persuasion goal goal (the harmful questions of the
 * half, in a persuasion frame of variant): PAIR-style iteration. Caller
 * frees. */
char *persuasion_prompt(int goal, int variant);
int persuasion_goals(void);
/* Small mutations of one template: GPTFuzz-style variants. Caller frees. */
char *mutate(const char *s);

/* Attack styles: each a set of data/prompts split into halves. */
typedef struct {
    const char *name, *file;
    strs set;
} style;
extern style g_styles[];
extern const int g_nstyles;
extern const int g_nstyles_scenario; /* the styles of the scenario's keys */
/* Prompt i of a style (template and DAN placeholders filled). Caller frees. */
char *style_prompt(int st, int i);

/* Fills buf (cap bytes) with about want bytes of words. */
void words(char *buf, size_t want, size_t cap);

/* ---- events and labels ---- */

typedef struct {
    const char *model, *version;
    double len_median, len_sigma, lat_per_tok, refusal, length_share;
} behaviour;

typedef struct {
    char id[48];
    char tenant[24];
    double mult; /* per-key response length factor: traffic-mix variety */
} key;

/* Adds one event at ts from key k of a model that behaves as b. */
void emit(int64_t ts, const key *k, const behaviour *b, const char *prompt,
          const char *response_override, int refusal, int status, double len_scale);

extern FILE *g_labels;
void label_key(const char *scenario, const char *type, const char *keyid, int64_t start,
               int attack);

#define SEC 1000000LL
#define T0 (1795132800LL * SEC) /* 2026-11-20T00:00:00Z */
#define MIN (60 * SEC)
#define HOUR (3600 * SEC)

/* ---- the scenarios (scengen_traffic.c), generated in this order ---- */

/* The models and the run's clock: what every scenario shares. */
typedef struct {
    int nkeys;
    int64_t end;
    behaviour gx1, gx2, cy, cy_drift, mz;
    int64_t rollout_start, rollout_end, drift_start;
} world;

void scen_world(world *w, int nkeys, double hours);
void scen_benign(const world *w);
void scen_lookalikes(const world *w);
void scen_attacks(const world *w);
void scen_traps(const world *w);

#endif
