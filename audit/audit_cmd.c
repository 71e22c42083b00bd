/* custos audit verify [--pubkey F] | head | checkpoint */
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "audit/audit.h"
#include "core/cli.h"
#include "core/config.h"
#include "core/db.h"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: custos audit verify [--pubkey FILE] | head | checkpoint [--config FILE]\n");
}

/* The key checkpoints are checked against: --pubkey, else the public half
 * of audit.signing_key, else none (the keys stored with them). */
static int trusted_key(const core_config *cfg, const char *pubkey, unsigned char pk[32],
                       bool *have, char *err, size_t errlen)
{
    *have = false;
    if (pubkey) {
        if (audit_pubkey_load(pubkey, pk, err, errlen) < 0)
            return -1;
        *have = true;
    } else if (cfg->audit_signing_key[0]) {
        audit_key k;
        if (audit_key_load(cfg->audit_signing_key, &k, err, errlen) < 0)
            return -1;
        memcpy(pk, k.pk, 32);
        audit_key_wipe(&k);
        *have = true;
    }
    return 0;
}

static int checkpoint(const core_config *cfg, PGconn *db)
{
    char err[1024];
    audit_key k;
    if (audit_key_load(cfg->audit_signing_key, &k, err, sizeof err) < 0) {
        fprintf(stderr, "custos audit checkpoint: %s\n", err);
        return CORE_EXIT_FAIL;
    }
    int64_t seq = 0;
    bool written = false;
    int rc = audit_checkpoint(db, &k, &seq, &written, err, sizeof err);
    char id[17];
    memcpy(id, k.id, sizeof id);
    audit_key_wipe(&k);
    if (rc < 0) {
        fprintf(stderr, "custos audit checkpoint: %s\n", err);
        return CORE_EXIT_FAIL;
    }
    if (written)
        printf("checkpoint signed: row %" PRId64 " (key %s)\n", seq, id);
    else
        printf("no new rows since the last checkpoint (head row %" PRId64 ")\n", seq);
    return CORE_EXIT_OK;
}

static int run(const char *what, const core_config *cfg, const char *pubkey, PGconn *db)
{
    char err[1024], why[512] = "";
    if (strcmp(what, "checkpoint") == 0)
        return checkpoint(cfg, db);
    if (strcmp(what, "head") == 0) {
        int64_t seq;
        char hash[65];
        if (audit_head(db, &seq, hash, err, sizeof err) < 0) {
            fprintf(stderr, "custos audit head: %s\n", err);
            return CORE_EXIT_FAIL;
        }
        printf("%" PRId64 " %s\n", seq, hash);
        return CORE_EXIT_OK;
    }
    int64_t rows, bad;
    int v = audit_verify(db, &rows, &bad, why, sizeof why, err, sizeof err);
    if (v < 0) {
        fprintf(stderr, "custos audit verify: %s\n", err);
        return CORE_EXIT_FAIL;
    }
    if (v == 1) {
        printf("audit chain BROKEN at row %" PRId64 ": %s (%" PRId64 " rows before it verify)\n",
               bad, why, rows);
        return CORE_EXIT_FAIL;
    }
    unsigned char pk[32];
    bool have = false;
    if (trusted_key(cfg, pubkey, pk, &have, err, sizeof err) < 0) {
        fprintf(stderr, "custos audit verify: %s\n", err);
        return CORE_EXIT_FAIL;
    }
    int64_t n = 0, last = 0;
    v = audit_checkpoints_verify(db, have ? pk : NULL, &n, &last, why, sizeof why, err,
                                 sizeof err);
    if (v < 0) {
        fprintf(stderr, "custos audit verify: %s\n", err);
        return CORE_EXIT_FAIL;
    }
    if (v == 1) {
        printf("audit chain BROKEN: %s (%" PRId64 " rows verify as a chain)\n", why, rows);
        return CORE_EXIT_FAIL;
    }
    /* The line stays what it was when there is no checkpoint (scripts read it). */
    printf("audit chain verifies: %" PRId64 " rows", rows);
    if (n > 0)
        printf("; %" PRId64 " signed checkpoints hold, the newest covers row %" PRId64 "%s", n,
               last, have ? "" : " (checked against the keys stored with them: give --pubkey "
                                 "or audit.signing_key to check who signed)");
    printf("\n");
    return CORE_EXIT_OK;
}

int audit_cmd(int argc, char **argv)
{
    const char *what = NULL, *pubkey = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            printf("\n"
                   "verify  walks the audit log's SHA-256 chain from the first row, recomputing\n"
                   "        each hash; names the first broken row and exits 1 when the chain\n"
                   "        does not hold.\n"
                   "        Then checks every signed checkpoint (audit_checkpoints): its\n"
                   "        Ed25519 signature, against --pubkey FILE ('custos keys public'),\n"
                   "        else audit.signing_key's public half, else the key stored with it;\n"
                   "        and that the row it covers is still in the log with the hash it\n"
                   "        signed: rows cut off the end of the chain are caught here.\n"
                   "head    prints the chain head: the last row's seq and hash (keep it\n"
                   "        elsewhere to notice a rewritten chain later).\n"
                   "checkpoint  signs the chain head with audit.signing_key and stores it\n"
                   "        (custos run does so every audit.checkpoint_interval_ms).\n");
            return CORE_EXIT_OK;
        } else if (!what && (strcmp(argv[i], "verify") == 0 || strcmp(argv[i], "head") == 0 ||
                             strcmp(argv[i], "checkpoint") == 0)) {
            what = argv[i];
        } else if (core_cli_opt(argc, argv, &i, "--pubkey", &pubkey)) {
            continue;
        } else {
            fprintf(stderr, "custos audit: unknown argument '%s'\n", argv[i]);
            return CORE_EXIT_USAGE;
        }
    }
    if (!what) {
        usage(stderr);
        return CORE_EXIT_USAGE;
    }
    core_config cfg;
    int rc = CORE_EXIT_FAIL;
    PGconn *db = NULL;
    if (core_cli_config(&cfg, NULL, NULL) < 0) {
        rc = CORE_EXIT_CONFIG;
        goto done;
    }
    db = core_cli_db(&cfg, "audit", false);
    if (!db)
        goto done;
    rc = run(what, &cfg, pubkey, db);
done:
    if (db)
        PQfinish(db);
    core_config_free(&cfg);
    return rc;
}
