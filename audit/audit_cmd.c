/* custos audit verify | head */
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
    fprintf(out, "usage: custos audit verify | head [--config FILE]\n");
}

static int run(const char *what, PGconn *db)
{
    char err[1024], why[512] = "";
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
    printf("audit chain verifies: %" PRId64 " rows\n", rows);
    return CORE_EXIT_OK;
}

int audit_cmd(int argc, char **argv)
{
    const char *what = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            printf("\n"
                   "verify  walks the audit log's SHA-256 chain from the first row, recomputing\n"
                   "        each hash; names the first broken row and exits 1 when the chain\n"
                   "        does not hold.\n"
                   "head    prints the chain head: the last row's seq and hash (keep it\n"
                   "        elsewhere to notice a rewritten chain later).\n");
            return CORE_EXIT_OK;
        } else if (!what && (strcmp(argv[i], "verify") == 0 || strcmp(argv[i], "head") == 0)) {
            what = argv[i];
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
    rc = run(what, db);
done:
    if (db)
        PQfinish(db);
    core_config_free(&cfg);
    return rc;
}
