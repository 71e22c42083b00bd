/* The playbooks module's own interfaces: incidents as playbooks see them,
 * loaded playbooks, the host functions behind the Lua API, and one run.
 * Other modules use playbooks/playbooks.h only. */
#ifndef PB_PB_H
#define PB_PB_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "incidents/incidents.h"
#include "playbooks/sandbox.h"

/* ---- incidents ---- */

/* Types, severities and statuses are the incidents module's vocabulary
 * (inc_type_*, inc_severity_*, inc_status_*); delivery events are the
 * playbooks' own. Both match as bits. */
enum { PB_EV_OPENED, PB_EV_UPDATED, PB_EV_ACTION_FAILED, PB_EV_COUNT };
extern const char *const pb_events[PB_EV_COUNT];
int pb_event_parse(const char *s);

typedef struct {
    cJSON *json;            /* owned: the incident as analytics sent it */
    const char *id, *type, *severity, *api_key_id, *model, *model_version; /* into json */
    const char *first_seen, *detected_at;                                   /* may be NULL */
    int type_i, sev;        /* inc_type, inc_severity */
    int event;              /* PB_EV_* of this delivery */
    int64_t deliveries;     /* times this incident reached the playbooks, this one included */
    int64_t prior_actions;  /* actions recorded for it before this delivery */
    cJSON *failed_action;   /* owned, for PB_EV_ACTION_FAILED; else NULL */
    cJSON *view;            /* owned cache: what `incident` shows in Lua (pb_incident_view) */
} pb_incident;

/* Parses and validates one incident (the shape `custos analyze` prints).
 * Returns 0, or -1 with err naming the bad field. inc is owned by the
 * caller either way: pb_incident_free(). */
int pb_incident_parse(pb_incident *inc, const char *json, size_t len, char *err, size_t errlen);
void pb_incident_free(pb_incident *inc);

/* Builds (once, cached in inc) the table that Lua sees as `incident`:
 * every field of the JSON plus id, event, subject and counts. Borrowed. */
const cJSON *pb_incident_view(pb_incident *inc);

/* ---- playbooks ---- */

typedef struct {
    char *name;          /* declared name, or the file's base name */
    char *path;          /* the file, as messages name it */
    char *chunk;         /* "@" path: Lua's chunk name */
    char *src;           /* the source text, owned */
    size_t len;
    char sha256[65];
    unsigned types;      /* bit per inc_type */
    unsigned events;     /* bit per PB_EV_* */
    int min_sev;
    bool has_when;
    bool approval;       /* approval = "required": every containment action waits */
    bool dry_run;        /* dry_run = true */
    char *description;
} pb_playbook;

/* Compiles src and runs its top level in a fresh sandbox under lim, then
 * checks the declaration it returns. Returns 0, or -1 with err carrying
 * "path:line:" where Lua knows it. pb is owned by the caller either way:
 * pb_playbook_free(). */
int pb_playbook_load_src(pb_playbook *pb, const char *path, const char *src, size_t len,
                         const pb_sb_limits *lim, char *err, size_t errlen);
/* Reads the file (capped at 1 MiB) and loads it as above. */
int pb_playbook_load_file(pb_playbook *pb, const char *path, const pb_sb_limits *lim, char *err,
                          size_t errlen);
void pb_playbook_free(pb_playbook *pb);

/* The declarative part of matching: type, severity, event. */
bool pb_playbook_wants(const pb_playbook *pb, const pb_incident *inc);

/* ---- the host behind the Lua API ---- */

typedef enum {
    PB_K_REVOKE_KEY, PB_K_RESTORE_KEY, PB_K_THROTTLE_KEY, PB_K_UNTHROTTLE_KEY,
    PB_K_ROLLBACK_MODEL, PB_K_NOTIFY, PB_K_SET_INCIDENT, PB_K_COUNT
} pb_kind;
extern const char *const pb_kinds[PB_K_COUNT];
int pb_kind_parse(const char *s);
/* Containment kinds change the world and can be gated by approval. */
bool pb_kind_contains(pb_kind k);

typedef struct {
    const pb_playbook *playbook;
    const pb_incident *inc;
    pb_kind kind;
    const char *subject;  /* key id, model, notify target, or incident id */
    cJSON *params;        /* built in a fixed key order; borrowed by the host */
    int64_t ttl_s;        /* 0: none */
    bool approval;        /* the call or the playbook asks for approval */
} pb_call;

typedef struct {
    void *ud;
    /* Records the action (or finds the same one already recorded) and
     * writes its id and state. Returns 0, or -1 with err (raised in Lua). */
    int (*action)(void *ud, const pb_call *call, int64_t *id, char *state, size_t statelen,
                  char *err, size_t errlen);
    /* The registry's row for a key or a model as JSON, or NULL when unknown
     * or unavailable. The caller owns the result: cJSON_Delete(). */
    cJSON *(*key_info)(void *ud, const char *key_id);
    cJSON *(*model_info)(void *ud, const char *model);
} pb_host;

/* Opens the `custos` table in the sandbox. host and the ctx pointers are
 * borrowed for the life of the state. */
void pb_api_open(pb_sb *sb, const pb_host *host, const pb_playbook *pb, const pb_incident *inc,
                 int max_actions);

/* For the runtime (pb_runtime.c): marks the run's `when` as running (no
 * action may be taken in it), and at the end of a run frees the JSON a
 * raise left half-built and returns the action calls made. Both do nothing
 * (0) when the API was not opened in L. */
void pb_api_set_in_when(lua_State *L, bool in_when);
int pb_api_finish(lua_State *L);

/* Start-up: a state set up exactly as a playbook's (libraries, removals,
 * the `custos` table) holds nothing the allow-list does not name
 * (pb_sb_check_allowed). Returns 0, or -1 with err naming the stranger. */
int pb_api_check_sandbox(const pb_sb_limits *lim, char *err, size_t errlen);

/* Pushes json as a read-only Lua value (tables are proxies that refuse
 * writes), depth-limited. */
void pb_api_push_ro(lua_State *L, const cJSON *json, int depth);

/* ---- one run ---- */

typedef struct {
    pb_sb_status status;
    bool matched;        /* the playbook's `when` accepted the incident */
    int actions;         /* action calls made */
    size_t peak_bytes;
    uint64_t instructions;
    int64_t us;
    char err[512];       /* "file:line: message" when status != OK */
} pb_run_result;

/* Runs pb against inc in a fresh sandbox (pb_runtime.c): the chunk, `when`
 * if declared, then `run`. Never raises; the outcome is in res. */
void pb_run(const pb_playbook *pb, pb_incident *inc, const pb_host *host, const pb_sb_limits *lim,
            int max_actions, pb_run_result *res);

/* Process-wide counters (pb_metrics.c), lock-free. */
typedef enum {
    PB_M_INCIDENTS, PB_M_ACTIONS, PB_M_DONE, PB_M_FAILED, PB_M_ESCALATIONS, PB_M_EXPIRED,
    PB_M_REVERTED, PB_M_DROPPED, PB_M_ABANDONED, PB_M_SKIPPED, PB_M_ESCALATION_FAILED,
    PB_M_COUNT
} pb_metric;
void pb_metric_add(pb_metric m, uint64_t n);
void pb_metric_run(pb_sb_status st);

#endif
