/* Signature rules: YAML files -> vectorscan databases -> per-event hits.
 *
 * A rule file is a YAML list of rules:
 *
 *   - id: jb.override-instructions     # unique across all files
 *     kind: probe        # probe | refusal | leak | encoded
 *     field: prompt      # prompt | response
 *     weight: 1.0        # probe/encoded: adds to the prompt's probe score
 *     atlas: [AML.T0051] # MITRE ATLAS technique ids
 *     owasp: [LLM01:2025]
 *     leak: secret       # kind leak: secret|privkey|card|iban|emails|phones|sysprompt
 *     validate: luhn     # optional: luhn | iban | entropy | base64
 *     min_count: 1       # matches needed in one text (bulk e-mail addresses: 5)
 *     case: insensitive  # or sensitive
 *     patterns: ['regex', ...]
 *     min_length: 32     # kind encoded only, instead of patterns
 *
 * The patterns are compiled at load into vectorscan block-mode databases
 * and each field is matched in one pass. analytics.rules_db says how:
 * per_field (default) compiles each field's rules into that field's
 * database, so prompt rules never run over responses; single puts every
 * pattern into one database scanned over both fields, and a rule's field
 * says which scan counts. Same matches either way; per_field costs about
 * half (docs/analytics.md).
 * An encoded rule has no patterns: it matches a base64 run of min_length or
 * more characters that decodes to text. That is a byte loop here rather than
 * a pattern, because a pattern without a literal ([A-Za-z0-9+/]{32,}) keeps
 * the engine busy on every letter of every text: it cost a sixth of the whole
 * scan (bench/detect/speed.sh). */
#include <dirent.h>
#include <errno.h>
#include <hs/hs.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "analytics/an_features.h"
#include "analytics/an_rules.h"
#include "analytics/an_rules_cache.h"
#include "core/log.h"
#include "core/util.h"

struct an_rules {
    an_rule *rules;
    size_t n, cap;
    unsigned *pat_rule; /* pattern id -> rule index */
    size_t npat;
    hs_database_t *db[2]; /* for the prompt, the response: the same one unless per field */
    hs_scratch_t *scratch;
    /* per-scan state */
    uint16_t *count;
    long long *last_from;
    size_t *touched;
    size_t ntouched;
    size_t *enc; /* the encoded rules */
    size_t nenc;
    bool from_cache;
};

typedef struct {
    an_rules *r;
    const char *text;
    bool response;
} scan_ctx;


size_t an_rules_count(const an_rules *r) { return r->n; }
bool an_rules_cached(const an_rules *r) { return r->from_cache; }
const an_rule *an_rules_get(const an_rules *r, size_t i) { return &r->rules[i]; }

void an_rules_free(an_rules *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->n; i++) {
        free(r->rules[i].id);
        free(r->rules[i].file);
    }
    free(r->rules);
    free(r->pat_rule);
    free(r->count);
    free(r->last_from);
    free(r->touched);
    free(r->enc);
    if (r->scratch)
        hs_free_scratch(r->scratch);
    if (r->db[1] && r->db[1] != r->db[0])
        hs_free_database(r->db[1]);
    if (r->db[0])
        hs_free_database(r->db[0]);
    free(r);
}

typedef struct {
    char **pats;
    unsigned *flags;
    unsigned long long *within; /* 0: anywhere */
    size_t *lines;
    char **files;
    size_t n, cap;
} patlist;

static int pat_add(patlist *pl, const char *p, unsigned flags, unsigned long long within,
                   size_t line, const char *file)
{
    if (pl->n == pl->cap) {
        size_t nc = pl->cap ? pl->cap * 2 : 64;
        char **np = realloc(pl->pats, nc * sizeof *np);
        if (!np)
            return -1;
        pl->pats = np;
        unsigned *nf = realloc(pl->flags, nc * sizeof *nf);
        if (!nf)
            return -1;
        pl->flags = nf;
        unsigned long long *nw = realloc(pl->within, nc * sizeof *nw);
        if (!nw)
            return -1;
        pl->within = nw;
        size_t *nl = realloc(pl->lines, nc * sizeof *nl);
        if (!nl)
            return -1;
        pl->lines = nl;
        char **nfi = realloc(pl->files, nc * sizeof *nfi);
        if (!nfi)
            return -1;
        pl->files = nfi;
        pl->cap = nc;
    }
    pl->pats[pl->n] = strdup(p);
    pl->files[pl->n] = strdup(file);
    if (!pl->pats[pl->n] || !pl->files[pl->n])
        return -1;
    pl->flags[pl->n] = flags;
    pl->within[pl->n] = within;
    pl->lines[pl->n] = line;
    pl->n++;
    return 0;
}

static void pat_free(patlist *pl)
{
    for (size_t i = 0; i < pl->n; i++) {
        free(pl->pats[i]);
        free(pl->files[i]);
    }
    free(pl->pats);
    free(pl->flags);
    free(pl->within);
    free(pl->lines);
    free(pl->files);
}

static const char *scalar(yaml_document_t *d, yaml_node_t *n)
{
    return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

static int parse_ids(yaml_document_t *d, yaml_node_t *v, void *out, int max, size_t width,
                     int *nout, const char *where, char *err, size_t errlen)
{
    if (!v || v->type != YAML_SEQUENCE_NODE)
        return core_errf(err, errlen, "%s: must be a list", where);
    *nout = 0;
    for (yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top;
         it++) {
        const char *s = scalar(d, yaml_document_get_node(d, *it));
        if (!s || !*s || strlen(s) >= width)
            return core_errf(err, errlen, "%s: each id must be a string of 1-%zu characters", where,
                        width - 1);
        if (*nout >= max)
            return core_errf(err, errlen, "%s: at most %d ids", where, max);
        snprintf((char *)out + (size_t)*nout * width, width, "%s", s);
        (*nout)++;
    }
    return 0;
}

/* A whole decimal number from lo to hi, and nothing else. */
static bool whole(const char *v, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long x = strtol(v, &end, 10);
    if (errno || end == v || *end || x < lo || x > hi)
        return false;
    *out = x;
    return true;
}

/* Parses one rule mapping into r->rules[r->n] and its patterns into pl. */
static int parse_rule(an_rules *r, patlist *pl, yaml_document_t *d, yaml_node_t *m,
                      const char *file, char *err, size_t errlen)
{
    size_t line = m->start_mark.line + 1;
    if (m->type != YAML_MAPPING_NODE)
        return core_errf(err, errlen, "%s:%zu: a rule must be a mapping", file, line);
    if (r->n == r->cap) {
        size_t nc = r->cap ? r->cap * 2 : 32;
        an_rule *nr = realloc(r->rules, nc * sizeof *nr);
        if (!nr)
            return core_errf(err, errlen, "out of memory");
        r->rules = nr;
        r->cap = nc;
    }
    an_rule *ru = &r->rules[r->n];
    memset(ru, 0, sizeof *ru);
    ru->weight = 1.0;
    ru->min_count = 1;
    ru->file = strdup(file);
    if (!ru->file)
        return core_errf(err, errlen, "out of memory");
    r->n++; /* owned from here on, so that errors free it */
    bool caseless = true, have_field = false, have_kind = false;
    unsigned long long within = 0;
    yaml_node_t *patterns = NULL;
    size_t pat_line = line;
    for (yaml_node_pair_t *p = m->data.mapping.pairs.start; p < m->data.mapping.pairs.top; p++) {
        yaml_node_t *kn = yaml_document_get_node(d, p->key);
        yaml_node_t *vn = yaml_document_get_node(d, p->value);
        const char *k = scalar(d, kn), *v = scalar(d, vn);
        size_t kl = kn->start_mark.line + 1;
        char where[512];
        snprintf(where, sizeof where, "%s:%zu: rule %s: %s", file, kl, ru->id ? ru->id : "?",
                 k ? k : "?");
        if (!k)
            return core_errf(err, errlen, "%s:%zu: rule keys must be strings", file, kl);
        if (strcmp(k, "patterns") == 0) {
            patterns = vn;
            pat_line = kl;
            continue;
        }
        if (strcmp(k, "atlas") == 0) {
            if (parse_ids(d, vn, ru->atlas, 4, sizeof ru->atlas[0], &ru->n_atlas, where, err,
                          errlen) < 0)
                return -1;
            continue;
        }
        if (strcmp(k, "owasp") == 0) {
            if (parse_ids(d, vn, ru->owasp, 4, sizeof ru->owasp[0], &ru->n_owasp, where, err,
                          errlen) < 0)
                return -1;
            continue;
        }
        if (!v)
            return core_errf(err, errlen, "%s: must be a single value", where);
        if (strcmp(k, "id") == 0) {
            if (!*v || strlen(v) > 64)
                return core_errf(err, errlen, "%s: must be 1-64 characters", where);
            for (size_t i = 0; i + 1 < r->n; i++)
                if (strcmp(r->rules[i].id, v) == 0)
                    return core_errf(err, errlen, "%s:%zu: rule %s: id: '%s' is already defined in %s",
                                file, kl, v, v, r->rules[i].file);
            if (!(ru->id = strdup(v)))
                return core_errf(err, errlen, "out of memory");
        } else if (strcmp(k, "kind") == 0) {
            static const char *const kinds[] = {"probe", "refusal", "leak", "encoded"};
            int i;
            for (i = 0; i < 4 && strcmp(v, kinds[i]); i++)
                ;
            if (i == 4)
                return core_errf(err, errlen, "%s: '%s' is not one of probe, refusal, leak, encoded",
                            where, v);
            ru->kind = (an_rule_kind)i;
            have_kind = true;
        } else if (strcmp(k, "field") == 0) {
            if (strcmp(v, "prompt") && strcmp(v, "response"))
                return core_errf(err, errlen, "%s: '%s' is not prompt or response", where, v);
            ru->on_response = strcmp(v, "response") == 0;
            have_field = true;
        } else if (strcmp(k, "weight") == 0) {
            char *end;
            errno = 0;
            ru->weight = strtod(v, &end);
            if (errno || end == v || *end || !(ru->weight >= 0 && ru->weight <= 100))
                return core_errf(err, errlen, "%s: '%s' is not a number from 0 to 100", where, v);
        } else if (strcmp(k, "min_count") == 0) {
            long x;
            if (!whole(v, 1, 10000, &x))
                return core_errf(err, errlen, "%s: '%s' is not a whole number from 1 to 10000", where,
                            v);
            ru->min_count = (int)x;
        } else if (strcmp(k, "min_length") == 0) {
            long x;
            if (!whole(v, 16, 4096, &x))
                return core_errf(err, errlen, "%s: '%s' is not a length from 16 to 4096", where, v);
            ru->min_len = (int)x;
        } else if (strcmp(k, "within") == 0) {
            long x;
            if (!whole(v, 1, 1 << 24, &x))
                return core_errf(err, errlen, "%s: '%s' is not a byte count from 1 to 16777216", where,
                            v);
            within = (unsigned long long)x;
        } else if (strcmp(k, "case") == 0) {
            if (strcmp(v, "sensitive") && strcmp(v, "insensitive"))
                return core_errf(err, errlen, "%s: '%s' is not sensitive or insensitive", where, v);
            caseless = strcmp(v, "insensitive") == 0;
        } else if (strcmp(k, "validate") == 0) {
            static const char *const vals[] = {"none", "luhn", "iban", "entropy", "base64"};
            int i;
            for (i = 0; i < 5 && strcmp(v, vals[i]); i++)
                ;
            if (i == 5)
                return core_errf(err, errlen, "%s: '%s' is not one of luhn, iban, entropy, base64",
                            where, v);
            ru->validate = (an_validator)i;
        } else if (strcmp(k, "leak") == 0) {
            static const char *const lk[] = {"secret", "privkey", "card",     "iban",
                                             "emails", "phones",  "sysprompt"};
            int i;
            for (i = 0; i < 7 && strcmp(v, lk[i]); i++)
                ;
            if (i == 7)
                return core_errf(err, errlen,
                            "%s: '%s' is not one of secret, privkey, card, iban, emails, "
                            "phones, sysprompt",
                            where, v);
            ru->leak_kind = 1u << i;
        } else {
            return core_errf(err, errlen, "%s: unknown key", where);
        }
    }
    if (!ru->id)
        return core_errf(err, errlen, "%s:%zu: rule has no id", file, line);
    if (!have_kind || !have_field)
        return core_errf(err, errlen, "%s:%zu: rule %s needs kind and field", file, line, ru->id);
    if (ru->kind == AN_RULE_LEAK && !ru->leak_kind)
        return core_errf(err, errlen, "%s:%zu: rule %s: kind leak needs leak:", file, line, ru->id);
    if (ru->kind == AN_RULE_ENCODED) {
        if (patterns)
            return core_errf(err, errlen,
                             "%s:%zu: rule %s: kind encoded takes no patterns (it matches base64 "
                             "runs of min_length characters or more)",
                             file, pat_line, ru->id);
        if (!ru->min_len)
            ru->min_len = 32;
        size_t *ne = realloc(r->enc, (r->nenc + 1) * sizeof *ne);
        if (!ne)
            return core_errf(err, errlen, "out of memory");
        r->enc = ne;
        r->enc[r->nenc++] = r->n - 1;
        return 0;
    }
    if (ru->min_len)
        return core_errf(err, errlen, "%s:%zu: rule %s: min_length is only for kind encoded", file,
                         line, ru->id);
    if (!patterns || patterns->type != YAML_SEQUENCE_NODE ||
        patterns->data.sequence.items.start == patterns->data.sequence.items.top)
        return core_errf(err, errlen, "%s:%zu: rule %s needs a non-empty list of patterns", file,
                    pat_line, ru->id);
    /* SINGLEMATCH is the cheap mode; validators and counting rules need
     * every match (validators find the start themselves: tracking the start
     * of match in the engine costs every scan) */
    unsigned flags = caseless ? HS_FLAG_CASELESS : 0;
    if (ru->validate != AN_VAL_NONE)
        ;
    else if (ru->min_count == 1 && !(ru->leak_kind & (AN_LEAK_EMAILS | AN_LEAK_PHONES)))
        flags |= HS_FLAG_SINGLEMATCH;
    /* '.' across newlines: cheaper for the engine, and a gap of a few words
     * may hold a line break */
    if (ru->kind != AN_RULE_REFUSAL)
        flags |= HS_FLAG_DOTALL;
    for (yaml_node_item_t *it = patterns->data.sequence.items.start;
         it < patterns->data.sequence.items.top; it++) {
        yaml_node_t *pn = yaml_document_get_node(d, *it);
        const char *s = scalar(d, pn);
        if (!s || !*s)
            return core_errf(err, errlen, "%s:%zu: rule %s: each pattern must be a non-empty string",
                        file, pn->start_mark.line + 1, ru->id);
        if (pat_add(pl, s, flags, within, pn->start_mark.line + 1, file) < 0)
            return core_errf(err, errlen, "out of memory");
        unsigned *npr = realloc(r->pat_rule, pl->n * sizeof *npr);
        if (!npr)
            return core_errf(err, errlen, "out of memory");
        r->pat_rule = npr;
        r->pat_rule[pl->n - 1] = (unsigned)(r->n - 1);
    }
    return 0;
}

static int load_file(an_rules *r, patlist *pl, const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return core_errf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
    yaml_parser_t p;
    yaml_document_t d;
    int rc = -1;
    bool have_doc = false;
    yaml_parser_initialize(&p);
    yaml_parser_set_input_file(&p, f);
    if (!yaml_parser_load(&p, &d)) {
        core_errf(err, errlen, "%s:%zu: YAML syntax error: %s", path, p.problem_mark.line + 1,
             p.problem ? p.problem : "unknown");
        goto done;
    }
    have_doc = true;
    yaml_node_t *root = yaml_document_get_root_node(&d);
    if (!root) { /* an empty file holds no rules */
        rc = 0;
        goto done;
    }
    if (root->type != YAML_SEQUENCE_NODE) {
        core_errf(err, errlen, "%s:%zu: a rule file must be a list of rules", path,
             root->start_mark.line + 1);
        goto done;
    }
    for (yaml_node_item_t *it = root->data.sequence.items.start;
         it < root->data.sequence.items.top; it++)
        if (parse_rule(r, pl, &d, yaml_document_get_node(&d, *it), path, err, errlen) < 0)
            goto done;
    rc = 0;
done:
    if (have_doc)
        yaml_document_delete(&d);
    yaml_parser_delete(&p);
    fclose(f);
    return rc;
}

/* Compiles the patterns of one field (0 prompt, 1 response; -1 both) into
 * *db, leaving it NULL when there are none, and sizes the shared scratch for
 * it. Match ids are the patterns' global indices. */
static int compile(an_rules *r, const patlist *pl, int field, hs_database_t **db, const char *dir,
                   char *err, size_t errlen)
{
    const char **pats = malloc(pl->n * sizeof *pats);
    unsigned *flags = malloc(pl->n * sizeof *flags);
    unsigned *ids = malloc(pl->n * sizeof *ids);
    hs_expr_ext_t *ext = calloc(pl->n, sizeof *ext);
    const hs_expr_ext_t **extp = calloc(pl->n, sizeof *extp);
    hs_compile_error_t *cerr = NULL;
    int rc = -1;
    if (!pats || !flags || !ids || !ext || !extp) {
        core_errf(err, errlen, "out of memory");
        goto out;
    }
    unsigned n = 0;
    for (size_t i = 0; i < pl->n; i++) {
        if (field >= 0 && r->rules[r->pat_rule[i]].on_response != (field == 1))
            continue;
        pats[n] = pl->pats[i];
        flags[n] = pl->flags[i];
        ids[n] = (unsigned)i;
        if (pl->within[i]) { /* rules about the opening of a text stop looking early */
            ext[n].flags = HS_EXT_FLAG_MAX_OFFSET;
            ext[n].max_offset = pl->within[i];
            extp[n] = &ext[n];
        }
        n++;
    }
    if (n == 0) { /* encoded rules alone need no database */
        rc = 0;
        goto out;
    }
    if (hs_compile_ext_multi(pats, flags, ids, extp, n, HS_MODE_BLOCK, NULL, db, &cerr) !=
        HS_SUCCESS) {
        if (cerr && cerr->expression >= 0 && (unsigned)cerr->expression < n) {
            unsigned g = ids[cerr->expression];
            core_errf(err, errlen, "%s:%zu: rule %s: pattern does not compile: %s", pl->files[g],
                      pl->lines[g], r->rules[r->pat_rule[g]].id, cerr->message);
        } else {
            core_errf(err, errlen, "rules in %s do not compile: %s", dir,
                      cerr ? cerr->message : "unknown error");
        }
        goto out;
    }
    if (hs_alloc_scratch(*db, &r->scratch) != HS_SUCCESS) {
        core_errf(err, errlen, "vectorscan: cannot allocate scratch");
        goto out;
    }
    rc = 0;
out:
    if (cerr)
        hs_free_compile_error(cerr);
    free(pats);
    free(flags);
    free(ids);
    free(ext);
    free(extp);
    return rc;
}

/* The databases of the layout, from the cache when it has them, else
 * compiled (and cached for the next start). */
static int build_dbs(an_rules *r, const patlist *pl, bool per_field, const char *cache,
                     const char *dir, char *err, size_t errlen)
{
    int64_t t0 = core_mono_us();
    int ndb = per_field ? 2 : 1;
    char cdir[4096], hex[65] = "";
    bool caching = an_rules_cache_dir(cache, cdir, sizeof cdir) == 0 && pl->n > 0;
    if (caching) {
        bool *resp = malloc(pl->n * sizeof *resp);
        if (!resp)
            return core_errf(err, errlen, "out of memory");
        for (size_t i = 0; i < pl->n; i++)
            resp[i] = r->rules[r->pat_rule[i]].on_response;
        an_rules_src src = {pl->pats, pl->flags, pl->within, resp, pl->n, per_field};
        an_rules_cache_key(&src, hex);
        free(resp);
        if (an_rules_cache_load(cdir, hex, ndb, r->db) == 0) {
            for (int i = 0; i < ndb; i++)
                if (r->db[i] && hs_alloc_scratch(r->db[i], &r->scratch) != HS_SUCCESS)
                    return core_errf(err, errlen, "vectorscan: cannot allocate scratch");
            r->from_cache = true;
        }
    }
    if (!r->from_cache) {
        if (compile(r, pl, per_field ? 0 : -1, &r->db[0], dir, err, errlen) < 0 ||
            (per_field && compile(r, pl, 1, &r->db[1], dir, err, errlen) < 0))
            return -1;
        char cerr[512];
        if (caching && an_rules_cache_save(cdir, hex, ndb, r->db, cerr, sizeof cerr) < 0)
            core_log(CORE_LOG_WARN, "analytics", "compiled rules not cached", "error=%s",
                     core_log_quote((char[600]){0}, 600, cerr));
    }
    if (!per_field)
        r->db[1] = r->db[0];
    core_log(CORE_LOG_INFO, "analytics", "signature rules ready",
             "rules=%zu patterns=%zu layout=%s source=%s seconds=%.3f", r->n, pl->n,
             per_field ? "per_field" : "single",
             r->from_cache ? "cache" : caching ? "compiled,cached" : "compiled",
             (double)(core_mono_us() - t0) / 1e6);
    return 0;
}

static int cmp_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

an_rules *an_rules_load(const char *dir, bool per_field, const char *cache, char *err,
                        size_t errlen)
{
    an_rules *r = calloc(1, sizeof *r);
    patlist pl = {0};
    char **names = NULL;
    size_t nn = 0, cap = 0;
    DIR *dh = NULL;
    bool ok = false;
    if (!r) {
        core_errf(err, errlen, "out of memory");
        goto done;
    }
    dh = opendir(dir);
    if (!dh) {
        core_errf(err, errlen, "analytics.rules_dir %s: cannot open: %s", dir, strerror(errno));
        goto done;
    }
    struct dirent *de;
    while ((de = readdir(dh))) {
        size_t l = strlen(de->d_name);
        if (l < 6 || strcmp(de->d_name + l - 5, ".yaml") != 0 || de->d_name[0] == '.')
            continue;
        if (nn == cap) {
            cap = cap ? cap * 2 : 16;
            char **nb = realloc(names, cap * sizeof *nb);
            if (!nb) {
                core_errf(err, errlen, "out of memory");
                goto done;
            }
            names = nb;
        }
        size_t pl2 = strlen(dir) + l + 2;
        if (!(names[nn] = malloc(pl2))) {
            core_errf(err, errlen, "out of memory");
            goto done;
        }
        snprintf(names[nn++], pl2, "%s/%s", dir, de->d_name);
    }
    /* sorted, so that rule indices (and the output) do not depend on readdir */
    if (nn)
        qsort(names, nn, sizeof *names, cmp_name);
    for (size_t i = 0; i < nn; i++)
        if (load_file(r, &pl, names[i], err, errlen) < 0)
            goto done;
    if (r->n == 0) {
        core_errf(err, errlen, "analytics.rules_dir %s: no rules found in *.yaml", dir);
        goto done;
    }
    if (build_dbs(r, &pl, per_field, cache, dir, err, errlen) < 0)
        goto done;
    r->npat = pl.n;
    r->count = calloc(r->n, sizeof *r->count);
    r->last_from = calloc(r->n, sizeof *r->last_from);
    r->touched = calloc(r->n, sizeof *r->touched);
    if (!r->count || !r->last_from || !r->touched) {
        core_errf(err, errlen, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < r->n; i++) /* reset() keeps it so after each scan */
        r->last_from[i] = -1;
    ok = true;
done:
    if (!ok) {
        an_rules_free(r);
        r = NULL;
    }
    if (dh)
        closedir(dh);
    for (size_t i = 0; i < nn; i++)
        free(names[i]);
    free(names);
    pat_free(&pl);
    return r;
}

static bool is_digitish(char c) { return (c >= '0' && c <= '9') || c == ' ' || c == '-'; }
static bool is_ibanish(char c) { return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == ' '; }
static bool is_tokenish(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '_' || c == '-' || c == '.';
}
static bool is_b64_body(unsigned char c)
{
    return (unsigned char)((c | 0x20) - 'a') < 26 || (unsigned char)(c - '0') < 10 || c == '+' ||
           c == '/';
}
static bool is_b64(char c) { return is_b64_body((unsigned char)c) || c == '='; }

/* The validators get the text and the end of a match and find its start
 * themselves: the longest run of the validator's characters ending there
 * (bounded). *start is where the validated value begins. */
static bool validate(an_validator v, const char *t, size_t to, size_t *start)
{
    size_t from = to;
    switch (v) {
    case AN_VAL_NONE:
        *start = to;
        return true;
    case AN_VAL_LUHN: {
        while (from > 0 && to - from < 40 && is_digitish(t[from - 1]))
            from--;
        /* the card starts where the run does or after one of its separators
         * (digit groups), never mid-group: arbitrary suffixes would pass Luhn
         * one time in ten */
        for (size_t b = from; b < to; b++) {
            if (b > from && !(t[b - 1] == ' ' || t[b - 1] == '-'))
                continue;
            if (t[b] < '0' || t[b] > '9')
                continue;
            char d[48];
            size_t k = 0;
            for (size_t i = b; i < to; i++)
                if (t[i] >= '0' && t[i] <= '9')
                    d[k++] = t[i];
            if (k >= 13 && k <= 19 && an_luhn(d, k)) {
                *start = b;
                return true;
            }
        }
        return false;
    }
    case AN_VAL_IBAN:
        while (from > 0 && to - from < 48 && is_ibanish(t[from - 1]))
            from--;
        for (size_t i = from; i + 4 <= to; i++)
            if (t[i] >= 'A' && t[i] <= 'Z' && t[i + 1] >= 'A' && t[i + 1] <= 'Z' &&
                t[i + 2] >= '0' && t[i + 2] <= '9' && t[i + 3] >= '0' && t[i + 3] <= '9' &&
                (i == 0 || !is_ibanish(t[i - 1]) || t[i - 1] == ' ') &&
                an_iban_valid(t + i, to - i)) {
                *start = i;
                return true;
            }
        return false;
    case AN_VAL_ENTROPY: {
        while (from > 0 && to - from < 256 && is_tokenish(t[from - 1]))
            from--;
        /* a real credential looks random: placeholders (sk-xxxx, sk-1234...)
         * and words do not */
        bool digit = false, alpha = false;
        for (size_t i = from; i < to; i++) {
            digit |= t[i] >= '0' && t[i] <= '9';
            alpha |= (t[i] | 0x20) >= 'a' && (t[i] | 0x20) <= 'z';
        }
        *start = from;
        return digit && alpha && an_entropy(t + from, to - from) >= 3.5;
    }
    case AN_VAL_BASE64:
        while (from > 0 && to - from < 4096 && is_b64(t[from - 1]))
            from--;
        *start = from;
        return an_base64_text(t + from, to - from);
    }
    return false;
}

/* Kind encoded: a run of base64 characters (and up to two '=') at least
 * min_len long that decodes to text. A run that long must cover the byte at
 * i + min_len - 1, so the search looks there first and, when it is not a
 * base64 character, jumps past it: in prose most bytes are never read. */
static bool b64_payload(const char *t, size_t n, int min_len)
{
    const size_t L = (size_t)min_len;
    size_t i = 0;
    while (n >= L && i <= n - L) {
        size_t p = i + L - 1;
        if (!is_b64_body((unsigned char)t[p])) {
            i = p + 1;
            continue;
        }
        size_t q = p; /* walk back: is all of i..p base64? */
        while (q > i && is_b64_body((unsigned char)t[q - 1]))
            q--;
        if (q > i) { /* t[q - 1] is not: no run of L starts before q */
            i = q;
            continue;
        }
        size_t from = i; /* a run of L or more: find its ends */
        while (from > 0 && is_b64_body((unsigned char)t[from - 1]))
            from--;
        size_t end = p + 1;
        while (end < n && is_b64_body((unsigned char)t[end]))
            end++;
        size_t pad = end;
        while (pad < n && t[pad] == '=' && pad - end < 2)
            pad++;
        if (an_base64_text(t + from, pad - from))
            return true;
        i = end + 1;
    }
    return false;
}

static int on_match(unsigned id, unsigned long long from, unsigned long long to, unsigned flags,
                    void *ud)
{
    scan_ctx *c = ud;
    an_rules *r = c->r;
    unsigned ri = r->pat_rule[id];
    const an_rule *ru = &r->rules[ri];
    if (ru->on_response != c->response)
        return 0;
    (void)from; /* no start-of-match tracking: see parse_rule */
    if (ru->validate != AN_VAL_NONE) {
        /* a validated rule reports every end of one match: count each value
         * once (by where it starts) */
        size_t start;
        if (!validate(ru->validate, c->text, (size_t)to, &start))
            return 0;
        if (r->last_from[ri] == (long long)start)
            return 0;
        r->last_from[ri] = (long long)start;
    }
    if (r->count[ri] == 0)
        r->touched[r->ntouched++] = ri;
    if (r->count[ri] < UINT16_MAX)
        r->count[ri]++;
    return 0;
}

static int cmp_u16(const void *a, const void *b)
{
    return (int)*(const uint16_t *)a - (int)*(const uint16_t *)b;
}

static void reset(an_rules *r)
{
    for (size_t i = 0; i < r->ntouched; i++) {
        r->count[r->touched[i]] = 0;
        r->last_from[r->touched[i]] = -1;
    }
    r->ntouched = 0;
}

int an_rules_scan(an_rules *r, const core_event *ev, an_obs *o, int bulk_min)
{
    scan_ctx c = {r, NULL, false};
    int detected_refusal = 0;
    for (int pass = 0; pass < 2; pass++) {
        const char *t = pass ? ev->response : ev->prompt;
        size_t n = pass ? ev->response_len : ev->prompt_len;
        if (!t || n == 0)
            continue;
        c.text = t;
        c.response = pass == 1;
        if (r->db[pass] && hs_scan(r->db[pass], t, (unsigned)(n > 0xffffffffu ? 0xffffffffu : n),
                                   0, r->scratch, on_match, &c) != HS_SUCCESS) {
            reset(r);
            return -1;
        }
        for (size_t j = 0; j < r->nenc; j++) {
            size_t ri = r->enc[j];
            if (r->rules[ri].on_response == (pass == 1) && r->count[ri] == 0 &&
                b64_payload(t, n, r->rules[ri].min_len)) {
                r->touched[r->ntouched++] = ri;
                r->count[ri] = 1;
            }
        }
        for (size_t i = 0; i < r->ntouched; i++) {
            size_t ri = r->touched[i];
            const an_rule *ru = &r->rules[ri];
            int cnt = r->count[ri];
            if (ru->leak_kind == AN_LEAK_EMAILS && cnt > o->n_emails)
                o->n_emails = (uint16_t)cnt;
            if (ru->leak_kind == AN_LEAK_PHONES && cnt > o->n_phones)
                o->n_phones = (uint16_t)cnt;
            if (cnt < ru->min_count)
                continue;
            switch (ru->kind) {
            case AN_RULE_PROBE:
            case AN_RULE_ENCODED:
                o->probe_score += (float)ru->weight;
                if (ru->kind == AN_RULE_ENCODED)
                    o->encoded = true;
                if (o->n_rules < AN_OBS_RULES_MAX)
                    o->rules[o->n_rules++] = (uint16_t)ri;
                break;
            case AN_RULE_REFUSAL:
                detected_refusal = 1;
                break;
            case AN_RULE_LEAK:
                o->leak |= ru->leak_kind;
                break;
            }
        }
        reset(r);
    }
    if (o->n_emails >= bulk_min)
        o->leak |= AN_LEAK_EMAILS;
    else
        o->leak &= ~(uint32_t)AN_LEAK_EMAILS;
    if (o->n_phones >= bulk_min)
        o->leak |= AN_LEAK_PHONES;
    else
        o->leak &= ~(uint32_t)AN_LEAK_PHONES;
    qsort(o->rules, o->n_rules, sizeof o->rules[0], cmp_u16);
    if (ev->refusal >= 0)
        o->refusal = ev->refusal;
    else
        o->refusal = detected_refusal;
    return 0;
}
