/* libFuzzer target for the incident parser (pb_incident_parse) and the
 * view playbooks see: a refusal has a NUL-terminated reason; an accepted
 * incident has an id of 1 to 200 bytes, a known type and severity, and
 * every identifier field valid UTF-8 without a control character; it is
 * one JSON object by the decoder's rules (core_json_check_object); its
 * view builds and prints. A broken promise aborts. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/json_scan.h"
#include "core/event.h"
#include "playbooks/pb.h"

#define CHECK(cond)                                                                  \
    do {                                                                             \
        if (!(cond))                                                                 \
            abort();                                                                 \
    } while (0)

static void check_ident(const char *s)
{
    if (!s)
        return;
    size_t n = strlen(s);
    CHECK(core_utf8_invalid_at((const unsigned char *)s, n) < 0);
    CHECK(core_text_control_at(s, n) < 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    pb_incident inc;
    char err[512];
    memset(err, 'x', sizeof err);
    int rc = pb_incident_parse(&inc, (const char *)data, size, err, sizeof err);
    if (rc != 0) {
        CHECK(rc == -1);
        CHECK(memchr(err, '\0', sizeof err) != NULL);
        pb_incident_free(&inc);
        return 0;
    }
    char why[256];
    CHECK(core_json_check_object(data, size, why, sizeof why) == 0);
    CHECK(inc.id && *inc.id && strlen(inc.id) <= 200);
    CHECK(inc.type_i >= 0 && inc.type_i < INC_TYPE_COUNT);
    CHECK(inc.sev >= 0 && inc.sev < INC_SEVERITY_COUNT);
    const char *idents[] = {inc.id, inc.type, inc.severity, inc.api_key_id, inc.model,
                            inc.model_version, inc.first_seen, inc.detected_at};
    for (size_t i = 0; i < sizeof idents / sizeof idents[0]; i++)
        check_ident(idents[i]);
    const cJSON *view = pb_incident_view(&inc);
    CHECK(view);
    char *s = cJSON_PrintUnformatted(view);
    CHECK(s);
    free(s);
    pb_incident_free(&inc);
    return 0;
}
