/* custos evidence verify: checks a bundle offline, with nothing but the
 * file and (to know who signed it) the instance's public key. Each entry is
 * streamed once: its SHA-256, bytes and rows, and its rows' own order (and,
 * for audit rows, their chain hashes) are checked as they are read; the
 * manifest's signature and its figures are compared at the end. Every
 * problem found is named, one line each. */
#include "forensics/forensics.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <inttypes.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define LINE_MAX_BYTES (16u << 20)
#define MANIFEST_MAX (1u << 20)
#define INCIDENTS_MAX (64u << 20)

#define TSR_MAX (1u << 20)

/* timestamp.tsr, the RFC 3161 answer over manifest.json's SHA-256, is
 * optional and, like manifest.sig, not in the manifest (it is made after
 * it): its message imprint binds it to the manifest, its signature to the
 * TSA. */
enum { F_INCIDENT, F_EVENTS, F_ALERTS, F_ACTIONS, F_AUDIT, F_MANIFEST, F_SIG, F_TSR, F_COUNT };
static const char *const k_names[F_COUNT] = {"incident.json", "events.ndjson", "alerts.ndjson",
                                             "actions.ndjson", "audit.ndjson", "manifest.json",
                                             "manifest.sig", "timestamp.tsr"};

typedef struct {
    bool seen;
    char sha[65];
    uint64_t bytes, rows;
    char problem[300]; /* the first problem inside the file */
} vfile;

typedef struct {
    vfile f[F_COUNT];
    char *manifest, *sig, *tsr; /* whole (small) */
    size_t manifest_len, tsr_len;
    char tsa_line[600];         /* what the timestamp check found */
    /* row order and chain state of the file being read */
    char prev_ts[64], prev_id[160];
    double prev_num;
    bool have_prev;
    char prev_hash[65];
    int64_t prev_seq;
    char last_hash[65];
    int64_t last_seq;
    FILE *out;
    int problems;
} vstate;

static void problem(vstate *v, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void problem(vstate *v, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(v->out, "FAIL: ");
    vfprintf(v->out, fmt, ap);
    fprintf(v->out, "\n");
    va_end(ap);
    v->problems++;
}

static void row_problem(vfile *f, uint64_t line, const char *what)
{
    if (!f->problem[0])
        snprintf(f->problem, sizeof f->problem, "line %" PRIu64 " %s", line, what);
}

static const char *str_of(const cJSON *o, const char *k)
{
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsString(x) ? x->valuestring : NULL;
}

/* One row of an NDJSON file, line (1-based). */
static void check_row(vstate *v, int which, const char *s, size_t n, uint64_t line)
{
    vfile *f = &v->f[which];
    cJSON *o = cJSON_ParseWithLength(s, n);
    if (!cJSON_IsObject(o)) {
        row_problem(f, line, "is not a JSON object (altered or cut)");
        cJSON_Delete(o);
        return;
    }
    if (which == F_EVENTS) {
        const char *ts = str_of(o, "ts"), *id = str_of(o, "event_id");
        if (!ts || !id) {
            row_problem(f, line, "has no ts or event_id");
        } else {
            int c = strcmp(v->prev_ts, ts);
            if (v->have_prev && (c > 0 || (c == 0 && strcmp(v->prev_id, id) > 0)))
                row_problem(f, line, "is out of order by (ts, event_id): rows were reordered");
            snprintf(v->prev_ts, sizeof v->prev_ts, "%s", ts);
            snprintf(v->prev_id, sizeof v->prev_id, "%s", id);
            v->have_prev = true;
        }
    } else if (which == F_ALERTS || which == F_ACTIONS) {
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(o, "id");
        if (!cJSON_IsNumber(id))
            row_problem(f, line, "has no id");
        else if (v->have_prev && id->valuedouble <= v->prev_num)
            row_problem(f, line, "is out of order by id: rows were reordered");
        else {
            v->prev_num = cJSON_IsNumber(id) ? id->valuedouble : 0;
            v->have_prev = true;
        }
    } else if (which == F_AUDIT) {
        const cJSON *seqj = cJSON_GetObjectItemCaseSensitive(o, "seq");
        const char *tsus = str_of(o, "ts_us"), *prev = str_of(o, "prev_hash");
        const char *hash = str_of(o, "hash");
        if (!cJSON_IsNumber(seqj) || !tsus || !prev || !hash || !str_of(o, "actor") ||
            !str_of(o, "event") || !str_of(o, "detail")) {
            row_problem(f, line, "lacks a field the audit hash covers");
        } else {
            int64_t seq = (int64_t)seqj->valuedouble;
            char h[65];
            audit_hash(prev, seq, strtoll(tsus, NULL, 10), str_of(o, "actor"),
                       str_of(o, "event"), str_of(o, "action_id"), str_of(o, "incident_id"),
                       str_of(o, "detail"), h);
            if (v->have_prev && seq <= v->prev_seq)
                row_problem(f, line, "is out of order by seq: rows were reordered");
            else if (strcmp(h, hash) != 0)
                row_problem(f, line, "is an audit row whose hash does not match its fields "
                                     "(the row was altered)");
            else if (v->have_prev && seq == v->prev_seq + 1 && strcmp(prev, v->prev_hash) != 0)
                row_problem(f, line, "does not chain to the row before it (prev_hash)");
            v->prev_seq = seq;
            snprintf(v->prev_hash, sizeof v->prev_hash, "%s", hash);
            v->have_prev = true;
            v->last_seq = seq;
            snprintf(v->last_hash, sizeof v->last_hash, "%s", hash);
        }
    }
    cJSON_Delete(o);
}

/* Reads one entry's size bytes: hashes them, and hands NDJSON rows to
 * check_row or keeps small files whole (*keep). */
static int read_entry(vstate *v, FILE *in, int which, uint64_t size, char **keep, size_t cap,
                      char *err, size_t errlen)
{
    vfile *f = &v->f[which];
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    EVP_DigestInit_ex(md, EVP_sha256(), NULL);
    bool ndjson = which >= F_EVENTS && which <= F_AUDIT;
    size_t lcap = 0, llen = 0;
    char *lbuf = NULL, chunk[65536];
    bool too_long = false;
    uint64_t left = size;
    int rc = 0;
    if (keep) {
        if (size > cap) {
            snprintf(f->problem, sizeof f->problem, "is larger than %zu bytes", cap);
            keep = NULL;
        } else if (!(*keep = malloc((size_t)size + 1))) {
            snprintf(err, errlen, "out of memory");
            rc = -1;
            goto done;
        }
    }
    size_t kept = 0;
    v->have_prev = false;
    while (left > 0) {
        size_t want = left < sizeof chunk ? (size_t)left : sizeof chunk;
        size_t got = fread(chunk, 1, want, in);
        if (got != want) {
            snprintf(err, errlen, "the archive is cut short inside %s", k_names[which]);
            rc = -1;
            goto done;
        }
        EVP_DigestUpdate(md, chunk, got);
        left -= got;
        if (keep) {
            memcpy(*keep + kept, chunk, got);
            kept += got;
        }
        if (!ndjson)
            continue;
        for (size_t i = 0; i < got; i++) {
            if (chunk[i] != '\n') {
                if (llen >= LINE_MAX_BYTES) {
                    too_long = true;
                    continue;
                }
                if (llen + 1 > lcap) {
                    size_t nc = lcap ? lcap * 2 : 4096;
                    char *nb = realloc(lbuf, nc);
                    if (!nb) {
                        snprintf(err, errlen, "out of memory");
                        rc = -1;
                        goto done;
                    }
                    lbuf = nb;
                    lcap = nc;
                }
                lbuf[llen++] = chunk[i];
                continue;
            }
            f->rows++;
            if (too_long)
                row_problem(f, f->rows, "is longer than 16 MiB");
            else
                check_row(v, which, lbuf ? lbuf : "", llen, f->rows);
            llen = 0;
            too_long = false;
        }
    }
    if (ndjson && llen > 0)
        row_problem(f, f->rows + 1, "does not end with a newline (the file was cut)");
    if (keep)
        (*keep)[kept] = '\0';
    f->bytes = size;
    unsigned char h[32];
    unsigned int hl = 0;
    EVP_DigestFinal_ex(md, h, &hl);
    for (int i = 0; i < 32; i++)
        snprintf(f->sha + 2 * i, 3, "%02x", h[i]);
done:
    EVP_MD_CTX_free(md);
    free(lbuf);
    return rc;
}

/* incident.json: an array of incidents; its rows are their number. */
static void check_incidents(vfile *f, const char *s, size_t n)
{
    cJSON *a = cJSON_ParseWithLength(s, n);
    if (!cJSON_IsArray(a))
        snprintf(f->problem, sizeof f->problem, "is not a JSON array of incidents");
    else
        f->rows = (uint64_t)cJSON_GetArraySize(a);
    cJSON_Delete(a);
}

/* manifest.sig: "key_id: ID", "manifest_sha256: HEX", "signature: B64". */
static const char *sig_field(const char *sig, const char *name, char *out, size_t len)
{
    char pat[40];
    snprintf(pat, sizeof pat, "\n%s: ", name);
    const char *p = strstr(sig, pat);
    if (!p)
        return NULL;
    p += strlen(pat);
    size_t n = strcspn(p, "\r\n");
    if (n >= len)
        return NULL;
    memcpy(out, p, n);
    out[n] = '\0';
    return out;
}

/* The signature and the key: 0 when they hold. */
static int check_signature(vstate *v, const cJSON *m, const unsigned char *given,
                           unsigned char pk[32], bool *given_used)
{
    char kid[64], msha[80], sigb[160], mhex[65];
    unsigned char sig[64];
    *given_used = false;
    if (strncmp(v->sig, "custos-evidence-signature-v1\n", 29) != 0 ||
        !sig_field(v->sig, "key_id", kid, sizeof kid) ||
        !sig_field(v->sig, "manifest_sha256", msha, sizeof msha) ||
        !sig_field(v->sig, "signature", sigb, sizeof sigb) ||
        audit_unb64(sigb, sig, sizeof sig) < 0) {
        problem(v, "manifest.sig is not a custos evidence signature (damaged)");
        return -1;
    }
    const cJSON *sk = cJSON_GetObjectItemCaseSensitive(m, "signing_key");
    const char *mpk = str_of(sk, "public_key");
    if (given) {
        memcpy(pk, given, 32);
        *given_used = true;
        char want[17];
        audit_key_id(given, want);
        if (strcmp(kid, want) != 0) {
            problem(v, "manifest.sig was made by key %s, not by the given public key %s "
                       "(wrong key, or signed elsewhere)", kid, want);
            return -1;
        }
    } else if (!mpk || audit_unb64(mpk, pk, 32) < 0) {
        problem(v, "manifest.json names no usable signing_key.public_key (give --pubkey)");
        return -1;
    }
    audit_sha256_hex(v->manifest, v->manifest_len, mhex);
    if (strcmp(mhex, msha) != 0) {
        problem(v, "manifest.json was altered after signing: its SHA-256 is %.16s..., the "
                   "signed manifest's was %.16s...", mhex, msha);
        return -1;
    }
    if (!audit_sig_ok(pk, v->manifest, v->manifest_len, sig)) {
        problem(v, "manifest.sig: the Ed25519 signature does not verify with key %s "
                   "(forged signature)", kid);
        return -1;
    }
    return 0;
}

/* The manifest's figures against what was read. */
static void check_files(vstate *v, const cJSON *m)
{
    const cJSON *files = cJSON_GetObjectItemCaseSensitive(m, "files");
    bool listed[F_COUNT] = {false};
    const cJSON *e;
    cJSON_ArrayForEach(e, files)
    {
        const char *name = str_of(e, "name"), *sha = str_of(e, "sha256");
        const cJSON *rows = cJSON_GetObjectItemCaseSensitive(e, "rows");
        const cJSON *bytes = cJSON_GetObjectItemCaseSensitive(e, "bytes");
        int w = -1;
        for (int i = 0; i < F_MANIFEST; i++)
            if (name && strcmp(name, k_names[i]) == 0)
                w = i;
        if (w < 0 || !sha || !cJSON_IsNumber(rows) || !cJSON_IsNumber(bytes)) {
            problem(v, "manifest.json lists a file it should not (%s)", name ? name : "?");
            continue;
        }
        listed[w] = true;
        vfile *f = &v->f[w];
        if (!f->seen) {
            problem(v, "%s is in the manifest but not in the bundle (removed)", name);
            continue;
        }
        if ((double)f->rows != rows->valuedouble)
            problem(v, "%s holds %" PRIu64 " rows, the manifest says %.0f (rows removed or "
                       "added)", name, f->rows, rows->valuedouble);
        else if (f->problem[0])
            problem(v, "%s: %s", name, f->problem);
        else if (strcmp(f->sha, sha) != 0)
            problem(v, "%s: its SHA-256 differs from the manifest's (content altered)", name);
        else if ((double)f->bytes != bytes->valuedouble)
            problem(v, "%s: %" PRIu64 " bytes, the manifest says %.0f", name, f->bytes,
                    bytes->valuedouble);
    }
    for (int i = 0; i < F_MANIFEST; i++)
        if (!listed[i])
            problem(v, "manifest.json does not list %s", k_names[i]);
    /* The audit head at export is the last audit row in the bundle. */
    const cJSON *head = cJSON_GetObjectItemCaseSensitive(m, "audit_head");
    const cJSON *hs = cJSON_GetObjectItemCaseSensitive(head, "seq");
    const char *hh = str_of(head, "hash");
    if (cJSON_IsNumber(hs) && hs->valuedouble > 0 &&
        (!hh || (double)v->last_seq != hs->valuedouble || strcmp(hh, v->last_hash) != 0))
        problem(v, "audit.ndjson does not end with the audit head the manifest names (row "
                   "%.0f)", hs->valuedouble);
}

/* The newest audit checkpoint at export, when the same key signed it: its
 * signature (the text audit/audit_checkpoint.c signs). */
static void check_checkpoint(vstate *v, const cJSON *m, const unsigned char pk[32])
{
    const cJSON *k = cJSON_GetObjectItemCaseSensitive(m, "audit_checkpoint");
    const cJSON *seq = cJSON_GetObjectItemCaseSensitive(k, "seq");
    const char *hash = str_of(k, "hash"), *ts = str_of(k, "ts_us"), *kid = str_of(k, "key_id");
    const char *sigb = str_of(k, "signature");
    char id[17], msg[256];
    audit_key_id(pk, id);
    if (!cJSON_IsObject(k) || !kid || strcmp(kid, id) != 0)
        return; /* none, or made by another key (an older one) */
    unsigned char sig[64];
    int n = snprintf(msg, sizeof msg, "custos-audit-checkpoint-v1\n%.0f\n%s\n%s\n",
                     cJSON_IsNumber(seq) ? seq->valuedouble : -1, hash ? hash : "",
                     ts ? ts : "");
    if (!sigb || audit_unb64(sigb, sig, sizeof sig) < 0 ||
        !audit_sig_ok(pk, msg, (size_t)n, sig))
        problem(v, "manifest.json: the audit checkpoint it names does not verify with key %s",
                id);
}

/* timestamp.tsr against the SHA-256 of the manifest as read. -1 when the
 * CA file cannot be read (err). */
static int check_timestamp(vstate *v, const char *tsa_ca, char *err, size_t errlen)
{
    if (!v->f[F_TSR].seen) {
        snprintf(v->tsa_line, sizeof v->tsa_line, "no timestamp (the bundle has no "
                                                  "timestamp.tsr)");
        if (tsa_ca)
            problem(v, "the bundle has no timestamp.tsr (no timestamp), but --tsa-ca asks "
                       "for one");
        return 0;
    }
    if (!v->tsr) {
        problem(v, "timestamp.tsr: %s", v->f[F_TSR].problem);
        return 0;
    }
    unsigned char digest[32];
    unsigned int dl = 0;
    EVP_Digest(v->manifest, v->manifest_len, digest, &dl, EVP_sha256(), NULL);
    int rc = forensics_tsa_check((const unsigned char *)v->tsr, v->tsr_len, digest, tsa_ca,
                                 v->tsa_line, sizeof v->tsa_line, err, errlen);
    if (rc < 0)
        return -1;
    if (rc > 0)
        problem(v, "%s", v->tsa_line);
    return 0;
}

static void summary(vstate *v, const cJSON *m, const unsigned char pk[32], bool given)
{
    char id[17];
    audit_key_id(pk, id);
    fprintf(v->out, "bundle verifies: signed by key %s%s\n", id,
            given ? " (the given public key)"
                  : " (the key the bundle names: give --pubkey to know who signed it)");
    fprintf(v->out, "  exported %s by %s (custos %s)\n", str_of(m, "exported_at") ?: "?",
            str_of(m, "exporter") ?: "?", str_of(m, "custos_version") ?: "?");
    for (int i = 0; i < F_MANIFEST; i++)
        fprintf(v->out, "  %-15s %10" PRIu64 " rows %12" PRIu64 " bytes  sha256 %s\n",
                k_names[i], v->f[i].rows, v->f[i].bytes, v->f[i].sha);
    const cJSON *head = cJSON_GetObjectItemCaseSensitive(m, "audit_head");
    const cJSON *hs = cJSON_GetObjectItemCaseSensitive(head, "seq");
    fprintf(v->out, "  audit head at export: row %.0f %s\n",
            cJSON_IsNumber(hs) ? hs->valuedouble : 0, str_of(head, "hash") ?: "?");
    fprintf(v->out, "  %s\n", v->tsa_line);
}

int forensics_verify(const char *path, const unsigned char *pk_given, const char *tsa_ca,
                     FILE *out, char *err, size_t errlen)
{
    FILE *in = fopen(path, "rb");
    if (!in) {
        snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
        return -1;
    }
    vstate v = {.out = out};
    int rc = -1;
    cJSON *m = NULL;
    char *incidents = NULL;
    for (;;) {
        char name[101];
        uint64_t size;
        int n = forensics_tar_next(in, name, &size, err, errlen);
        if (n < 0) {
            problem(&v, "%s", err);
            rc = 1;
            goto done;
        }
        if (n == 0)
            break;
        int w = -1;
        for (int i = 0; i < F_COUNT; i++)
            if (strcmp(name, k_names[i]) == 0)
                w = i;
        if (w < 0) {
            problem(&v, "%s is in the bundle but is no part of a custos bundle (added)", name);
            if (fseek(in, (long)size, SEEK_CUR) < 0 || forensics_tar_skip_pad(in, size) < 0)
                goto cut;
            continue;
        }
        if (v.f[w].seen) {
            problem(&v, "%s appears twice in the bundle", name);
            rc = 1;
            goto done;
        }
        v.f[w].seen = true;
        char **keep = w == F_MANIFEST ? &v.manifest : w == F_SIG ? &v.sig
                      : w == F_TSR ? &v.tsr : w == F_INCIDENT ? &incidents : NULL;
        size_t cap = w == F_INCIDENT ? INCIDENTS_MAX : w == F_SIG ? 4096
                     : w == F_TSR ? TSR_MAX : MANIFEST_MAX;
        if (read_entry(&v, in, w, size, keep, cap, err, errlen) < 0) {
            problem(&v, "%s", err);
            rc = 1;
            goto done;
        }
        if (w == F_MANIFEST)
            v.manifest_len = (size_t)size;
        if (w == F_TSR)
            v.tsr_len = (size_t)size;
        if (w == F_INCIDENT && incidents)
            check_incidents(&v.f[w], incidents, (size_t)size);
        if (forensics_tar_skip_pad(in, size) < 0)
            goto cut;
    }
    if (!v.manifest || !v.sig) {
        problem(&v, "%s", !v.manifest ? "the bundle has no manifest.json"
                                      : "the bundle has no manifest.sig: it is not signed");
        rc = 1;
        goto done;
    }
    m = cJSON_ParseWithLength(v.manifest, v.manifest_len);
    if (!cJSON_IsObject(m) ||
        strcmp(str_of(m, "format") ? str_of(m, "format") : "", "custos-evidence-v1") != 0) {
        problem(&v, "manifest.json is not a custos-evidence-v1 manifest");
        rc = 1;
        goto done;
    }
    unsigned char pk[32];
    bool given = false;
    if (check_signature(&v, m, pk_given, pk, &given) == 0)
        check_checkpoint(&v, m, pk);
    check_files(&v, m);
    if (check_timestamp(&v, tsa_ca, err, errlen) < 0)
        goto done; /* rc -1: the CA file cannot be read */
    if (v.problems == 0)
        summary(&v, m, pk, given);
    rc = v.problems ? 1 : 0;
    goto done;
cut:
    problem(&v, "the archive is cut short");
    rc = 1;
done:
    cJSON_Delete(m);
    free(incidents);
    free(v.manifest);
    free(v.sig);
    free(v.tsr);
    fclose(in);
    return rc;
}
