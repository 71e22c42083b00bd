/* The analytics: detectors over the event stream (extraction, probing,
 * drift, leakage, flood), grouped into incidents, live inside `custos run`
 * and offline in `custos analyze`. Detection runs on event time, so the same
 * events give the same incidents either way (docs/analytics.md). */
#ifndef AN_ANALYTICS_H
#define AN_ANALYTICS_H

#include <stddef.h>
#include <stdio.h>

#include "core/sink.h"
#include "core/config.h"

typedef struct an_live an_live;

/* Starts the live analytics: one analytics thread, its own PostgreSQL
 * connection (cfg->pg_dsn) for alerts, incidents and their evidence links,
 * and a Kafka producer for the incidents topic (cfg->an_incidents_topic on
 * cfg->kafka_brokers). cfg is copied where needed and may be freed after the
 * call. Returns NULL with a message in err on failure. The caller owns the
 * result: an_live_stop(). */
an_live *an_live_start(const core_config *cfg, char *err, size_t errlen);

/* The sink the collector hands committed events to. deliver() takes
 * ownership of the events and the array; it blocks while the bounded queue is
 * full (back-pressure, counted in the log at stop). */
core_event_sink an_live_sink(an_live *al);

/* Sets where every incident opened or updated goes (JSON, the shape `custos
 * analyze` prints), called from the analytics thread. Call before events
 * flow. */
void an_live_on_incident(an_live *al, core_incident_sink sink);

/* Drains the queue, runs the detectors over what the reorder window still
 * holds, writes and publishes the last incident updates, joins the thread and
 * frees al (NULL is a no-op). */
void an_live_stop(an_live *al);

/* config check: the signature rules compile as custos run and analyze
 * would compile them (analytics.rules_dir, rules_db, rules_cache_dir); out
 * gets one line of what was compiled. 0, or -1 with err. */
int an_config_check(const core_config *cfg, FILE *out, char *err, size_t errlen);

/* custos analyze [--config FILE] FILE... ('-' = stdin) */
int an_cmd_analyze(int argc, char **argv);

/* ---- the series that explain a detection (an_series.c; GET /api/v1/series) ---- */

#include <cjson/cJSON.h>
#include <libpq-fe.h>
#include <stdint.h>

#define AN_SERIES_MAX_POINTS 1440

typedef struct {
    const char *api_key_id;            /* one key, or */
    const char *model, *model_version; /* one model version */
    int64_t since_us, until_us;        /* [since, until) */
    int step_s;                        /* bucket width, seconds */
} an_series_query;

/* {"step", "points": [{"t","requests","tokens","refusals","novelty"|null}],
 * "baseline": {"requests_per_min"|null, "tokens_per_min"|null,
 * "source": {"alert_id","type","at"}|null}}: one point per step from since
 * (empty steps are zeros), at most AN_SERIES_MAX_POINTS. novelty is the
 * extraction detector's, from its alerts' evidence (null where none fired);
 * the baseline is the latest alert's before until that holds one. NULL with
 * err: "series: ..." for a bad query, "reading ...: ..." from the database. */
cJSON *an_series(PGconn *c, const an_series_query *q, char *err, size_t errlen);

#endif
