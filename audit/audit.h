/* audit/: the tamper-evident record of everything custos and its users did.
 * One hash chain (audit_log): each row's hash covers the previous row's
 * hash and its own fields, so a changed, removed or inserted row breaks
 * every hash after it. Every module that changes state appends here, in the
 * same transaction as the change. Also the evidence frozen before a change
 * to a model (EU AI Act Art. 73(6)), and `custos audit verify`.
 *
 * CONTRACT (issue 9): the names and signatures below are agreed between the
 * modules that use them; audit/ implements them. */
#ifndef AUDIT_AUDIT_H
#define AUDIT_AUDIT_H

#include <cjson/cJSON.h>
#include <libpq-fe.h>
#include <stddef.h>
#include <stdint.h>

/* Appends one row, in the caller's transaction (the chain head is locked
 * until it ends). actor: who ("playbook:NAME", "alice", "cli:root",
 * "system"); event: what ("proposed", "approved", "signin",
 * "signin_failed", "incident_changed", "content_revealed", ...); detail: a
 * JSON object (address, before/after, reason...), never a secret.
 * action_id 0 and incident_id NULL mean none. Returns 0 or -1 with err. */
int audit_append(PGconn *c, const char *actor, const char *event, int64_t action_id,
                 const char *incident_id, const char *detail_json, char *err, size_t errlen);

/* Same, in a transaction of its own. */
int audit_append_tx(PGconn *c, const char *actor, const char *event, int64_t action_id,
                    const char *incident_id, const char *detail_json, char *err, size_t errlen);

/* audit_append (in the caller's transaction) with the detail as a cJSON
 * object, printed and then deleted: the caller gives detail up, also on a
 * failure (NULL: out of memory, -1). */
int audit_append_json(PGconn *c, const char *actor, const char *event, int64_t action_id,
                      const char *incident_id, cJSON *detail, char *err, size_t errlen);

/* Walks the whole chain in order, recomputing every hash. Returns 0 when it
 * holds (*rows counted), 1 when it is broken (*bad_seq is the first bad row,
 * why says what is wrong), -1 on a database error (err). */
int audit_verify(PGconn *c, int64_t *rows, int64_t *bad_seq, char *why, size_t whylen,
                 char *err, size_t errlen);

/* The chain's head: its last seq (0 when empty) and hash. Returns 0 or -1
 * with err. */
int audit_head(PGconn *c, int64_t *seq, char hash[65], char *err, size_t errlen);

/* The hash of one row (docs/playbooks.md, "audit chain"), 64 hex chars. */
void audit_hash(const char *prev_hash, int64_t seq, int64_t ts_us, const char *actor,
                const char *event, const char *action_id, const char *incident_id,
                const char *detail, char out[65]);

/* SHA-256 of data as 64 hex characters. */
void audit_sha256_hex(const void *data, size_t len, char out[65]);

/* Freezes the evidence of an incident before an action changes the system:
 * the incident (incident_json, as the caller received it; NULL: {}), its
 * drift windows (its "evidence" member), and up to max_events of the
 * evidence events (model_version's interactions over the incident's span,
 * and the incident's incident_events rows), as one immutable
 * evidence_records row with its SHA-256 (written to sha256), audited
 * (evidence_frozen, by actor), in the caller's transaction. action_id is
 * the action the evidence is frozen for (evidence_records requires one).
 * Returns the record id or -1 with err. */
int64_t audit_evidence_freeze(PGconn *c, const char *incident_id, const char *incident_json,
                              const char *model, const char *model_version, int64_t action_id,
                              const char *actor, int64_t max_events, char sha256[65], char *err,
                              size_t errlen);


/* ---- the instance's Ed25519 signing key (audit_sign.c) ---- */

#include <stdbool.h>

typedef struct {
    unsigned char sk[64]; /* libsodium's secret key (seed and public key) */
    unsigned char pk[32];
    char id[17]; /* the first 16 hex digits of SHA-256(pk) */
} audit_key;

#define AUDIT_PUBKEY_TEXT 96 /* "custos-ed25519 BASE64 ID" */

/* Makes a new key and writes it to path, mode 0600; refuses an existing
 * file unless force. Fills k (wipe it with audit_key_wipe). 0 or -1 with
 * err (never the key). */
int audit_key_generate(const char *path, bool force, audit_key *k, char *err, size_t errlen);
/* Reads the key at path; refuses a file that group or others may read. */
int audit_key_load(const char *path, audit_key *k, char *err, size_t errlen);
void audit_key_wipe(audit_key *k);
/* The key id of a public key. */
void audit_key_id(const unsigned char pk[32], char id[17]);
/* The public key as one line of text, and back (also the bare base64). */
void audit_pubkey_text(const unsigned char pk[32], char out[AUDIT_PUBKEY_TEXT]);
int audit_pubkey_parse(const char *text, unsigned char pk[32]);
/* The first line of a file, parsed as above. 0 or -1 with err. */
int audit_pubkey_load(const char *path, unsigned char pk[32], char *err, size_t errlen);
/* Detached Ed25519 signature of msg, and its check. */
void audit_sign(const audit_key *k, const void *msg, size_t len, unsigned char sig[64]);
bool audit_sig_ok(const unsigned char pk[32], const void *msg, size_t len,
                  const unsigned char sig[64]);
/* Standard base64 (with padding): out needs 4*ceil(len/3)+1 bytes; unb64
 * needs exactly len bytes decoded, else -1. */
void audit_b64(const unsigned char *bin, size_t len, char *out, size_t outlen);
int audit_unb64(const char *text, unsigned char *bin, size_t len);

/* ---- signed checkpoints of the chain head (audit_checkpoint.c) ---- */

/* Signs the chain head with k and stores it in audit_checkpoints, unless
 * the newest checkpoint already covers the head (*written false). *seq is
 * the head checkpointed. 0 or -1 with err. */
int audit_checkpoint(PGconn *c, const audit_key *k, int64_t *seq, bool *written, char *err,
                     size_t errlen);

/* Checks every checkpoint against the chain (run after audit_verify held):
 * its signature (against pk; NULL: the key stored with it, which only
 * shows the row is whole, not who signed it), and that the row it covers
 * is in the log with the hash it signed. Returns 0 when all hold (*n
 * checked, *last_seq the newest covered row), 1 with why when one does
 * not (a chain cut short, a rewritten row, a forged checkpoint), -1 err. */
int audit_checkpoints_verify(PGconn *c, const unsigned char *pk, int64_t *n, int64_t *last_seq,
                             char *why, size_t whylen, char *err, size_t errlen);

/* custos audit verify | head | checkpoint */
int audit_cmd(int argc, char **argv);

/* The chain newest first (audit_read.c): {"entries": [{"seq","ts","actor",
 * "kind","action_id","incident_id","detail" (text),"hash"}], "next_before": seq |
 * null}, at most limit rows with seq < before (before 0: from the head),
 * actor and kind (the event) exact matches when not NULL. NULL with err. */
cJSON *audit_list(PGconn *c, const char *actor, const char *kind, int64_t before, int limit,
                  char *err, size_t errlen);

#endif
