/* The audit chain: append (in the caller's transaction or its own), verify,
 * head, and the row hash. The field encoding is docs/playbooks.md's "audit
 * chain": changing it breaks every chain already written. */
#include "audit/audit.h"

#include <inttypes.h>
#include <openssl/evp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/db.h"
#include "core/log.h"

#define ZERO_HASH "0000000000000000000000000000000000000000000000000000000000000000"

static void hex32(const unsigned char h[32], char out[65])
{
    for (int i = 0; i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", h[i]);
}

void audit_sha256_hex(const void *data, size_t len, char out[65])
{
    unsigned char md[32];
    unsigned int mdlen = 0;
    EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL);
    hex32(md, out);
}

/* One field: "LEN:BYTES;", or "~;" for NULL (absent is not empty). */
static void field(EVP_MD_CTX *md, const char *s)
{
    char len[32];
    if (!s) {
        EVP_DigestUpdate(md, "~;", 2);
        return;
    }
    size_t n = strlen(s);
    int l = snprintf(len, sizeof len, "%zu:", n);
    EVP_DigestUpdate(md, len, (size_t)l);
    EVP_DigestUpdate(md, s, n);
    EVP_DigestUpdate(md, ";", 1);
}

void audit_hash(const char *prev_hash, int64_t seq, int64_t ts_us, const char *actor,
                const char *event, const char *action_id, const char *incident_id,
                const char *detail, char out[65])
{
    char num[32];
    unsigned char h[32];
    unsigned int hl = 0;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    EVP_DigestInit_ex(md, EVP_sha256(), NULL);
    field(md, "custos-audit-v1");
    field(md, prev_hash);
    snprintf(num, sizeof num, "%" PRId64, seq);
    field(md, num);
    snprintf(num, sizeof num, "%" PRId64, ts_us);
    field(md, num);
    field(md, actor);
    field(md, event);
    field(md, action_id);
    field(md, incident_id);
    field(md, detail);
    EVP_DigestFinal_ex(md, h, &hl);
    EVP_MD_CTX_free(md);
    hex32(h, out);
}

int audit_append(PGconn *c, const char *actor, const char *event, int64_t action_id,
                 const char *incident_id, const char *detail_json, char *err, size_t errlen)
{
    /* FOR UPDATE serialises appenders across processes, and after the wait
     * it returns the head as the previous holder left it. */
    PGresult *r = core_db_query(c, "SELECT seq, hash FROM audit_head WHERE id = 1 FOR UPDATE", 0,
                                NULL, "locking the audit head", err, errlen);
    if (!r)
        return -1;
    if (PQntuples(r) != 1) {
        PQclear(r);
        snprintf(err, errlen, "the audit head row is missing");
        return -1;
    }
    int64_t seq = strtoll(PQgetvalue(r, 0, 0), NULL, 10) + 1;
    char prev[65];
    snprintf(prev, sizeof prev, "%s", PQgetvalue(r, 0, 1));
    PQclear(r);
    int64_t ts = core_wall_us();
    char seqs[32], tss[32], aid[32], hash[65];
    snprintf(seqs, sizeof seqs, "%" PRId64, seq);
    snprintf(tss, sizeof tss, "%" PRId64, ts);
    snprintf(aid, sizeof aid, "%" PRId64, action_id);
    const char *aidp = action_id > 0 ? aid : NULL;
    audit_hash(prev, seq, ts, actor, event, aidp, incident_id, detail_json, hash);
    const char *v[] = {seqs, tss, actor, event, aidp, incident_id, detail_json, prev, hash};
    return core_db_exec_params(
               c,
               "WITH i AS (INSERT INTO audit_log (seq, ts_us, ts, actor, event, action_id, "
               "incident_id, detail, prev_hash, hash) VALUES ($1::bigint, $2::bigint, "
               "to_timestamp($2::bigint / 1e6), $3, $4, $5::bigint, $6, $7, $8, $9) RETURNING seq) "
               "UPDATE audit_head SET seq = (SELECT seq FROM i), hash = $9 WHERE id = 1",
               9, v, "appending to the audit log", err, errlen) < 0
               ? -1
               : 0;
}

int audit_append_tx(PGconn *c, const char *actor, const char *event, int64_t action_id,
                    const char *incident_id, const char *detail_json, char *err, size_t errlen)
{
    if (core_db_begin(c, err, errlen) < 0)
        return -1;
    if (audit_append(c, actor, event, action_id, incident_id, detail_json, err, errlen) < 0 ||
        core_db_commit(c, err, errlen) < 0) {
        core_db_rollback(c);
        return -1;
    }
    return 0;
}

int audit_append_json(PGconn *c, const char *actor, const char *event, int64_t action_id,
                      const char *incident_id, cJSON *detail, char *err, size_t errlen)
{
    char *js = detail ? cJSON_PrintUnformatted(detail) : NULL;
    cJSON_Delete(detail);
    if (!js) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    int rc = audit_append(c, actor, event, action_id, incident_id, js, err, errlen);
    free(js);
    return rc;
}

int audit_head(PGconn *c, int64_t *seq, char hash[65], char *err, size_t errlen)
{
    PGresult *r = core_db_query(c, "SELECT seq, hash FROM audit_head WHERE id = 1", 0, NULL,
                                "reading the audit head", err, errlen);
    if (!r)
        return -1;
    if (PQntuples(r) != 1) {
        PQclear(r);
        snprintf(err, errlen, "the audit head row is missing");
        return -1;
    }
    *seq = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    snprintf(hash, 65, "%s", PQgetvalue(r, 0, 1));
    PQclear(r);
    return 0;
}

/* One streamed row against the chain so far: 0 when it holds (prev moves
 * on to its hash), 1 when broken (why says how). */
static int check_row(const PGresult *r, int64_t expect, char prev[65], char *why, size_t whylen)
{
#define COL(i) (PQgetisnull(r, 0, i) ? NULL : PQgetvalue(r, 0, i))
    int64_t seq = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    int64_t ts = strtoll(PQgetvalue(r, 0, 1), NULL, 10);
    char h[65];
    audit_hash(prev, seq, ts, COL(2), COL(3), COL(4), COL(5), COL(6), h);
#undef COL
    if (seq != expect)
        snprintf(why, whylen, "expected row %" PRId64 ", found %" PRId64
                 " (rows missing or inserted)", expect, seq);
    else if (strcmp(PQgetvalue(r, 0, 7), prev) != 0)
        snprintf(why, whylen, "prev_hash does not match the previous row's hash");
    else if (strcmp(PQgetvalue(r, 0, 8), h) != 0)
        snprintf(why, whylen, "hash does not match the row's content (row altered)");
    else if (PQgetvalue(r, 0, 9)[0] != 't')
        snprintf(why, whylen, "ts does not match ts_us (timestamp altered)");
    else {
        memcpy(prev, h, 65);
        return 0;
    }
    return 1;
}

int audit_verify(PGconn *c, int64_t *rows, int64_t *bad_seq, char *why, size_t whylen,
                 char *err, size_t errlen)
{
    int rc = -1;
    *rows = 0;
    *bad_seq = 0;
    char prev[65] = ZERO_HASH;
    int64_t expect = 1;
    /* One snapshot for the rows and the head, streamed row by row. */
    if (core_db_exec(c, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", err, errlen) < 0)
        return -1;
    if (!PQsendQuery(c, "SELECT seq, ts_us, actor, event, action_id::text, incident_id, detail, "
                        "prev_hash, hash, abs(extract(epoch FROM ts) * 1000000 - ts_us) < 2 "
                        "FROM audit_log ORDER BY seq")) {
        core_db_error(c, "reading the audit log", err, errlen);
        goto done;
    }
    PQsetSingleRowMode(c);
    PGresult *r;
    bool broken = false;
    while ((r = PQgetResult(c))) {
        ExecStatusType st = PQresultStatus(r);
        if (st == PGRES_SINGLE_TUPLE && !broken) {
            if (check_row(r, expect, prev, why, whylen) != 0) {
                broken = true;
                *bad_seq = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
            } else {
                expect++;
                ++*rows;
            }
        } else if (st != PGRES_SINGLE_TUPLE && st != PGRES_TUPLES_OK) {
            core_db_error(c, "reading the audit log", err, errlen);
            PQclear(r);
            while ((r = PQgetResult(c)))
                PQclear(r);
            goto done;
        }
        PQclear(r);
    }
    if (broken) {
        rc = 1;
        goto done;
    }
    r = core_db_query(c, "SELECT seq, hash FROM audit_head WHERE id = 1", 0, NULL,
                      "reading the audit head", err, errlen);
    if (!r)
        goto done;
    if (PQntuples(r) != 1 || strtoll(PQgetvalue(r, 0, 0), NULL, 10) != expect - 1 ||
        strcmp(PQgetvalue(r, 0, 1), prev) != 0) {
        *bad_seq = expect;
        snprintf(why, whylen, "the chain head says row %s but the log ends at row %" PRId64
                 " (rows cut off the end, or the head altered)",
                 PQntuples(r) == 1 ? PQgetvalue(r, 0, 0) : "?", expect - 1);
        rc = 1;
    } else {
        rc = 0;
    }
    PQclear(r);
done:
    PQclear(PQexec(c, "COMMIT"));
    return rc;
}
