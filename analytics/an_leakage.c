/* Leakage: secrets and personal data in responses. The signature rules
 * (kind: leak) find credential formats (checked for real entropy), PEM
 * private keys, card numbers that pass Luhn, IBANs that pass mod 97, bulk
 * e-mail addresses and phone numbers (leakage_bulk_min in one response);
 * the engine adds the system prompt echoed back (a 40-byte piece of
 * attrs.system_prompt in the response). Every response with a finding is an
 * alert for its key; credentials and payment data are high severity, several
 * kinds at once critical. The evidence names the kinds, the counts and each
 * value found (class, offsets in the response, its keyed hash: see
 * leak_values() in an_engine.c), never a value itself. */
#include <stdio.h>
#include <string.h>

#include "analytics/an_detectors.h"
#include "analytics/an_features.h"
#include "core/json_scan.h"

static const struct {
    uint32_t bit;
    const char *name;
    inc_severity sev;
} g_kinds[] = {
    {AN_LEAK_SECRET, "credential", INC_HIGH},
    {AN_LEAK_PRIVKEY, "private_key", INC_HIGH},
    {AN_LEAK_CARD, "card_number", INC_HIGH},
    {AN_LEAK_IBAN, "iban", INC_HIGH},
    {AN_LEAK_EMAILS, "bulk_emails", INC_MEDIUM},
    {AN_LEAK_PHONES, "bulk_phone_numbers", INC_MEDIUM},
    {AN_LEAK_SYSPROMPT, "system_prompt", INC_MEDIUM},
};

static void observe(void *state, an_engine *e, an_key *k, const an_obs *o)
{
    (void)state; /* all its state is the key's */
    (void)k;
    if (!o->leak)
        return;
    inc_severity sev = INC_LOW;
    int nk = 0;
    char names[160] = "";
    cJSON *ev = cJSON_CreateObject();
    cJSON *kinds = cJSON_AddArrayToObject(ev, "kinds");
    for (size_t i = 0; i < sizeof g_kinds / sizeof g_kinds[0]; i++)
        if (o->leak & g_kinds[i].bit) {
            cJSON_AddItemToArray(kinds, cJSON_CreateString(g_kinds[i].name));
            if (g_kinds[i].sev > sev)
                sev = g_kinds[i].sev;
            size_t l = strlen(names);
            snprintf(names + l, sizeof names - l, "%s%s", nk ? ", " : "", g_kinds[i].name);
            nk++;
        }
    if (nk >= 2 && sev < INC_CRITICAL)
        sev++;
    if (o->n_emails)
        cJSON_AddNumberToObject(ev, "emails", o->n_emails);
    if (o->n_phones)
        cJSON_AddNumberToObject(ev, "phone_numbers", o->n_phones);
    cJSON_AddNumberToObject(ev, "response_bytes", o->response_len);
    /* what leaked, by hash: the value never enters the evidence */
    cJSON *vals = o->leak_values ? cJSON_Parse(o->leak_values) : NULL;
    if (vals)
        cJSON_AddItemToObject(ev, "values", vals);
    char summary[320];
    snprintf(summary, sizeof summary,
             "A response to key %.64s from %.64s %.32s contained %s.", o->api_key_id, o->model,
             o->model_version, names);
    an_alert a = {
        .type = INC_LEAKAGE,
        .severity = sev,
        .trigger = o,
        .first_ts = o->ts_us,
        .api_key_id = o->api_key_id,
        .model = o->model,
        .model_version = o->model_version,
        .summary = summary,
        .evidence = core_json_print_unformatted(ev), /* NULL when out of memory: none */
    };
    an_engine_alert(e, &a);
    free(a.evidence);
    cJSON_Delete(ev);
}

const an_detector an_detector_leakage = {
    .name = "leakage", .type = INC_LEAKAGE, .observe = observe};
