/* What the C benchmarks of bench/ingest share (header-only): clocks, and a
 * list of messages read into memory. */
#ifndef CUSTOS_BENCH_UTIL_H
#define CUSTOS_BENCH_UTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* This thread's CPU time: the cost itself, not the time the thread waited
 * for a core on a busy machine. */
static inline double cpu_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static inline double wall_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* Messages, each its own NUL-terminated copy with its length. */
typedef struct {
    char **p;
    size_t *n;
    size_t count, cap;
} msgs;

static inline void add(msgs *m, const void *p, size_t n)
{
    if (m->count == m->cap) {
        m->cap = m->cap ? m->cap * 2 : 1024;
        m->p = realloc(m->p, m->cap * sizeof *m->p);
        m->n = realloc(m->n, m->cap * sizeof *m->n);
        if (!m->p || !m->n) {
            fprintf(stderr, "out of memory\n");
            exit(1);
        }
    }
    m->p[m->count] = malloc(n + 1);
    if (!m->p[m->count]) {
        fprintf(stderr, "out of memory\n");
        exit(1);
    }
    memcpy(m->p[m->count], p, n);
    m->p[m->count][n] = '\0';
    m->n[m->count++] = n;
}

#endif
