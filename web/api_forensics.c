/* /api/v1/forensics/events and /api/v1/evidence: the forensic queries and
 * signed evidence bundles of forensics/ over HTTP, for auditors and
 * admins (WEB_NEED_FORENSIC). web/ holds no SQL of its own here; each
 * query and export is an audit row, appended by forensics/ before the
 * answer leaves. */
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "forensics/forensics.h"
#include "web/web_internal.h"

#define PAGE_BYTES_MAX (8u << 20) /* an answer's rows at most; the page ends early past it */
#define VALUE_MAX 256

static const char *const k_params[] = {"since",   "until",   "api_key",   "tenant",
                                       "user",    "session", "model",     "version",
                                       "client_ip", "text",  "updated_since", "cursor",
                                       "limit",   "format",  "reveal",    "reason"};
#define N_PARAMS (sizeof k_params / sizeof k_params[0])

typedef struct {
    const char *v[N_PARAMS];
} args;

static const web_args_rules k_rules = {.code = "bad_request",
                                       .unknown = "is not a parameter of this query",
                                       .too_long = "is too long",
                                       .maxlen = VALUE_MAX,
                                       .long_name = "cursor",
                                       .long_maxlen = 600,
                                       .empty_ok = true,
                                       .whole_key = true};

static const char *arg(const args *a, const char *name)
{
    return web_arg(k_params, N_PARAMS, a->v, name);
}

/* The answer's body, grown up to a cap. */
typedef struct {
    char *p;
    size_t n, cap;
    bool oom;
} body;

static int to_body(void *ud, const void *p, size_t n)
{
    body *b = ud;
    if (!p)
        return b->n + n > PAGE_BYTES_MAX && b->n > 0 ? -1 : 0;
    if (b->n + n + 1 > b->cap) {
        size_t nc = b->cap ? b->cap : 65536;
        while (nc < b->n + n + 1)
            nc *= 2;
        char *np = realloc(b->p, nc);
        if (!np) {
            b->oom = true;
            return -1;
        }
        b->p = np;
        b->cap = nc;
    }
    memcpy(b->p + b->n, p, n);
    b->n += n;
    return 0;
}

web_result web_h_forensics_events(web_req *r)
{
    args a;
    if (web_args_with(r, &k_rules, k_params, N_PARAMS, a.v) < 0)
        return WEB_CLIENT_ERROR;
    forensics_query q = {
        .since = arg(&a, "since"), .until = arg(&a, "until"), .api_key_id = arg(&a, "api_key"),
        .tenant = arg(&a, "tenant"), .user_id = arg(&a, "user"),
        .session_id = arg(&a, "session"), .model = arg(&a, "model"),
        .model_version = arg(&a, "version"), .client_ip = arg(&a, "client_ip"),
        .text = arg(&a, "text"), .updated_since = arg(&a, "updated_since"),
        .cursor = arg(&a, "cursor"), .reason = arg(&a, "reason"), .address = r->addr};
    const char *fmt = arg(&a, "format"), *lim = arg(&a, "limit"), *rev = arg(&a, "reveal");
    q.format = fmt ? forensics_format_parse(fmt) : FORENSICS_JSON;
    if (q.format < 0)
        return web_reply_error(r, 400, "bad_request", "format is json, ndjson or csv");
    q.limit = 100;
    if (lim) {
        q.limit = web_parse_id(lim);
        if (q.limit < 1 || q.limit > r->cfg->fo_page_max)
            return web_reply_error(r, 400, "bad_request", "limit must be 1 to %lld",
                                   (long long)r->cfg->fo_page_max);
    }
    if (rev && strcmp(rev, "1") != 0 && strcmp(rev, "true") != 0)
        return web_reply_error(r, 400, "bad_request", "reveal is 1 or absent");
    q.reveal = rev != NULL;
    if (q.reveal && !web_role_allows(r->auth.role, WEB_NEED_REVEAL))
        return web_reply_error(r, 403, "forbidden", "this role may not reveal content");
    body b = {0};
    forensics_query_result res;
    char err[512];
    int rc = forensics_query_run(r->db, r->cfg, &q, r->auth.actor, to_body, &b, &res, err,
                                 sizeof err);
    if (rc != 0 || b.oom) {
        free(b.p);
        if (rc == 1)
            return web_reply_error(r, 400, "bad_request", "%s", err);
        return web_fail(r, "%s", b.oom ? "out of memory" : err);
    }
    r->audited = true;
    free(r->body);
    r->body = b.p ? b.p : strdup("");
    r->body_len = b.n;
    r->status = 200;
    r->ctype = q.format == FORENSICS_JSON     ? "application/json; charset=utf-8"
               : q.format == FORENSICS_NDJSON ? "application/x-ndjson; charset=utf-8"
                                              : "text/csv; charset=utf-8";
    if (q.format != FORENSICS_JSON && res.next_cursor[0])
        web_reply_header(r, "X-Next-Cursor", res.next_cursor);
    web_reply_header(r, "X-Content-SHA256", res.sha256);
    return WEB_DONE;
}

/* A bundle is written to a file of its own (it must be seekable), opened
 * for reading, unlinked, and sent from that descriptor. */
web_result web_h_evidence_export(web_req *r)
{
    forensics_filter f = {0};
    if (web_json_string(r, "incident_id", 128, false, &f.incident_id) < 0 ||
        web_json_string(r, "api_key_id", 256, false, &f.api_key_id) < 0 ||
        web_json_string(r, "since", 64, false, &f.since) < 0 ||
        web_json_string(r, "until", 64, false, &f.until) < 0)
        return WEB_CLIENT_ERROR;
    bool by_key = f.api_key_id || f.since || f.until;
    if (f.incident_id ? by_key : !(f.api_key_id && f.since && f.until))
        return web_reply_error(r, 400, "bad_request",
                               "give incident_id, or api_key_id with since and until");
    audit_key key;
    char err[1024];
    if (audit_key_load(r->cfg->audit_signing_key, &key, err, sizeof err) < 0)
        return web_reply_error(r, 503, "no_signing_key",
                               "this server cannot sign bundles (audit.signing_key)");
    const char *tmp = getenv("TMPDIR");
    char path[512];
    snprintf(path, sizeof path, "%s/custos-evidence-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    int fd = mkstemp(path);
    if (fd < 0) {
        audit_key_wipe(&key);
        return web_fail(r, "cannot make a temporary file for the bundle");
    }
    close(fd);
    unlink(path); /* forensics_export creates it anew, exclusively */
    forensics_export_result res;
    int rc = forensics_export(r->db, r->cfg, &key, &f, r->auth.actor, path, &res, err,
                              sizeof err);
    audit_key_wipe(&key);
    if (rc == FORENSICS_NO_INCIDENT)
        return web_reply_error(r, 404, "not_found", "%s", err);
    if (rc == 1)
        return web_reply_error(r, 400, "bad_request", "%s", err);
    if (rc < 0)
        return web_fail(r, "%s", err);
    r->audited = true;
    fd = open(path, O_RDONLY | O_CLOEXEC);
    unlink(path);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0) {
        if (fd >= 0)
            close(fd);
        return web_fail(r, "cannot read the bundle back");
    }
    /* The file is the answer: MHD reads it as it sends, and closes it. */
    r->resp = MHD_create_response_from_fd64((uint64_t)st.st_size, fd);
    if (!r->resp) {
        close(fd);
        return web_fail(r, "cannot answer with the bundle");
    }
    free(r->body);
    r->body = NULL;
    r->status = 200;
    r->ctype = "application/x-tar";
    char disp[200];
    snprintf(disp, sizeof disp, "attachment; filename=\"evidence-%.16s.tar\"",
             res.manifest_sha256);
    web_reply_header(r, "Content-Disposition", disp);
    web_reply_header(r, "X-Manifest-SHA256", res.manifest_sha256);
    /* forensics.tsa_url: the token's time, or why the bundle has none. */
    if (res.tsa_time[0])
        web_reply_header(r, "X-Timestamp", res.tsa_time);
    else if (res.tsa_error[0])
        web_reply_header(r, "X-Timestamp-Error", res.tsa_error);
    return WEB_DONE;
}
