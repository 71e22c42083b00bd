/* custos evidence export: one tar of what is known about an incident (or a
 * key over a time range), read from one snapshot and streamed row by row
 * with COPY into the archive (nothing held whole in memory), with a
 * manifest of each file's SHA-256, bytes and rows, signed with the
 * instance's Ed25519 key, optionally an RFC 3161 timestamp token over the
 * manifest (fo_tsa.c), and an audit row for the export itself.
 *
 * COPY takes no parameters: the filter goes in as transaction-local
 * settings (set_config, parameterised) that the fixed statements read with
 * current_setting(); no SQL is built from input. The CSV format with
 * quote and delimiter bytes that JSON text never holds (row_to_json escapes
 * every control character) writes each JSON row as it is, one per line. */
#include "forensics/forensics.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/db.h"
#include "core/log.h"

#define AS_LINES " TO STDOUT (FORMAT csv, QUOTE e'\\x01', DELIMITER e'\\x02')"
#define S_INC "current_setting('custos.fo_incident')"
#define S_KEY "current_setting('custos.fo_key')"
#define S_SINCE "current_setting('custos.fo_since')::timestamptz"
#define S_UNTIL "current_setting('custos.fo_until')::timestamptz"

/* The bundle's incidents, by mode. */
#define INC_ONE "inc AS (SELECT * FROM incidents WHERE incident_id = " S_INC ")"
#define INC_KEY                                                                            \
    "inc AS (SELECT * FROM incidents WHERE api_key_id = " S_KEY " AND first_seen < " S_UNTIL \
    " AND last_seen >= " S_SINCE ")"

/* Events: the incident's evidence links, the key's events over its span,
 * the model version's over its span for drift; or the key's over the range. */
static const char *const k_events_inc =
    "COPY (SELECT row_to_json(e) FROM ("
    "SELECT i.* FROM incident_events ie JOIN interactions i ON i.event_id = ie.event_id "
    "AND i.ts = ie.ts WHERE ie.incident_id = " S_INC " "
    "UNION SELECT i.* FROM incidents n JOIN interactions i ON i.api_key_id = n.api_key_id "
    "AND i.ts >= n.first_seen AND i.ts <= n.last_seen WHERE n.incident_id = " S_INC " "
    "UNION SELECT i.* FROM incidents n JOIN interactions i ON n.type = 'drift' "
    "AND i.model = n.model AND i.model_version = n.model_version AND i.ts >= n.first_seen "
    "AND i.ts <= n.last_seen WHERE n.incident_id = " S_INC
    ") e ORDER BY ts, event_id COLLATE \"C\")" AS_LINES;
static const char *const k_events_key =
    "COPY (SELECT row_to_json(i) FROM interactions i WHERE api_key_id = " S_KEY
    " AND ts >= " S_SINCE " AND ts < " S_UNTIL " ORDER BY ts, event_id COLLATE \"C\")" AS_LINES;

#define ALERTS(INC)                                                                           \
    "COPY (WITH " INC " SELECT row_to_json(a) FROM alerts a WHERE a.incident_id IN (SELECT " \
    "incident_id FROM inc) ORDER BY a.id)" AS_LINES
#define ACTIONS(INC)                                                                           \
    "COPY (WITH " INC " SELECT row_to_json(a) FROM actions a WHERE a.incident_id IN (SELECT " \
    "incident_id FROM inc) ORDER BY a.id)" AS_LINES
/* The audit rows of the incidents and of their actions, and the head row,
 * with every field audit_hash() covers (action_id as the text hashed). */
#define AUDIT(INC)                                                                           \
    "COPY (WITH " INC " SELECT row_to_json(x) FROM (SELECT seq, ts_us::text AS ts_us, actor, " \
    "event, action_id::text AS action_id, incident_id, detail, prev_hash, hash "            \
    "FROM audit_log WHERE incident_id IN (SELECT incident_id FROM inc) OR action_id IN "    \
    "(SELECT id FROM actions WHERE incident_id IN (SELECT incident_id FROM inc)) OR seq = "  \
    "(SELECT seq FROM audit_head WHERE id = 1) ORDER BY seq) x)" AS_LINES
#define ISO_US "'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'"
#define INCIDENTS(INC)                                                                        \
    "WITH " INC " SELECT coalesce(json_agg(row_to_json(inc) ORDER BY detected_at, "          \
    "incident_id), '[]')::text, count(*), to_char(min(first_seen), " ISO_US "), "           \
    "to_char(max(last_seen), " ISO_US ") FROM inc"

typedef struct {
    const char *events, *alerts, *actions, *audit, *incidents;
} mode_sql;

static const mode_sql k_by_incident = {k_events_inc, ALERTS(INC_ONE), ACTIONS(INC_ONE),
                                       AUDIT(INC_ONE), INCIDENTS(INC_ONE)};
static const mode_sql k_by_key = {k_events_key, ALERTS(INC_KEY), ACTIONS(INC_KEY),
                                  AUDIT(INC_KEY), INCIDENTS(INC_KEY)};

/* One file of the manifest. */
static cJSON *file_entry(const char *name, const char *sha, uint64_t bytes, uint64_t rows)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "name", name);
    cJSON_AddNumberToObject(o, "bytes", (double)bytes);
    cJSON_AddNumberToObject(o, "rows", (double)rows);
    cJSON_AddStringToObject(o, "sha256", sha);
    return o;
}

/* Streams one COPY into a new entry; *rows its lines. */
static int copy_entry(PGconn *c, forensics_tar *t, const char *name, const char *sql,
                      int64_t mtime, cJSON *files, uint64_t *rows, char *err, size_t errlen)
{
    char sha[65];
    uint64_t bytes = 0;
    if (forensics_tar_begin(t, name, mtime, err, errlen) < 0)
        return -1;
    PGresult *r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_COPY_OUT) {
        snprintf(err, errlen, "reading %s: %s", name, PQresultErrorMessage(r));
        err[strcspn(err, "\n")] = '\0';
        PQclear(r);
        return -1;
    }
    PQclear(r);
    char *buf;
    int n, rc = 0;
    while ((n = PQgetCopyData(c, &buf, 0)) > 0) {
        if (rc == 0 && forensics_tar_write(t, buf, (size_t)n, err, errlen) < 0)
            rc = -1; /* keep draining the COPY */
        PQfreemem(buf);
    }
    while ((r = PQgetResult(c))) {
        if (PQresultStatus(r) != PGRES_COMMAND_OK && rc == 0) {
            snprintf(err, errlen, "reading %s: %s", name, PQresultErrorMessage(r));
            err[strcspn(err, "\n")] = '\0';
            rc = -1;
        }
        PQclear(r);
    }
    if (n == -2 && rc == 0) {
        core_db_error(c, name, err, errlen);
        rc = -1;
    }
    if (rc < 0 || forensics_tar_end(t, sha, &bytes, rows, err, errlen) < 0)
        return -1;
    cJSON_AddItemToArray(files, file_entry(name, sha, bytes, *rows));
    return 0;
}

static int put_entry(forensics_tar *t, const char *name, const char *data, size_t len,
                     uint64_t rows, int64_t mtime, cJSON *files, char *err, size_t errlen)
{
    char sha[65];
    uint64_t bytes, lines;
    if (forensics_tar_begin(t, name, mtime, err, errlen) < 0 ||
        forensics_tar_write(t, data, len, err, errlen) < 0 ||
        forensics_tar_end(t, sha, &bytes, &lines, err, errlen) < 0)
        return -1;
    if (files)
        cJSON_AddItemToArray(files, file_entry(name, sha, bytes, rows));
    return 0;
}

/* Sets the filter as transaction-local settings and checks it. 0, 1 when
 * refused (err says why), -1. */
static int set_filter(PGconn *c, const core_config *cfg, const forensics_filter *f, char *err,
                      size_t errlen)
{
    char maxd[32];
    snprintf(maxd, sizeof maxd, "%" PRId64, cfg->fo_max_range_days);
    if (f->incident_id) {
        const char *v[] = {f->incident_id};
        PGresult *r = core_db_query(
            c, "SELECT set_config('custos.fo_incident', $1, true), set_config('custos.fo_key', "
               "'', true), EXISTS (SELECT 1 FROM incidents WHERE incident_id = $1)",
            1, v, "setting the filter", err, errlen);
        if (!r)
            return -1;
        bool found = PQgetvalue(r, 0, 2)[0] == 't';
        PQclear(r);
        if (!found) {
            snprintf(err, errlen, "no incident %s", f->incident_id);
            return FORENSICS_NO_INCIDENT;
        }
        return 0;
    }
    const char *v[] = {f->api_key_id, f->since, f->until, maxd};
    /* A bad time is the server's cast error: name the options first. */
    PGresult *r = core_db_query(
        c, "SELECT set_config('custos.fo_key', $1, true), set_config('custos.fo_incident', '', "
           "true), set_config('custos.fo_since', $2::timestamptz::text, true), "
           "set_config('custos.fo_until', $3::timestamptz::text, true), "
           "$2::timestamptz < $3::timestamptz, "
           "$3::timestamptz - $2::timestamptz <= make_interval(days => $4::int)",
        4, v, "--since/--until (RFC 3339, 2026-11-21T13:04:00Z)", err, errlen);
    if (!r)
        return 1;
    int rc = 0;
    if (PQgetvalue(r, 0, 4)[0] != 't') {
        snprintf(err, errlen, "--since must be before --until");
        rc = 1;
    } else if (PQgetvalue(r, 0, 5)[0] != 't') {
        snprintf(err, errlen, "the range is longer than forensics.max_range_days (%s days)",
                 maxd);
        rc = 1;
    }
    PQclear(r);
    return rc;
}

static cJSON *query_json(const forensics_filter *f)
{
    cJSON *q = cJSON_CreateObject();
    if (f->incident_id) {
        cJSON_AddStringToObject(q, "incident_id", f->incident_id);
    } else {
        cJSON_AddStringToObject(q, "api_key_id", f->api_key_id);
        cJSON_AddStringToObject(q, "since", f->since);
        cJSON_AddStringToObject(q, "until", f->until);
    }
    return q;
}

/* The head and the newest checkpoint, from the export's snapshot. */
static int add_audit_state(PGconn *c, cJSON *m, char *err, size_t errlen)
{
    PGresult *r = core_db_query(
        c, "SELECT h.seq, h.hash, k.seq, k.hash, k.ts_us::text, k.key_id, k.signature "
           "FROM audit_head h LEFT JOIN LATERAL (SELECT * FROM audit_checkpoints "
           "ORDER BY seq DESC, id DESC LIMIT 1) k ON true WHERE h.id = 1",
        0, NULL, "reading the audit head", err, errlen);
    if (!r)
        return -1;
    if (PQntuples(r) != 1) {
        PQclear(r);
        snprintf(err, errlen, "the audit head row is missing");
        return -1;
    }
    cJSON *h = cJSON_AddObjectToObject(m, "audit_head");
    cJSON_AddNumberToObject(h, "seq", strtod(PQgetvalue(r, 0, 0), NULL));
    cJSON_AddStringToObject(h, "hash", PQgetvalue(r, 0, 1));
    if (PQgetisnull(r, 0, 2)) {
        cJSON_AddNullToObject(m, "audit_checkpoint");
    } else {
        cJSON *k = cJSON_AddObjectToObject(m, "audit_checkpoint");
        cJSON_AddNumberToObject(k, "seq", strtod(PQgetvalue(r, 0, 2), NULL));
        cJSON_AddStringToObject(k, "hash", PQgetvalue(r, 0, 3));
        cJSON_AddStringToObject(k, "ts_us", PQgetvalue(r, 0, 4));
        cJSON_AddStringToObject(k, "key_id", PQgetvalue(r, 0, 5));
        cJSON_AddStringToObject(k, "signature", PQgetvalue(r, 0, 6));
    }
    PQclear(r);
    return 0;
}

static void iso_now(char out[32])
{
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* The audit row of the export: who, what, how much, which manifest. */
static int audit_export(PGconn *c, const forensics_filter *f, const char *actor,
                        const forensics_export_result *res, char *err, size_t errlen)
{
    cJSON *d = cJSON_CreateObject();
    cJSON_AddItemToObject(d, "filter", query_json(f));
    cJSON *rows = cJSON_AddObjectToObject(d, "rows");
    cJSON_AddNumberToObject(rows, "incidents", (double)res->incidents);
    cJSON_AddNumberToObject(rows, "events", (double)res->events);
    cJSON_AddNumberToObject(rows, "alerts", (double)res->alerts);
    cJSON_AddNumberToObject(rows, "actions", (double)res->actions);
    cJSON_AddNumberToObject(rows, "audit", (double)res->audit);
    cJSON_AddStringToObject(d, "manifest_sha256", res->manifest_sha256);
    cJSON_AddStringToObject(d, "key_id", res->key_id);
    if (res->tsa_time[0]) {
        cJSON *ts = cJSON_AddObjectToObject(d, "timestamp");
        cJSON_AddStringToObject(ts, "time", res->tsa_time);
        cJSON_AddStringToObject(ts, "sha256", res->tsa_sha256);
    } else if (res->tsa_error[0]) {
        cJSON *ts = cJSON_AddObjectToObject(d, "timestamp");
        cJSON_AddStringToObject(ts, "error", res->tsa_error);
    } else {
        cJSON_AddNullToObject(d, "timestamp");
    }
    char *s = cJSON_PrintUnformatted(d);
    cJSON_Delete(d);
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    int rc = audit_append_tx(c, actor, "evidence_exported", 0, f->incident_id, s, err, errlen);
    free(s);
    return rc;
}

/* The RFC 3161 token over the manifest's SHA-256, when forensics.tsa_url
 * is set: -1 when none is had and forensics.tsa_required is on; otherwise
 * 0, with res->tsa_error saying why there is none. */
static int stamp(const core_config *cfg, const char *man, size_t ml, unsigned char **tsr,
                 size_t *tsr_len, forensics_export_result *res, char *err, size_t errlen)
{
    if (!cfg->fo_tsa_url[0])
        return 0;
    unsigned char digest[32];
    unsigned int dl = 0;
    EVP_Digest(man, ml, digest, &dl, EVP_sha256(), NULL);
    char why[sizeof res->tsa_error - 16];
    if (forensics_tsa_stamp(cfg, digest, tsr, tsr_len, res->tsa_time, why, sizeof why) == 0) {
        audit_sha256_hex(*tsr, *tsr_len, res->tsa_sha256);
        return 0;
    }
    if (strcmp(cfg->fo_tsa_required, "on") == 0) {
        snprintf(err, errlen, "no timestamp token (forensics.tsa_required is on): %s", why);
        return -1;
    }
    snprintf(res->tsa_error, sizeof res->tsa_error, "%s", why);
    char q[400];
    core_log(CORE_LOG_WARN, "forensics", "bundle exported without a timestamp token",
             "error=%s", core_log_quote(q, sizeof q, why));
    return 0;
}

/* Writes the entries from the snapshot; the manifest, its signature and
 * (forensics.tsa_url) its timestamp token. */
static int write_bundle(PGconn *c, const core_config *cfg, const audit_key *key,
                        const forensics_filter *f, const char *actor, forensics_tar *t,
                        forensics_export_result *res, char *err, size_t errlen)
{
    const mode_sql *q = f->incident_id ? &k_by_incident : &k_by_key;
    int64_t mtime = (int64_t)time(NULL);
    int rc = -1;
    char *man = NULL;
    unsigned char *tsr = NULL;
    size_t tsr_len = 0;
    cJSON *m = cJSON_CreateObject();
    PGresult *r = NULL;
    if (core_db_exec(c, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", err, errlen) < 0)
        goto done;
    if (core_db_exec(c, "SET LOCAL TimeZone = 'UTC'", err, errlen) < 0)
        goto rollback;
    int fr = set_filter(c, cfg, f, err, errlen);
    if (fr != 0) {
        rc = fr;
        goto rollback;
    }
    char now[32];
    iso_now(now);
    cJSON_AddStringToObject(m, "format", "custos-evidence-v1");
    cJSON_AddStringToObject(m, "custos_version", CUSTOS_VERSION);
    cJSON_AddStringToObject(m, "exported_at", now);
    cJSON_AddStringToObject(m, "exporter", actor);
    cJSON_AddItemToObject(m, "query", query_json(f));
    if (add_audit_state(c, m, err, errlen) < 0)
        goto rollback;
    r = core_db_query(c, q->incidents, 0, NULL, "reading the incidents", err, errlen);
    if (!r)
        goto rollback;
    cJSON *range = cJSON_AddObjectToObject(m, "time_range");
    if (f->incident_id) {
        cJSON_AddStringToObject(range, "since", PQgetvalue(r, 0, 2));
        cJSON_AddStringToObject(range, "until", PQgetvalue(r, 0, 3));
    } else {
        cJSON_AddStringToObject(range, "since", f->since);
        cJSON_AddStringToObject(range, "until", f->until);
    }
    cJSON *files = cJSON_AddArrayToObject(m, "files");
    const char *inc = PQgetvalue(r, 0, 0);
    res->incidents = strtoull(PQgetvalue(r, 0, 1), NULL, 10);
    if (put_entry(t, "incident.json", inc, strlen(inc), res->incidents, mtime, files, err,
                  errlen) < 0)
        goto rollback;
    if (copy_entry(c, t, "events.ndjson", q->events, mtime, files, &res->events, err, errlen) <
            0 ||
        copy_entry(c, t, "alerts.ndjson", q->alerts, mtime, files, &res->alerts, err, errlen) <
            0 ||
        copy_entry(c, t, "actions.ndjson", q->actions, mtime, files, &res->actions, err,
                   errlen) < 0 ||
        copy_entry(c, t, "audit.ndjson", q->audit, mtime, files, &res->audit, err, errlen) < 0)
        goto rollback;
    if (core_db_commit(c, err, errlen) < 0)
        goto done;
    char pkb[64];
    audit_b64(key->pk, sizeof key->pk, pkb, sizeof pkb);
    cJSON *sk = cJSON_AddObjectToObject(m, "signing_key");
    cJSON_AddStringToObject(sk, "id", key->id);
    cJSON_AddStringToObject(sk, "public_key", pkb);
    man = cJSON_Print(m);
    if (!man) {
        snprintf(err, errlen, "out of memory");
        goto done;
    }
    size_t ml = strlen(man);
    audit_sha256_hex(man, ml, res->manifest_sha256);
    snprintf(res->key_id, sizeof res->key_id, "%s", key->id);
    unsigned char sig[64];
    char sigb[100], sigfile[400];
    audit_sign(key, man, ml, sig);
    audit_b64(sig, sizeof sig, sigb, sizeof sigb);
    int sl = snprintf(sigfile, sizeof sigfile,
                      "custos-evidence-signature-v1\nkey_id: %s\nmanifest_sha256: %s\n"
                      "signature: %s\n",
                      key->id, res->manifest_sha256, sigb);
    if (stamp(cfg, man, ml, &tsr, &tsr_len, res, err, errlen) < 0)
        goto done;
    if (put_entry(t, "manifest.json", man, ml, 1, mtime, NULL, err, errlen) < 0 ||
        put_entry(t, "manifest.sig", sigfile, (size_t)sl, 1, mtime, NULL, err, errlen) < 0 ||
        (tsr && put_entry(t, "timestamp.tsr", (const char *)tsr, tsr_len, 1, mtime, NULL, err,
                          errlen) < 0) ||
        forensics_tar_close(t, err, errlen) < 0)
        goto done;
    rc = audit_export(c, f, actor, res, err, errlen);
    goto done;
rollback:
    core_db_rollback(c);
done:
    PQclear(r);
    free(man);
    free(tsr);
    cJSON_Delete(m);
    return rc;
}

int forensics_export(PGconn *c, const core_config *cfg, const audit_key *key,
                     const forensics_filter *f, const char *actor, const char *path,
                     forensics_export_result *res, char *err, size_t errlen)
{
    memset(res, 0, sizeof *res);
    if (!f->incident_id && (!f->api_key_id || !f->since || !f->until)) {
        snprintf(err, errlen, "give --incident ID, or --key K with --since T and --until T");
        return 1;
    }
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
    if (fd < 0) {
        snprintf(err, errlen, "cannot create %s: %s%s", path, strerror(errno),
                 errno == EEXIST ? " (a bundle is never overwritten)" : "");
        return 1;
    }
    forensics_tar t = {.f = fdopen(fd, "w"), .hdr_at = -1};
    if (!t.f) {
        snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
        close(fd);
        unlink(path);
        return -1;
    }
    char *buf = malloc(1 << 20);
    if (buf)
        setvbuf(t.f, buf, _IOFBF, 1 << 20);
    int rc = write_bundle(c, cfg, key, f, actor, &t, res, err, errlen);
    EVP_MD_CTX_free(t.md); /* an entry left open by a failure */
    if (fclose(t.f) != 0 && rc == 0) {
        snprintf(err, errlen, "writing %s: %s", path, strerror(errno));
        rc = -1;
    }
    free(buf);
    if (rc != 0)
        unlink(path);
    return rc;
}
