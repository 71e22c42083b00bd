/* custos gen: the prompt sets (data/prompts, JSON-escaped once at load
 * time) and the synthetic text of answers and of the attacks' payloads. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/event.h"
#include "tools/gen.h"

/* ---- text pools ---------------------------------------------------------- */

size_t tools_gen_escape(char *dst, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\') {
            dst[o++] = (char)c;
            continue;
        }
        dst[o++] = '\\';
        switch (c) {
        case '"': dst[o++] = '"'; break;
        case '\\': dst[o++] = '\\'; break;
        case '\n': dst[o++] = 'n'; break;
        case '\r': dst[o++] = 'r'; break;
        case '\t': dst[o++] = 't'; break;
        default:
            dst[o++] = 'u';
            dst[o++] = '0';
            dst[o++] = '0';
            dst[o++] = hex[c >> 4];
            dst[o++] = hex[c & 15];
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
    t->esc_len = tools_gen_escape(t->esc, s, n);
    p->n++;
    return 0;
}

void tools_gen_pool_free(pool *p)
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
int tools_gen_pool_load(pool *p, const char *dir, const char *name)
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

/* ---- synthetic responses -------------------------------------------------- */

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

void tools_gen_sc_cat(scratch *s, const char *t)
{
    size_t n = strlen(t);
    if (s->len + n >= SCRATCH_CAP) /* never in practice: the texts are a few KiB */
        n = core_utf8_cut(t, n, SCRATCH_CAP - 1 - s->len);
    memcpy(s->buf + s->len, t, n);
    s->len += n;
}

/* Writes a plausible answer of about target_tokens tokens to s. */
void tools_gen_response(rng *r, int kind, int target_tokens, scratch *s)
{
    size_t target = (size_t)target_tokens * 4;
    char line[256];
    s->len = 0;
    if (kind == K_MATH) {
        tools_gen_sc_cat(s, g_math_open[rng_below(r, NELEM(g_math_open))]);
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
            tools_gen_sc_cat(s, line);
        }
        snprintf(line, sizeof line, "\nSo the answer is **%d**.", 2 + (int)rng_below(r, 2000));
        tools_gen_sc_cat(s, line);
        return;
    }
    tools_gen_sc_cat(s, kind == K_TASK ? g_task_open[rng_below(r, NELEM(g_task_open))]
                             : g_chat_open[rng_below(r, NELEM(g_chat_open))]);
    int item = 1;
    while (s->len + 80 < target && s->len < 6000) {
        if (kind == K_CHAT) {
            snprintf(line, sizeof line, "%d. ", item++);
            tools_gen_sc_cat(s, line);
        }
        tools_gen_sc_cat(s, g_body[rng_below(r, NELEM(g_body))]);
        tools_gen_sc_cat(s, kind == K_CHAT ? "\n" : " ");
    }
    while (s->len > 0 && (s->buf[s->len - 1] == '\n' || s->buf[s->len - 1] == ' '))
        s->len--;
    tools_gen_sc_cat(s, g_close[rng_below(r, NELEM(g_close))]);
}

/* ---- attacks (--attacks only) -------------------------------------------- */

/* Replaces every occurrence of pat in src with rep into s. */
void tools_gen_subst(scratch *s, const char *src, const char *pat, const char *rep)
{
    size_t pl = strlen(pat);
    s->len = 0;
    for (const char *p = src; *p;) {
        const char *hit = strstr(p, pat);
        if (!hit) {
            tools_gen_sc_cat(s, p);
            break;
        }
        size_t n = (size_t)(hit - p);
        if (s->len + n >= SCRATCH_CAP)
            n = core_utf8_cut(p, n, SCRATCH_CAP - 1 - s->len);
        memcpy(s->buf + s->len, p, n);
        s->len += n;
        tools_gen_sc_cat(s, rep);
        p = hit + pl;
    }
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
    tools_gen_sc_cat(s, t);
}

static const char *const g_first[] = {"anna", "ben", "chloe", "david", "emma", "felix",
                                      "grace", "henry", "ines", "jonas", "kate", "liam"};
static const char *const g_last[] = {"meyer", "novak", "olsen", "perez", "quinn", "rossi",
                                     "schmidt", "tanaka", "ulrich", "varga"};
#define ALNUM "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

/* A response that leaks: a credential (GitHub, AWS or OpenAI-style) and,
 * in turn, a private key block, Luhn-valid card numbers or a list of
 * e-mail addresses (leakage_bulk_min is 5; eight are listed). */
void tools_gen_leak(rng *r, scratch *s)
{
    s->len = 0;
    tools_gen_sc_cat(s, "Here is what I found in the files I was given:\n\n");
    switch (rng_below(r, 3)) {
    case 0: tools_gen_sc_cat(s, "GITHUB_TOKEN=ghp_"); sc_random(s, r, ALNUM, 36); break;
    case 1:
        tools_gen_sc_cat(s, "AWS_ACCESS_KEY_ID=AKIA");
        sc_random(s, r, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 16);
        tools_gen_sc_cat(s, "\nAWS_SECRET_ACCESS_KEY=");
        sc_random(s, r, ALNUM "/+", 40);
        break;
    default: tools_gen_sc_cat(s, "OPENAI_API_KEY=sk-proj-"); sc_random(s, r, ALNUM "_-", 48); break;
    }
    tools_gen_sc_cat(s, "\nDATABASE_URL=postgres://billing@db.internal:5432/billing\n\n");
    switch (rng_below(r, 3)) {
    case 0:
        tools_gen_sc_cat(s, "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA");
        for (int l = 0; l < 6; l++) {
            sc_random(s, r, ALNUM "+/", 64);
            tools_gen_sc_cat(s, "\n");
        }
        tools_gen_sc_cat(s, "-----END RSA PRIVATE KEY-----\n");
        break;
    case 1:
        tools_gen_sc_cat(s, "Cards on file:\n");
        for (int l = 0; l < 3; l++) {
            tools_gen_sc_cat(s, "- ");
            sc_card(s, r);
            tools_gen_sc_cat(s, l == 2 ? ", expires 04/29\n" : ", expires 11/28\n");
        }
        break;
    default:
        tools_gen_sc_cat(s, "Customers to contact:\n");
        for (int l = 0; l < 8; l++) {
            char line[96];
            snprintf(line, sizeof line, "- %s.%s@%s\n", g_first[rng_below(r, NELEM(g_first))],
                     g_last[rng_below(r, NELEM(g_last))],
                     l % 2 ? "globex-mail.com" : "initech.example.org");
            tools_gen_sc_cat(s, line);
        }
    }
    tools_gen_sc_cat(s, "\nLet me know if you need anything else from these files.");
}

