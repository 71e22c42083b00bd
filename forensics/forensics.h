/* forensics/: what auditors and regulators use. Signed evidence bundles (a
 * tar of the incident, its events, alerts, actions and audit rows, with a
 * manifest of their SHA-256 signed by the instance's Ed25519 key) and their
 * offline verifier; `custos keys`, `custos evidence`. Built on audit/ (the
 * chain, the key, the checkpoints). See docs/forensics.md. */
#ifndef FORENSICS_FORENSICS_H
#define FORENSICS_FORENSICS_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "audit/audit.h"
#include "core/cli.h"
#include "core/config.h"

/* ---- a small ustar writer and reader (fo_tar.c) ----
 * Entries are streamed: the header is written with size 0, the content
 * after it (hashed as it goes), and the header rewritten with the size at
 * the end, so the file must be seekable (a regular file). */
typedef struct {
    FILE *f;
    long hdr_at;      /* offset of the open entry's header, -1: none open */
    uint64_t size;    /* bytes of the open entry so far */
    uint64_t lines;   /* '\n' bytes of the open entry so far */
    void *md;         /* EVP_MD_CTX of the open entry */
    char name[100];
    int64_t mtime;
} forensics_tar;

/* Starts an entry called name (< 100 bytes, plain). 0 or -1 with err. */
int forensics_tar_begin(forensics_tar *t, const char *name, int64_t mtime, char *err,
                        size_t errlen);
int forensics_tar_write(forensics_tar *t, const void *p, size_t n, char *err, size_t errlen);
/* Ends the open entry: pads it, rewrites its header, gives its SHA-256
 * (hex), bytes and lines. */
int forensics_tar_end(forensics_tar *t, char sha[65], uint64_t *size, uint64_t *lines,
                      char *err, size_t errlen);
/* The two zero blocks that end an archive; flushes and syncs. */
int forensics_tar_close(forensics_tar *t, char *err, size_t errlen);

/* Reads the next entry's header: 1 with name and size, 0 at the end of
 * the archive, -1 with err (a damaged header, not a ustar archive). The
 * content follows: read size bytes, then forensics_tar_skip_pad(). */
int forensics_tar_next(FILE *f, char name[101], uint64_t *size, char *err, size_t errlen);
int forensics_tar_skip_pad(FILE *f, uint64_t size);

/* ---- evidence bundles (fo_export.c, fo_verify.c) ---- */

/* What an export covers: one incident, or one key over [since, until). */
typedef struct {
    const char *incident_id; /* or NULL */
    const char *api_key_id;  /* with since and until (RFC 3339) */
    const char *since, *until;
} forensics_filter;

/* What an export wrote. */
typedef struct {
    uint64_t incidents, events, alerts, actions, audit;
    char manifest_sha256[65];
    char key_id[17];
} forensics_export_result;

/* Writes the bundle for f to path (created, or replaced only when it does
 * not exist... it must not exist: never overwrites), signed with key, and
 * appends the evidence_exported audit row (actor, the filter, the counts,
 * the manifest's digest). Rows are streamed from one snapshot with COPY.
 * Returns 0, 1 when the filter is refused (err says why), -1 with err;
 * on failure the file is removed. */
int forensics_export(PGconn *c, const core_config *cfg, const audit_key *key,
                     const forensics_filter *f, const char *actor, const char *path,
                     forensics_export_result *res, char *err, size_t errlen);

/* Verifies the bundle at path, offline. pk: the signer's public key (NULL:
 * the key the manifest names, which proves integrity but not who signed).
 * Writes one line per problem to out (and a summary when it holds).
 * Returns 0 when it verifies, 1 when something is wrong, -1 when the file
 * cannot be read (err). */
int forensics_verify(const char *path, const unsigned char *pk, FILE *out, char *err,
                     size_t errlen);

/* ---- retention and legal holds (fo_retention.c, fo_hold.c) ---- */

typedef struct {
    int64_t partitions;      /* daily partitions dropped (or that would be) */
    int64_t rows_dropped;    /* their rows under no hold */
    int64_t rows_held;       /* their rows kept (moved to the default partition) */
    int64_t default_deleted; /* old rows of the default partition deleted */
} forensics_retention_result;

/* Drops the daily partitions of interactions past
 * retention.interactions_days, keeping held rows; each drop a transaction
 * and an audit row by actor. dry: counts only, changes nothing. One line
 * per partition to out (may be NULL). 0 or -1 with err. */
int forensics_retention_run(PGconn *c, const core_config *cfg, bool dry, const char *actor,
                            FILE *out, forensics_retention_result *res, char *err,
                            size_t errlen);

/* ---- the service of custos run (fo_service.c): audit checkpoints every
 * audit.checkpoint_interval_ms, retention every retention.interval_ms ---- */
typedef struct forensics_service forensics_service;
forensics_service *forensics_service_start(const core_config *cfg, char *err, size_t errlen);
void forensics_service_stop(forensics_service *s); /* NULL: no-op */

/* ---- commands (fo_cmd.c, fo_hold.c) ---- */

/* custos retention run [--dry-run] */
int forensics_cmd_retention(core_cmd_ctx *ctx, int argc, char **argv);
/* custos hold add ... | list | release ID --reason R */
int forensics_cmd_hold(core_cmd_ctx *ctx, int argc, char **argv);

/* custos keys init [--force] | public */
int forensics_cmd_keys(core_cmd_ctx *ctx, int argc, char **argv);
/* custos evidence export ... | verify BUNDLE [--pubkey F] */
int forensics_cmd_evidence(core_cmd_ctx *ctx, int argc, char **argv);

#endif
