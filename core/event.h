/* The model-interaction event: what a gateway logged for one request.
 *
 * Decoders (the collector's registry, collector/collector.h) fill it; the collector stores it and the
 * analytics read it. Every string is NUL-terminated, valid UTF-8 without NUL
 * bytes, and owned by the event's arena: release the whole event with
 * core_event_clear(). Optional strings are NULL when absent. */
#ifndef CORE_EVENT_H
#define CORE_EVENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CORE_EVENT_ID_MAX 128
#define CORE_EVENT_NAME_MAX 256 /* api_key_id, model, tenant, user_id, session_id */
#define CORE_EVENT_VERSION_MAX 128
#define CORE_EVENT_FINISH_MAX 64
#define CORE_EVENT_SCORES_MAX 64

typedef struct {
    const char *name;
    double value;
} core_score;

typedef struct core_event {
    /* required */
    const char *event_id;
    int64_t ts_us; /* event time: microseconds since the Unix epoch, UTC */
    const char *api_key_id;
    const char *model;
    const char *model_version;

    /* optional (NULL / -1 / has_* false when absent) */
    const char *tenant;
    const char *user_id;
    const char *session_id;
    const char *client_ip; /* normalised text form */
    const char *prompt;    /* kept up to the configured cap */
    const char *response;
    size_t prompt_len, response_len;       /* bytes kept */
    size_t prompt_size, response_size;     /* bytes received */
    bool prompt_truncated, response_truncated;
    int64_t prompt_tokens;     /* -1 when absent */
    int64_t completion_tokens; /* -1 when absent */
    bool has_latency;
    double latency_ms;
    bool has_status;
    int32_t status;
    const char *finish_reason;
    int refusal; /* -1 absent, 0 false, 1 true */
    size_t n_scores;
    core_score *scores;
    const char *scores_json; /* compact JSON object or NULL */
    const char *attrs_json;  /* compact JSON object or NULL */

    /* where it came from (set by the collector; topic NULL offline) */
    const char *topic;
    int32_t partition;
    int64_t offset;
    int64_t kafka_ts_ms; /* the message's Kafka timestamp, -1 if none */

    /* storage for everything above */
    char *arena;
    size_t arena_len, arena_cap;
} core_event;

/* Releases what ev owns and zeroes it (safe on a zeroed event). */
void core_event_clear(core_event *ev);

/* Copies n bytes of s into ev's arena with a NUL; returns the copy or NULL
 * when out of memory. Pointers returned earlier stay valid. */
const char *core_event_strdup(core_event *ev, const char *s, size_t n);

/* Sizes the first block of ev's (empty) arena for about n bytes of strings,
 * so that an event costs what its message holds, not a fixed block. Later
 * allocations that do not fit chain a new block. Returns -1 when out of
 * memory. */
int core_event_reserve(core_event *ev, size_t n);

/* Reserves n bytes (aligned for doubles) in ev's arena. */
void *core_event_alloc(core_event *ev, size_t n);

/* Formats an event time as RFC 3339 UTC with microseconds
 * ("2026-11-21T13:04:00.123456Z") into buf (>= 32 bytes). */
const char *core_ts_format(int64_t ts_us, char *buf, size_t size);

/* Parses RFC 3339 with a zone ("Z" or "+hh:mm") and up to 9 fractional
 * digits. Returns 0 and sets *ts_us, or -1 on any deviation. */
int core_ts_parse(const char *s, size_t len, int64_t *ts_us);

/* Returns the byte offset of the first invalid UTF-8 sequence in s, or -1
 * when s is valid (overlongs, surrogates and > U+10FFFF are invalid). */
long core_utf8_invalid_at(const unsigned char *s, size_t n);

/* The byte offset of the first control character in the UTF-8 text s, or
 * -1: C0 (NUL included), DEL, C1 (U+0080..U+009F, such as U+0085 NEXT
 * LINE) and the line and paragraph separators U+2028/U+2029, which some
 * readers of logs and terminals take for line breaks. What an identifier
 * or a line must not hold. */
long core_text_control_at(const char *s, size_t n);

/* Largest prefix length <= max that ends on a UTF-8 character boundary. */
size_t core_utf8_cut(const char *s, size_t n, size_t max);

#endif
