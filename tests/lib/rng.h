/* The tests' pseudo-random numbers: xorshift64 (Marsaglia), one state per
 * caller, so that each test draws the same sequence on every run. */
#ifndef CUSTOS_TESTS_RNG_H
#define CUSTOS_TESTS_RNG_H

#include <stdint.h>

/* Steps *s (never 0) and returns its new value. */
static inline uint64_t t_xorshift64(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

#endif
