/* The Art. 73 report of a serious incident, initial or complete: one JSON
 * object with the facts custos holds (the incident, its serious part and
 * reports filed, the containment actions with their approvals and the
 * preservation gate's answers, the evidence frozen), and a Markdown
 * rendering made from that same object, so both always say the same. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit/audit.h"
#include "core/db.h"
#include "core/event.h"
#include "core/log.h"
#include "incidents/incidents.h"

static const char *SQL_FACTS =
    "SELECT json_build_object("
    "'incident', (SELECT json_build_object('incident_id', incident_id, 'type', type, "
    "'severity', severity, 'status', status, 'disposition', disposition, 'summary', summary, "
    "'api_key_id', api_key_id, 'model', model, 'model_version', model_version, 'tenant', tenant, "
    "'first_seen', change_feed_ts(first_seen), 'detected_at', change_feed_ts(detected_at), "
    "'last_seen', change_feed_ts(last_seen), 'alerts', alerts, 'atlas', atlas, 'owasp', owasp, "
    "'closed_at', change_feed_ts(closed_at), 'closed_by', closed_by, 'close_reason', "
    "close_reason) FROM incidents WHERE incident_id = $1), "
    "'actions', coalesce((SELECT json_agg(json_build_object('id', id, 'kind', kind, 'subject', "
    "subject, 'state', state, 'playbook', playbook, 'decided_by', decided_by, 'decided_at', "
    "change_feed_ts(decided_at), 'decision_reason', decision_reason, 'approval_gate', "
    "approval_gate, 'finished_at', change_feed_ts(finished_at)) ORDER BY id) FROM actions "
    "WHERE incident_id = $1), '[]'::json), "
    "'evidence', coalesce((SELECT json_agg(json_build_object('id', id, 'action_id', action_id, "
    "'frozen_at', change_feed_ts(created_at), 'sha256', sha256, 'events', events) ORDER BY id) "
    "FROM evidence_records WHERE incident_id = $1), '[]'::json))::text";

cJSON *inc_serious_report(PGconn *c, const char *incident_id, const char *kind,
                          const char *actor, bool *found, char *err, size_t errlen)
{
    *found = false;
    err[0] = '\0';
    if (!kind || (strcmp(kind, "initial") != 0 && strcmp(kind, "complete") != 0)) {
        snprintf(err, errlen, "kind is initial or complete");
        return NULL;
    }
    cJSON *serious = inc_serious_get(c, incident_id, err, errlen);
    if (!serious)
        return NULL; /* err empty: not serious */
    *found = true;
    cJSON *o = NULL, *facts = NULL;
    char *text = NULL;
    const char *v[1] = {incident_id};
    PGresult *r = core_db_query(c, SQL_FACTS, 1, v, "reading the report's facts", err, errlen);
    if (!r)
        goto done;
    facts = cJSON_Parse(PQgetvalue(r, 0, 0));
    PQclear(r);
    if (!facts) {
        snprintf(err, errlen, "reading the report's facts: unreadable JSON");
        goto done;
    }
    char now[40];
    core_ts_format(core_wall_us(), now, sizeof now);
    o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "format", "custos-art73-report-v1");
    cJSON_AddStringToObject(o, "kind", kind);
    cJSON_AddStringToObject(o, "regulation", "EU AI Act (Regulation (EU) 2024/1689), Article 73");
    cJSON_AddStringToObject(o, "generated_at", now);
    cJSON_AddStringToObject(o, "generated_by", actor);
    cJSON_AddItemToObject(o, "incident", cJSON_DetachItemFromObject(facts, "incident"));
    cJSON_AddItemToObject(o, "serious", serious);
    serious = NULL;
    cJSON_AddItemToObject(o, "actions", cJSON_DetachItemFromObject(facts, "actions"));
    cJSON_AddItemToObject(o, "evidence", cJSON_DetachItemFromObject(facts, "evidence"));
    text = cJSON_PrintUnformatted(o);
    if (!text) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    char sha[65];
    audit_sha256_hex(text, strlen(text), sha);
    cJSON *d = cJSON_CreateObject();
    cJSON_AddStringToObject(d, "kind", kind);
    cJSON_AddStringToObject(d, "sha256", sha);
    cJSON_AddNumberToObject(d, "bytes", (double)strlen(text));
    char *ds = cJSON_PrintUnformatted(d);
    cJSON_Delete(d);
    int rc = ds ? audit_append_tx(c, actor, "serious_report_exported", 0, incident_id, ds, err,
                                  errlen)
                : -1;
    free(ds);
    if (rc < 0)
        goto fail;
    goto done;
fail:
    cJSON_Delete(o);
    o = NULL;
done:
    free(text);
    cJSON_Delete(facts);
    cJSON_Delete(serious);
    return o;
}

/* ---- Markdown ---- */

/* The text is written to a memory stream (open_memstream): it grows as
 * needed and says at the end whether all of it was written. */
typedef FILE buf;

static void put(buf *b, const char *s, size_t n) { fwrite(s, 1, n, b); }

static void puts_(buf *b, const char *s) { fputs(s, b); }

/* A value as Markdown text: the characters that make markup are escaped
 * with a backslash, line breaks become spaces. */
static void put_esc(buf *b, const char *s)
{
    for (; *s; s++) {
        if (strchr("\\`*_{}[]()<>#+-!|~", *s))
            put(b, "\\", 1);
        if (*s == '\n' || *s == '\r' || *s == '\t')
            put(b, " ", 1);
        else
            put(b, s, 1);
    }
}

/* A JSON value as one line of text (strings as they are, arrays joined
 * by ", ", null as "—"). */
static void put_value(buf *b, const cJSON *v)
{
    if (!v || cJSON_IsNull(v)) {
        puts_(b, "—");
    } else if (cJSON_IsString(v)) {
        put_esc(b, v->valuestring);
    } else if (cJSON_IsArray(v)) {
        const cJSON *x;
        bool first = true;
        if (!cJSON_GetArraySize(v))
            puts_(b, "—");
        cJSON_ArrayForEach(x, v)
        {
            if (!first)
                puts_(b, ", ");
            put_value(b, x);
            first = false;
        }
    } else {
        char *t = cJSON_PrintUnformatted(v);
        if (t)
            put_esc(b, t);
        free(t);
    }
}

static void row(buf *b, const char *label, const cJSON *v)
{
    puts_(b, "| ");
    puts_(b, label);
    puts_(b, " | ");
    put_value(b, v);
    puts_(b, " |\n");
}

static const cJSON *get(const cJSON *o, const char *k)
{
    return cJSON_GetObjectItemCaseSensitive(o, k);
}

/* A table of every member of o, in order, labelled by its name. */
static void table(buf *b, const cJSON *o)
{
    puts_(b, "| fact | value |\n|---|---|\n");
    const cJSON *x;
    cJSON_ArrayForEach(x, o)
    {
        if (cJSON_IsObject(x) || (cJSON_IsArray(x) && cJSON_GetArraySize(x) &&
                                  cJSON_IsObject(cJSON_GetArrayItem(x, 0))))
            continue; /* nested lists get their own section */
        row(b, x->string, x);
    }
}

static void list_section(buf *b, const char *title, const cJSON *arr, const char *none)
{
    puts_(b, "\n## ");
    puts_(b, title);
    puts_(b, "\n\n");
    if (!cJSON_GetArraySize(arr)) {
        puts_(b, none);
        puts_(b, "\n");
        return;
    }
    const cJSON *x;
    int i = 0;
    cJSON_ArrayForEach(x, arr)
    {
        char h[48];
        snprintf(h, sizeof h, "%s### %d\n\n", i ? "\n" : "", i + 1);
        i++;
        puts_(b, h);
        table(b, x);
    }
}

char *inc_serious_report_md(const cJSON *rep)
{
    char *text = NULL;
    size_t len = 0;
    buf *b = open_memstream(&text, &len);
    if (!b)
        return NULL;
    const cJSON *inc = get(rep, "incident"), *s = get(rep, "serious");
    const char *kind = cJSON_GetStringValue(get(rep, "kind"));
    puts_(b, "# Serious incident report (EU AI Act Art. 73): ");
    puts_(b, kind && strcmp(kind, "complete") == 0 ? "complete" : "initial");
    puts_(b, " report\n\n");
    /* The article, the label and the time are custos's own words. */
    const char *art = cJSON_GetStringValue(get(s, "article")),
               *label = cJSON_GetStringValue(get(s, "category_label")),
               *due = cJSON_GetStringValue(get(s, "deadline_at"));
    puts_(b, "Incident ");
    put_value(b, get(inc, "incident_id"));
    puts_(b, ". Serious incident (Art. ");
    puts_(b, art ? art : "73");
    puts_(b, ", ");
    puts_(b, label ? label : "?");
    puts_(b, "): report due ");
    puts_(b, due ? due : "?");
    puts_(b, ".\n\n| fact | value |\n|---|---|\n");
    row(b, "format", get(rep, "format"));
    row(b, "kind", get(rep, "kind"));
    row(b, "regulation", get(rep, "regulation"));
    row(b, "generated_at", get(rep, "generated_at"));
    row(b, "generated_by", get(rep, "generated_by"));
    puts_(b, "\n## The incident\n\n");
    table(b, inc);
    puts_(b, "\n## Seriousness and deadline\n\n");
    table(b, s);
    list_section(b, "Reports filed with the authority", get(s, "reports"), "None yet.");
    list_section(b, "Containment actions and their approvals", get(rep, "actions"),
                 "No action recorded.");
    list_section(b, "Evidence frozen", get(rep, "evidence"), "No evidence record.");
    bool failed = ferror(b) != 0;
    if (fclose(b) != 0 || failed) {
        free(text);
        return NULL;
    }
    return text;
}
