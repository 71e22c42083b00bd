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

/* custos audit verify | head */
int audit_cmd(int argc, char **argv);

/* The chain newest first (audit_read.c): {"entries": [{"seq","ts","actor",
 * "kind","action_id","incident_id","detail" (text),"hash"}], "next_before": seq |
 * null}, at most limit rows with seq < before (before 0: from the head),
 * actor and kind (the event) exact matches when not NULL. NULL with err. */
cJSON *audit_list(PGconn *c, const char *actor, const char *kind, int64_t before, int limit,
                  char *err, size_t errlen);

#endif
