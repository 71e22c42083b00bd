/* An HDR-style latency histogram: log-linear buckets with a bounded
 * relative error, for exact-enough percentiles (produce -> commit, commit ->
 * incident) where core_histogram's fixed Prometheus buckets only give bucket
 * bounds.
 *
 * Values (microseconds, 0 .. 2^40) below 2^(S+1) have a bucket each; above,
 * each power of two is cut into 2^S equal buckets (S = CORE_HDR_SUB_BITS = 6),
 * so a reported value is at most 1/64 (1.6 %) above the true one and never
 * below it. Observing is lock-free (relaxed atomics); 18 KB a histogram. */
#ifndef CORE_HDR_H
#define CORE_HDR_H

#include <stdatomic.h>
#include <stdint.h>

#define CORE_HDR_SUB_BITS 6
#define CORE_HDR_MAX_BITS 40 /* values past 2^40 us (12.7 days) count as 2^40 - 1 */
#define CORE_HDR_BUCKETS                                                                    \
    ((2 << CORE_HDR_SUB_BITS) + (CORE_HDR_MAX_BITS - CORE_HDR_SUB_BITS - 1) * (1 << CORE_HDR_SUB_BITS))

typedef struct {
    _Atomic uint64_t bucket[CORE_HDR_BUCKETS];
    _Atomic uint64_t count;
    _Atomic uint64_t max;
} core_hdr;

/* Counts one value (negative ones as 0). */
void core_hdr_observe(core_hdr *h, int64_t v);
/* The value at quantile q (0..1): the highest value of the bucket the q-th
 * observation fell in (never below it, at most 1/64 above), capped at the
 * largest value seen; 0 with no observations. */
int64_t core_hdr_quantile(const core_hdr *h, double q);
uint64_t core_hdr_count(const core_hdr *h);
int64_t core_hdr_max(const core_hdr *h);
/* Zeroes h (not atomic as a whole: no observer may run meanwhile). */
void core_hdr_reset(core_hdr *h);

#endif
