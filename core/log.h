/* Structured logging: one logfmt line per event on stderr.
 *
 *   ts=2026-11-21T13:04:00.123Z level=info module=collector msg="batch committed" partition=3 rows=5000
 *
 * Messages are constant strings; the key=value tail is a printf format whose
 * string values the caller passes through core_log_quote() when they may hold
 * spaces, quotes or come from input. Secrets are never passed to the logger. */
#ifndef CORE_LOG_H
#define CORE_LOG_H

#include <stddef.h>
#include <stdint.h>

typedef enum { CORE_LOG_DEBUG = 0, CORE_LOG_INFO, CORE_LOG_WARN, CORE_LOG_ERROR } core_log_level;

/* Sets the lowest level that is written. */
void core_log_set_level(core_log_level lvl);
core_log_level core_log_get_level(void);
/* Parses "debug|info|warn|error"; returns -1 on anything else. */
int core_log_parse_level(const char *s);
const char *core_log_level_name(core_log_level lvl);

/* Writes one line: level, module, msg, then the formatted key=value tail
 * (kvfmt may be NULL). Thread-safe: each line is written with one write(2). */
void core_log(core_log_level lvl, const char *module, const char *msg, const char *kvfmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Quotes s for a logfmt value into buf (always NUL-terminated, truncated with
 * "..." past size) and returns buf. Control characters are escaped. */
const char *core_log_quote(char *buf, size_t size, const char *s);

/* Per call-site rate limiter: a repeated error is logged at most once per
 * interval; the next line that gets through carries suppressed=N. */
typedef struct {
    int64_t last_ms;
    uint64_t suppressed;
} core_log_limit;

/* Returns the number of lines suppressed since the last one written (>= 0)
 * when this line may be written now, or -1 when it must be suppressed. */
int64_t core_log_limit_check(core_log_limit *rl, int64_t interval_ms);

/* Milliseconds of CLOCK_MONOTONIC and of the wall clock. */
int64_t core_mono_ms(void);
int64_t core_mono_us(void);
int64_t core_wall_us(void);

#endif
