/* custos gen --format: the native lines the generator writes, turned into
 * the message of another format (LiteLLM's StandardLoggingPayload, an OTLP
 * ExportTraceServiceRequest as JSON or protobuf) with the same content, so
 * that every format decodes to the same stored rows (docs/formats.md).
 * tools_otlp_proto_encode is also what the tests and the benchmark use to
 * make protobuf from OTLP/JSON. */
#ifndef TOOLS_GEN_FORMAT_H
#define TOOLS_GEN_FORMAT_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>


typedef enum { GF_NATIVE, GF_LITELLM, GF_OTLP_JSON, GF_OTLP_PROTO } tools_gen_format;

/* The format named s (a collector.format value); -1 when unknown. */
int tools_gen_format_find(const char *s);

/* Spans an OTLP request of custos gen holds at most. */
#define TOOLS_GEN_SPANS_PER_REQUEST 16

/* Converts n native JSON lines (buf[0..len), each ending in '\n') to
 * format f and writes the messages to out (coll_write_message framing).
 * i0 is the first line's event number (varies the attribute names used).
 * Returns -1 on a write error or a line that is not an event. */
int tools_gen_convert(int f, const char *buf, size_t len, unsigned long long i0, FILE *out);

/* The protobuf encoding of an ExportTraceServiceRequest given in its
 * OTLP/JSON shape: *out (malloc'ed, the caller frees) holds *n bytes; -1
 * when req is not one or out of memory. */
int tools_otlp_proto_encode(const cJSON *req, unsigned char **out, size_t *n);

/* The OTLP/JSON request of the native event objects evs[0..n) (one span
 * each, and one non-GenAI span); i0 as above. The caller owns it. */
cJSON *tools_gen_otlp_request(cJSON *const *evs, size_t n, unsigned long long i0);

/* The StandardLoggingPayload of the native event object ev. */
cJSON *tools_gen_litellm_payload(const cJSON *ev);

#endif
