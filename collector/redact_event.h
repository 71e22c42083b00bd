/* Redaction at ingest (collector.redact_secrets, collector.redact_personal):
 * what is stored of an event's prompt, response and attrs, and of a dead
 * letter, with secrets and personal data masked or pseudonymised (the
 * finding is core/redact_scan.c's). The decoded event itself is left as it
 * is: the analytics read it, original, after it is stored. Private to
 * collector/ (and its tests). */
#ifndef COLL_REDACT_EVENT_H
#define COLL_REDACT_EVENT_H

#include <stddef.h>

#include "core/config.h"
#include "core/event.h"
#include "core/redact_scan.h"

typedef enum { COLL_RD_OFF, COLL_RD_MASK, COLL_RD_PSEUDONYMISE } coll_rd_mode;

typedef struct coll_redactor coll_redactor;

/* A redactor for the two modes; key (CORE_PSEUDONYM_KEY_BYTES, copied) is
 * needed when either is pseudonymise. NULL when out of memory or without a
 * needed key. Free with coll_redactor_free. */
coll_redactor *coll_redactor_new(coll_rd_mode secrets, coll_rd_mode personal,
                                 const unsigned char *key);

/* The redactor cfg's collector.redact_* settings ask for, into *out (NULL
 * when both are off), loading (or at first start making) the key file.
 * -1 + err naming the setting when they cannot be applied. */
int coll_redactor_open(const core_config *cfg, coll_redactor **out, char *err, size_t errlen);

void coll_redactor_free(coll_redactor *r);

/* What to store of ev: ev itself when nothing in its prompt, response or
 * attrs is to be redacted, else a copy of the event whose strings point to
 * redacted text in r (valid until the next call on r; ev untouched). NULL
 * when out of memory. r may be NULL (returns ev). Not thread-safe: one
 * redactor per thread. */
const core_event *coll_redact_event(coll_redactor *r, const core_event *ev);

/* coll_redact_event, its time added to the write path's "redact" stage
 * (coll_stages.h) when r is not NULL. */
const core_event *coll_redact_timed(coll_redactor *r, const core_event *ev);

/* Redacts t[0..n) into r's scratch: returns the text (NUL-terminated, its
 * length in *out_len), or t itself when nothing is found; NULL when out of
 * memory. Valid until the next call on r. */
const char *coll_redact_text(coll_redactor *r, const char *t, size_t n, size_t *out_len);

/* Overwrites with '*' in place, keeping the length, every value of the
 * classes that are not off in buf[0..len): for dead letters' raw bytes and
 * reasons, which are kept as received (no token fits in place). r may be
 * NULL (nothing done). */
void coll_redact_mask(const coll_redactor *r, void *buf, size_t len);

#endif
