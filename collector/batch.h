/* A batch: the events read from one Kafka partition that will be committed
 * to PostgreSQL in one transaction, together with the partition's next
 * offset. Valid events are kept as COPY text rows, ready to send; invalid
 * messages as dead letters. */
#ifndef COLL_BATCH_H
#define COLL_BATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

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
    char *reason;      /* owned */
    void *raw;         /* owned, raw_len bytes (maybe cut) */
    size_t raw_len;
    size_t raw_size;   /* the message's real size */
    void *key;         /* owned, may be NULL */
    size_t key_len;
} coll_rejected;

typedef struct coll_batch {
    struct coll_batch *next; /* queue link */
    struct coll_part *part;  /* the partition it belongs to (collector's) */
    const char *part_topic;  /* its topic and partition, for the store */
    int32_t part_partition;
    uint64_t seq;            /* order of sealing, across partitions */
    uint64_t gen;            /* the partition's assignment generation */
    int64_t expected;        /* next_offset PostgreSQL must hold before this batch (-1: none) */
    int64_t next_offset;     /* last offset in the batch + 1 */
    int64_t opened_ms;       /* monotonic time of its first message */
    size_t n_msgs;           /* messages (valid + rejected) */
    size_t n_rows;           /* valid events, one COPY row each */
    size_t bytes;            /* message bytes counted against the in-flight cap */
    coll_buf copy;           /* COPY text rows */
    coll_rejected *rej;
    size_t n_rej, cap_rej;
    int64_t *kts;            /* Kafka timestamps of the messages, for latency */
    size_t n_kts, cap_kts;
    core_event *evs;         /* decoded events kept for the sink (NULL without one) */
    size_t n_evs, cap_evs;
} coll_batch;

/* Appends ev as one COPY text row (columns of COLL_COPY_COLUMNS). */
int coll_copy_row(coll_buf *b, const core_event *ev);

/* The column list the COPY rows follow. */
#define COLL_COPY_COLUMNS                                                                      \
    "ts, event_id, api_key_id, model, model_version, tenant, user_id, session_id, client_ip, " \
    "prompt, response, prompt_truncated, response_truncated, prompt_tokens, "                  \
    "completion_tokens, latency_ms, status, finish_reason, refusal, scores, attrs, "           \
    "kafka_topic, kafka_partition, kafka_offset, kafka_ts"

/* Adds a dead letter: copies reason, up to raw_max bytes of raw, and key. */
int coll_batch_reject(coll_batch *b, int64_t offset, int64_t kafka_ts_ms, const char *reason,
                      const void *raw, size_t raw_len, size_t raw_max, const void *key,
                      size_t key_len);

/* Keeps a decoded event for the sink: moves *ev into the batch (ev zeroed). */
int coll_batch_keep_event(coll_batch *b, core_event *ev);

/* Records a message's Kafka timestamp for the latency histogram. */
int coll_batch_note_ts(coll_batch *b, int64_t kafka_ts_ms);

/* Frees the batch and everything it owns (kept events too). */
void coll_batch_free(coll_batch *b);

#endif
