/* PostgreSQL array literals built element by element (db.h). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/db.h"

/* Makes room for n more bytes and the closing "}\0". */
static int room(core_db_array *a, size_t n)
{
    if (a->oom)
        return -1;
    size_t need = a->len + n + 3;
    if (need <= a->cap)
        return 0;
    size_t cap = a->cap ? a->cap : 256;
    while (cap < need)
        cap *= 2;
    char *d = realloc(a->data, cap);
    if (!d) {
        a->oom = 1;
        return -1;
    }
    a->data = d;
    a->cap = cap;
    return 0;
}

void core_db_array_add(core_db_array *a, const char *s)
{
    size_t n = s ? strlen(s) : 0;
    /* worst case every byte escaped, plus separator and quotes */
    if (room(a, 2 * n + 4) < 0)
        return;
    if (a->len == 0)
        a->data[a->len++] = '{';
    if (a->n)
        a->data[a->len++] = ',';
    if (!s) {
        memcpy(a->data + a->len, "NULL", 4);
        a->len += 4;
    } else {
        a->data[a->len++] = '"';
        for (size_t i = 0; i < n; i++) {
            if (s[i] == '"' || s[i] == '\\')
                a->data[a->len++] = '\\';
            a->data[a->len++] = s[i];
        }
        a->data[a->len++] = '"';
    }
    a->n++;
}

void core_db_array_add_i64(core_db_array *a, int64_t v)
{
    char num[24];
    snprintf(num, sizeof num, "%" PRId64, v);
    core_db_array_add(a, num);
}

const char *core_db_array_text(core_db_array *a)
{
    if (room(a, 1) < 0)
        return NULL;
    if (a->len == 0)
        a->data[a->len++] = '{';
    a->data[a->len] = '}';
    a->data[a->len + 1] = '\0';
    return a->data;
}

void core_db_array_free(core_db_array *a)
{
    free(a->data);
    memset(a, 0, sizeof *a);
}
