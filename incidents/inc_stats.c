/* The incident figures of the console's overview: incidents opened per
 * hour by type over the last 24 hours, those not yet resolved by severity,
 * and the time to acknowledge and to resolve (median and p90) over 7 and
 * 30 days, from incident_updates. One fixed query; PostgreSQL builds the
 * JSON. */
#include <stdio.h>

#include "core/db.h"
#include "incidents/incidents.h"

#define TS(col) "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"

/* Acknowledged: the first change a person made (an incident_updates row
 * with an actor that is not a playbook: take, assign, status, disposition).
 * Resolved: the first update to resolved or closed. Both measured from
 * detected_at, over the incidents detected in the window. */
#define TIMES(days)                                                                               \
    "(SELECT json_build_object('incidents', count(*),"                                           \
    " 'acknowledged', count(ack), 'resolved', count(res),"                                       \
    " 'ack_median_s', round(percentile_cont(0.5) WITHIN GROUP (ORDER BY ack)::numeric, 1),"     \
    " 'ack_p90_s', round(percentile_cont(0.9) WITHIN GROUP (ORDER BY ack)::numeric, 1),"        \
    " 'resolve_median_s', round(percentile_cont(0.5) WITHIN GROUP (ORDER BY res)::numeric, 1)," \
    " 'resolve_p90_s', round(percentile_cont(0.9) WITHIN GROUP (ORDER BY res)::numeric, 1))"    \
    " FROM (SELECT"                                                                              \
    "  (SELECT extract(epoch FROM min(u.at) - i.detected_at) FROM incident_updates u"            \
    "   WHERE u.incident_id = i.incident_id AND u.actor IS NOT NULL"                             \
    "   AND u.actor NOT LIKE 'playbook%') AS ack,"                                               \
    "  (SELECT extract(epoch FROM min(u.at) - i.detected_at) FROM incident_updates u"            \
    "   WHERE u.incident_id = i.incident_id AND u.status IN ('resolved', 'closed')) AS res"      \
    "  FROM incidents i WHERE i.detected_at >= now() - interval '" days " days') t)"

static const char k_overview[] =
    "WITH hours AS ("
    " SELECT date_trunc('hour', now()) - g * interval '1 hour' AS h"
    " FROM generate_series(23, 0, -1) g),"
    " opened AS ("
    " SELECT date_trunc('hour', detected_at) AS h, type, count(*) AS n FROM incidents"
    " WHERE detected_at >= date_trunc('hour', now()) - interval '23 hours'"
    " GROUP BY 1, 2)"
    " SELECT json_build_object("
    "'hours', (SELECT json_agg(" TS("h") " ORDER BY h) FROM hours),"
    " 'opened_per_hour', (SELECT coalesce(json_object_agg(type, counts), '{}') FROM ("
    "  SELECT o.type, json_agg(coalesce((SELECT n FROM opened p WHERE p.h = hours.h"
    "   AND p.type = o.type), 0) ORDER BY hours.h) AS counts"
    "  FROM (SELECT DISTINCT type FROM opened) o CROSS JOIN hours GROUP BY o.type) x),"
    " 'open_by_severity', (SELECT coalesce(json_object_agg(severity, n), '{}') FROM ("
    "  SELECT severity, count(*) AS n FROM incidents"
    "  WHERE status NOT IN ('resolved', 'closed') GROUP BY 1) s),"
    " 'times', json_build_object('7d', " TIMES("7") ", '30d', " TIMES("30") "))::text";

cJSON *inc_overview(PGconn *c, char *err, size_t errlen)
{
    PGresult *r = core_db_query(c, k_overview, 0, NULL, "reading the overview", err, errlen);
    if (!r)
        return NULL;
    cJSON *o = cJSON_Parse(PQgetvalue(r, 0, 0));
    PQclear(r);
    if (!o)
        snprintf(err, errlen, "reading the overview: the database's JSON did not parse");
    return o;
}
