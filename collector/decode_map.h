/* What the decoders of foreign formats (LiteLLM, OTLP) share, private to
 * collector/: each maps one item of its message into a native event object
 * (cJSON) and hands it to coll_map_event, so that every format's events
 * pass the native decoder's checks and become byte-for-byte the rows a
 * native message with the same fields would (docs/formats.md). */
#ifndef COLL_DECODE_MAP_H
#define COLL_DECODE_MAP_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "collector/collector.h"
#include "core/json_scan.h"

/* Items per message and values per attribute array a foreign decoder takes:
 * past them the item (or message) is refused. */
#define COLL_MAP_MAX_ATTRS 1024
#define COLL_MAP_MAX_ARRAY 4096
/* Attributes copied into attrs at most, and their string values' bytes. */
#define COLL_MAP_ATTRS_KEPT 64
#define COLL_MAP_ATTR_STR_MAX 512

/* Decodes the native object obj into a new event of out (the item's index
 * is out->next_index). When the native decoder refuses it, the item is
 * refused with "FORMAT ITEM N: reason" instead. Returns 0, or -1 when out
 * of memory (err says so). obj stays the caller's. */
int coll_map_event(const coll_limits *lim, const char *format, const char *item, cJSON *obj,
                   coll_decoded *out, char *err, size_t errlen);

/* Appends v's compact JSON to b, byte for byte what cJSON_PrintUnformatted
 * writes (its number and string rules). Returns 0, or -1 when out of memory
 * or v holds an invalid item. */
int coll_map_print(core_json_buf *b, const cJSON *v);

/* Refuses item out->next_index with "FORMAT ITEM N: " and the printf text. */
int coll_map_refuse(coll_decoded *out, const char *format, const char *item, const char *fmt,
                    ...) __attribute__((format(printf, 4, 5)));

/* Parses buf[0..len) as one JSON value by the decoders' rules (valid UTF-8,
 * no duplicate key, depth at most CORE_JSON_MAX_DEPTH, nothing after it;
 * a value that is not an object is checked as the member of one). Returns
 * the tree (the caller's, cJSON_Delete) or NULL with the reason in err. */
cJSON *coll_map_parse(const void *buf, size_t len, char *err, size_t errlen);

/* Adds item to obj as member name, a string literal that lives as long as
 * the program: the name is not copied (cJSON_AddItemToObjectCS), one
 * allocation less a member. Returns item, or NULL (item freed) when it
 * could not be added. */
static inline cJSON *coll_map_add_cs(cJSON *obj, const char *name, cJSON *item)
{
    if (cJSON_AddItemToObjectCS(obj, name, item))
        return item;
    cJSON_Delete(item);
    return NULL;
}

/* The tree cJSON_ParseWithLength makes of buf[0..len), JSON that
 * core_json_check_object accepted (as an object, or as the member of one),
 * built with fewer allocations (decode_tree.c: common member names by
 * reference, each string copied once). NULL when it meets what it does not
 * expect (or is out of memory): the caller then parses with cJSON. */
cJSON *coll_map_tree(const void *buf, size_t len);

/* The value of obj's member name when it is a non-empty string, else NULL. */
const char *coll_map_str(const cJSON *obj, const char *name);

/* Sets obj's member name (a string literal, coll_map_add_cs) to a copy of
 * s (NULL: nothing set). */
void coll_map_set_str(cJSON *obj, const char *name, const char *s);

/* The text of chat messages, as custos keeps prompts and responses: a
 * string as it is; an array of messages (OpenAI {role, content} or OTel
 * {role, parts[]}) one per line, "role: text", except a single user or
 * assistant message, which is its text alone; content that is an array of
 * parts keeps the text parts. Appends to b (NUL-terminated); false when
 * there is no text at all. */
bool coll_map_messages_text(const cJSON *msgs, cJSON **b);

/* model_version from the exact model name a response names: the name
 * without "MODEL-" in front when it starts so (gpt-4o-2024-08-06 for model
 * gpt-4o is 2024-08-06), else the name. Written into dst (size bytes). */
const char *coll_map_version(const char *model, const char *exact, char *dst, size_t size);

/* Blanks the secrets (coll_redact_secrets) in every string of v, deep, and
 * removes members named secret_fields, raw_headers, headers or
 * authorization. */
void coll_map_redact_tree(cJSON *v);

/* The OTLP/JSON shape of the protobuf ExportTraceServiceRequest
 * buf[0..len) (decode_otlp_proto.c), or NULL with err; the caller owns it. */
cJSON *coll_otlp_proto_read(const void *buf, size_t len, char *err, size_t errlen);

#endif

/* ---- OTLP (decode_otel.c) ---- */

/* Maps an ExportTraceServiceRequest in its OTLP/JSON shape (as sent, or as
 * decode_otlp_proto.c builds it from protobuf) into out: a GenAI inference
 * span is an event, a bad one refused alone, any other span skipped.
 * format names the encoding in reasons. Returns 0; -1 with err when the
 * request as a whole is not one (or out of memory). */
int coll_otel_map_request(const coll_limits *lim, const char *format, const cJSON *req,
                          coll_decoded *out, char *err, size_t errlen);
