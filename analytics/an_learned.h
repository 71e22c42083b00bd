/* The learned prompt detector (private to analytics/): a featurizer of hashed
 * word 1-2 grams and character 3-5 grams plus a few dense features (a
 * character-bigram language model's worst windowed perplexity, instructions
 * at the start of lines inside carried content, instructions about the
 * answer inside its sentences, harm done to a person), and a logistic regression
 * over them. The training tool (tools/train_learned.c) and the engine call
 * the same featurizer, so a prompt gets the same features in both.
 *
 * Model file (little-endian; analytics/models/learned.bin):
 *   "CUSTOSLD"  u32 format version  u32 featurizer version  u32 bits
 *   u32 max_bytes  u32 ndense  u32 lm_bytes
 *   f32 scale  f32 bias  f32 threshold  f32 strong (logits)  f32 dense_w[ndense]
 *   u8 inputs_sha256[32]  u32 cmd_len  cmd_len bytes (the training command)
 *   i8 w[1 << bits]  u8 lm[lm_bytes]  u8 sha256 of every byte before it[32]
 */
#ifndef CUSTOS_AN_LEARNED_H
#define CUSTOS_AN_LEARNED_H

#include <stddef.h>
#include <stdint.h>

#define AN_LEARNED_FORMAT 1
#define AN_LEARNED_FEAT_VERSION 3
/* Longer prompts keep their head and their tail (an injection planted at
 * the end of a document is in the tail). */
#define AN_LEARNED_MAX_BYTES 8192
#define AN_LEARNED_HEAD 6144
#define AN_LEARNED_NDENSE 8
#define AN_LEARNED_LM_BYTES 65536 /* bigram table: 256 x 256 NLL, 1/16 nat units */
#define AN_LEARNED_CMD_MAX 1024
#define AN_LEARNED_TOP 5
#define AN_LEARNED_FILE_MAX (64u << 20)
/* features per byte: three character grams, and per word at most four */
#define AN_LEARNED_MAX_FEATS (AN_LEARNED_MAX_BYTES * 3 + AN_LEARNED_MAX_BYTES * 2 + 16)

/* feature kinds (the namespaces of the hash) */
enum { AN_LF_CHAR = 0, AN_LF_WORD = 1, AN_LF_WORD2 = 2, AN_LF_CTX = 3, AN_LF_LINE = 4 };

typedef struct an_learned_model {
    uint32_t bits;
    float scale; /* weight = w[i] * scale */
    float bias;
    float threshold, strong; /* logits: flagged when the logit is at least threshold */
    float dense_w[AN_LEARNED_NDENSE];
    uint8_t inputs_sha256[32];
    char cmd[AN_LEARNED_CMD_MAX + 1];
    int8_t *w;   /* 1 << bits */
    uint8_t *lm; /* AN_LEARNED_LM_BYTES */
} an_learned_model;

/* One prompt's features: the reusable buffers of a caller (one per thread). */
typedef struct an_learned_scratch {
    unsigned char text[AN_LEARNED_MAX_BYTES + 2]; /* normalised: folded, digits 0 */
    size_t len;
    uint32_t nf;
    uint32_t h[AN_LEARNED_MAX_FEATS];   /* hash: bucket = h >> (32 - bits), sign = h & 1 */
    /* where in text, length and kind: pos | len << 14 | kind << 22 (explanations) */
    uint32_t meta[AN_LEARNED_MAX_FEATS];
    uint64_t seen[1024]; /* 2^16 bits: grams already emitted */
    int64_t fsum; /* an_learned_logit_fast: the sum of the weights */
    float dense[AN_LEARNED_NDENSE];
    /* a structure flag beside the model (not a feature it weighs): in the
     * carried content, exactly one sentence between two rows of one table
     * (the same number of cells; the row before it closed with its last
     * '|', so the sentence is not a cell's text continued on a new line) */
    uint8_t row_planted;
} an_learned_scratch;

/* A feature that pushed the score up: its text (a gram of the normalised
 * prompt, or a dense feature's name) and its share of the logit. */
typedef struct an_learned_top {
    char text[48];
    const char *kind; /* "char", "word", "word2", "ctx", "line", "dense" */
    float contrib;
} an_learned_top;

/* A zeroed model of 1 << bits buckets (10..24) with a flat language model;
 * for the training tool and tests. NULL when out of memory. Caller frees. */
an_learned_model *an_learned_new(uint32_t bits);
void an_learned_free(an_learned_model *m);

/* Parses a model file image; NULL with a message in err when it is short,
 * corrupt, of another version or of another featurizer. Caller frees. */
an_learned_model *an_learned_parse(const uint8_t *buf, size_t n, char *err, size_t errlen);
/* Reads and parses path (at most AN_LEARNED_FILE_MAX bytes). Caller frees. */
an_learned_model *an_learned_load(const char *path, char *err, size_t errlen);
/* Writes m to path (through a temporary file and rename). 0 or -1 and err. */
int an_learned_save(const an_learned_model *m, const char *path, char *err, size_t errlen);

/* Heap scratch (it is ~200 KB). Caller frees with free(). */
an_learned_scratch *an_learned_scratch_new(void);

/* Fills s with the features of text[0..n): at most AN_LEARNED_MAX_BYTES are
 * read (head and tail). The dense features need the language model of m;
 * with m NULL they are 0. Returns the number of hashed features. */
uint32_t an_learned_featurize(const an_learned_model *m, an_learned_scratch *s, const char *text,
                              size_t n);

/* The logit of the features in s under m (an_learned_featurize first). When
 * top is not NULL, up to AN_LEARNED_TOP of the largest positive
 * contributions (distinct buckets) go there and their number in *ntop. */
double an_learned_logit(const an_learned_model *m, const an_learned_scratch *s,
                        an_learned_top *top, int *ntop);

/* The same logit as an_learned_featurize + an_learned_logit, summed while the
 * features are made: nothing is kept in s but the normalised text and the
 * dense features (no top features; for those, featurize again). */
double an_learned_logit_fast(const an_learned_model *m, an_learned_scratch *s, const char *text,
                             size_t n);

/* After an_learned_featurize or an_learned_logit_fast: of the structure
 * features that found an instruction planted in the prompt's carried
 * content (ctx_imperatives, prose_in_table, ctx_to_answer,
 * ctx_sentence_imperatives, prose_after_table: an imperative addressed to
 * the assistant, a sentence among or after a table's rows), the name of the
 * one that adds most to the logit under m, or NULL when none fired. A
 * static string. */
const char *an_learned_planted(const an_learned_model *m, const an_learned_scratch *s);
/* The name an_learned_planted's caller gives row_planted (the flag of
 * an_learned_scratch), and the least logit at which that flag makes a
 * prompt below the model's threshold a learned signal: 0, the model leaning
 * to attack (score 0.5). No benign prompt of the tuning half sets the flag
 * (docs/analytics.md, "A sentence planted among a table's rows"). */
#define AN_LEARNED_ROW_PLANTED "sentence_between_rows"
#define AN_LEARNED_ROW_BAR 0.0
/* What a structure feature of that name found, in words (static). */
const char *an_learned_planted_text(const char *name);

/* Featurize and score: the probability in [0, 1]. */
float an_learned_score(const an_learned_model *m, an_learned_scratch *s, const char *text,
                       size_t n, an_learned_top *top, int *ntop);

/* Bucket and sign of feature j of s under m (training). */
static inline uint32_t an_learned_bucket(const an_learned_model *m, uint32_t h)
{
    return h >> (32 - m->bits);
}
static inline int an_learned_sign(uint32_t h) { return (h & 1) ? -1 : 1; }

/* The value of each hashed feature of a prompt with nf of them. */
double an_learned_norm(uint32_t nf);

#endif
