/* An observation: one event reduced to what the detectors read (the event
 * itself is not kept), with its signature hits and numbers. */
#ifndef AN_OBS_H
#define AN_OBS_H

#include <stdbool.h>
#include <stdint.h>

#define AN_OBS_RULES_MAX 8
#define AN_OBS_SCORES_MAX 4

/* Leak finding kinds (bits of an_obs.leak). */
enum {
    AN_LEAK_SECRET = 1u << 0,   /* API key or token format with real entropy */
    AN_LEAK_PRIVKEY = 1u << 1,  /* PEM private key */
    AN_LEAK_CARD = 1u << 2,     /* card number passing Luhn */
    AN_LEAK_IBAN = 1u << 3,     /* IBAN passing mod 97 */
    AN_LEAK_EMAILS = 1u << 4,   /* bulk e-mail addresses */
    AN_LEAK_PHONES = 1u << 5,   /* bulk phone numbers */
    AN_LEAK_SYSPROMPT = 1u << 6 /* the system prompt echoed back */
};

/* One event reduced to what the detectors read. Strings point into the same
 * allocation (one free()). */
typedef struct an_obs {
    int64_t ts_us;
    uint64_t seq; /* arrival order: the last tie-breaker only */
    int64_t arrival_us; /* live: monotonic time it was handed over (latency figures only) */
    int32_t source;
    const char *event_id, *api_key_id, *tenant, *model, *model_version, *finish_reason;
    uint64_t key_hash, tenant_hash;
    int64_t prompt_tokens, completion_tokens; /* -1 absent */
    double latency_ms;
    bool has_latency, has_status, has_prompt, has_response;
    int32_t status;
    int refusal; /* event's flag, else detected from the response (0/1) */
    uint32_t prompt_len, response_len;
    uint64_t simhash;     /* of the prompt's words */
    uint32_t prefix_hash; /* of the prompt's normalised first bytes: template reuse */
    float probe_score;    /* sum of matched prompt-rule weights (+ encoded payload) */
    bool encoded;         /* base64 payload that decodes to text */
    float learned;        /* learned detector's logit (an_learned.c); -INFINITY: not scored */
    uint8_t learned_level; /* 0; 1: at the model's threshold; 2: at its strong threshold */
    const char *learned_top; /* level > 0: JSON array of the top features, else NULL */
    /* level > 0: an_learned_planted's structure feature (static), else NULL */
    const char *learned_planted;
    uint8_t n_rules;
    uint16_t rules[AN_OBS_RULES_MAX]; /* matched probe rules (indices) */
    uint32_t leak;                    /* AN_LEAK_* */
    uint16_t n_emails, n_phones;
    char *leak_values;    /* owned (freed with the obs): JSON array of the leaked values' class,
                           * field, byte offsets and keyed hash (never the value), or NULL */
    bool has_rp;          /* refused, with a sketch of its content words (an_rephrase.h) */
    uint16_t rp[32];      /* AN_RP_SKETCH */
    uint8_t n_scores;
    const char *score_name[AN_OBS_SCORES_MAX];
    double score_val[AN_OBS_SCORES_MAX];
} an_obs;

#endif
