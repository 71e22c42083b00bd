/* The log-linear latency histogram (hdr.h). */
#include "core/hdr.h"

#include <math.h>
#include <string.h>

#define SUB (1 << CORE_HDR_SUB_BITS)
#define VMAX ((INT64_C(1) << CORE_HDR_MAX_BITS) - 1)

static int msb(uint64_t v) { return 63 - __builtin_clzll(v); }

static int bucket_of(int64_t v)
{
    if (v < 2 * SUB)
        return (int)v;
    int shift = msb((uint64_t)v) - CORE_HDR_SUB_BITS; /* >= 1 */
    int mant = (int)(v >> shift);                     /* SUB .. 2 SUB - 1 */
    return 2 * SUB + (shift - 1) * SUB + (mant - SUB);
}

/* The highest value that falls in bucket i. */
static int64_t bucket_top(int i)
{
    if (i < 2 * SUB)
        return i;
    int shift = (i - 2 * SUB) / SUB + 1;
    int64_t mant = SUB + (i - 2 * SUB) % SUB;
    return ((mant + 1) << shift) - 1;
}

void core_hdr_observe(core_hdr *h, int64_t v)
{
    if (v < 0)
        v = 0;
    if (v > VMAX)
        v = VMAX;
    atomic_fetch_add_explicit(&h->bucket[bucket_of(v)], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&h->count, 1, memory_order_relaxed);
    uint64_t m = atomic_load_explicit(&h->max, memory_order_relaxed);
    while ((uint64_t)v > m &&
           !atomic_compare_exchange_weak_explicit(&h->max, &m, (uint64_t)v, memory_order_relaxed,
                                                  memory_order_relaxed))
        ;
}

int64_t core_hdr_quantile(const core_hdr *h, double q)
{
    uint64_t total = 0;
    for (int i = 0; i < CORE_HDR_BUCKETS; i++)
        total += atomic_load_explicit(&((core_hdr *)h)->bucket[i], memory_order_relaxed);
    if (!total)
        return 0;
    if (q < 0)
        q = 0;
    if (q > 1)
        q = 1;
    uint64_t rank = (uint64_t)ceil(q * (double)total);
    if (rank < 1)
        rank = 1;
    uint64_t seen = 0;
    int64_t top = 0;
    for (int i = 0; i < CORE_HDR_BUCKETS; i++) {
        seen += atomic_load_explicit(&((core_hdr *)h)->bucket[i], memory_order_relaxed);
        if (seen >= rank) {
            top = bucket_top(i);
            break;
        }
    }
    int64_t max = core_hdr_max(h);
    return top > max ? max : top;
}

uint64_t core_hdr_count(const core_hdr *h)
{
    return atomic_load_explicit(&((core_hdr *)h)->count, memory_order_relaxed);
}

int64_t core_hdr_max(const core_hdr *h)
{
    return (int64_t)atomic_load_explicit(&((core_hdr *)h)->max, memory_order_relaxed);
}

void core_hdr_reset(core_hdr *h) { memset(h, 0, sizeof *h); }
