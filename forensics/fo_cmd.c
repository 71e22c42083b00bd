/* custos keys init | public; custos evidence export | verify. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "audit/audit.h"
#include "core/cli.h"
#include "core/db.h"
#include "forensics/forensics.h"

static void keys_usage(FILE *out)
{
    fprintf(out,
            "usage: custos keys init [--force] | public [--config FILE]\n"
            "\n"
            "The instance's Ed25519 signing key (libsodium), at audit.signing_key. It signs\n"
            "evidence bundles ('custos evidence export') and audit checkpoints ('custos audit\n"
            "checkpoint', and custos run every audit.checkpoint_interval_ms).\n"
            "\n"
            "init    makes a new key and writes it to audit.signing_key, mode 0600; refuses\n"
            "        a file that exists unless --force (what the old key signed then\n"
            "        verifies only with its old public key: keep that). Audited\n"
            "        (signing_key_created, with the key id; never the key).\n"
            "public  prints the public key, 'custos-ed25519 BASE64 KEYID': give this line to\n"
            "        whoever verifies bundles ('custos evidence verify --pubkey FILE').\n");
}

int forensics_cmd_keys(core_cmd_ctx *x, int argc, char **argv)
{
    const char *what = NULL;
    bool force = false;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0) {
            keys_usage(stdout);
            return CORE_EXIT_OK;
        } else if (strcmp(argv[i], "--force") == 0) {
            force = true;
        } else if (!what && (strcmp(argv[i], "init") == 0 || strcmp(argv[i], "public") == 0)) {
            what = argv[i];
        } else {
            fprintf(stderr, "custos keys: unknown argument '%s'\n", argv[i]);
            return CORE_EXIT_USAGE;
        }
    }
    if (!what) {
        keys_usage(stderr);
        return CORE_EXIT_USAGE;
    }
    char err[1024], text[AUDIT_PUBKEY_TEXT];
    audit_key k;
    if (strcmp(what, "public") == 0) {
        if (audit_key_load(x->cfg->audit_signing_key, &k, err, sizeof err) < 0) {
            fprintf(stderr, "custos keys public: %s\n", err);
            return CORE_EXIT_FAIL;
        }
        audit_pubkey_text(k.pk, text);
        audit_key_wipe(&k);
        printf("%s\n", text);
        return CORE_EXIT_OK;
    }
    /* The audit row first, in a transaction committed only once the file
     * is in place: no key is made that the chain does not know of. */
    PGconn *db = core_cmd_db(x);
    if (!db)
        return CORE_EXIT_FAIL;
    if (core_db_begin(db, err, sizeof err) < 0) {
        fprintf(stderr, "custos keys init: %s\n", err);
        return CORE_EXIT_FAIL;
    }
    char actor[128];
    core_cli_actor(actor, sizeof actor);
    if (audit_key_generate(x->cfg->audit_signing_key, force, &k, err, sizeof err) < 0) {
        core_db_rollback(db);
        fprintf(stderr, "custos keys init: %s\n", err);
        return CORE_EXIT_FAIL;
    }
    char detail[256];
    snprintf(detail, sizeof detail, "{\"key_id\":\"%s\",\"replaced\":%s}", k.id,
             force ? "true" : "false");
    if (audit_append(db, actor, "signing_key_created", 0, NULL, detail, err, sizeof err) < 0 ||
        core_db_commit(db, err, sizeof err) < 0) {
        core_db_rollback(db);
        if (!force)
            unlink(x->cfg->audit_signing_key);
        audit_key_wipe(&k);
        fprintf(stderr, "custos keys init: %s (no key kept)\n", err);
        return CORE_EXIT_FAIL;
    }
    audit_pubkey_text(k.pk, text);
    audit_key_wipe(&k);
    printf("signing key written to %s (mode 0600)\npublic key: %s\n",
           x->cfg->audit_signing_key, text);
    return CORE_EXIT_OK;
}

static void evidence_usage(FILE *out)
{
    fprintf(out,
            "usage: custos evidence export (--incident ID | --key K --since T --until T)\n"
            "                              -o FILE.tar\n"
            "       custos evidence verify BUNDLE [--pubkey FILE] [--tsa-ca FILE]\n"
            "\n"
            "export  writes one tar archive (ustar) of the evidence, read from one snapshot\n"
            "        and streamed: incident.json (the incidents, an array), events.ndjson\n"
            "        (their interactions, by ts and event_id), alerts.ndjson, actions.ndjson,\n"
            "        audit.ndjson (their audit rows and the chain head, with every field the\n"
            "        row hash covers), manifest.json (custos version, query, time range, rows,\n"
            "        bytes and SHA-256 of each file, the audit head and newest checkpoint,\n"
            "        exporter, time) and manifest.sig (its Ed25519 signature with\n"
            "        audit.signing_key); with forensics.tsa_url set, timestamp.tsr (an\n"
            "        RFC 3161 token over manifest.json's SHA-256; without one the export\n"
            "        fails when forensics.tsa_required is on, else warns). --key exports\n"
            "        the key's events in [--since, --until) (RFC 3339, at most\n"
            "        forensics.max_range_days) and the incidents of the key overlapping it.\n"
            "        FILE must not exist. The export is audited (evidence_exported: actor,\n"
            "        filter, rows, the manifest's SHA-256, the timestamp token's).\n"
            "verify  checks a bundle offline (no database): the signature, against --pubkey\n"
            "        FILE ('custos keys public'; without it, against the key the bundle\n"
            "        names, which shows it is whole but not who signed it), every file's\n"
            "        rows, order and SHA-256, the audit rows' hashes, the timestamp token's\n"
            "        digest and, with --tsa-ca FILE (the TSA's CA, PEM), its signature (a\n"
            "        bundle without a token then fails). Names each problem; exit 0 when\n"
            "        it verifies, 1 when not.\n");
}

static int evidence_verify(const char *bundle, const char *pubkey, const char *tsa_ca)
{
    char err[1024];
    unsigned char pk[32];
    if (pubkey && audit_pubkey_load(pubkey, pk, err, sizeof err) < 0) {
        fprintf(stderr, "custos evidence verify: %s\n", err);
        return CORE_EXIT_FAIL;
    }
    int rc = forensics_verify(bundle, pubkey ? pk : NULL, tsa_ca, stdout, err, sizeof err);
    if (rc < 0) {
        fprintf(stderr, "custos evidence verify: %s\n", err);
        return CORE_EXIT_FAIL;
    }
    return rc == 0 ? CORE_EXIT_OK : CORE_EXIT_FAIL;
}

static int evidence_export(core_cmd_ctx *x, const forensics_filter *f, const char *outpath)
{
    char err[1024];
    audit_key k;
    if (audit_key_load(x->cfg->audit_signing_key, &k, err, sizeof err) < 0) {
        fprintf(stderr, "custos evidence export: %s\n", err);
        return CORE_EXIT_FAIL;
    }
    PGconn *db = core_cmd_db(x);
    if (!db) {
        audit_key_wipe(&k);
        return CORE_EXIT_FAIL;
    }
    char actor[128];
    core_cli_actor(actor, sizeof actor);
    forensics_export_result res;
    int rc = forensics_export(db, x->cfg, &k, f, actor, outpath, &res, err, sizeof err);
    audit_key_wipe(&k);
    if (rc != 0) {
        fprintf(stderr, "custos evidence export: %s\n", err);
        return rc == 1 || rc == FORENSICS_NO_INCIDENT ? CORE_EXIT_USAGE : CORE_EXIT_FAIL;
    }
    printf("bundle %s: %" PRIu64 " incidents, %" PRIu64 " events, %" PRIu64 " alerts, %" PRIu64
           " actions, %" PRIu64 " audit rows; manifest sha256 %s, signed by key %s\n",
           outpath, res.incidents, res.events, res.alerts, res.actions, res.audit,
           res.manifest_sha256, res.key_id);
    if (res.tsa_time[0])
        printf("timestamp token from the TSA at %s (timestamp.tsr)\n", res.tsa_time);
    else if (res.tsa_error[0])
        fprintf(stderr, "custos evidence export: warning: the bundle has no timestamp token "
                        "(forensics.tsa_required is off): %s\n", res.tsa_error);
    return CORE_EXIT_OK;
}

int forensics_cmd_evidence(core_cmd_ctx *x, int argc, char **argv)
{
    const char *what = NULL, *out = NULL, *pubkey = NULL, *bundle = NULL, *tsa_ca = NULL;
    forensics_filter f = {0};
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0) {
            evidence_usage(stdout);
            return CORE_EXIT_OK;
        }
        if (core_cli_opt(argc, argv, &i, "--incident", &f.incident_id) ||
            core_cli_opt(argc, argv, &i, "--key", &f.api_key_id) ||
            core_cli_opt(argc, argv, &i, "--since", &f.since) ||
            core_cli_opt(argc, argv, &i, "--until", &f.until) ||
            core_cli_opt(argc, argv, &i, "-o", &out) ||
            core_cli_opt(argc, argv, &i, "--output", &out) ||
            core_cli_opt(argc, argv, &i, "--pubkey", &pubkey) ||
            core_cli_opt(argc, argv, &i, "--tsa-ca", &tsa_ca))
            continue;
        if (!what && (strcmp(argv[i], "export") == 0 || strcmp(argv[i], "verify") == 0)) {
            what = argv[i];
        } else if (what && strcmp(what, "verify") == 0 && !bundle && argv[i][0] != '-') {
            bundle = argv[i];
        } else {
            fprintf(stderr, "custos evidence: unknown argument '%s'\n", argv[i]);
            return CORE_EXIT_USAGE;
        }
    }
    if (!what) {
        evidence_usage(stderr);
        return CORE_EXIT_USAGE;
    }
    if (strcmp(what, "verify") == 0) {
        if (!bundle) {
            fprintf(stderr, "custos evidence verify: which BUNDLE?\n");
            return CORE_EXIT_USAGE;
        }
        return evidence_verify(bundle, pubkey, tsa_ca);
    }
    bool by_key = f.api_key_id || f.since || f.until;
    if (!out || (f.incident_id ? by_key : !(f.api_key_id && f.since && f.until))) {
        fprintf(stderr, "custos evidence export: give --incident ID, or --key K --since T "
                        "--until T, and -o FILE.tar\n");
        return CORE_EXIT_USAGE;
    }
    return evidence_export(x, &f, out);
}
