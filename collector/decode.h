/* Event decoders: turn one Kafka message into a core_event, or a reason why
 * it cannot be one. The native format is one JSON object per message
 * (README "Event schema"); other formats (OpenTelemetry GenAI, LiteLLM)
 * plug in as further entries of the decoder table. */
#ifndef COLL_DECODE_H
#define COLL_DECODE_H

#include <stddef.h>

#include "core/event.h"

typedef struct {
    size_t max_message_bytes; /* larger messages are rejected */
    size_t prompt_max_bytes;  /* prompt kept up to this, then flagged truncated */
    size_t response_max_bytes;
    size_t attrs_max_bytes; /* compact attrs JSON larger than this is rejected */
} coll_limits;

/* The defaults of the config table (1 MiB, 32 KiB, 64 KiB, 64 KiB). */
coll_limits coll_limits_default(void);

/* Decodes buf[0..len) into ev (which must be zeroed or cleared). Returns 0 on
 * success, the event owning its memory; or -1 with a readable reason in err,
 * ev cleared. Never reads past len; buf needs no NUL. */
typedef int (*coll_decode_fn)(const coll_limits *lim, const void *buf, size_t len,
                              core_event *ev, char *err, size_t errlen);

typedef struct {
    const char *name;
    coll_decode_fn decode;
} coll_decoder;

/* Looks a decoder up by its config name ("native"); NULL if unknown. */
const coll_decoder *coll_decoder_find(const char *name);

/* Checks that buf[0..len) is one JSON object by the decoder's rules: valid
 * UTF-8, no NUL (raw or \\u0000), no raw control character in a string, no
 * lone surrogate, no duplicate key at any depth, nothing after the object.
 * Returns 0, or -1 with the reason (and its offset) in err. For other
 * JSON that custos reads from outside, such as incident files. */
int coll_json_check_object(const void *buf, size_t len, char *err, size_t errlen);

/* The native JSON decoder. */
int coll_decode_native(const coll_limits *lim, const void *buf, size_t len, core_event *ev,
                       char *err, size_t errlen);

#endif
