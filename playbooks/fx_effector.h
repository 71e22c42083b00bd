/* The effectors' shared inside: the pb_fx context, the row each effector
 * file defines, and the helpers they share. One file per effector
 * (fx_keys.c, fx_registry.c, fx_incident.c, fx_control.c, fx_notify.c,
 * fx_litellm.c), listed once in fx.c's table, as Suricata lists its
 * output-json-*.c loggers in output.c. Private to playbooks/fx*.c. */
#ifndef PB_FX_EFFECTOR_H
#define PB_FX_EFFECTOR_H

#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <libpq-fe.h>
#include <librdkafka/rdkafka.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "core/config.h"
#include "playbooks/fx.h"

struct pb_fx {
    const core_config *cfg;
    rd_kafka_t *rk;            /* the control topic's producer (fx_control.c), or NULL */
    CURL *curl;                /* webhook and LiteLLM requests, or NULL */
    const char *litellm_token; /* cfg's or the environment's; never logged */
    atomic_bool hurry;         /* stopping: no retries */
};

/* Transient failures are retried; permanent ones (a 4xx, a rollback to a
 * version that does not exist) are not. */
typedef enum { FX_OK = 0, FX_TRANSIENT, FX_PERMANENT } fx_rc;

#define FX_KIND(k) (1u << (k))

/* One effector. Several rows may share a name (the registry acts on three
 * tables, one file each) when their kinds do not overlap: the outcome of an
 * action is recorded under the name. */
typedef struct {
    const char *name;   /* under result.effectors, in logs and dry runs */
    unsigned kinds;     /* FX_KIND bits of the action kinds it acts on */
    const char *target; /* the notify target it serves ("webhook"), or NULL */
    bool target_only;   /* acts only on a notify to its target (log) */
    /* NULL when cfg turns it on, else the setting that would (what a
     * skipped outcome says). */
    const char *(*off)(const core_config *cfg);
    /* Carries out a (msg: pb_fx_message(a)); adds what it did to res under
     * its name. */
    fx_rc (*run)(pb_fx *fx, PGconn *db, const pb_action *a, const char *msg, cJSON *res,
                 char *err, size_t errlen);
} fx_effector;

extern const fx_effector fx_keys, fx_registry, fx_incident, fx_control, fx_webhook, fx_litellm,
    fx_log;

/* The registry rows' off: NULL when effectors.registry is on. */
const char *fx_registry_off(const core_config *cfg);

/* The string / number member k of the action's params, or NULL / 0. */
const char *fx_pstr(const cJSON *p, const char *k);
double fx_pnum(const cJSON *p, const char *k);

/* A failed statement r (may be NULL) of what: err says why; a constraint,
 * data or syntax error is permanent, anything else (a lost connection, a
 * serialisation failure) transient, and a broken connection is reset for
 * the next attempt. Clears r. */
fx_rc fx_db_fail(PGconn *db, PGresult *r, const char *what, char *err, size_t errlen);

/* Runs a parameterised statement for the registry: FX_OK, or fx_db_fail's
 * classification. */
fx_rc fx_db_exec(PGconn *db, const char *sql, int n, const char *const *v, const char *what,
                 char *err, size_t errlen);

/* POSTs body to url with hdrs (fx->curl, effectors.webhook_timeout_ms, no
 * redirects, http/https only); *status gets the HTTP status. A 2xx is
 * FX_OK; 408, 429, 5xx and transport errors are transient; other statuses
 * permanent, err quoting the start of the answer. */
fx_rc fx_http_post(pb_fx *fx, const char *what, const char *url, const char *body,
                   struct curl_slist *hdrs, long *status, char *err, size_t errlen);

/* The control topic's producer (fx_control.c): its settings checked by
 * pb_fx_new when effectors.control is on, opened by pb_fx_connect (the
 * daemon, warmed up) or at the first action, closed (flushed) by
 * pb_fx_free. */
int fx_control_open(pb_fx *fx, bool warm, char *err, size_t errlen);
/* Checks the producer's settings without opening it. */
int fx_control_check(const pb_fx *fx, char *err, size_t errlen);
void fx_control_close(pb_fx *fx);

#endif
