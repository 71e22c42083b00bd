/* Where a batch's time goes: per-stage time counters of the collector's
 * write path (core metrics registry), private to collector/. The consumer
 * thread adds decode and COPY-build time, the writer thread the time of each
 * step of a transaction; custos_ingest_stage_seconds_total{stage=...} renders
 * them, and the collector's stats line carries them for the benchmark. */
#ifndef COLL_STAGES_H
#define COLL_STAGES_H

#include <stddef.h>
#include <stdint.h>

#include "core/metrics.h"

typedef enum {
    COLL_ST_DECODE,    /* the decoder: message bytes -> events */
    COLL_ST_BUILD,     /* events -> COPY text rows */
    COLL_ST_FENCE,     /* reading the partitions' stored offsets */
    COLL_ST_BEGIN,     /* BEGIN round trip */
    COLL_ST_COPY_SEND, /* handing the rows to libpq (PQputCopyData, PQputCopyEnd) */
    COLL_ST_COPY_EXEC, /* waiting for COPY's result: the backend parses, inserts, maintains the indexes */
    COLL_ST_DEAD,      /* dead letters */
    COLL_ST_OFFSETS,   /* the conditional offset updates */
    COLL_ST_COMMIT,    /* COMMIT: WAL flush (synchronous_commit on) */
    COLL_ST_REDACT,    /* collector.redact_*: the stored text of the events (part of build) */
    COLL_ST_N
} coll_stage;

extern core_metric coll_m_transactions;

/* Adds us microseconds to stage st. */
void coll_stage_add(coll_stage st, int64_t us);
/* The microseconds stage st took so far. */
uint64_t coll_stage_us(coll_stage st);
/* "decode:12,build:3,...": each stage's total in ms, into buf (NUL-terminated). */
void coll_stages_format(char *buf, size_t len);

#endif
