/* The collector: Kafka consumer group -> batches -> PostgreSQL, exactly once.
 * (The broker, producer and traffic generator that try and test it are in
 * tools/.) */
#ifndef COLL_COLLECTOR_H
#define COLL_COLLECTOR_H

#include <librdkafka/rdkafka.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "core/config.h"
#include "core/event.h"
#include "core/metrics.h"
#include "core/sink.h"

/* Runs the collector until *stop becomes non-zero (SIGTERM/SIGINT), then
 * commits what it holds within the grace period and leaves the group.
 * Committed events go to sink (may be NULL). Returns 0 on a clean stop, -1 on a fatal error (logged). */
int coll_run(const core_config *cfg, const core_event_sink *sink, volatile sig_atomic_t *stop);

/* ---- decoders: one Kafka message -> N events (decoders.c) ---- */

typedef struct {
    size_t max_message_bytes; /* larger messages are rejected */
    size_t prompt_max_bytes;  /* prompt kept up to this, then flagged truncated */
    size_t response_max_bytes;
    size_t attrs_max_bytes; /* compact attrs JSON larger than this is rejected */
} coll_limits;

/* The defaults of the config table (1 MiB, 32 KiB, 64 KiB, 64 KiB). */
coll_limits coll_limits_default(void);

/* The limits of the collector.* settings of cfg. */
coll_limits coll_limits_from_config(const core_config *cfg);

/* Events one message may hold: past it the message is refused. */
#define COLL_DECODED_MAX 65536

/* The events decoded from one message: evs[i] is the message's event number
 * i (its index coordinate: the collector stores each with the message's
 * topic, partition and offset, and i). Owned by the caller, reused from one
 * message to the next so that decoding allocates no array per message:
 * zero it before the first use, coll_decoded_reset() between messages,
 * coll_decoded_free() at the end. */
/* One item of a message that a decoder refused while keeping the rest (a
 * bad span of an OTLP export, a bad line of LiteLLM NDJSON): it becomes a
 * dead letter at the message's offset with its index. */
typedef struct {
    uint32_t index;
    char *reason; /* owned */
} coll_refused;

typedef struct {
    core_event *evs;
    size_t n, cap;
    uint32_t *index;   /* index[i]: evs[i]'s place among the message's items */
    size_t cap_index;
    coll_refused *refused; /* items refused one by one (the message stays) */
    size_t n_refused, cap_refused;
    uint32_t next_index; /* the next item's index (events, refused and skipped) */
    size_t n_skipped;    /* items that are not events (non-GenAI spans) */
    /* on a refusal: the index of the event that was refused, or -1 when the
     * message as a whole was (always -1 for one-event formats) */
    long failed_at;
} coll_decoded;

/* Appends a zeroed event at index out->n and returns it; NULL, with the
 * reason in err, when out of memory or when the message already holds
 * COLL_DECODED_MAX events. The event belongs to out. */
core_event *coll_decoded_add(coll_decoded *out, char *err, size_t errlen);

/* Records item number out->next_index as refused with reason (copied) and
 * moves past it; -1 when out of memory. */
int coll_decoded_refuse(coll_decoded *out, const char *reason);

/* Moves past one item that is not an event (counted in n_skipped). */
void coll_decoded_skip(coll_decoded *out);

/* Clears every event (core_event_clear) and empties out; keeps the array. */
void coll_decoded_reset(coll_decoded *out);

/* Releases out and everything it holds; out is zeroed. */
void coll_decoded_free(coll_decoded *out);

/* A decoder: decodes buf[0..len) (never past len; buf needs no NUL) and
 * appends its events to out (empty on entry). Returns 0; or -1 with a
 * readable reason in err and out->failed_at set, the events it appended
 * still in out (coll_decode() clears them). */
typedef int (*coll_decode_fn)(const coll_limits *lim, const void *buf, size_t len,
                              coll_decoded *out, char *err, size_t errlen);

/* Scrubs secrets (bearer tokens, API keys, authorization headers) from
 * buf[0..len) in place, keeping its length, before a dead letter keeps it
 * or a reason quotes it. */
typedef void (*coll_redact_fn)(void *buf, size_t len);

typedef struct {
    const char *name; /* its collector.format value */
    coll_decode_fn decode;
    coll_redact_fn redact; /* NULL: the format carries no secrets to scrub */
    bool framed;           /* binary: files and stdin hold varint-length-delimited messages */
} coll_decoder;

/* The built-in decoders, one row each (listed in decoders.c). */
extern const coll_decoder coll_decoder_native;
extern const coll_decoder coll_decoder_litellm;
extern const coll_decoder coll_decoder_otlp_json;
extern const coll_decoder coll_decoder_otlp_proto;

/* Settings of the OpenTelemetry decoders (otel.*); set once at start-up,
 * before any decoding, by coll_decoders_configure. */
typedef struct {
    char api_key_attr[128]; /* looked up on the span, then its resource */
    char tenant_attr[128];
} coll_otel_settings;
extern coll_otel_settings coll_otel;

/* Spans of OTLP messages that were not GenAI inference spans, skipped. */
extern core_metric coll_m_spans_skipped;

/* Takes the decoders' settings from cfg (otel.*). */
void coll_decoders_configure(const core_config *cfg);

/* The decoder of topic: the format its kafka.topics entry names
 * ("topic=format"), else collector.format. NULL if unknown. */
const coll_decoder *coll_decoder_for_topic(const core_config *cfg, const char *topic);

/* Checks that every kafka.topics entry's format and collector.format name
 * a decoder; -1 with the first that does not in err. */
int coll_decoders_check(const core_config *cfg, char *err, size_t errlen);

/* Scrubs secrets from buf[0..len) in place (coll_redact_fn): the value
 * after "Bearer ", sk- keys, and the values of authorization, api-key,
 * x-api-key, api_key and cookie members or headers. */
void coll_redact_secrets(void *buf, size_t len);

/* Looks a decoder up by its config name ("native"); NULL if unknown. */
const coll_decoder *coll_decoder_find(const char *name);

/* The decoder of cfg's collector.format; NULL if unknown. */
const coll_decoder *coll_decoder_for(const core_config *cfg);

/* Adds d (which must outlive every lookup) to the decoders coll_decoder_find
 * knows, for formats that are not built in (tests register their own). Not
 * thread-safe: call before any collector starts. Returns -1 when the name
 * is taken or the table of added decoders is full. */
int coll_decoder_register(const coll_decoder *d);

/* Decodes one message with d into out (reset first). Returns 0 with out
 * holding the message's events; or -1 with out empty and the reason in err,
 * which names the refused event ("event 3: ...") when the message was not
 * refused as a whole. */
int coll_decode(const coll_decoder *d, const coll_limits *lim, const void *buf, size_t len,
                coll_decoded *out, char *err, size_t errlen);

/* The native decoder for one event: decodes buf[0..len) into ev (zeroed or
 * cleared). Returns 0, the event owning its memory; or -1 with the reason
 * in err, ev cleared. */
int coll_decode_native(const coll_limits *lim, const void *buf, size_t len, core_event *ev,
                       char *err, size_t errlen);


/* ---- messages in files and pipes (framing.c) ---- */

/* Reads the next message of in: a line without its line break, or, when
 * framed, a varint length and that many bytes. Returns its length (*buf
 * holds it, grown as needed, the caller's to free), -1 at the end, or -2
 * with the reason in err (a read error, a truncated frame). */
ssize_t coll_read_message(FILE *in, bool framed, char **buf, size_t *cap, char *err,
                          size_t errlen);

/* Writes one message as coll_read_message reads it; -1 on a write error. */
int coll_write_message(FILE *out, bool framed, const void *buf, size_t len);

/* ---- librdkafka configuration, shared with the tools (kafka.c) ---- */

/* Builds a conf from cfg: brokers, client id, security, logging through
 * core_log; with consumer=true also the group and the exactly-once settings
 * (no auto commit, no auto offset store). Every rd_kafka_conf_set is
 * checked: NULL with err names the failing property. The caller owns the
 * conf until rd_kafka_new() takes it. */
rd_kafka_conf_t *coll_kafka_conf(const core_config *cfg, bool consumer, char *err, size_t errlen);

/* Routes librdkafka's own log lines and errors through core_log (logfmt,
 * rate-limited errors), as coll_kafka_conf does. For handles built from a
 * bare conf (the embedded broker's). */
void coll_kafka_set_logging(rd_kafka_conf_t *conf);

/* Sets one property, writing "name=value: reason" into err on failure. */
int coll_kafka_set(rd_kafka_conf_t *conf, const char *name, const char *value, char *err,
                   size_t errlen);

/* Splits a comma-separated topic list into a partition list (partition
 * RD_KAFKA_PARTITION_UA) for subscribe; NULL when out of memory. */
rd_kafka_topic_partition_list_t *coll_kafka_topic_list(const char *topics);

/* The consumer lag of this process's collector, summed over the partitions
 * it was assigned, into *total; returns how many partitions it knows (0:
 * no collector runs in this process, or none is assigned yet: then the lag
 * is not known). For the console's overview. */
int coll_lag_total(int64_t *total);

#endif
