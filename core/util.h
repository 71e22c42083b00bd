/* Small helpers every module uses. */
#ifndef CORE_UTIL_H
#define CORE_UTIL_H

#include <stddef.h>

/* Formats a message into err (always NUL-terminated) and returns -1, so
 * that an error path reads `return core_errf(err, errlen, "...", ...)`. */
int core_errf(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Makes room for one more element in a growable array: when *len == *cap,
 * reallocates *arr (elements of elem bytes) to double the capacity, or to
 * first when empty. Returns 0, or -1 when out of memory (*arr unchanged). */
int core_grow(void *arr, size_t *cap, size_t len, size_t elem, size_t first);

#endif
