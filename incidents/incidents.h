/* incidents/: the incident as the rest of custos sees it — its vocabulary,
 * its record, its tables (incidents, alerts, incident_events,
 * incident_updates, incident_comments), the one status rule, and the read
 * queries the CLI, the console's API and the auditors' exports call.
 * Analytics group alerts and write them here; playbooks match incidents and
 * change their status here; nothing else writes these tables.
 *
 * CONTRACT (issue 9): the names and signatures below are agreed between the
 * modules that use them; incidents/ implements them. Functions that take a
 * PGconn and say "in the caller's transaction" expect BEGIN to have been
 * sent; the others run in a transaction of their own. Strings returned are
 * malloc'd and owned by the caller. */
#ifndef INC_INCIDENTS_H
#define INC_INCIDENTS_H

#include <cjson/cJSON.h>
#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "core/cli.h"

/* ---- vocabulary (the one definition) ---- */

typedef enum {
    INC_EXTRACTION,
    INC_PROBING,
    INC_DRIFT,
    INC_LEAKAGE,
    INC_FLOOD,
    INC_TYPE_COUNT
} inc_type;

typedef enum { INC_LOW, INC_MEDIUM, INC_HIGH, INC_CRITICAL, INC_SEVERITY_COUNT } inc_severity;

/* open and closed are the detector's (a quiet period closes); the others
 * are set by playbooks (custos.set_incident) or analysts. */
typedef enum {
    INC_OPEN,
    INC_CLOSED,
    INC_CONTAINED,
    INC_ESCALATED,
    INC_INVESTIGATING,
    INC_RESOLVED,
    INC_STATUS_COUNT
} inc_status;

typedef enum {
    INC_DISP_NONE, /* not yet decided */
    INC_TRUE_POSITIVE,
    INC_FALSE_POSITIVE,
    INC_BENIGN,
    INC_DUPLICATE,
    INC_DISPOSITION_COUNT
} inc_disposition;

const char *inc_type_name(inc_type t);               /* "?" when out of range */
int inc_type_parse(const char *s);                   /* -1 when unknown */
const char *inc_severity_name(inc_severity s);
int inc_severity_parse(const char *s);               /* case-insensitive */
const char *inc_status_name(inc_status s);
int inc_status_parse(const char *s);
const char *inc_disposition_name(inc_disposition d); /* INC_DISP_NONE: "" */
int inc_disposition_parse(const char *s);

/* The name of a MITRE ATLAS technique id ("AML.T0057": "LLM Data
 * Leakage") or of an OWASP LLM Top 10 2025 id ("LLM02:2025"); NULL when
 * the id is not one custos names. */
const char *inc_atlas_name(const char *id);
const char *inc_owasp_name(const char *id);
/* Adds "atlas_names" and "owasp_names" ({id: name}, the ids that have a
 * name) to an incident object holding "atlas" and "owasp" arrays. */
void inc_add_id_names(cJSON *incident);

/* ---- the record the analytics write ---- */

typedef struct {
    const char *incident_id;
    inc_type type;
    inc_severity severity;
    inc_status status; /* INC_OPEN or INC_CLOSED from the detector */
    const char *api_key_id, *model, *model_version; /* NULL when not of its type */
    const char *tenant; /* the tenant of the interactions that opened it; NULL: unknown */
    int64_t first_seen_us, detected_at_us, last_seen_us; /* event times */
    int64_t alerts;
    const char *atlas_array, *owasp_array; /* PostgreSQL array literals, "{AML.T0024}" */
    const char *summary;
    const char *doc_json; /* the incident's JSON, as `custos analyze` prints it */
} inc_record;

/* Inserts or updates an incident from the detector, in the caller's
 * transaction, applying the status rule (inc_rule_detected): the
 * detector's status wins while nobody else has set one; once a playbook or
 * an analyst moved it (contained, escalated, closed as a false positive...)
 * the status is theirs, while the severity column keeps following the
 * detector's upward (never lower than what is stored), so that the column
 * and doc agree. Returns 0 or -1 with err. */
int inc_upsert_detected(PGconn *c, const inc_record *r, char *err, size_t errlen);
/* The same for n incidents (at most one record per incident) in a few
 * statements (inc_write_many.c): the stored rows read and locked at once, the
 * rule applied to each, one INSERT for the new ones and one UPDATE for the
 * others. The i-th record is at (const char *)rs + i * stride. */
int inc_upsert_detected_many(PGconn *c, const inc_record *rs, size_t n, size_t stride,
                             char *err, size_t errlen);

typedef struct {
    const char *incident_id; /* NULL: an alert that opened no incident */
    inc_type type;
    inc_severity severity;
    int64_t ts_us;
    const char *event_id, *api_key_id, *model, *model_version;
    const char *summary;
    const char *evidence_json;
    int64_t seq; /* the incident's alert number (1 = its first); 0: none (and for an alert alone) */
} inc_alert;

/* In the caller's transaction; a repeated alert is ignored. */
int inc_alert_insert(PGconn *c, const inc_alert *a, char *err, size_t errlen);
/* Links an interactions row (event_id, ts) to an incident as evidence. */
int inc_link_event(PGconn *c, const char *incident_id, const char *event_id, int64_t ts_us,
                   const char *api_key_id, char *err, size_t errlen);
/* n alerts, and the evidence link of each that went to an incident, in the
 * caller's transaction, a few statements in all (inc_write_many.c): what
 * inc_alert_insert and inc_link_event do for one, for a whole flush. The
 * i-th alert is at (const char *)as + i * stride (sizeof (inc_alert) for an
 * array of them; a larger record that begins with one for the caller's own). */
int inc_alerts_insert(PGconn *c, const inc_alert *as, size_t n, size_t stride, char *err,
                      size_t errlen);

/* Many alerts of one incident as ONE row (docs/analytics.md, "Alert
 * storms"): a, the row as one alert (the first alert's event, summary and
 * evidence, the earliest event time, the highest severity, a.seq its first
 * number), and count of them up to the incident's alert number last_seq at
 * the latest event time last_ts_us. No evidence link: the incident's key
 * (or model version, drift) over its span finds the events. */
typedef struct {
    inc_alert a;
    int64_t last_ts_us;
    int64_t count, last_seq;
} inc_alert_group;

/* n coalesced rows (at most one per incident in a call, numbers of an
 * incident in rising order from call to call), in the caller's transaction,
 * stride as for inc_alerts_insert. A row whose numbers are already stored
 * (a flush replayed after a crash) stores only those past them, or nothing. */
int inc_alert_groups_insert(PGconn *c, const inc_alert_group *gs, size_t n, size_t stride,
                            char *err, size_t errlen);

/* ---- changes by playbooks and analysts (the one status rule) ---- */

typedef struct {
    const char *incident_id;
    const char *actor;       /* "playbook:NAME", "alice", "cli:root" */
    int status;              /* -1: unchanged */
    int severity;            /* -1: unchanged */
    int disposition;         /* -1: unchanged; closing needs one */
    const char *assignee;    /* NULL: unchanged; "" clears */
    const char *reason;      /* required to close and to set a disposition */
    int64_t action_id;       /* the playbook action, 0: none */
} inc_change;

/* ---- the status rule (pure: the writers below apply it) ---- */

/* What the rule reads of a stored incident. */
typedef struct {
    int status;            /* inc_status, or -1: a word a playbook chose outside the vocabulary */
    inc_severity severity;
    inc_disposition disposition;
    bool by_detector;      /* the status is the detector's: nobody else has set it */
} inc_state;

/* The detector's side: stored (NULL: a new incident) updated by what the
 * detector says now. While the status is the detector's, its status wins;
 * the severity never goes below the stored one (the detector's only rises
 * within an incident, so this is the detector's own unless someone raised
 * it), so the severity column and the doc agree whoever moved the status. */
void inc_rule_detected(const inc_state *stored, inc_status status, inc_severity severity,
                       inc_state *next);
/* The stored state from columns col .. col + 3 of row of r: status, severity,
 * disposition ('' for none) and whether the status is the detector's ('t');
 * an unknown severity reads as low, an unknown disposition as none. */
void inc_state_from_row(const PGresult *r, int row, int col, inc_state *st);

/* The other side (playbooks, analysts): checks ch against stored and fills
 * next. Refused (-1, err says why): an unknown status, severity or
 * disposition; no actor; closing (closed, resolved) without a disposition
 * (given or stored) or without a reason; a disposition without a reason; a
 * playbook changing the status of an incident a person has decided (it has
 * a disposition). Returns 1 when next differs from stored, 0 when the change
 * changes nothing. */
int inc_rule_change(const inc_state *stored, const inc_change *ch, inc_state *next, char *err,
                    size_t errlen);

/* True for the statuses that end an incident (closed, resolved). */
bool inc_status_is_closing(int status);

/* Applies a change in the caller's transaction: checks the transition
 * (inc_rule_change: closing needs a disposition and a reason), updates the
 * row, records an incident_updates row (actor, note = reason) and appends an
 * incident_changed audit row (audit_append) with the before and after.
 * Returns 1 when applied (a change that changes nothing and has no reason
 * writes nothing), 0 when the incident does not exist, -1 with err (a
 * refused transition names why). The status_by column records who set the
 * status, from then on no longer the detector's. */
int inc_apply_change(PGconn *c, const inc_change *ch, char *err, size_t errlen);

/* Adds a comment (audited), in the caller's transaction. Returns its id or -1. */
int64_t inc_comment_add(PGconn *c, const char *incident_id, const char *actor, const char *text,
                        char *err, size_t errlen);

/* ---- read queries (console, CLI, auditors) ---- */

typedef struct {
    const char *status, *disposition, *type, *severity; /* NULL: any */
    const char *api_key_id, *tenant, *model, *model_version, *assignee, *text;
    int64_t since_us, until_us; /* detected_at range; 0: open-ended */
    const char *cursor;         /* from the last page's next_cursor; NULL: first page */
    int limit;                  /* 1..500 */
} inc_filter;

/* 0 when inc_list and inc_counts_by_status would take f (its values, its
 * limit, its cursor), else -1 with err saying what is wrong: the caller's
 * mistake, told apart from a database failure by this call, not by err's
 * words. */
int inc_filter_check(const inc_filter *f, char *err, size_t errlen);

/* One page, newest first, keyset-paginated (stable under inserts):
 * {"incidents": [...], "next_cursor": "..." | null}. NULL with err on a
 * database error or a bad cursor (err says which). */
cJSON *inc_list(PGconn *c, const inc_filter *f, char *err, size_t errlen);

/* {"open": n, "closed": n, ...} over the same filter (cursor ignored). */
cJSON *inc_counts_by_status(PGconn *c, const inc_filter *f, char *err, size_t errlen);

/* One incident with its alerts, evidence events (prompt and response
 * included only when with_content), actions, updates, comments and one
 * merged timeline sorted by time. NULL with err; *found false when no such
 * incident (err empty). */
cJSON *inc_get(PGconn *c, const char *incident_id, bool with_content, bool *found, char *err,
               size_t errlen);

/* The overview's incident figures: {"hours": [24 ISO hours, oldest
 * first], "opened_per_hour": {type: [24 counts]}, "open_by_severity":
 * {severity: n} (status neither resolved nor closed), "times": {"7d"|"30d":
 * {"incidents","acknowledged","resolved","ack_median_s","ack_p90_s",
 * "resolve_median_s","resolve_p90_s"}}} (seconds from detected_at to the
 * first person's change, and to the first resolved/closed update; null
 * when none). NULL with err. */
cJSON *inc_overview(PGconn *c, char *err, size_t errlen);

/* ---- serious incidents (EU AI Act Art. 73; inc_serious.c, inc_serious_report.c) ----
 * An incident marked serious carries its category and the time the
 * provider became aware of it; the reporting deadline follows from them
 * (73(2) 15 days; 73(3) 2 days; 73(4) 10 days). A report filed (initial or
 * complete) meets the deadline; until then the deadline check notifies
 * once before it and escalates once after it. Every change is audited. */
typedef enum {
    INC_SERIOUS_GENERAL,        /* 73(2): 15 days */
    INC_SERIOUS_WIDESPREAD,     /* 73(3), widespread infringement: 2 days */
    INC_SERIOUS_CRITICAL_INFRA, /* 73(3), critical infrastructure (Art. 3(49)(b)): 2 days */
    INC_SERIOUS_DEATH,          /* 73(4): 10 days */
    INC_SERIOUS_CATEGORY_COUNT
} inc_serious_category;

#define INC_SERIOUS_REFUSED (-2) /* the caller's mistake: err says what */

const char *inc_serious_category_name(inc_serious_category c); /* "?" when out of range */
int inc_serious_category_parse(const char *s);                 /* -1 when unknown */
int inc_serious_deadline_days(inc_serious_category c);
const char *inc_serious_article(inc_serious_category c);       /* "73(3)" */

/* Marks incident_id serious (or changes its category or awareness: a
 * moved deadline may be notified and escalated again) as actor, in a
 * transaction of its own, with an incident_updates row and a
 * serious_incident_marked (or _changed) audit row. Writes the deadline.
 * Returns 1, 0 when no such incident, INC_SERIOUS_REFUSED (an awareness
 * in the future, a bad category or actor) or -1 with err. */
int inc_serious_mark(PGconn *c, const char *incident_id, inc_serious_category cat,
                     int64_t aware_at_us, const char *actor, int64_t *deadline_us, char *err,
                     size_t errlen);

typedef struct {
    const char *incident_id;
    const char *kind;      /* "initial" or "complete" */
    const char *reference; /* the authority's reference: one line, 1..1000 bytes */
    const char *filed_by;  /* who filed it; NULL: actor */
    int64_t filed_at_us;   /* 0: now */
    const char *actor;     /* who records it */
} inc_serious_filing;

/* Records a report filed with the authority (one initial, then one
 * complete; a complete one may come alone), audited
 * (serious_report_filed), in a transaction of its own. Returns the
 * report's id, 0 when the incident is not marked serious,
 * INC_SERIOUS_REFUSED or -1 with err. */
int64_t inc_serious_report_filed(PGconn *c, const inc_serious_filing *f, char *err,
                                 size_t errlen);

/* The serious part of an incident: {"category","article","category_label",
 * "deadline_days","aware_at","deadline_at","due_in_s" (negative: overdue),
 * "state" (report_due, overdue, initial_report_filed,
 * complete_report_filed),"marked_by","marked_at","updated_at",
 * "notified_at","escalated_at","reports":[...]}. NULL with err empty when
 * the incident is not serious; NULL with err on a failure. Caller owns. */
cJSON *inc_serious_get(PGconn *c, const char *incident_id, char *err, size_t errlen);
/* Adds "serious" (the above, or null) to an incident object. 0 or -1. */
int inc_serious_attach(PGconn *c, cJSON *incident, const char *incident_id, char *err,
                       size_t errlen);

/* The deadline check (custos run's forensics service, `custos incidents
 * deadlines`): for serious incidents with no report filed, a notification
 * (serious_deadline_near) once the deadline is notify_before_ms away and an
 * escalation (serious_deadline_passed) once it has passed, each once, each
 * an incident_updates row (the console's feed) and an audit row. Writes
 * how many of each were raised. 0 or -1 with err. */
int inc_serious_check(PGconn *c, int64_t notify_before_ms, int *notified, int *escalated,
                      char *err, size_t errlen);

/* The serious incidents an action that alters a model touches (the
 * preservation gate of 73(6)): incident_id's own when it is serious, and
 * every serious incident not closed or resolved about model. A JSON array
 * of their ids (caller owns; empty: none), or NULL with err. */
cJSON *inc_serious_touching(PGconn *c, const char *incident_id, const char *model, char *err,
                            size_t errlen);

/* The report of kind "initial" or "complete" as JSON (format
 * custos-art73-report-v1: the incident, its serious part, the actions and
 * their approvals, the frozen evidence), exported by actor and audited
 * (serious_report_exported, with the SHA-256 of the JSON). NULL with
 * *found false when the incident is not serious (err empty), or with err.
 * Caller owns. */
cJSON *inc_serious_report(PGconn *c, const char *incident_id, const char *kind,
                          const char *actor, bool *found, char *err, size_t errlen);
/* The same facts as readable Markdown (values escaped: attacker-written
 * text cannot add markup). malloc'd; NULL when out of memory. */
char *inc_serious_report_md(const cJSON *report);

/* ---- the analyst's CLI ---- */

/* custos incidents list | show ID | close ID --disposition D --reason R */
int inc_cmd_incidents(core_cmd_ctx *x, int argc, char **argv);
/* custos incidents serious | report-filed | report | deadlines (inc_serious_cmd.c) */
int inc_serious_cmd(core_cmd_ctx *x, int argc, char **argv);
/* Its lines of the usage text. */
void inc_serious_usage(FILE *out);
/* True for the subcommand words inc_serious_cmd takes. */
bool inc_serious_is_cmd(const char *word);

#endif
