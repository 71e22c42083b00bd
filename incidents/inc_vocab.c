/* The incident vocabulary: the one place its words are spelled. The names
 * are what the tables hold (schema 2 and 6 check them), what `custos
 * analyze` prints and what playbooks and the console compare against. */
#include <stddef.h>
#include <string.h>
#include <strings.h>

#include <cjson/cJSON.h>

#include "incidents/incidents.h"

static const char *const g_type[INC_TYPE_COUNT] = {"extraction", "probing", "drift", "leakage",
                                                   "flood"};
static const char *const g_severity[INC_SEVERITY_COUNT] = {"low", "medium", "high", "critical"};
static const char *const g_status[INC_STATUS_COUNT] = {"open",      "closed",        "contained",
                                                       "escalated", "investigating", "resolved"};
static const char *const g_disposition[INC_DISPOSITION_COUNT] = {
    "", "true_positive", "false_positive", "benign", "duplicate"};

static int parse(const char *const *names, int n, const char *s, bool nocase, int first)
{
    if (!s || !*s)
        return -1;
    for (int i = first; i < n; i++)
        if (nocase ? strcasecmp(s, names[i]) == 0 : strcmp(s, names[i]) == 0)
            return i;
    return -1;
}

const char *inc_type_name(inc_type t) { return (unsigned)t < INC_TYPE_COUNT ? g_type[t] : "?"; }

int inc_type_parse(const char *s) { return parse(g_type, INC_TYPE_COUNT, s, false, 0); }

const char *inc_severity_name(inc_severity s)
{
    return (unsigned)s < INC_SEVERITY_COUNT ? g_severity[s] : "?";
}

int inc_severity_parse(const char *s) { return parse(g_severity, INC_SEVERITY_COUNT, s, true, 0); }

const char *inc_status_name(inc_status s)
{
    return (unsigned)s < INC_STATUS_COUNT ? g_status[s] : "?";
}

int inc_status_parse(const char *s) { return parse(g_status, INC_STATUS_COUNT, s, false, 0); }

const char *inc_disposition_name(inc_disposition d)
{
    return (unsigned)d < INC_DISPOSITION_COUNT ? g_disposition[d] : "?";
}

/* "" is not a disposition one can set: it is the absence of one. */
int inc_disposition_parse(const char *s)
{
    return parse(g_disposition, INC_DISPOSITION_COUNT, s, false, INC_TRUE_POSITIVE);
}

/* The names of the MITRE ATLAS techniques and OWASP Top 10 for LLM
 * Applications (2025) entries that custos assigns (analytics/an_grouping.c
 * and the rules of analytics/rules/), for the console and the CLI to show
 * beside the ids. ATLAS names as published by MITRE ATLAS
 * (atlas.mitre.org, v4 naming); OWASP names from the 2025 list
 * (genai.owasp.org). An id missing here has no name: it is shown bare. */
static const char *const g_atlas_names[][2] = {
    {"AML.T0005", "Create Proxy AI Model"},
    {"AML.T0005.001", "Create Proxy AI Model: Replicate AI Model"},
    {"AML.T0024", "Exfiltration via AI Inference API"},
    {"AML.T0024.000", "Exfiltration via AI Inference API: Infer Training Data Membership"},
    {"AML.T0024.001", "Exfiltration via AI Inference API: Invert AI Model"},
    {"AML.T0024.002", "Exfiltration via AI Inference API: Extract AI Model"},
    {"AML.T0029", "Denial of AI Service"},
    {"AML.T0031", "Erode AI Model Integrity"},
    {"AML.T0034", "Cost Harvesting"},
    {"AML.T0040", "AI Model Inference API Access"},
    {"AML.T0051", "LLM Prompt Injection"},
    {"AML.T0054", "LLM Jailbreak"},
    {"AML.T0056", "Extract LLM System Prompt"},
    {"AML.T0057", "LLM Data Leakage"},
    {"AML.T0068", "LLM Prompt Obfuscation"},
};
static const char *const g_owasp_names[][2] = {
    {"LLM01:2025", "Prompt Injection"},
    {"LLM02:2025", "Sensitive Information Disclosure"},
    {"LLM03:2025", "Supply Chain"},
    {"LLM04:2025", "Data and Model Poisoning"},
    {"LLM05:2025", "Improper Output Handling"},
    {"LLM06:2025", "Excessive Agency"},
    {"LLM07:2025", "System Prompt Leakage"},
    {"LLM08:2025", "Vector and Embedding Weaknesses"},
    {"LLM09:2025", "Misinformation"},
    {"LLM10:2025", "Unbounded Consumption"},
};

static const char *lookup(const char *const (*t)[2], size_t n, const char *id)
{
    if (!id)
        return NULL;
    for (size_t i = 0; i < n; i++)
        if (strcmp(t[i][0], id) == 0)
            return t[i][1];
    return NULL;
}

const char *inc_atlas_name(const char *id)
{
    return lookup(g_atlas_names, sizeof g_atlas_names / sizeof g_atlas_names[0], id);
}

const char *inc_owasp_name(const char *id)
{
    return lookup(g_owasp_names, sizeof g_owasp_names / sizeof g_owasp_names[0], id);
}

static void add_names(cJSON *inc, const char *ids, const char *names,
                      const char *(*name_of)(const char *))
{
    const cJSON *arr = cJSON_GetObjectItemCaseSensitive(inc, ids);
    if (!cJSON_IsArray(arr))
        return;
    cJSON *out = cJSON_CreateObject();
    const cJSON *id;
    cJSON_ArrayForEach(id, arr)
    {
        const char *n = cJSON_IsString(id) ? name_of(id->valuestring) : NULL;
        if (n && !cJSON_GetObjectItemCaseSensitive(out, id->valuestring))
            cJSON_AddStringToObject(out, id->valuestring, n);
    }
    cJSON_DeleteItemFromObjectCaseSensitive(inc, names);
    cJSON_AddItemToObject(inc, names, out);
}

void inc_add_id_names(cJSON *incident)
{
    if (!cJSON_IsObject(incident))
        return;
    add_names(incident, "atlas", "atlas_names", inc_atlas_name);
    add_names(incident, "owasp", "owasp_names", inc_owasp_name);
}
