/* Signature rules (an_rules_load.c, an_rules_scan.c): the YAML rule files,
 * compiled into vectorscan databases, and the scan that fills an
 * observation's signature fields. */
#ifndef AN_RULES_H
#define AN_RULES_H

#include <stdbool.h>
#include <stddef.h>

#include "analytics/an_obs.h"
#include "core/event.h"

typedef enum { AN_RULE_PROBE, AN_RULE_REFUSAL, AN_RULE_LEAK, AN_RULE_ENCODED } an_rule_kind;
typedef enum { AN_VAL_NONE, AN_VAL_LUHN, AN_VAL_IBAN, AN_VAL_ENTROPY, AN_VAL_BASE64 } an_validator;

typedef struct {
    char *id;
    char *file; /* where it was defined, for messages */
    an_rule_kind kind;
    bool on_response; /* field: response (else prompt) */
    double weight;
    an_validator validate;
    uint32_t leak_kind; /* AN_LEAK_* for kind leak */
    int min_count;
    int min_len; /* kind encoded: shortest base64 run that counts */
    char atlas[4][24];
    char owasp[4][16];
    int n_atlas, n_owasp;
} an_rule;

typedef struct an_rules an_rules;

/* Loads every *.yaml in dir (sorted by name) and compiles all patterns into
 * one vectorscan database. NULL with "FILE:LINE: problem" in err. The caller
 * owns the result: an_rules_free(). */
/* per_field: a database per field (analytics.rules_db); cache: the
 * analytics.rules_cache_dir setting. */
an_rules *an_rules_load(const char *dir, bool per_field, const char *cache, char *err,
                        size_t errlen);
/* True when the databases came from the compiled-rules cache. */
bool an_rules_cached(const an_rules *r);
void an_rules_free(an_rules *r);
size_t an_rules_count(const an_rules *r);
const an_rule *an_rules_get(const an_rules *r, size_t i);

/* Scans ev's prompt and response with the one database and fills the
 * signature fields of o (probe_score, rules, refusal when the event has none,
 * leak, n_emails, n_phones, encoded). Not thread-safe (one scratch). */
int an_rules_scan(an_rules *r, const core_event *ev, an_obs *o, int bulk_min);

/* What the prompt's pass alone put into an observation: a function of the
 * prompt's bytes (and the rules), so it may be remembered per prompt. */
typedef struct an_rules_prompt {
    float probe_score;
    bool encoded;
    int refusal; /* a refusal rule matched the prompt */
    uint8_t n_rules;
    uint16_t rules[AN_OBS_RULES_MAX];
    uint32_t leak;
    uint16_t n_emails, n_phones;
} an_rules_prompt;

/* an_rules_scan, with the prompt's pass taken from *in instead of scanned
 * when in is not NULL, and what the prompt's pass gave written to *out when
 * out is not NULL (in and out may be NULL; o starts zeroed as for
 * an_rules_scan). The same observation either way. */
int an_rules_scan_memo(an_rules *r, const core_event *ev, an_obs *o, int bulk_min,
                       const an_rules_prompt *in, an_rules_prompt *out);

#endif
