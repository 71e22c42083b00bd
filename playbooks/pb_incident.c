/* Incidents as the playbooks see them: parsing, validation, the Lua view. */
#include "playbooks/pb.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/event.h"
#include "core/json_scan.h"

const char *const pb_events[PB_EV_COUNT] = {"opened", "updated", "action_failed"};

int pb_event_parse(const char *s)
{
    for (int i = 0; s && i < PB_EV_COUNT; i++)
        if (strcmp(s, pb_events[i]) == 0)
            return i;
    return -1;
}

/* A string field of the incident: a string, or absent/null when not
 * required. Every one is an identifier or a timestamp, so a control
 * character (C0, DEL, C1, U+2028/2029) is refused: it would cut or forge a
 * line where the value is printed or logged. */
static const char *str_field(const cJSON *o, const char *name, bool required, char *err,
                             size_t errlen, int *bad)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    if (!v || cJSON_IsNull(v)) {
        if (required) {
            snprintf(err, errlen, "incident: field '%s' is missing", name);
            *bad = 1;
        }
        return NULL;
    }
    if (!cJSON_IsString(v)) {
        snprintf(err, errlen, "incident: field '%s' must be a string", name);
        *bad = 1;
        return NULL;
    }
    if (core_text_control_at(v->valuestring, strlen(v->valuestring)) >= 0) {
        snprintf(err, errlen, "incident: field '%s' holds a control character", name);
        *bad = 1;
        return NULL;
    }
    return v->valuestring;
}

int pb_incident_parse(pb_incident *inc, const char *json, size_t len, char *err, size_t errlen)
{
    memset(inc, 0, sizeof *inc);
    inc->event = PB_EV_OPENED;
    inc->deliveries = 1;
    /* The event decoder's rules first: cJSON alone takes duplicate keys
     * (the last wins), \u0000 (cutting the string), trailing data and
     * invalid UTF-8. */
    char why[256];
    if (core_json_check_object(json, len, why, sizeof why) < 0) {
        snprintf(err, errlen, "incident: not a valid JSON object: %s", why);
        return -1;
    }
    inc->json = cJSON_ParseWithLength(json, len);
    if (!inc->json || !cJSON_IsObject(inc->json)) {
        snprintf(err, errlen, "incident: not a JSON object");
        return -1;
    }
    int bad = 0;
    inc->id = str_field(inc->json, "incident_id", true, err, errlen, &bad);
    if (!bad)
        inc->type = str_field(inc->json, "type", true, err, errlen, &bad);
    if (!bad)
        inc->severity = str_field(inc->json, "severity", true, err, errlen, &bad);
    if (!bad)
        inc->api_key_id = str_field(inc->json, "api_key_id", false, err, errlen, &bad);
    if (!bad)
        inc->model = str_field(inc->json, "model", false, err, errlen, &bad);
    if (!bad)
        inc->model_version = str_field(inc->json, "model_version", false, err, errlen, &bad);
    if (!bad)
        inc->first_seen = str_field(inc->json, "first_seen", false, err, errlen, &bad);
    if (!bad)
        inc->detected_at = str_field(inc->json, "detected_at", false, err, errlen, &bad);
    if (bad)
        return -1;
    if (!*inc->id || strlen(inc->id) > 200) {
        snprintf(err, errlen, "incident: incident_id must have 1 to 200 characters");
        return -1;
    }
    inc->type_i = inc_type_parse(inc->type);
    if (inc->type_i < 0) {
        snprintf(err, errlen, "incident: type '%.40s' is not one of extraction, probing, drift, "
                              "leakage, flood", inc->type);
        return -1;
    }
    inc->sev = inc_severity_parse(inc->severity);
    if (inc->sev < 0) {
        snprintf(err, errlen, "incident: severity '%.40s' is not one of low, medium, high, "
                              "critical", inc->severity);
        return -1;
    }
    return 0;
}

void pb_incident_free(pb_incident *inc)
{
    cJSON_Delete(inc->json);
    cJSON_Delete(inc->failed_action);
    cJSON_Delete(inc->view);
    memset(inc, 0, sizeof *inc);
}

const cJSON *pb_incident_view(pb_incident *inc)
{
    if (inc->view)
        return inc->view;
    cJSON *v = cJSON_Duplicate(inc->json, 1);
    if (!v)
        return NULL;
    cJSON_DeleteItemFromObjectCaseSensitive(v, "id");
    cJSON_AddStringToObject(v, "id", inc->id);
    cJSON_DeleteItemFromObjectCaseSensitive(v, "event");
    cJSON_AddStringToObject(v, "event", pb_events[inc->event]);
    cJSON *subj = cJSON_CreateObject();
    if (inc->api_key_id)
        cJSON_AddStringToObject(subj, "api_key_id", inc->api_key_id);
    if (inc->model)
        cJSON_AddStringToObject(subj, "model", inc->model);
    if (inc->model_version)
        cJSON_AddStringToObject(subj, "model_version", inc->model_version);
    cJSON_DeleteItemFromObjectCaseSensitive(v, "subject");
    cJSON_AddItemToObject(v, "subject", subj);
    cJSON *counts = cJSON_CreateObject();
    cJSON_AddNumberToObject(counts, "deliveries", (double)inc->deliveries);
    cJSON_AddNumberToObject(counts, "actions", (double)inc->prior_actions);
    /* Analytics may count alerts in the evidence; surface the numbers. */
    const cJSON *ev = cJSON_GetObjectItemCaseSensitive(inc->json, "evidence");
    const cJSON *it;
    cJSON_ArrayForEach(it, ev)
    {
        if (cJSON_IsNumber(it) && it->string && !cJSON_GetObjectItemCaseSensitive(counts, it->string))
            cJSON_AddNumberToObject(counts, it->string, it->valuedouble);
    }
    cJSON_DeleteItemFromObjectCaseSensitive(v, "counts");
    cJSON_AddItemToObject(v, "counts", counts);
    if (inc->failed_action) {
        cJSON_DeleteItemFromObjectCaseSensitive(v, "failed_action");
        cJSON_AddItemToObject(v, "failed_action", cJSON_Duplicate(inc->failed_action, 1));
    }
    inc->view = v;
    return v;
}
