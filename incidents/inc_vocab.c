/* The incident vocabulary: the one place its words are spelled. The names
 * are what the tables hold (schema 2 and 6 check them), what `custos
 * analyze` prints and what playbooks and the console compare against. */
#include <stddef.h>
#include <string.h>
#include <strings.h>

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

const char *inc_type_name(inc_type t)
{
    return (unsigned)t < INC_TYPE_COUNT ? g_type[t] : "?";
}

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
