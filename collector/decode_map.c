/* The shared part of the foreign decoders (decode_map.h). */
#include "collector/decode_map.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/event.h"
#include "core/json_scan.h"
#include "core/util.h"

int coll_map_refuse(coll_decoded *out, const char *format, const char *item, const char *fmt, ...)
{
    char why[480], reason[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    snprintf(reason, sizeof reason, "%s %s %u: %s", format, item, (unsigned)out->next_index, why);
    return coll_decoded_refuse(out, reason);
}

int coll_map_event(const coll_limits *lim, const char *format, const char *item, cJSON *obj,
                   coll_decoded *out, char *err, size_t errlen)
{
    char *txt = cJSON_PrintUnformatted(obj);
    if (!txt)
        return core_errf(err, errlen, "out of memory");
    core_event *ev = coll_decoded_add(out, err, errlen);
    if (!ev) {
        free(txt);
        /* more items than a message may hold: the message is refused */
        return -1;
    }
    char why[512];
    int rc = 0;
    if (coll_decode_native(lim, txt, strlen(txt), ev, why, sizeof why) < 0) {
        out->n--; /* the slot was cleared; the item is refused instead */
        out->next_index--;
        if (coll_map_refuse(out, format, item, "%s", why) < 0)
            rc = core_errf(err, errlen, "out of memory");
    }
    free(txt);
    return rc;
}

cJSON *coll_map_parse(const void *buf, size_t len, char *err, size_t errlen)
{
    const unsigned char *s = buf;
    long bad = core_utf8_invalid_at(s, len);
    if (bad >= 0) {
        core_errf(err, errlen, "invalid UTF-8 at offset %ld", bad);
        return NULL;
    }
    size_t i = 0;
    if (len >= 3 && s[0] == 0xEF && s[1] == 0xBB && s[2] == 0xBF)
        i = 3;
    while (i < len && core_json_is_ws(s[i]))
        i++;
    if (i == len) {
        core_errf(err, errlen, "empty message");
        return NULL;
    }
    if (s[i] == '{') {
        if (core_json_check_object(s, len, err, errlen) < 0)
            return NULL;
    } else {
        /* checked as the value of a member: {"v": ...} */
        char *w = malloc(len + 7);
        if (!w) {
            core_errf(err, errlen, "out of memory");
            return NULL;
        }
        memcpy(w, "{\"v\":", 5);
        memcpy(w + 5, s + i, len - i);
        memcpy(w + 5 + len - i, "}", 1);
        int rc = core_json_check_object(w, len - i + 6, err, errlen);
        free(w);
        if (rc < 0)
            return NULL;
    }
    cJSON *j = cJSON_ParseWithLength((const char *)s + i, len - i);
    if (!j)
        core_errf(err, errlen, "not JSON");
    return j;
}

const char *coll_map_str(const cJSON *obj, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);
    return cJSON_IsString(v) && v->valuestring[0] ? v->valuestring : NULL;
}

void coll_map_set_str(cJSON *obj, const char *name, const char *s)
{
    if (s)
        cJSON_AddStringToObject(obj, name, s);
}

/* Appends the text of one content value (a string, or parts with text). */
static void content_text(const cJSON *c, core_json_buf *b)
{
    if (cJSON_IsString(c)) {
        core_json_buf_put(b, c->valuestring, strlen(c->valuestring));
        return;
    }
    if (!cJSON_IsArray(c))
        return;
    bool first = true;
    const cJSON *part;
    cJSON_ArrayForEach(part, c)
    {
        const char *t = NULL;
        if (cJSON_IsString(part))
            t = part->valuestring;
        else {
            const char *type = coll_map_str(part, "type");
            if (!type || strcmp(type, "text") == 0 || strcmp(type, "input_text") == 0 ||
                strcmp(type, "output_text") == 0 || strcmp(type, "reasoning") == 0) {
                t = coll_map_str(part, "text");
                if (!t)
                    t = coll_map_str(part, "content");
            }
        }
        if (!t)
            continue;
        if (!first)
            core_json_buf_put(b, "\n", 1);
        core_json_buf_put(b, t, strlen(t));
        first = false;
    }
}

bool coll_map_messages_text(const cJSON *msgs, cJSON **out)
{
    core_json_buf b;
    core_json_buf_init(&b);
    if (cJSON_IsString(msgs)) {
        core_json_buf_put(&b, msgs->valuestring, strlen(msgs->valuestring));
    } else if (cJSON_IsArray(msgs) || cJSON_IsObject(msgs)) {
        int n = cJSON_IsArray(msgs) ? cJSON_GetArraySize(msgs) : 1;
        const cJSON *m = cJSON_IsArray(msgs) ? msgs->child : msgs;
        for (int k = 0; m; m = cJSON_IsArray(msgs) ? m->next : NULL, k++) {
            const char *role = coll_map_str(m, "role");
            const cJSON *c = cJSON_GetObjectItemCaseSensitive(m, "content");
            if (!c)
                c = cJSON_GetObjectItemCaseSensitive(m, "parts");
            if (!c && cJSON_IsString(m))
                c = m;
            bool alone = n == 1 && (!role || strcmp(role, "user") == 0 ||
                                    strcmp(role, "assistant") == 0);
            if (k > 0)
                core_json_buf_put(&b, "\n", 1);
            if (!alone && role) {
                core_json_buf_put(&b, role, strlen(role));
                core_json_buf_put(&b, ": ", 2);
            }
            content_text(c, &b);
        }
    }
    bool any = b.n > 0 && !b.oom;
    if (any) {
        char *w = core_json_buf_room(&b, 0);
        if (w)
            *w = '\0';
        *out = cJSON_CreateString(b.p);
    }
    core_json_buf_free(&b);
    return any && *out;
}

const char *coll_map_version(const char *model, const char *exact, char *dst, size_t size)
{
    size_t n = model ? strlen(model) : 0;
    if (n && strncmp(exact, model, n) == 0 && exact[n] == '-' && exact[n + 1])
        exact += n + 1;
    snprintf(dst, size, "%s", exact);
    return dst;
}

static bool secret_member(const char *k)
{
    static const char *const names[] = {"secret_fields", "raw_headers", "headers",
                                        "authorization", "api_key", "x-api-key", "cookie"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcasecmp(k, names[i]) == 0)
            return true;
    return false;
}

void coll_map_redact_tree(cJSON *v)
{
    for (cJSON *c = v ? v->child : NULL, *next; c; c = next) {
        next = c->next;
        if (c->string && secret_member(c->string)) {
            cJSON_Delete(cJSON_DetachItemViaPointer(v, c));
            continue;
        }
        if (cJSON_IsString(c))
            coll_redact_secrets(c->valuestring, strlen(c->valuestring));
        else
            coll_map_redact_tree(c);
    }
}
