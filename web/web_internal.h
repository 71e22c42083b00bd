/* web/ internals shared by its files (the server, the router, the identity
 * store, the handlers) and its unit tests; not for other modules. */
#ifndef WEB_INTERNAL_H
#define WEB_INTERNAL_H

#include <cjson/cJSON.h>
#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/config.h"
#include "core/db.h"

/* ---- roles and what each may do (the one table) ---- */

typedef enum {
    WEB_ROLE_VIEWER,
    WEB_ROLE_ANALYST,
    WEB_ROLE_RESPONDER,
    WEB_ROLE_AUDITOR,
    WEB_ROLE_ADMIN,
    WEB_ROLE_COUNT
} web_role;

/* What a route needs. The auditor reads everything and changes nothing,
 * so the needs are not an ordering of roles: web_role_allows is a table. */
typedef enum {
    WEB_NEED_NONE,     /* public: health, sign-in (and /metrics with its own token) */
    WEB_NEED_SIGNED_IN, /* any role: one's own session(s) */
    WEB_NEED_READ,     /* queue, incidents, actions: every role */
    WEB_NEED_TRIAGE,   /* assign, comment, status: analyst, responder, admin */
    WEB_NEED_RESPOND,  /* approve/reject actions, containment: responder, admin */
    WEB_NEED_FORENSIC, /* forensic queries and exports: auditor, admin */
    WEB_NEED_REVEAL,   /* prompt/response content, with a reason: all but viewer */
    WEB_NEED_ADMIN,    /* users and tokens: admin */
    WEB_NEED_COUNT
} web_need;

const char *web_role_name(web_role r); /* "?" out of range */
int web_role_parse(const char *s);     /* -1 when unknown */
bool web_role_allows(web_role r, web_need n);
const char *web_need_name(web_need n);

/* ---- the router ---- */

#define WEB_MAX_PARAMS 3
#define WEB_PARAM_MAX 64

typedef struct web_req web_req;

typedef enum {
    WEB_DONE,         /* answered (any status) */
    WEB_CLIENT_ERROR, /* a 4xx already answered */
    WEB_FAIL,         /* internal failure: req->err says why (no secrets); 500 */
} web_result;

typedef web_result (*web_handler)(web_req *r);

enum {
    WEB_F_CSRF = 1,    /* state-changing: X-CSRF-Token and Origin under a session cookie */
    WEB_F_AUDITED = 2, /* a success must have appended an audit row (r->audited) */
    WEB_F_BODY = 4,    /* takes a JSON object body */
    WEB_F_DB = 8,      /* the handler gets r->db from the pool */
    WEB_F_BODY_OPTIONAL = 16, /* with WEB_F_BODY: an empty body is fine (r->json NULL) */
};

typedef struct {
    const char *method;  /* "GET", "POST", "DELETE" */
    const char *pattern; /* "/api/v1/sessions/{id}": {x} is one segment */
    web_handler handler;
    web_need need;
    unsigned flags;
} web_route;

typedef struct {
    int n;
    char v[WEB_MAX_PARAMS][WEB_PARAM_MAX + 1];
} web_params;

/* Finds the route for method and path. Returns its index, -404 when no
 * pattern matches the path, -405 when some do but not for this method
 * (allow then lists their methods, "GET, HEAD, POST"), or -400 when a
 * parameter segment is too long or holds characters outside
 * [A-Za-z0-9._:@-]. HEAD matches GET routes. */
int web_route_match(const web_route *routes, size_t n, const char *method, const char *path,
                    web_params *params, char *allow, size_t allowlen);

/* The route table (web_routes.c); at most WEB_MAX_ROUTES (checked when it
 * compiles): the request metrics keep one row per route. */
#define WEB_MAX_ROUTES 128
extern const web_route web_routes[];
extern const size_t web_routes_count;

/* ---- header parsing ---- */

/* Copies the value of cookie name from a Cookie header into out (at most
 * outlen-1 bytes). Returns 1 when found, 0 when absent, -1 when it is
 * longer than out or appears twice (ambiguous: refused). */
int web_cookie_get(const char *header, const char *name, char *out, size_t outlen);

/* Parses "Bearer TOKEN" (scheme case-insensitive, token of base64url and
 * '._~+/=-' characters) into out. Returns 1, 0 when header is NULL or not
 * Bearer, -1 when malformed or too long. */
int web_bearer_get(const char *header, char *out, size_t outlen);

/* Whether origin (the Origin header) is the expected one: want when set
 * (web.origin), else scheme://host from the request's Host header.
 * Compared exactly (case-insensitive for scheme and host). */
bool web_origin_ok(const char *origin, const char *want, bool tls, const char *host);

/* Parses a request body (len bytes, buf[len] == '\0') as one JSON object
 * with nothing after it but whitespace. Returns the object (the caller
 * cJSON_Delete()s it), or NULL with *why set and *at the byte offset where
 * parsing stopped. */
cJSON *web_body_parse(const char *buf, size_t len, const char **why, size_t *at);

/* A path id: a positive decimal of at most 18 digits, no leading zero;
 * -1 otherwise. */
int64_t web_parse_id(const char *s);

/* RFC 3339 in UTC ("2026-12-01T12:00:00Z", an optional fraction of up to
 * 6 digits) as microseconds since the epoch; -1 when it is not one. */
int64_t web_parse_time_us(const char *s);

/* ---- tokens and passwords ---- */

#define WEB_TOKEN_CHARS 43 /* 32 random bytes, base64url without padding */

/* 32 random bytes as base64url (out has room for 44 bytes). */
void web_random_token(char out[WEB_TOKEN_CHARS + 1]);
/* SHA-256 of s. */
void web_sha256(const char *s, size_t len, unsigned char out[32]);

/* Password policy (ASVS 2.1.1, 2.1.2): 12 to 128 characters, any of them.
 * NULL when acceptable, else why. */
const char *web_password_problem(const char *pw);
/* Argon2id (crypto_pwhash_str, 64 MiB, 2 passes). 0 or -1 (out of memory). */
int web_password_hash(const char *pw, char out[128]);
/* Verifies pw against hash; also burns the same time against a dummy
 * hash when hash is NULL (unknown user), so that the two cannot be told
 * apart. */
bool web_password_verify(const char *hash, const char *pw);

/* ---- sign-in throttling (per account and per address, in memory) ---- */

typedef struct web_throttle web_throttle;
web_throttle *web_throttle_new(int account_free, int ip_free);
void web_throttle_free(web_throttle *t);
/* Milliseconds to wait before the next attempt of (account, address) may
 * be checked; 0 when it may be now. */
int64_t web_throttle_wait_ms(web_throttle *t, const char *account, const char *addr,
                             int64_t now_ms);
/* Counts a failure of (account, address); returns the wait it sets before
 * the next attempt (the longer of the two), in milliseconds. */
int64_t web_throttle_failure(web_throttle *t, const char *account, const char *addr,
                             int64_t now_ms);
void web_throttle_success(web_throttle *t, const char *account, int64_t now_ms);
/* The delay after f failures past the free ones: 1 s doubling, at most 15 min. */
int64_t web_throttle_delay_ms(int excess);

/* ---- the identity store (web_users, web_sessions, web_api_tokens) ---- */

typedef enum { WEB_AUTH_NONE, WEB_AUTH_SESSION, WEB_AUTH_TOKEN } web_auth_kind;

typedef struct {
    web_auth_kind kind;
    web_role role;
    int64_t user_id;    /* session */
    int64_t session_id; /* session */
    int64_t token_id;   /* token */
    char name[72];      /* the user name, or the token's name */
    char actor[80];     /* for the audit chain: "alice", "token:soar" */
    char csrf[WEB_TOKEN_CHARS + 1];
} web_auth;

/* Looks a session cookie value up: alive (not ended, idle and absolute
 * timeouts not passed, user not disabled). Touches last_seen_at. Returns 1
 * with *a filled, 0 when no such live session, -1 with err. */
int web_session_lookup(PGconn *c, const char *cookie, int64_t idle_ms, web_auth *a, char *err,
                       size_t errlen);
/* Looks an API token up (not revoked); touches last_used_at (at most once
 * a minute). 1, 0 or -1 as above. */
int web_token_lookup(PGconn *c, const char *token, web_auth *a, char *err, size_t errlen);

/* A user's row for sign-in. 1 found (hash, role, disabled filled), 0
 * unknown, -1 err. */
int web_user_find(PGconn *c, const char *username, int64_t *user_id, web_role *role,
                  bool *disabled, char hash[128], char *err, size_t errlen);

/* Creates a session for user_id in the caller's transaction: writes the
 * new cookie value and CSRF token. Returns the session id or -1. */
int64_t web_session_create(PGconn *c, int64_t user_id, int64_t absolute_ms, const char *addr,
                           const char *user_agent, char token[WEB_TOKEN_CHARS + 1],
                           char csrf[WEB_TOKEN_CHARS + 1], char *err, size_t errlen);
/* Ends session_id of user_id (reason "signout", "ended", ...) in the
 * caller's transaction. 1 ended, 0 none such (or already ended), -1 err. */
int web_session_end(PGconn *c, int64_t user_id, int64_t session_id, const char *reason,
                    char *err, size_t errlen);

/* The live sessions of user_id, newest first: [{"id","created_at",
 * "last_seen_at","expires_at","address","user_agent","current"}]. */
cJSON *web_session_list(PGconn *c, int64_t user_id, int64_t idle_ms, int64_t current_id,
                        char *err, size_t errlen);

/* Users (the CLI and the admin API), each change audited with actor in one
 * transaction. Return 0, 1 when the user or token does not exist (or, for
 * add, already exists: err says which), -1 with err. */
int web_user_add(PGconn *c, const char *actor, const char *name, web_role role,
                 const char *password, char *err, size_t errlen);
int web_user_set_disabled(PGconn *c, const char *actor, const char *name, bool disabled,
                          char *err, size_t errlen);
int web_user_set_role(PGconn *c, const char *actor, const char *name, web_role role, char *err,
                      size_t errlen);
int web_user_set_password(PGconn *c, const char *actor, const char *name, const char *password,
                          char *err, size_t errlen);
/* Creates a token; writes its secret (shown once) into secret. */
int web_token_create(PGconn *c, const char *actor, const char *name, web_role role,
                     char secret[WEB_TOKEN_CHARS + 8], int64_t *token_id, char *err,
                     size_t errlen);
/* Revokes the live token called name_or_id (a name, or "#ID"). */
int web_token_revoke(PGconn *c, const char *actor, const char *name_or_id, char *err,
                     size_t errlen);
/* [{"name","role","disabled","created_at","active_sessions"}], caller owns. */
cJSON *web_user_list(PGconn *c, char *err, size_t errlen);
/* [{"id","name","role","created_at","created_by","last_used_at","revoked_at"}] */
cJSON *web_token_list(PGconn *c, char *err, size_t errlen);

/* ---- one request, as the handlers see it ---- */

typedef struct web_server web_server;

struct web_req {
    web_server *srv;
    const core_config *cfg;
    struct MHD_Connection *conn;
    const web_route *route;
    const char *method;
    web_params params;
    cJSON *json;  /* WEB_F_BODY: the body, an object */
    PGconn *db;   /* WEB_F_DB */
    web_auth auth;
    char addr[64]; /* the client's address */
    bool tls;
    bool audited;   /* set by whoever appended the audit row of a change */
    bool unchanged; /* an audited route that found nothing to change */
    char err[512];
    /* the answer */
    int status;
    char *body;
    size_t body_len;
    const char *ctype;
    int nhdr;
    struct {
        const char *name;
        char value[320];
    } hdr[4];
    struct MHD_Response *resp; /* a handler's own response (the stream's), sent instead of body */
};

/* Answers with a JSON value (consumed) and status. WEB_DONE, or WEB_FAIL
 * when it cannot be printed. */
web_result web_reply_json(web_req *r, int status, cJSON *v);
/* Answers {"error":{"code","message"}} with status (4xx/5xx). Returns
 * WEB_CLIENT_ERROR. */
web_result web_reply_error(web_req *r, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Answers status with no body (204). */
web_result web_reply_empty(web_req *r, int status);
/* Adds a response header (at most 4; value truncated at 319 bytes). */
void web_reply_header(web_req *r, const char *name, const char *value);
/* A request header (NULL when absent); a query-string argument. */
const char *web_req_header(web_req *r, const char *name);
const char *web_req_arg(web_req *r, const char *name);
/* Fails with WEB_FAIL after printf-ing into r->err. */
web_result web_fail(web_req *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The server's shared parts the handlers use. */
web_throttle *web_server_throttle(web_server *s);
core_db_pool *web_server_pool(web_server *s);
typedef struct pb_actions pb_actions;
pb_actions *web_server_actions(web_server *s);
const char *web_server_cookie_name(const web_server *s);
/* Under TLS, or behind a TLS proxy (web.origin is https://): Secure, __Host-. */
bool web_server_cookie_secure(const web_server *s);

/* A JSON string member of r->json: 1 found (*out borrowed), 0 absent
 * (answered 400 when required), -1 answered 400 (not a string, too long). */
int web_json_string(web_req *r, const char *name, size_t maxlen, bool required,
                    const char **out);

/* ---- lists and bodies of the containment, keys and models routes (web_query.c) ---- */

/* The query-string arguments of a list: each of names (n of them) at most
 * once, 1 to 256 bytes, no other. 0 with out[i] set (borrowed for the
 * request, NULL when absent), or -1 answered 400 bad_filter. */
int web_query_args(web_req *r, const char *const *names, size_t n, const char **out);
/* limit=: def when s is NULL, else 1..max; -1 answered 400. */
int web_query_limit(web_req *r, const char *s, int def, int max);
/* Only the members in allowed (NULL-terminated) are in r->json; false
 * answered 400. */
bool web_json_only(web_req *r, const char *const *allowed);
/* A number member of r->json from min to max (whole when integer): 1
 * found, 0 absent, -1 answered 400. */
int web_json_number(web_req *r, const char *name, double min, double max, bool integer,
                    double *out);

/* A person's containment request (api_actions.c): the body's reason
 * (required) and incident_id (optional) into rq, then pb_action_request as
 * the signed-in actor; answers 201 with the action in its final state. */
struct pb_request;
web_result web_contain(web_req *r, struct pb_request *rq);
/* The newest 50 incidents of a key, or of a model version, as
 * "incidents" of o, and "incidents_more" (api_keys.c). 0, or -1 with
 * r->err. */
int web_add_incidents(web_req *r, cJSON *o, const char *api_key, const char *model,
                      const char *version);


/* serious incidents, EU AI Act Art. 73 (api_serious.c) */
web_result web_h_incident_serious(web_req *r);
web_result web_h_incident_serious_report_filed(web_req *r);
web_result web_h_incident_report(web_req *r);

web_result web_h_actions_list(web_req *r);
web_result web_h_key_revoke(web_req *r);
web_result web_h_key_restore(web_req *r);
web_result web_h_key_throttle(web_req *r);
web_result web_h_key_unthrottle(web_req *r);
web_result web_h_model_rollback(web_req *r);
web_result web_h_keys_list(web_req *r);
web_result web_h_key_get(web_req *r);
web_result web_h_models_list(web_req *r);
web_result web_h_model_version_get(web_req *r);

/* Handlers (one file per resource). */
web_result web_h_healthz(web_req *r);
web_result web_h_readyz(web_req *r);
web_result web_h_metrics(web_req *r);
web_result web_h_session_create(web_req *r);
web_result web_h_session_get(web_req *r);
web_result web_h_session_delete(web_req *r);
web_result web_h_sessions_list(web_req *r);
web_result web_h_sessions_delete(web_req *r);
web_result web_h_incidents_list(web_req *r);
web_result web_h_incident_get(web_req *r);
web_result web_h_incident_change(web_req *r);
web_result web_h_incidents_bulk(web_req *r);
web_result web_h_incident_take(web_req *r);
web_result web_h_incident_comment(web_req *r);
web_result web_h_incident_reveal(web_req *r);
web_result web_h_action_approve(web_req *r);
web_result web_h_action_reject(web_req *r);
web_result web_h_users_list(web_req *r);
web_result web_h_tokens_list(web_req *r);
web_result web_h_token_revoke(web_req *r);
/* forensics (api_forensics.c): queries and evidence bundles, auditor/admin */
web_result web_h_forensics_events(web_req *r);
web_result web_h_evidence_export(web_req *r);
web_result web_h_console_shell(web_req *r); /* web_static.c */
web_result web_h_console_asset(web_req *r);

/* The console's own routes: series, overview, audit chain, saved views. */
web_result web_h_series(web_req *r);        /* api_series.c */
web_result web_h_overview(web_req *r);      /* api_overview.c */
web_result web_h_audit_list(web_req *r);    /* api_audit.c */
web_result web_h_audit_verify(web_req *r);
web_result web_h_views_list(web_req *r);    /* api_views.c */
web_result web_h_views_save(web_req *r);
web_result web_h_views_delete(web_req *r);
/* ---- query-string arguments (web_args.c): one walker for every route ---- */
/* What differs between route families: the 400's code and wording. */
typedef struct {
    const char *code;     /* the error code of the 400 */
    const char *unknown;  /* what a name not in the list "is" */
    const char *too_long; /* what an overlong value "is" */
    size_t maxlen;        /* a value's bytes at most */
    const char *long_name; /* one argument with its own bound (NULL: none) */
    size_t long_maxlen;
    bool empty_ok;  /* an empty value is taken ("") rather than refused */
    bool whole_key; /* the message quotes the whole name, not its first 64 bytes */
} web_args_rules;
/* Collects the arguments named in names (n) into v (borrowed for the
 * request; NULL when absent); answers 400 and returns -1 on the first
 * unknown, repeated, valueless or overlong one. */
int web_args_with(web_req *r, const web_args_rules *rules, const char *const *names, size_t n,
                  const char **v);
/* v's value for name (names and v as given to web_args_with); NULL when absent. */
const char *web_arg(const char *const *names, size_t n, const char *const *v, const char *name);
/* web_args_with with a route's plain rules: 400 bad_query, empty refused,
 * values of at most maxlen bytes. */
int web_args(web_req *r, const char *const *names, size_t n, const char **v, size_t maxlen);
/* ---- the live stream (web_stream.c): one hub thread LISTENs on the
 * change feed and fans events out to every open GET /api/v1/stream ---- */
typedef struct web_hub web_hub;
typedef struct web_stream web_stream;
/* Connects (LISTEN custos_feed), reads where the feed is and starts the
 * hub thread. cfg is borrowed. NULL with err. */
web_hub *web_hub_start(const core_config *cfg, char *err, size_t errlen);
/* Stops the thread and ends every stream cleanly (resuming the suspended
 * ones): call before MHD_stop_daemon, which must find none suspended. */
void web_hub_stop(web_hub *h);
/* After web_hub_stop: waits up to wait_ms for every stream's last chunk to
 * be sent (its response freed), so that MHD_stop_daemon does not cut them.
 * False (logged) when some were still sending. */
bool web_hub_drain(web_hub *h, int64_t wait_ms);
/* After MHD_stop_daemon: frees h (stopping it first if need be). */
void web_hub_free(web_hub *h);
int web_hub_streams(web_hub *h); /* open now */
/* Where the feed is, for a cache of what incidents look like (the queue's
 * counts): take a mark before reading, and the read stays true while
 * web_hub_incidents_unchanged says so: the hub listened all along and has
 * fanned out no incident row past the mark. Every change committed after
 * the read's snapshot has a later feed id (ids are given in commit order),
 * so it ends the read's truth once the hub has fetched it: a few ms after
 * its commit. web_hub_mark is false (no cache) while the hub does not
 * listen, or when h is NULL. */
typedef struct {
    uint64_t epoch;
    int64_t id;
} web_hub_mark_t;
bool web_hub_mark(web_hub *h, web_hub_mark_t *m);
bool web_hub_incidents_unchanged(web_hub *h, const web_hub_mark_t *m);
web_hub *web_server_hub(web_server *s);
web_result web_h_stream(web_req *r);

/* ---- the Host header allowlist (web_hosts.c) ---- */
typedef struct web_hosts web_hosts;
/* From web.allowed_hosts (comma-separated HOST or HOST:PORT; [V6]), or when
 * it is empty: listen_host:port, localhost:port, 127.0.0.1:port and the
 * host of origin (web.origin) when set. NULL with err when malformed or more
 * than 32. The caller frees it. */
web_hosts *web_hosts_new(const char *allowed, const char *listen_host, int port,
                         const char *origin, char *err, size_t errlen);
void web_hosts_free(web_hosts *hs);
/* Whether a Host header value is allowed (case-insensitive; NULL: no). */
bool web_hosts_allow(const web_hosts *hs, const char *host);
/* The list, comma-separated, for the log; its length. */
size_t web_hosts_describe(const web_hosts *hs, char *out, size_t outlen);

/* Metrics of sign-in, counted by the session handlers. */
void web_count_signin_failure(void);
void web_count_signin_throttled(void);

#endif
