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
    char tsa_time[32];    /* the timestamp token's time, "" when the bundle has none */
    char tsa_sha256[65];  /* SHA-256 of timestamp.tsr */
    char tsa_error[300];  /* why it has none although forensics.tsa_url is set */
} forensics_export_result;

/* Writes the bundle for f to path (created, or replaced only when it does
 * not exist... it must not exist: never overwrites), signed with key, and
 * appends the evidence_exported audit row (actor, the filter, the counts,
 * the manifest's digest). Rows are streamed from one snapshot with COPY.
 * Returns 0, 1 when the filter is refused (err says why),
 * FORENSICS_NO_INCIDENT when it names an incident that does not exist, -1
 * with err; on failure the file is removed. */
#define FORENSICS_NO_INCIDENT 2
int forensics_export(PGconn *c, const core_config *cfg, const audit_key *key,
                     const forensics_filter *f, const char *actor, const char *path,
                     forensics_export_result *res, char *err, size_t errlen);

/* Verifies the bundle at path, offline. pk: the signer's public key (NULL:
 * the key the manifest names, which proves integrity but not who signed).
 * tsa_ca: a PEM CA file the timestamp token's signature must chain to
 * (NULL: the token's digest is checked, not its signature; given, a
 * bundle without a token fails). Writes one line per problem to out (and
 * a summary when it holds).
 * Returns 0 when it verifies, 1 when something is wrong, -1 when the file
 * cannot be read (err). */
int forensics_verify(const char *path, const unsigned char *pk, const char *tsa_ca, FILE *out,
                     char *err, size_t errlen);

/* ---- RFC 3161 timestamp tokens (fo_tsa.c) ---- */

/* Asks forensics.tsa_url for a token over digest (the SHA-256 of
 * manifest.json): a TimeStampReq with a nonce, POSTed as
 * application/timestamp-query, within forensics.tsa_timeout_ms and
 * forensics.tsa_max_bytes. The answer must be granted, for digest and the
 * nonce, and signed by a certificate chaining to forensics.tsa_ca_file when
 * that is set. 0 with *tsr (the DER TimeStampResp, the caller frees it) and
 * the token's time, or -1 with err (never naming the URL, which may hold
 * credentials). */
int forensics_tsa_stamp(const core_config *cfg, const unsigned char digest[32],
                        unsigned char **tsr, size_t *tsr_len, char gen_time[32], char *err,
                        size_t errlen);
/* Checks a TimeStampResp offline: a granted token whose message imprint is
 * the SHA-256 digest, signed (when ca_file is given) by a certificate
 * chaining to ca_file. 0 when it holds, 1 when not; either way *what says
 * so in one line. -1 with err when ca_file cannot be read. */
int forensics_tsa_check(const unsigned char *tsr, size_t len, const unsigned char digest[32],
                        const char *ca_file, char *what, size_t whatlen, char *err,
                        size_t errlen);

/* ---- forensic queries (fo_query.c, fo_named.c) ---- */

enum { FORENSICS_NDJSON, FORENSICS_JSON, FORENSICS_CSV };

/* A query over interactions. since and until are required (RFC 3339, at
 * most forensics.max_range_days apart); every other filter may be NULL. */
typedef struct {
    const char *since, *until;
    const char *api_key_id, *tenant, *user_id, *session_id, *model, *model_version;
    const char *client_ip;     /* an address, as stored (inet) */
    const char *text;          /* in prompt or response, case-insensitive */
    const char *updated_since; /* received_at at or after */
    const char *cursor;        /* the next_cursor of the page before */
    int64_t limit;             /* rows per page (<= forensics.page_max); 0: all, streamed */
    int format;                /* FORENSICS_* */
    bool reveal;               /* prompt and response themselves, with reason */
    const char *reason;
    const char *address;       /* the client's, for the audit row (web), or NULL */
    const char *named;         /* the named query's name, for the audit row, or NULL */
} forensics_query;

typedef struct {
    uint64_t rows, bytes;
    char sha256[65];        /* of the bytes produced */
    char next_cursor[600];  /* "" when there is no next page */
    bool truncated;         /* the sink stopped the page early (a byte cap) */
} forensics_query_result;

/* Where the output goes: p == NULL asks whether n more bytes of rows fit
 * (0 yes, -1 no: the page ends there); otherwise writes p (always taken:
 * rows only after a yes, framing of a few hundred bytes at most besides). */
typedef int (*forensics_sink)(void *ud, const void *p, size_t n);

/* Runs q from one snapshot, streaming to sink, then appends the
 * forensic_query audit row (actor, filter, rows, SHA-256 of the output).
 * Returns 0, 1 when q is refused (err says why: a client error), -1. */
int forensics_query_run(PGconn *c, const core_config *cfg, const forensics_query *q,
                        const char *actor, forensics_sink sink, void *ud,
                        forensics_query_result *res, char *err, size_t errlen);
/* "ndjson" (also NULL), "json", "csv" -> FORENSICS_*, else -1. */
int forensics_format_parse(const char *s);

/* A named query (sql/forensics/NAME.sql in the share folder): its
 * parameters in order as NAME=VALUE strings; rows as NDJSON to sink;
 * audited as forensic_query with the name. 0, 1 refused, -1. */
int forensics_named_run(PGconn *c, const char *name, int nparams, const char *const *params,
                        const char *actor, forensics_sink sink, void *ud,
                        forensics_query_result *res, char *err, size_t errlen);
/* Lists the named queries (name, parameters, description) to out. */
int forensics_named_list(FILE *out, char *err, size_t errlen);

/* ---- retention and legal holds (fo_retention.c, fo_hold.c) ---- */

typedef struct {
    int64_t partitions;      /* daily partitions dropped (or that would be) */
    int64_t rows_dropped;    /* their rows under no hold */
    int64_t rows_held;       /* their rows kept (moved to the default partition) */
    int64_t default_deleted; /* old rows of the default partition deleted */
    int64_t rejected_deleted, rejected_held; /* rejected_events past retention.rejected_days */
    int64_t alerts_deleted, alerts_held;     /* alerts past retention.alerts_days */
} forensics_retention_result;

/* Drops the daily partitions of interactions past
 * retention.interactions_days, keeping held rows; each drop a transaction
 * and an audit row by actor. Then deletes the rejected events and the
 * alerts past retention.rejected_days and retention.alerts_days under no
 * hold, one transaction and one audit row (retention_deleted) per table.
 * The audit chain is never touched. dry: counts only, changes nothing. One line
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

/* custos forensics query ... | named NAME [P=V...] | list */
int forensics_cmd_forensics(core_cmd_ctx *ctx, int argc, char **argv);
/* custos retention run [--dry-run] */
int forensics_cmd_retention(core_cmd_ctx *ctx, int argc, char **argv);
/* custos hold add ... | list | release ID --reason R */
int forensics_cmd_hold(core_cmd_ctx *ctx, int argc, char **argv);

/* custos keys init [--force] | public */
int forensics_cmd_keys(core_cmd_ctx *ctx, int argc, char **argv);
/* custos evidence export ... | verify BUNDLE [--pubkey F] */
int forensics_cmd_evidence(core_cmd_ctx *ctx, int argc, char **argv);

#endif
