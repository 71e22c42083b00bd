/* The learned prompt detector: featurizer, model file, scoring. See
 * an_learned.h for the file layout and docs/analytics.md for the figures. */
#include "analytics/an_learned.h"
#include "analytics/an_features.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

#define MAGIC "CUSTOSLD"
#define HDR_FIXED (8 + 4 * 6 + 4 * 4 + 4 * AN_LEARNED_NDENSE + 32 + 4)
#define LM_WINDOW 24

static const char *const g_dense_name[AN_LEARNED_NDENSE] = {
    "lm_worst_window", "lm_mean", "ctx_imperatives", "prose_in_table", "ctx_to_answer",
    "ctx_sentence_imperatives", "harm_to_person", "prose_after_table"};
static const char *const g_kind_name[] = {"char", "word", "word2", "ctx", "line"};

/* The structure features (indices of g_dense_name) and what each found,
 * as the probing summary says it. */
static const struct {
    int d;
    const char *text;
} k_planted[] = {
    {2, "a line in it opens with an instruction to the assistant"},
    {3, "a sentence among a table's rows"},
    {4, "an order about the assistant's answer"},
    {5, "a sentence in it opens with an edit verb"},
    {7, "a task written after a table's rows"},
};

const char *an_learned_planted(const an_learned_model *m, const an_learned_scratch *s)
{
    const char *best = NULL;
    double bw = -INFINITY;
    for (size_t i = 0; i < sizeof k_planted / sizeof k_planted[0]; i++) {
        int d = k_planted[i].d;
        double w = m->dense_w[d] * s->dense[d];
        if (s->dense[d] > 0 && w > bw) {
            bw = w;
            best = g_dense_name[d];
        }
    }
    return best;
}

const char *an_learned_planted_text(const char *name)
{
    if (name && strcmp(name, AN_LEARNED_ROW_PLANTED) == 0)
        return "one sentence between a table's rows";
    for (size_t i = 0; name && i < sizeof k_planted / sizeof k_planted[0]; i++)
        if (strcmp(name, g_dense_name[k_planted[i].d]) == 0)
            return k_planted[i].text;
    return "an instruction";
}

static inline uint32_t hmix(uint64_t x, uint64_t kind)
{
    x ^= (kind + 1) * 0x9E3779B97F4A7C15ULL;
    x ^= x >> 31;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 29;
    x *= 0x94d049bb133111ebULL;
    x ^= x >> 32;
    return (uint32_t)x;
}

/* Byte tables: g_fold folds ASCII letters, maps digits to 0 and the other
 * white space to ' '; g_word marks word bytes of the folded text (letters,
 * 0, and the bytes of multi-byte UTF-8 characters). */
static unsigned char g_fold[256], g_word[256];

__attribute__((constructor)) static void tables_init(void)
{
    for (int c = 0; c < 256; c++) {
        g_fold[c] = (unsigned char)(c >= 'A' && c <= 'Z'   ? c + 32
                                    : c >= '0' && c <= '9' ? '0'
                                    : c == '\r' || c == '\t' || c == '\f' || c == '\v' ? ' '
                                                                                     : c);
        g_word[c] = (c >= 'a' && c <= 'z') || c == '0' || c >= 0x80;
    }
}

static inline int is_word(unsigned char c) { return g_word[c]; }

/* Words that open an instruction to the assistant; at the start of a line of
 * carried content (after the prompt's first line) they are what an indirect
 * injection looks like. Compared against the folded text. */
static const char *const g_imperative[] = {
    "ignore",  "disregard", "forget", "translate", "respond", "reply",   "answer", "output",
    "print",   "include",   "add",    "append",    "insert",  "tell",    "send",   "write",
    "rewrite", "instead",   "do",     "don't",     "stop",    "act",     "pretend", "you",
    "from",    "always",    "never",  "make",      "change",  "replace", "visit",  "click",
    "new",     "system",    "note",   "important", "attention"};

/* Verbs that open an instruction about the answer inside a sentence of
 * carried content ("... Integrate a link in your reply."): the line-start
 * list plus the verbs of edits to an answer. */
static const char *const g_sent_imperative[] = {
    "ignore",    "disregard", "forget",    "translate", "respond",   "reply",     "output",
    "include",   "add",       "append",    "insert",    "rewrite",   "pretend",   "replace",
    "integrate", "incorporate", "enhance", "embed",     "encrypt",   "encode",    "mention",
    "promote",   "fuse",      "conclude",  "begin",     "end",       "use",       "provide",
    "answer",    "write",     "always",    "never",     "start",     "ensure",    "modify",
    "render",    "remove",    "reverse",   "scramble",  "format"};

/* Nouns that name the assistant's answer after "your" within two words
 * ("in your response", "your final answer"; not "solution": "code up your
 * solution" is how people talk to people). */
static const char *const g_answer_noun[] = {"response", "responses", "reply",   "replies",
                                            "answer",   "answers",   "output",  "outputs",
                                            "implementation", "algorithm"};

static int in_list(const char *const *list, size_t nlist, const unsigned char *w, size_t n)
{
    if (n < 2 || n > 14 || w[0] < 'a' || w[0] > 'z') /* every entry opens with a letter */
        return 0;
    for (size_t i = 0; i < nlist; i++)
        if (list[i][0] == (char)w[0] && strlen(list[i]) == n && memcmp(list[i], w, n) == 0)
            return 1;
    return 0;
}
#define IN_LIST(l, w, n) in_list(l, sizeof l / sizeof l[0], w, n)

static int imperative(const unsigned char *w, size_t n)
{
    return n <= 9 && IN_LIST(g_imperative, w, n);
}

/* Featurizer 3: harm done to a person ("poison my neighbour", "stab
 * someone", "kidnap a child"): a verb of violence or abuse followed within
 * three words by a word for a person. XSTest's safe twins name a thing or a
 * figure of speech ("kill a Python process", "explode with laughter"), so
 * the verb alone says little. Looked up by the FNV-1a 64 hash of the word
 * the featurizer computes anyway, in a table built once with the verbs'
 * inflections (-s, -ed, -ing, the final e dropped, the final consonant
 * doubled). */
static const char *const g_harm_verb[] = {
    "kill",     "murder",  "poison",  "stab",     "shoot",    "hurt",     "harm",
    "attack",   "beat",    "strangle", "kidnap",  "rape",     "stalk",    "torture",
    "drown",    "choke",   "punch",   "slap",     "bully",    "threaten", "blackmail",
    "rob",      "abuse",   "assault", "molest",   "harass",   "humiliate", "manipulate",
    "drug",     "smother", "suffocate", "sedate", "intimidate", "terrorize", "terrorise",
    "burn",     "starve",  "injure",  "maim",     "assassinate", "abduct", "traffic",
    "scam",     "defraud", "groom",   "spy",      "dox",      "doxx",     "frame",
    "torment",  "lynch",   "execute", "mutilate", "disfigure", "hit",     "kick",
    "trip",     "shove",   "push",    "scare",    "frighten", "exploit",  "gaslight",
    "hang",     "cut"};
static const char *const g_person[] = {
    "someone",  "somebody", "anyone",  "anybody",  "people",   "person",   "persons",
    "him",      "her",      "them",    "wife",     "husband",  "girlfriend", "boyfriend",
    "partner",  "neighbor", "neighbour", "neighbors", "neighbours", "boss", "coworker",
    "coworkers", "colleague", "colleagues", "teacher", "student", "classmate", "child",
    "children", "kid",      "kids",    "baby",     "babies",   "son",      "daughter",
    "mom",      "mother",   "dad",     "father",   "brother",  "sister",   "friend",
    "friends",  "roommate", "ex",      "family",   "cousin",   "uncle",    "aunt",
    "grandma",  "grandmother", "grandpa", "grandfather", "man", "woman",  "men",
    "women",    "girl",     "girls",   "boy",      "boys",     "guy",      "toddler",
    "teen",     "teenager", "victim",  "spouse",   "fiance",   "employee", "employees",
    "customer", "stranger", "strangers", "enemy",  "rival",    "nephew",   "niece",
    "parents",  "elderly",  "officer", "cop",      "senator",  "president", "mayor",
    "myself",   "yourself", "himself", "herself",  "everyone", "dog",      "dogs",
    "cat",      "cats",     "pet",     "pets",     "puppy",    "kitten",   "animal",
    "animals",  "horse"};

#define HARM_SLOTS 2048 /* a power of two, over four times the entries */
static uint64_t g_harm_hash[HARM_SLOTS];
static uint8_t g_harm_kind[HARM_SLOTS]; /* 1 verb, 2 person */

static void harm_add(const char *w, size_t n, uint8_t kind)
{
    uint64_t h = an_hash(w, n, 0);
    size_t k = (size_t)(h >> 40) & (HARM_SLOTS - 1);
    while (g_harm_kind[k] && g_harm_hash[k] != h)
        k = (k + 1) & (HARM_SLOTS - 1);
    g_harm_hash[k] = h;
    g_harm_kind[k] |= kind;
}

static int harm_kind(uint64_t h)
{
    size_t k = (size_t)(h >> 40) & (HARM_SLOTS - 1);
    for (; g_harm_kind[k]; k = (k + 1) & (HARM_SLOTS - 1))
        if (g_harm_hash[k] == h)
            return g_harm_kind[k];
    return 0;
}

__attribute__((constructor)) static void harm_init(void)
{
    char b[40];
    for (size_t i = 0; i < sizeof g_harm_verb / sizeof g_harm_verb[0]; i++) {
        const char *v = g_harm_verb[i];
        size_t n = strlen(v);
        const char *suf[] = {"", "s", "es", "ed", "d", "ing"};
        for (size_t q = 0; q < sizeof suf / sizeof suf[0]; q++) {
            int k = snprintf(b, sizeof b, "%s%s", v, suf[q]);
            harm_add(b, (size_t)k, 1);
        }
        if (v[n - 1] == 'e') { /* choke: choking */
            int k = snprintf(b, sizeof b, "%.*sing", (int)(n - 1), v);
            harm_add(b, (size_t)k, 1);
        }
        if (v[n - 1] == 'y') { /* bully: bullies, bullied */
            int k = snprintf(b, sizeof b, "%.*sies", (int)(n - 1), v);
            harm_add(b, (size_t)k, 1);
            k = snprintf(b, sizeof b, "%.*sied", (int)(n - 1), v);
            harm_add(b, (size_t)k, 1);
        }
        if (!strchr("aeiouwxy", v[n - 1]) && n >= 2 && strchr("aeiou", v[n - 2])) {
            /* stab: stabbed, stabbing; kidnap: kidnapped */
            int k = snprintf(b, sizeof b, "%s%ced", v, v[n - 1]);
            harm_add(b, (size_t)k, 1);
            k = snprintf(b, sizeof b, "%s%cing", v, v[n - 1]);
            harm_add(b, (size_t)k, 1);
        }
    }
    for (size_t i = 0; i < sizeof g_person / sizeof g_person[0]; i++)
        harm_add(g_person[i], strlen(g_person[i]), 2);
}

an_learned_scratch *an_learned_scratch_new(void) { return calloc(1, sizeof(an_learned_scratch)); }

/* Folds ASCII letters, maps digits to 0 and collapses white space (a run
 * holding a line break becomes one '\n'), over the head and tail of text. */
static inline __attribute__((always_inline)) void normalise(an_learned_scratch *s,
                                                           const char *text, size_t n)
{
    const unsigned char *seg[2] = {(const unsigned char *)text, NULL};
    size_t seglen[2] = {n, 0};
    if (n > AN_LEARNED_MAX_BYTES) {
        seglen[0] = AN_LEARNED_HEAD;
        seg[1] = (const unsigned char *)text + n - (AN_LEARNED_MAX_BYTES - AN_LEARNED_HEAD);
        seglen[1] = AN_LEARNED_MAX_BYTES - AN_LEARNED_HEAD;
    }
    size_t k = 0;
    unsigned char prev = ' ';
    for (int g = 0; g < 2 && seg[g]; g++) {
        if (g == 1 && prev != ' ' && prev != '\n' && k < AN_LEARNED_MAX_BYTES)
            s->text[k++] = prev = ' ';
        for (size_t i = 0; i < seglen[g] && k < AN_LEARNED_MAX_BYTES; i++) {
            unsigned char c = g_fold[seg[g][i]];
            if (c == ' ' || c == '\n') {
                if (prev == ' ' || prev == '\n') {
                    if (c == '\n' && k > 0) /* a run holding a break is a break */
                        s->text[k - 1] = prev = '\n';
                    continue;
                }
            }
            s->text[k++] = prev = c;
        }
    }
    s->len = k;
    s->text[k] = '\0';
}

/* Features are binary: a gram seen before in this prompt (by 16 bits of its
 * hash, a bitmap that stays in L1) is not emitted again, so that a long
 * table's thousand "| 0" do not outweigh one planted sentence. */
/* The running count and sum live in the caller's locals, not in s: the
 * weights are int8_t, which may alias anything, and would make the compiler
 * store and reload s->nf and s->fsum at every gram. */
typedef struct {
    uint32_t nf;
    int64_t fsum;
} acc;

static inline __attribute__((always_inline)) void emit(an_learned_scratch *s, acc *a, uint32_t h,
                                                       size_t pos, size_t len, int kind,
                                                       const int8_t *fw, uint32_t shift)
{
    /* branch-free: the slot is written anyway and kept when the gram is new.
     * At most 3 grams per byte and 4 per word (<= 2 per byte) are emitted, so
     * nf stays below AN_LEARNED_MAX_FEATS; the guard keeps it so regardless. */
    uint32_t bit = (h >> 1) & 0xFFFF, nf = a->nf;
    uint64_t word = s->seen[bit >> 6], mask = 1ULL << (bit & 63);
    s->seen[bit >> 6] = word | mask;
    if (fw) { /* scoring only: add the weight, keep nothing */
        /* in arithmetic, not a condition: whether a gram is new and its sign
         * (the hash's low bit) are coin flips the branch predictor loses,
         * which cost more than the rest of the featurizer together */
        int64_t v = fw[h >> shift];
        int64_t neg = -(int64_t)(h & 1);            /* 0 or -1 */
        int64_t keep = (int64_t)((word & mask) != 0) - 1; /* -1 when new, else 0 */
        a->fsum += ((v ^ neg) - neg) & keep;
        a->nf = nf + (uint32_t)(keep & 1);
        return;
    }
    s->h[nf] = h;
    s->meta[nf] = (uint32_t)pos | (uint32_t)(len > 255 ? 255 : len) << 14 | (uint32_t)kind << 22;
    a->nf = nf + (uint32_t)((word & mask) == 0 && nf + 1 < AN_LEARNED_MAX_FEATS);
}

/* The featurizer; with fw (the weights) it only sums them (an_learned_logit_fast). */
static inline __attribute__((always_inline)) uint32_t
featurize(const an_learned_model *m, an_learned_scratch *s, const char *text, size_t n,
          const int8_t *fw, uint32_t shift)
{
    normalise(s, text, n);
    acc a = {0, 0};
    memset(s->seen, 0, sizeof s->seen);
    const unsigned char *t = s->text;
    size_t len = s->len;
    /* character 3-5 grams: a window of the last five bytes */
    uint64_t x = 0;
    for (size_t i = 0; i < len; i++) {
        x = (x << 8) | t[i];
        if (i >= 2)
            emit(s, &a, (uint32_t)(((x & 0xFFFFFFULL) * 0x9E3779B97F4A7C15ULL) >> 32), i - 2, 3, AN_LF_CHAR, fw, shift);
        if (i >= 3)
            emit(s, &a, (uint32_t)(((x & 0xFFFFFFFFULL) * 0xC2B2AE3D27D4EB4FULL) >> 32), i - 3, 4, AN_LF_CHAR, fw, shift);
        if (i >= 4)
            emit(s, &a, (uint32_t)(((x & 0xFFFFFFFFFFULL) * 0x165667B19E3779F9ULL) >> 32), i - 4, 5, AN_LF_CHAR, fw, shift);
    }
    /* words, word pairs; in carried content (after the first line), for
     * each line that opens with a letter (prose, not a table row or code),
     * its first word and first two: an instruction planted in content */
    uint64_t prev = 0, line_first = 0;
    size_t prev_pos = 0;
    int have_prev = 0, in_ctx = 0, line_word = 0, prose = 0, addressed = 0, imp_first = 0;
    int imperatives = 0, table_lines = 0, before = 0, pending = 0, between = 0;
    /* row_planted: the cells ('|') of this line and of the last table row,
     * whether that row closed, and the lines (and sentences) since it */
    enum { ROW_NONE = -1, ROW_INTRO = -2 };
    int line_pipes = 0, row_pipes = ROW_NONE, row_closed = 0, gap_lines = 0, gap_prose = 0;
    uint8_t row_planted = 0;
    /* sentences of carried content (after the first line: a colon inside
     * the user's own request, "answer with one of these options: ...", is
     * not content); a sentence opens at a line start or after . ! ? : | */
    int sent_start = 1, sent_imp = 0, to_answer = 0, harm_person = 0;
    long wi = 0, your_at = -10, harm_at = -10;
    size_t line_start = 0;
    for (size_t i = 0; i <= len;) {
        if (i == len || t[i] == '\n') {
            /* a line ends */
            if (in_ctx && prose && (imp_first || addressed))
                imperatives++;
            /* a line ending in a colon introduces what follows ("The
             * puzzle is:"), it was not planted in it */
            int sentence = in_ctx && prose && line_word >= 3 && t[i - 1] != ':';
            if (sentence)
                *(table_lines ? &pending : &before) += 1;
            if (in_ctx && line_start < len && t[line_start] == '|') {
                /* one sentence (ending . ? or !: not a caption or a
                 * heading) between two rows of one table, or between the
                 * line that introduces the table and its first row */
                if (gap_lines == 1 && gap_prose == 1 && row_closed &&
                    (line_pipes == row_pipes || row_pipes == ROW_INTRO))
                    row_planted = 1;
                row_pipes = line_pipes;
                row_closed = t[i - 1] == '|';
                gap_lines = gap_prose = 0;
            } else if (i > line_start && t[i - 1] == ':') {
                row_pipes = ROW_INTRO; /* "Here is the table:" */
                row_closed = 1;
                gap_lines = gap_prose = 0;
            } else if (row_pipes != ROW_NONE) {
                gap_lines++;
                gap_prose += sentence && (t[i - 1] == '.' || t[i - 1] == '?' || t[i - 1] == '!');
            }
            if (i == len)
                break;
            in_ctx = sent_start = 1;
            line_word = addressed = imp_first = line_pipes = 0;
            i++;
            line_start = i;
            prose = i < len && ((t[i] >= 'a' && t[i] <= 'z') || t[i] >= 0x80);
            if (i < len && t[i] == '|') {
                table_lines++;
                between += pending;
                pending = 0;
            }
            continue;
        }
        if (!is_word(t[i])) {
            unsigned char c = t[i];
            if (c == '.' || c == '!' || c == '?' || c == ':' || c == '|')
                sent_start = 1;
            line_pipes += c == '|';
            i++;
            continue;
        }
        size_t b = i;
        while (i < len && (is_word(t[i]) || (t[i] == '\'' && i > b)))
            i++;
        uint64_t wh = 1469598103934665603ULL;
        for (size_t j = b; j < i; j++)
            wh = (wh ^ t[j]) * 1099511628211ULL;
        emit(s, &a, hmix(wh, 10 + AN_LF_WORD), b, i - b, AN_LF_WORD, fw, shift);
        if (have_prev)
            emit(s, &a, hmix(prev * 31 + wh, 10 + AN_LF_WORD2), prev_pos, i - prev_pos, AN_LF_WORD2, fw, shift);
        if (in_ctx && prose) {
            if (line_word == 0) {
                emit(s, &a, hmix(wh, 10 + AN_LF_LINE), b, i - b, AN_LF_LINE, fw, shift);
                line_first = wh;
                imp_first = imperative(t + b, i - b);
            } else if (line_word == 1)
                emit(s, &a, hmix(line_first * 31 + wh, 10 + AN_LF_CTX), prev_pos, i - prev_pos,
                     AN_LF_CTX, fw, shift);
            if ((i - b == 3 && memcmp(t + b, "you", 3) == 0) ||
                (i - b == 4 && memcmp(t + b, "your", 4) == 0))
                addressed = 1;
        }
        if (in_ctx) {
            if (sent_start && IN_LIST(g_sent_imperative, t + b, i - b))
                sent_imp++;
            if (i - b == 4 && memcmp(t + b, "your", 4) == 0)
                your_at = wi;
            else if (wi - your_at <= 2 &&
                     (IN_LIST(g_answer_noun, t + b, i - b) ||
                      (i - b > 2 && t[i - 2] == '\'' && t[i - 1] == 's' &&
                       IN_LIST(g_answer_noun, t + b, i - b - 2)))) /* "your answer's" */
                to_answer++;
        }
        /* a verb of harm, then a person within three words */
        int hk = i - b <= 14 ? harm_kind(wh) : 0;
        if (!hk && i - b > 3 && t[i - 2] == '\'' && t[i - 1] == 's') /* "neighbor's" */
            hk = harm_kind(an_hash(t + b, i - 2 - b, 0)) & 2;
        if (hk & 1)
            harm_at = wi;
        else if ((hk & 2) && wi - harm_at <= 3)
            harm_person++;
        sent_start = 0;
        wi++;
        line_word++;
        prev = wh;
        prev_pos = b;
        have_prev = 1;
    }
    /* dense: the bigram language model's worst window and mean (nats / 4),
     * instruction-like line openings in carried content, non-ASCII share */
    memset(s->dense, 0, sizeof s->dense);
    if (m && len > 1) {
        uint32_t win = 0, worst = 0, total = 0;
        unsigned char p = ' ';
        uint32_t nll[32] = {0}; /* a ring: the last LM_WINDOW (< 32) values */
        for (size_t i = 0; i < len; i++) {
            uint32_t v = m->lm[((uint32_t)p << 8) | t[i]];
            p = t[i];
            total += v;
            win += v - nll[(i - LM_WINDOW) & 31]; /* 0 until the window is full */
            nll[i & 31] = v;
            if (i + 1 >= LM_WINDOW && win > worst)
                worst = win;
        }
        if (len < LM_WINDOW)
            worst = total * LM_WINDOW / (uint32_t)len;
        s->dense[0] = (float)worst / (16.0f * LM_WINDOW * 4.0f);
        s->dense[1] = (float)total / (16.0f * (float)len * 4.0f);
    }
    s->dense[2] = (float)(imperatives > 2 ? 2 : imperatives) / 2.0f;
    /* a sentence before the rows of a table or between them (after the last
     * row is where the user's question goes) */
    s->dense[3] = table_lines >= 2 && before + between > 0 ? 1.0f : 0.0f;
    /* instructions about the answer inside carried content: "your
     * response/reply/answer ..." and sentences opening with an edit verb */
    s->dense[4] = (float)(to_answer > 2 ? 2 : to_answer) / 2.0f;
    s->dense[5] = (float)(sent_imp > 3 ? 3 : sent_imp) / 3.0f;
    /* featurizer 3: harm done to a person */
    s->dense[6] = (float)(harm_person > 2 ? 2 : harm_person) / 2.0f;
    /* and exactly two prose lines after the last row of a table: a task
     * planted after the rows, then the user's question (one alone is the
     * question; a schema explained after its rows is more than two) */
    s->dense[7] = table_lines >= 2 && pending == 2 ? 1.0f : 0.0f;
    s->row_planted = row_planted;
    s->nf = a.nf;
    s->fsum = a.fsum;
    return s->nf;
}

uint32_t an_learned_featurize(const an_learned_model *m, an_learned_scratch *s, const char *text,
                              size_t n)
{
    return featurize(m, s, text, n, NULL, 0);
}

double an_learned_logit_fast(const an_learned_model *m, an_learned_scratch *s, const char *text,
                             size_t n)
{
    const int8_t *w = m->w;
    if (!w) /* never (an_learned_new allocates it): tells the compiler the
             * scoring branch of emit() is always taken */
        __builtin_unreachable();
    featurize(m, s, text, n, w, 32 - m->bits);
    double z = m->bias + (double)s->fsum * m->scale * an_learned_norm(s->nf);
    for (int d = 0; d < AN_LEARNED_NDENSE; d++)
        z += m->dense_w[d] * s->dense[d];
    return z;
}

/* The text of a gram for the alert evidence: valid UTF-8 always (a
 * character gram may start or end inside a multi-byte character; those
 * bytes, and any invalid sequence, become '?'), line breaks as \n. */
static void top_text(char *out, size_t cap, const unsigned char *t, size_t n)
{
    size_t k = 0;
    for (size_t i = 0; i < n && k + 5 < cap;) {
        unsigned char c = t[i];
        size_t len = c < 0x80 ? 1 : (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3
                                 : (c & 0xF8) == 0xF0 ? 4 : 0;
        int ok = len > 0 && i + len <= n && !(len == 2 && c < 0xC2);
        for (size_t q = 1; ok && q < len; q++)
            ok = (t[i + q] & 0xC0) == 0x80;
        if (!ok) {
            out[k++] = '?';
            i++;
        } else if (c == '\n') {
            out[k++] = '\\';
            out[k++] = 'n';
            i++;
        } else if (c < 0x20 || c == 0x7f) {
            out[k++] = '?';
            i++;
        } else {
            memcpy(out + k, t + i, len);
            k += len;
            i += len;
        }
    }
    out[k] = '\0';
}

double an_learned_norm(uint32_t nf)
{
    /* between the mean of the weights (1/n) and an L2-normalised binary
     * vector (1/sqrt n), measured on validation: 1/n loses long jailbreak
     * templates, 1/sqrt n lets a long table's shared grams outweigh what was
     * planted in it. 3.25 = 16 / 200^0.3: a 200-gram prompt gets 16/n. */
    return nf ? 3.25 / pow((double)nf, 0.7) : 0;
}

double an_learned_logit(const an_learned_model *m, const an_learned_scratch *s,
                        an_learned_top *top, int *ntop)
{
    uint32_t shift = 32 - m->bits;
    int64_t sum = 0;
    if (!top) {
        for (uint32_t j = 0; j < s->nf; j++) {
            uint32_t h = s->h[j];
            int v = m->w[h >> shift];
            sum += (h & 1) ? -v : v;
        }
    } else {
        /* the largest positive contributions, one per bucket */
        int best[AN_LEARNED_TOP], bestj[AN_LEARNED_TOP], nb = 0;
        for (uint32_t j = 0; j < s->nf; j++) {
            uint32_t h = s->h[j];
            int v = m->w[h >> shift];
            v = (h & 1) ? -v : v;
            sum += v;
            if (v <= 0 || (nb == AN_LEARNED_TOP && v <= best[nb - 1]))
                continue;
            int dup = 0;
            for (int q = 0; q < nb && !dup; q++)
                dup = (s->h[bestj[q]] >> shift) == (h >> shift);
            if (dup)
                continue;
            int q = nb < AN_LEARNED_TOP ? nb++ : nb - 1;
            for (; q > 0 && best[q - 1] < v; q--) {
                best[q] = best[q - 1];
                bestj[q] = bestj[q - 1];
            }
            best[q] = v;
            bestj[q] = (int)j;
        }
        double norm = m->scale * an_learned_norm(s->nf);
        int n = 0;
        for (int q = 0; q < nb; q++) {
            int j = bestj[q];
            top[n].kind = g_kind_name[(s->meta[j] >> 22) & 7];
            top[n].contrib = (float)(best[q] * norm);
            top_text(top[n].text, sizeof top[n].text, s->text + (s->meta[j] & 0x3FFF),
                     (s->meta[j] >> 14) & 0xFF);
            n++;
        }
        /* a dense feature that pushed harder than the last takes its place */
        for (int d = 0; d < AN_LEARNED_NDENSE; d++) {
            float c = m->dense_w[d] * s->dense[d];
            if (c <= 0 || (n == AN_LEARNED_TOP && c <= top[n - 1].contrib))
                continue;
            int q = n < AN_LEARNED_TOP ? n++ : n - 1;
            for (; q > 0 && top[q - 1].contrib < c; q--)
                top[q] = top[q - 1];
            snprintf(top[q].text, sizeof top[q].text, "%s", g_dense_name[d]);
            top[q].kind = "dense";
            top[q].contrib = c;
        }
        *ntop = n;
    }
    double z = m->bias;
    if (s->nf)
        z += (double)sum * m->scale * an_learned_norm(s->nf);
    for (int d = 0; d < AN_LEARNED_NDENSE; d++)
        z += m->dense_w[d] * s->dense[d];
    return z;
}

float an_learned_score(const an_learned_model *m, an_learned_scratch *s, const char *text,
                       size_t n, an_learned_top *top, int *ntop)
{
    an_learned_featurize(m, s, text, n);
    double z = an_learned_logit(m, s, top, ntop);
    return (float)(1.0 / (1.0 + exp(-z)));
}

/* ---- model file ---- */

an_learned_model *an_learned_new(uint32_t bits)
{
    if (bits < 10 || bits > 24)
        return NULL;
    an_learned_model *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    m->bits = bits;
    m->scale = 1.0f / 127;
    m->threshold = m->strong = 0;
    m->w = calloc((size_t)1 << bits, 1);
    m->lm = malloc(AN_LEARNED_LM_BYTES);
    if (!m->w || !m->lm) {
        an_learned_free(m);
        return NULL;
    }
    memset(m->lm, 89, AN_LEARNED_LM_BYTES); /* ln 256 nats, in 1/16 */
    return m;
}

void an_learned_free(an_learned_model *m)
{
    if (!m)
        return;
    free(m->w);
    free(m->lm);
    free(m);
}

static int sha256(const uint8_t *p, size_t n, uint8_t out[32])
{
    unsigned int len = 0;
    return EVP_Digest(p, n, out, &len, EVP_sha256(), NULL) == 1 && len == 32 ? 0 : -1;
}

static uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static float rdf(const uint8_t *p)
{
    uint32_t u = rd32(p);
    float f;
    memcpy(&f, &u, 4);
    return f;
}
static uint8_t *wr32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
    return p + 4;
}
static uint8_t *wrf(uint8_t *p, float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    return wr32(p, u);
}

an_learned_model *an_learned_parse(const uint8_t *buf, size_t n, char *err, size_t errlen)
{
    an_learned_model *m = NULL;
    if (n < HDR_FIXED + 32) {
        snprintf(err, errlen, "learned model: truncated (%zu bytes, a header needs %d)", n,
                 HDR_FIXED + 32);
        goto error;
    }
    if (memcmp(buf, MAGIC, 8) != 0) {
        snprintf(err, errlen, "learned model: not a custos learned model (bad magic)");
        goto error;
    }
    const uint8_t *p = buf + 8;
    uint32_t format = rd32(p), feat = rd32(p + 4), bits = rd32(p + 8), maxb = rd32(p + 12),
             ndense = rd32(p + 16), lmb = rd32(p + 20);
    p += 24;
    if (format != AN_LEARNED_FORMAT) {
        snprintf(err, errlen, "learned model: file format version %u, this custos reads %d",
                 format, AN_LEARNED_FORMAT);
        goto error;
    }
    if (feat != AN_LEARNED_FEAT_VERSION || maxb != AN_LEARNED_MAX_BYTES ||
        ndense != AN_LEARNED_NDENSE || lmb != AN_LEARNED_LM_BYTES) {
        snprintf(err, errlen,
                 "learned model: trained for featurizer %u (max_bytes %u, %u dense, lm %u), this "
                 "custos has featurizer %d (%d, %d, %d): retrain with train_learned",
                 feat, maxb, ndense, lmb, AN_LEARNED_FEAT_VERSION, AN_LEARNED_MAX_BYTES,
                 AN_LEARNED_NDENSE, AN_LEARNED_LM_BYTES);
        goto error;
    }
    if (bits < 10 || bits > 24) {
        snprintf(err, errlen, "learned model: %u hash bits (10..24 allowed)", bits);
        goto error;
    }
    uint32_t cmd_len = rd32(buf + HDR_FIXED - 4);
    if (cmd_len > AN_LEARNED_CMD_MAX) {
        snprintf(err, errlen, "learned model: command line of %u bytes (at most %d)", cmd_len,
                 AN_LEARNED_CMD_MAX);
        goto error;
    }
    size_t want = (size_t)HDR_FIXED + cmd_len + ((size_t)1 << bits) + lmb + 32;
    if (n != want) {
        snprintf(err, errlen, "learned model: %zu bytes, its header says %zu (%s)", n, want,
                 n < want ? "truncated" : "trailing bytes");
        goto error;
    }
    uint8_t sum[32];
    if (sha256(buf, n - 32, sum) != 0 || memcmp(sum, buf + n - 32, 32) != 0) {
        snprintf(err, errlen, "learned model: checksum mismatch (corrupt file)");
        goto error;
    }
    if (!(m = an_learned_new(bits))) {
        snprintf(err, errlen, "learned model: out of memory");
        goto error;
    }
    m->scale = rdf(p);
    m->bias = rdf(p + 4);
    m->threshold = rdf(p + 8);
    m->strong = rdf(p + 12);
    p += 16;
    for (int d = 0; d < AN_LEARNED_NDENSE; d++, p += 4)
        m->dense_w[d] = rdf(p);
    if (!isfinite(m->scale) || !isfinite(m->bias) || !isfinite(m->threshold) ||
        !isfinite(m->strong) || m->strong < m->threshold) {
        snprintf(err, errlen, "learned model: scale, bias or thresholds out of range");
        goto error;
    }
    memcpy(m->inputs_sha256, p, 32);
    p += 32 + 4;
    memcpy(m->cmd, p, cmd_len);
    m->cmd[cmd_len] = '\0';
    p += cmd_len;
    memcpy(m->w, p, (size_t)1 << bits);
    p += (size_t)1 << bits;
    memcpy(m->lm, p, lmb);
    return m;
error:
    an_learned_free(m);
    return NULL;
}

an_learned_model *an_learned_load(const char *path, char *err, size_t errlen)
{
    an_learned_model *m = NULL;
    uint8_t *buf = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "learned model %s: %s", path, strerror(errno));
        goto done;
    }
    buf = malloc(AN_LEARNED_FILE_MAX + 1);
    if (!buf) {
        snprintf(err, errlen, "learned model %s: out of memory", path);
        goto done;
    }
    size_t n = fread(buf, 1, AN_LEARNED_FILE_MAX + 1, f);
    if (ferror(f) || n > AN_LEARNED_FILE_MAX) {
        snprintf(err, errlen, "learned model %s: %s", path,
                 ferror(f) ? "read error" : "larger than 64 MiB");
        goto done;
    }
    char e2[256];
    if (!(m = an_learned_parse(buf, n, e2, sizeof e2)))
        snprintf(err, errlen, "%s: %s", path, e2);
done:
    if (f)
        fclose(f);
    free(buf);
    return m;
}

int an_learned_save(const an_learned_model *m, const char *path, char *err, size_t errlen)
{
    size_t cmd_len = strlen(m->cmd);
    if (cmd_len > AN_LEARNED_CMD_MAX)
        cmd_len = AN_LEARNED_CMD_MAX;
    size_t nw = (size_t)1 << m->bits;
    size_t n = (size_t)HDR_FIXED + cmd_len + nw + AN_LEARNED_LM_BYTES + 32;
    int rc = -1;
    FILE *f;
    char tmp[4096];
    uint8_t *buf = malloc(n), *p = buf;
    if (!buf) {
        snprintf(err, errlen, "out of memory");
        goto done;
    }
    memcpy(p, MAGIC, 8);
    p += 8;
    p = wr32(p, AN_LEARNED_FORMAT);
    p = wr32(p, AN_LEARNED_FEAT_VERSION);
    p = wr32(p, m->bits);
    p = wr32(p, AN_LEARNED_MAX_BYTES);
    p = wr32(p, AN_LEARNED_NDENSE);
    p = wr32(p, AN_LEARNED_LM_BYTES);
    p = wrf(p, m->scale);
    p = wrf(p, m->bias);
    p = wrf(p, m->threshold);
    p = wrf(p, m->strong);
    for (int d = 0; d < AN_LEARNED_NDENSE; d++)
        p = wrf(p, m->dense_w[d]);
    memcpy(p, m->inputs_sha256, 32);
    p += 32;
    p = wr32(p, (uint32_t)cmd_len);
    memcpy(p, m->cmd, cmd_len);
    p += cmd_len;
    memcpy(p, m->w, nw);
    p += nw;
    memcpy(p, m->lm, AN_LEARNED_LM_BYTES);
    p += AN_LEARNED_LM_BYTES;
    if (sha256(buf, (size_t)(p - buf), p) != 0) {
        snprintf(err, errlen, "sha256 failed");
        goto done;
    }
    if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp", path) >= sizeof tmp) {
        snprintf(err, errlen, "%s: path too long", path);
        goto done;
    }
    f = fopen(tmp, "wb");
    int ok = f && fwrite(buf, 1, n, f) == n;
    if (f && fclose(f) != 0)
        ok = 0;
    if (!ok) {
        snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
        unlink(tmp);
        goto done;
    }
    if (rename(tmp, path) != 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        unlink(tmp);
        goto done;
    }
    rc = 0;
done:
    free(buf);
    return rc;
}
