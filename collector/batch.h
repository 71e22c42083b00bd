/* A batch: the events read from one Kafka partition that will be committed
 * to PostgreSQL in one transaction, together with the partition's next
 * offset. A message holds N events (decode.h): its valid events are kept as
 * COPY rows (text, or binary tuples when collector.copy_format is binary),
 * ready to send, each with its coordinates; a refused
 * message as one dead letter. A message is never split between batches. */
#ifndef COLL_BATCH_H
#define COLL_BATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "collector/collector.h"
#include "core/event.h"

typedef struct {
    char *data;
    size_t len, cap;
} coll_buf;

/* Appends n bytes; returns -1 when out of memory. */
int coll_buf_add(coll_buf *b, const void *p, size_t n);
void coll_buf_free(coll_buf *b);

typedef struct {
    int64_t offset;
    int64_t kafka_ts_ms;
    int32_t index;     /* the refused item's index in the message, -1: the whole message */
    char *reason;      /* owned */
    void *raw;         /* owned, raw_len bytes (maybe cut) */
    size_t raw_len;
    size_t raw_size;   /* the message's real size */
    void *key;         /* owned, may be NULL */
    size_t key_len;
} coll_rejected;

/* Where a stored event came from, beside its topic and partition (the
 * batch's): its message's offset and its place among the message's events. */
typedef struct {
    int64_t offset;
    uint32_t index; /* 0 for the message's first event */
    uint32_t count; /* events the message held */
    size_t end;     /* where its COPY row ends in the batch's copy buffer */
} coll_event_at;

typedef struct coll_batch {
    struct coll_batch *next; /* queue link */
    struct coll_part *part;  /* the partition it belongs to (collector's) */
    const char *part_topic;  /* its topic and partition, for the store */
    int32_t part_partition;
    uint64_t seq;            /* order of sealing, across partitions */
    uint64_t gen;            /* the partition's assignment generation */
    int64_t expected;        /* next_offset PostgreSQL must hold before this batch (-1: none) */
    int64_t next_offset;     /* last offset in the batch + 1 */
    int64_t gap_first;       /* offsets [gap_first, gap_next) were gone from the broker */
    int64_t gap_next;        /* before this batch's first message (gap_next = 0: no gap) */
    int64_t opened_ms;       /* monotonic time of its first message */
    size_t n_msgs;           /* messages (valid + rejected) */
    size_t n_rows;           /* valid events, one COPY row each */
    coll_event_at *at;       /* at[i]: where COPY row i (and kept event i) came from */
    size_t n_at, cap_at;
    size_t bytes;            /* message bytes counted against the in-flight cap */
    coll_buf copy;           /* COPY rows: text, or binary tuples (no header) when binary */
    bool binary;             /* copy holds binary tuples (coll_copy_row_bin) */
    coll_rejected *rej;
    size_t n_rej, cap_rej;
    int64_t *kts;            /* Kafka timestamps of the messages, for latency */
    size_t n_kts, cap_kts;
    core_event *evs;         /* decoded events kept for the sink (NULL without one) */
    size_t n_evs, cap_evs;
} coll_batch;

/* One Kafka message, as a batch takes it. */
typedef struct {
    const char *topic; /* the partition's name */
    int32_t partition;
    int64_t offset;
    int64_t kafka_ts_ms; /* -1 if none */
    const void *payload;
    size_t len;
    const void *key; /* may be NULL */
    size_t key_len;
} coll_msg;

/* How a partition's messages are decoded into batches. */
typedef struct {
    const coll_decoder *dec;   /* collector.format's */
    const core_config *cfg;    /* when set, a topic's kafka.topics entry may name its own */
    const char *last_topic;    /* the topic whose decoder is last_dec (a partition's name) */
    const coll_decoder *last_dec;
    coll_limits lim;
    size_t raw_max;   /* bytes of a refused message its dead letter keeps */
    bool keep_events; /* keep the decoded events for a sink */
    struct coll_redactor *redact; /* what is stored of the events and dead letters (NULL: as is) */
    bool binary;      /* COPY rows as binary tuples (collector.copy_format binary) */
    coll_decoded out; /* scratch reused from message to message (coll_decoded_free at the end) */
} coll_intake;

/* Decodes m with in->dec into b and moves b->next_offset past it: its N
 * events become N COPY rows with the message's coordinates and their index
 * (b->at), also kept (b->evs) when in->keep_events, their memory added to
 * *kept_bytes; or, when the message is refused, one dead letter with the
 * reason, also left in err. Returns 0 (stored), 1 (refused), or -1 when out
 * of memory: the batch may then hold part of the message and must not be
 * stored. */
int coll_batch_add_message(coll_batch *b, coll_intake *in, const coll_msg *m,
                           size_t *kept_bytes, char *err, size_t errlen);

/* Appends ev as one COPY text row (columns of COLL_COPY_COLUMNS). */
int coll_copy_row(coll_buf *b, const core_event *ev);

/* Appends ev as one COPY binary tuple (columns of COLL_COPY_COLUMNS), in
 * network byte order: NULL as length -1, timestamptz as microseconds since
 * 2000-01-01, jsonb as version 1 and the text, inet in its send format. A
 * stream of them goes between coll_copy_bin_header() and
 * coll_copy_bin_trailer(). */
int coll_copy_row_bin(coll_buf *b, const core_event *ev);

/* Appends the COPY text row that the binary tuple [tuple, tuple + len)
 * stands for (the same text coll_copy_row writes for the same event), for a
 * dead letter of a refused row. Returns -1 when the tuple is malformed or
 * out of memory (out unchanged). */
int coll_copy_bin_to_text(const void *tuple, size_t len, coll_buf *out);

#define COLL_COPY_BIN_HEADER_LEN 19 /* signature, flags, header extension length */
#define COLL_COPY_BIN_TRAILER_LEN 2 /* field count -1 */
const char *coll_copy_bin_header(void);
const char *coll_copy_bin_trailer(void);

#define COLL_COPY_NCOLUMNS 25

/* The column list the COPY rows follow. */
#define COLL_COPY_COLUMNS                                                                      \
    "ts, event_id, api_key_id, model, model_version, tenant, user_id, session_id, client_ip, " \
    "prompt, response, prompt_truncated, response_truncated, prompt_tokens, "                  \
    "completion_tokens, latency_ms, status, finish_reason, refusal, scores, attrs, "           \
    "kafka_topic, kafka_partition, kafka_offset, kafka_ts"

/* Adds a dead letter for the whole message (index -1) or its item index:
 * copies reason, up to raw_max bytes of raw (scrubbed with redact when not
 * NULL), and key. */
int coll_batch_reject(coll_batch *b, int64_t offset, int64_t kafka_ts_ms, int32_t index,
                      const char *reason, const void *raw, size_t raw_len, size_t raw_max,
                      coll_redact_fn redact, const void *key, size_t key_len);

/* Keeps a decoded event for the sink: moves *ev into the batch (ev zeroed). */
int coll_batch_keep_event(coll_batch *b, core_event *ev);

/* Records a message's Kafka timestamp for the latency histogram. */
int coll_batch_note_ts(coll_batch *b, int64_t kafka_ts_ms);

/* Frees the batch and everything it owns (kept events too). */
void coll_batch_free(coll_batch *b);

#endif
