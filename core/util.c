/* Small helpers every module uses. */
#include "core/util.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int core_errf(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return -1;
}

int core_grow(void *arr, size_t *cap, size_t len, size_t elem, size_t first)
{
    if (len < *cap)
        return 0;
    size_t ncap = *cap ? *cap * 2 : first;
    void **p = arr;
    void *n = realloc(*p, ncap * elem);
    if (!n)
        return -1;
    *p = n;
    *cap = ncap;
    return 0;
}
