/* Signed checkpoints of the chain head. The chain alone shows a changed or
 * removed row in its middle; rows cut off its end, with audit_head set back
 * to match, leave a shorter chain that still holds. A checkpoint is the
 * head (seq, hash) at a time, signed with the instance's Ed25519 key and
 * kept in audit_checkpoints (append-only): a checkpoint covering a row the
 * log no longer has, or a different hash at its seq, shows the cut. */
#include "audit/audit.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/db.h"
#include "core/log.h"

/* The signed text: fixed fields, one per line. */
static int message(char *out, size_t len, const char *seq, const char *hash, const char *ts_us)
{
    return snprintf(out, len, "custos-audit-checkpoint-v1\n%s\n%s\n%s\n", seq, hash, ts_us);
}

int audit_checkpoint(PGconn *c, const audit_key *k, int64_t *seq, bool *written, char *err,
                     size_t errlen)
{
    *written = false;
    if (core_db_begin(c, err, errlen) < 0)
        return -1;
    /* FOR SHARE: no append moves the head while it is signed. */
    PGresult *r = core_db_query(
        c, "SELECT h.seq::text, h.hash, coalesce((SELECT max(seq) FROM audit_checkpoints), -1) "
           "FROM audit_head h WHERE id = 1 FOR SHARE OF h",
        0, NULL, "reading the audit head", err, errlen);
    if (!r || PQntuples(r) != 1) {
        if (r)
            snprintf(err, errlen, "the audit head row is missing");
        PQclear(r);
        core_db_rollback(c);
        return -1;
    }
    *seq = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    if (*seq == 0 || strtoll(PQgetvalue(r, 0, 2), NULL, 10) >= *seq) {
        PQclear(r);
        core_db_rollback(c);
        return 0; /* nothing new to cover */
    }
    char ts[32], msg[256], pk[64], sigb64[100];
    unsigned char sig[64];
    snprintf(ts, sizeof ts, "%" PRId64, core_wall_us());
    int mlen = message(msg, sizeof msg, PQgetvalue(r, 0, 0), PQgetvalue(r, 0, 1), ts);
    audit_sign(k, msg, (size_t)mlen, sig);
    audit_b64(sig, sizeof sig, sigb64, sizeof sigb64);
    audit_b64(k->pk, sizeof k->pk, pk, sizeof pk);
    const char *v[] = {PQgetvalue(r, 0, 0), PQgetvalue(r, 0, 1), ts, k->id, pk, sigb64};
    long long n = core_db_exec_params(
        c,
        "INSERT INTO audit_checkpoints (seq, hash, ts_us, ts, key_id, public_key, signature) "
        "VALUES ($1::bigint, $2, $3::bigint, to_timestamp($3::bigint / 1e6), $4, $5, $6)",
        6, v, "storing the checkpoint", err, errlen);
    PQclear(r);
    if (n < 0 || core_db_commit(c, err, errlen) < 0) {
        core_db_rollback(c);
        return -1;
    }
    *written = true;
    return 0;
}

int audit_checkpoints_verify(PGconn *c, const unsigned char *pk, int64_t *n, int64_t *last_seq,
                             char *why, size_t whylen, char *err, size_t errlen)
{
    *n = 0;
    *last_seq = 0;
    PGresult *r = core_db_query(
        c,
        "SELECT k.id, k.seq::text, k.hash, k.ts_us::text, k.key_id, k.public_key, k.signature, "
        "l.hash, to_char(k.ts AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), "
        "(SELECT coalesce(max(seq), 0) FROM audit_log) "
        "FROM audit_checkpoints k LEFT JOIN audit_log l ON l.seq = k.seq ORDER BY k.seq, k.id",
        0, NULL, "reading the audit checkpoints", err, errlen);
    if (!r)
        return -1;
    int rc = 0;
    for (int i = 0; i < PQntuples(r) && rc == 0; i++) {
        const char *id = PQgetvalue(r, i, 0), *seq = PQgetvalue(r, i, 1);
        const char *at = PQgetvalue(r, i, 8);
        unsigned char spk[32], sig[64];
        char msg[256];
        int mlen = message(msg, sizeof msg, seq, PQgetvalue(r, i, 2), PQgetvalue(r, i, 3));
        if (audit_unb64(PQgetvalue(r, i, 5), spk, sizeof spk) < 0 ||
            audit_unb64(PQgetvalue(r, i, 6), sig, sizeof sig) < 0) {
            snprintf(why, whylen, "checkpoint %s: its public key or signature is not base64 of "
                     "the right length (altered)", id);
            rc = 1;
        } else if (pk && memcmp(pk, spk, 32) != 0) {
            char want[17];
            audit_key_id(pk, want);
            snprintf(why, whylen, "checkpoint %s (%s) was signed by key %s, not by the given "
                     "key %s", id, at, PQgetvalue(r, i, 4), want);
            rc = 1;
        } else if (!audit_sig_ok(spk, msg, (size_t)mlen, sig)) {
            snprintf(why, whylen, "checkpoint %s (%s): the signature does not verify (the "
                     "checkpoint was altered or forged)", id, at);
            rc = 1;
        } else if (PQgetisnull(r, i, 7)) {
            snprintf(why, whylen, "checkpoint %s signed at %s covers row %s, but the log ends "
                     "at row %s: rows were cut off the end of the chain", id, at, seq,
                     PQgetvalue(r, i, 9));
            rc = 1;
        } else if (strcmp(PQgetvalue(r, i, 7), PQgetvalue(r, i, 2)) != 0) {
            snprintf(why, whylen, "checkpoint %s signed at %s says row %s had hash %.16s..., "
                     "the log's row %s has %.16s... (the chain was rewritten)", id, at, seq,
                     PQgetvalue(r, i, 2), seq, PQgetvalue(r, i, 7));
            rc = 1;
        } else {
            ++*n;
            *last_seq = strtoll(seq, NULL, 10);
        }
    }
    PQclear(r);
    return rc;
}
