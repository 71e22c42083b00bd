/* GET /api/v1/stream: Server-Sent Events from the change feed
 * (sql/migrations/0008_stream.sql, docs/api.md#get-apiv1stream).
 *
 * One thread, the hub, holds the one PostgreSQL connection that LISTENs on
 * custos_feed; when woken it reads the new change_feed rows in id order,
 * formats each as an SSE event once and appends it to every open stream's
 * buffer. A stream is a libmicrohttpd response from a content-reader
 * callback: the reader copies what its buffer holds and, when it holds
 * nothing, suspends the connection and returns 0 (the pattern microhttpd.h
 * prescribes: returning 0 without suspending would busy-loop the worker).
 * The hub resumes a suspended stream when it gives it something. So open
 * streams cost no thread and no database connection each, only their
 * buffer (at most web.stream_buffer_bytes: a client that reads slower is
 * cut off and counted) and their socket; their number is capped by
 * web.max_streams.
 *
 * Who touches what: the hub thread owns the list walk, each stream's
 * next_id and caught_up; the stream's mutex guards its buffer and flags
 * (the worker's reader and the hub); the hub alone resumes, and resumes
 * only a stream whose reader marked it suspended (under that mutex), so
 * the connection it resumes is alive: libmicrohttpd never closes a
 * suspended connection. The free callback (the connection is gone) only
 * sets an atomic flag and drops a reference: it takes no lock a thread
 * calling into libmicrohttpd could hold. */
#include <errno.h>
#include <inttypes.h>
#include <microhttpd.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "core/backoff.h"
#include "core/db.h"
#include "core/log.h"
#include "core/metrics.h"
#include "web/web_internal.h"

CORE_METRIC_DEFINE(web_m_streams, CORE_GAUGE, "custos_web_streams_open",
                   "GET /api/v1/stream connections open now")
CORE_METRIC_DEFINE(web_m_streams_refused, CORE_COUNTER, "custos_web_streams_refused_total",
                   "streams refused 503 because web.max_streams were open")
CORE_METRIC_DEFINE(web_m_streams_cut, CORE_COUNTER, "custos_web_streams_cut_total",
                   "streams closed because the client read slower than events came "
                   "(web.stream_buffer_bytes full)")
CORE_METRIC_DEFINE(web_m_stream_events, CORE_COUNTER, "custos_web_stream_events_total",
                   "change-feed rows the stream hub read and fanned out")
CORE_METRIC_DEFINE(web_m_stream_resets, CORE_COUNTER, "custos_web_stream_resets_total",
                   "streams told 'event: reset' (asked to resume before what the feed holds)")

#define FEED_CHANNEL "custos_feed"
#define FETCH_ROWS 1000   /* rows read per query of new rows */
#define CATCHUP_ROWS 256  /* rows of one stream's backlog per pass */
#define CATCHUP_STREAMS 64 /* streams caught up per pass */

struct web_stream {
    pthread_mutex_t mu;
    struct MHD_Connection *conn;
    web_hub *hub;
    char *buf;
    size_t off, len, alloc, cap; /* unsent bytes are buf[off..len) */
    bool suspended;              /* the reader suspended conn; only the hub resumes it */
    bool closing;                /* end the stream cleanly (shutdown) */
    bool cut;                    /* end it with an error (too slow) */
    bool caught_up;              /* gets new rows from the fan-out */
    int64_t next_id;             /* the last feed id given to it (hub thread) */
    _Atomic bool gone;           /* the response was freed: never touch conn again */
    _Atomic int refs;            /* the hub's list and the response */
    web_stream *next;            /* the hub's list (hub->mu) */
};

struct web_hub {
    const core_config *cfg;
    pthread_mutex_t mu; /* the list, nstreams, last_id, closed */
    web_stream *head;
    int nstreams;
    int64_t last_id; /* the last feed id fanned out */
    bool closed;     /* stopping: no new streams */
    int wake_fd;     /* eventfd: new stream, drained backlog, stop */
    _Atomic bool stop;
    bool started;
    pthread_t th;
    PGconn *db; /* the hub thread's */
    /* For web_hub_mark / web_hub_incidents_unchanged: whether the hub
     * listens now, bumped at every connect and every loss (a notification
     * may have been missed while it did not listen), and the feed id of the
     * last incident row fanned out. */
    _Atomic bool listening;
    _Atomic uint64_t epoch;
    _Atomic int64_t last_incident_id;
};

/* ---- one stream ---- */

static void stream_unref(web_stream *s)
{
    if (atomic_fetch_sub(&s->refs, 1) != 1)
        return;
    pthread_mutex_destroy(&s->mu);
    free(s->buf);
    free(s);
}

static void hub_wake(web_hub *h)
{
    uint64_t one = 1;
    ssize_t n = write(h->wake_fd, &one, sizeof one);
    (void)n; /* the counter saturating means a wake is pending anyway */
}

/* Appends len bytes to s's buffer (s->mu held). False when they do not fit
 * in web.stream_buffer_bytes: the stream is then cut. */
static bool stream_put(web_stream *s, const char *text, size_t len)
{
    if (s->cut || s->closing)
        return false;
    size_t pending = s->len - s->off;
    if (pending + len > s->cap) {
        s->cut = true;
        core_metric_add(&web_m_streams_cut, 1);
        return false;
    }
    if (s->off > 0 && s->len + len > s->alloc) {
        memmove(s->buf, s->buf + s->off, pending);
        s->off = 0;
        s->len = pending;
    }
    if (s->len + len > s->alloc) {
        size_t na = s->alloc ? s->alloc : 1024;
        while (na < s->len + len)
            na *= 2;
        if (na > s->cap)
            na = s->cap;
        char *b = realloc(s->buf, na);
        if (!b) {
            s->cut = true;
            core_metric_add(&web_m_streams_cut, 1);
            return false;
        }
        s->buf = b;
        s->alloc = na;
    }
    memcpy(s->buf + s->len, text, len);
    s->len += len;
    return true;
}

/* Resumes s when its reader is waiting (hub thread only). */
static void stream_kick(web_stream *s)
{
    pthread_mutex_lock(&s->mu);
    bool was = s->suspended && !atomic_load(&s->gone);
    s->suspended = false;
    pthread_mutex_unlock(&s->mu);
    if (was)
        MHD_resume_connection(s->conn);
}

/* The content reader, on the worker thread that owns the connection. */
static ssize_t stream_read(void *cls, uint64_t pos, char *out, size_t max)
{
    (void)pos;
    web_stream *s = cls;
    pthread_mutex_lock(&s->mu);
    size_t pending = s->len - s->off;
    if (pending > 0) {
        size_t n = pending < max ? pending : max;
        memcpy(out, s->buf + s->off, n);
        s->off += n;
        if (s->off == s->len)
            s->off = s->len = 0;
        bool backlog = !s->caught_up && s->len - s->off < s->cap / 2;
        pthread_mutex_unlock(&s->mu);
        if (backlog)
            hub_wake(s->hub); /* room for the next part of its backlog */
        return (ssize_t)n;
    }
    if (s->cut) {
        pthread_mutex_unlock(&s->mu);
        return MHD_CONTENT_READER_END_WITH_ERROR;
    }
    if (s->closing) {
        pthread_mutex_unlock(&s->mu);
        return MHD_CONTENT_READER_END_OF_STREAM;
    }
    s->suspended = true;
    MHD_suspend_connection(s->conn);
    pthread_mutex_unlock(&s->mu);
    return 0;
}

/* The response is gone (the connection closed or the server stopped). */
static void stream_free(void *cls)
{
    web_stream *s = cls;
    atomic_store(&s->gone, true);
    stream_unref(s);
}

/* ---- the hub ---- */

/* "id: N\nevent: KIND\ndata: JSON\n\n" into out; its length or 0 when it
 * does not fit (a row larger than 8 KiB is a bug in the triggers). */
static size_t format_event(char *out, size_t outlen, int64_t id, const char *kind,
                           const char *data)
{
    int n = snprintf(out, outlen, "id: %" PRId64 "\nevent: %s\ndata: %s\n\n", id, kind, data);
    return n > 0 && (size_t)n < outlen ? (size_t)n : 0;
}

static void hub_drop_db(web_hub *h, const char *what, const char *why)
{
    char q[600];
    core_log(CORE_LOG_WARN, "web", "stream hub lost the database", "what=%s error=%s", what,
             core_log_quote(q, sizeof q, why));
    PQfinish(h->db);
    h->db = NULL;
    atomic_store(&h->listening, false);
    atomic_fetch_add(&h->epoch, 1);
}

static int hub_connect(web_hub *h, char *err, size_t errlen)
{
    h->db = core_db_connect(h->cfg->pg_dsn, (int)h->cfg->pg_connect_timeout_s, err, errlen);
    if (!h->db)
        return -1;
    if (core_db_exec(h->db, "LISTEN " FEED_CHANNEL, err, errlen) < 0) {
        PQfinish(h->db);
        h->db = NULL;
        return -1;
    }
    atomic_fetch_add(&h->epoch, 1);
    atomic_store(&h->listening, true);
    return 0;
}

/* Reads the rows after last_id and gives each to every caught-up stream.
 * -1 with err on a database failure. */
static int hub_fetch(web_hub *h, char *err, size_t errlen)
{
    for (;;) {
        char after[24];
        pthread_mutex_lock(&h->mu);
        snprintf(after, sizeof after, "%" PRId64, h->last_id);
        pthread_mutex_unlock(&h->mu);
        const char *p[1] = {after};
        PGresult *res = core_db_query(h->db,
                                      "SELECT id, kind, payload::text FROM change_feed "
                                      "WHERE id > $1 ORDER BY id LIMIT 1000",
                                      1, p, "reading the change feed", err, errlen);
        if (!res)
            return -1;
        int n = PQntuples(res);
        char ev[8192];
        pthread_mutex_lock(&h->mu);
        for (int i = 0; i < n; i++) {
            int64_t id = strtoll(PQgetvalue(res, i, 0), NULL, 10);
            size_t len = format_event(ev, sizeof ev, id, PQgetvalue(res, i, 1),
                                      PQgetvalue(res, i, 2));
            if (strcmp(PQgetvalue(res, i, 1), "incident") == 0)
                atomic_store(&h->last_incident_id, id);
            for (web_stream *s = h->head; s && len; s = s->next) {
                if (!s->caught_up || id <= s->next_id || atomic_load(&s->gone))
                    continue;
                pthread_mutex_lock(&s->mu);
                stream_put(s, ev, len);
                pthread_mutex_unlock(&s->mu);
                s->next_id = id;
            }
            h->last_id = id;
        }
        pthread_mutex_unlock(&h->mu);
        core_metric_add(&web_m_stream_events, (uint64_t)n);
        PQclear(res);
        if (n < FETCH_ROWS)
            return 0;
    }
}

_Static_assert(FETCH_ROWS == 1000, "the LIMIT in hub_fetch's query");

/* What the feed still holds: ids after pruned_upto, up to the sequence's
 * last value (handed out, committed or not). */
static int feed_bounds(web_hub *h, int64_t *pruned_upto, int64_t *seq_last, char *err,
                       size_t errlen)
{
    PGresult *res = core_db_query(h->db,
                                  "SELECT pruned_upto, (SELECT CASE WHEN is_called THEN "
                                  "last_value ELSE 0 END FROM change_feed_id_seq) "
                                  "FROM change_feed_state",
                                  0, NULL, "reading the change feed's bounds", err, errlen);
    if (!res)
        return -1;
    if (PQntuples(res) != 1) {
        snprintf(err, errlen, "change_feed_state has %d rows, not 1", PQntuples(res));
        PQclear(res);
        return -1;
    }
    *pruned_upto = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    *seq_last = strtoll(PQgetvalue(res, 0, 1), NULL, 10);
    PQclear(res);
    return 0;
}

/* One part of one stream's backlog: the rows in (next_id, last_id], or a
 * reset when next_id is before what the feed holds (or after anything it
 * ever handed out). */
static int catch_up_one(web_hub *h, web_stream *s, int64_t last_id, int64_t pruned_upto,
                        int64_t seq_last, char *err, size_t errlen)
{
    char ev[8192];
    if (s->next_id < pruned_upto || s->next_id > seq_last) {
        char data[160];
        snprintf(data, sizeof data,
                 "{\"last_event_id\":%" PRId64 ",\"oldest_id\":%" PRId64 ",\"resume_id\":%" PRId64
                 "}",
                 s->next_id, pruned_upto + 1, last_id);
        size_t len = format_event(ev, sizeof ev, last_id, "reset", data);
        pthread_mutex_lock(&s->mu);
        stream_put(s, ev, len);
        s->caught_up = true;
        pthread_mutex_unlock(&s->mu);
        s->next_id = last_id;
        core_metric_add(&web_m_stream_resets, 1);
        return 0;
    }
    char a[24], b[24];
    snprintf(a, sizeof a, "%" PRId64, s->next_id);
    snprintf(b, sizeof b, "%" PRId64, last_id);
    const char *p[2] = {a, b};
    PGresult *res = core_db_query(h->db,
                                  "SELECT id, kind, payload::text FROM change_feed "
                                  "WHERE id > $1 AND id <= $2 ORDER BY id LIMIT 256",
                                  2, p, "reading a stream's backlog", err, errlen);
    if (!res)
        return -1;
    int n = PQntuples(res);
    pthread_mutex_lock(&s->mu);
    for (int i = 0; i < n; i++) {
        int64_t id = strtoll(PQgetvalue(res, i, 0), NULL, 10);
        size_t len = format_event(ev, sizeof ev, id, PQgetvalue(res, i, 1), PQgetvalue(res, i, 2));
        if (len && !stream_put(s, ev, len))
            break;
        s->next_id = id;
    }
    if (n < CATCHUP_ROWS)
        s->caught_up = true;
    pthread_mutex_unlock(&s->mu);
    PQclear(res);
    return 0;
}

_Static_assert(CATCHUP_ROWS == 256, "the LIMIT in catch_up_one's query");

/* The streams that resumed after an id and have not reached the fan-out
 * yet, each as far as its buffer has room. */
static int hub_catch_up(web_hub *h, char *err, size_t errlen)
{
    web_stream *todo[CATCHUP_STREAMS];
    int n = 0;
    pthread_mutex_lock(&h->mu);
    int64_t last_id = h->last_id;
    for (web_stream *s = h->head; s && n < CATCHUP_STREAMS; s = s->next) {
        if (s->caught_up || atomic_load(&s->gone))
            continue;
        pthread_mutex_lock(&s->mu);
        bool room = !s->cut && s->len - s->off < s->cap / 2;
        pthread_mutex_unlock(&s->mu);
        if (room) {
            atomic_fetch_add(&s->refs, 1);
            todo[n++] = s;
        }
    }
    pthread_mutex_unlock(&h->mu);
    int rc = 0;
    int64_t pruned_upto = 0, seq_last = 0;
    if (n > 0 && feed_bounds(h, &pruned_upto, &seq_last, err, errlen) < 0)
        rc = -1;
    for (int i = 0; i < n; i++) {
        if (rc == 0 && catch_up_one(h, todo[i], last_id, pruned_upto, seq_last, err, errlen) < 0)
            rc = -1;
        stream_kick(todo[i]);
        stream_unref(todo[i]);
    }
    return rc;
}

/* Pings every stream, resumes those with something to send, and lets go
 * of those whose connection is gone. */
static void hub_sweep(web_hub *h, bool ping)
{
    static const char k_ping[] = ": ping\n\n";
    pthread_mutex_lock(&h->mu);
    web_stream **pp = &h->head;
    while (*pp) {
        web_stream *s = *pp;
        if (atomic_load(&s->gone)) {
            *pp = s->next;
            h->nstreams--;
            core_metric_sub(&web_m_streams, 1);
            stream_unref(s);
            continue;
        }
        pthread_mutex_lock(&s->mu);
        if (ping)
            stream_put(s, k_ping, sizeof k_ping - 1);
        bool go = s->suspended && (s->len > s->off || s->cut || s->closing);
        if (go)
            s->suspended = false;
        pthread_mutex_unlock(&s->mu);
        if (go)
            MHD_resume_connection(s->conn);
        pp = &s->next;
    }
    pthread_mutex_unlock(&h->mu);
}

static void *hub_main(void *arg)
{
    web_hub *h = arg;
    core_backoff bo;
    core_backoff_init(&bo, 250, 10000);
    int64_t ping_ms = h->cfg->web_stream_ping_ms;
    int64_t next_ping = core_mono_ms() + ping_ms, retry_at = 0;
    bool fetch = true;
    char err[512];
    while (!atomic_load(&h->stop)) {
        int64_t now = core_mono_ms();
        int64_t until = next_ping;
        if (!h->db && retry_at < until)
            until = retry_at;
        struct pollfd pf[2] = {{.fd = h->wake_fd, .events = POLLIN},
                               {.fd = h->db ? PQsocket(h->db) : -1, .events = POLLIN}};
        int tmo = until > now ? (int)(until - now) : 0;
        if (poll(pf, 2, tmo) < 0 && errno != EINTR) {
            core_log(CORE_LOG_ERROR, "web", "stream hub poll failed", "error=%s", strerror(errno));
            break;
        }
        if (pf[0].revents & POLLIN) {
            uint64_t v;
            ssize_t rn = read(h->wake_fd, &v, sizeof v);
            (void)rn;
        }
        if (h->db && (pf[1].revents & (POLLIN | POLLERR | POLLHUP))) {
            if (!PQconsumeInput(h->db)) {
                hub_drop_db(h, "listening", PQerrorMessage(h->db));
            } else {
                PGnotify *nt;
                while ((nt = PQnotifies(h->db)) != NULL) {
                    PQfreemem(nt);
                    fetch = true;
                }
            }
        }
        now = core_mono_ms();
        if (!h->db && now >= retry_at) {
            if (hub_connect(h, err, sizeof err) == 0) {
                core_log(CORE_LOG_INFO, "web", "stream hub listening again", NULL);
                core_backoff_reset(&bo);
                fetch = true; /* what was committed while we were away */
            } else {
                retry_at = now + core_backoff_next(&bo);
            }
        }
        if (h->db && fetch) {
            if (hub_fetch(h, err, sizeof err) < 0)
                hub_drop_db(h, "fetching", err);
            else
                fetch = false;
        }
        if (h->db && hub_catch_up(h, err, sizeof err) < 0)
            hub_drop_db(h, "catching up", err);
        bool ping = core_mono_ms() >= next_ping;
        if (ping)
            next_ping = core_mono_ms() + ping_ms;
        hub_sweep(h, ping);
        if (!h->db && retry_at <= core_mono_ms())
            retry_at = core_mono_ms() + core_backoff_peek(&bo);
    }
    return NULL;
}

web_hub *web_hub_start(const core_config *cfg, char *err, size_t errlen)
{
    web_hub *h = calloc(1, sizeof *h);
    if (!h) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    h->cfg = cfg;
    pthread_mutex_init(&h->mu, NULL);
    /* Epochs unique to this hub: a mark taken on another (a server started
     * again in the same process) never matches. */
    static _Atomic uint64_t hubs;
    atomic_store(&h->epoch, (atomic_fetch_add(&hubs, 1) + 1) << 32);
    h->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (h->wake_fd < 0) {
        snprintf(err, errlen, "web: eventfd: %s", strerror(errno));
        goto error;
    }
    /* LISTEN before reading where the feed is: a row committed after that
     * read wakes us. */
    char dberr[512];
    if (hub_connect(h, dberr, sizeof dberr) < 0) {
        snprintf(err, errlen, "web: stream hub: %s", dberr);
        goto error;
    }
    PGresult *res = core_db_query(h->db, "SELECT coalesce(max(id), 0) FROM change_feed", 0, NULL,
                                  "reading the change feed", dberr, sizeof dberr);
    if (!res) {
        snprintf(err, errlen, "web: stream hub: %s", dberr);
        goto error;
    }
    h->last_id = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    PQclear(res);
    if (pthread_create(&h->th, NULL, hub_main, h) != 0) {
        snprintf(err, errlen, "web: cannot start the stream hub thread");
        goto error;
    }
    h->started = true;
    return h;
error:
    web_hub_free(h);
    return NULL;
}

void web_hub_stop(web_hub *h)
{
    if (!h)
        return;
    pthread_mutex_lock(&h->mu);
    h->closed = true;
    pthread_mutex_unlock(&h->mu);
    if (h->started) {
        atomic_store(&h->stop, true);
        hub_wake(h);
        pthread_join(h->th, NULL);
        h->started = false;
    }
    /* End every stream cleanly (the last chunk), so that the server can
     * stop with no connection suspended. */
    pthread_mutex_lock(&h->mu);
    for (web_stream *s = h->head; s; s = s->next) {
        pthread_mutex_lock(&s->mu);
        s->closing = true;
        bool was = s->suspended && !atomic_load(&s->gone);
        s->suspended = false;
        pthread_mutex_unlock(&s->mu);
        if (was)
            MHD_resume_connection(s->conn);
    }
    pthread_mutex_unlock(&h->mu);
}

bool web_hub_drain(web_hub *h, int64_t wait_ms)
{
    if (!h)
        return true;
    int64_t until = core_mono_ms() + wait_ms;
    for (;;) {
        int open = 0;
        pthread_mutex_lock(&h->mu);
        for (web_stream *s = h->head; s; s = s->next)
            open += !atomic_load(&s->gone);
        pthread_mutex_unlock(&h->mu);
        if (open == 0)
            return true;
        if (core_mono_ms() >= until) {
            core_log(CORE_LOG_WARN, "web", "streams still sending at shutdown", "open=%d", open);
            return false;
        }
        poll(NULL, 0, 10); /* the workers are sending the last chunks */
    }
}

void web_hub_free(web_hub *h)
{
    if (!h)
        return;
    web_hub_stop(h);
    while (h->head) {
        web_stream *s = h->head;
        h->head = s->next;
        core_metric_sub(&web_m_streams, 1);
        stream_unref(s);
    }
    if (h->db)
        PQfinish(h->db);
    if (h->wake_fd >= 0)
        close(h->wake_fd);
    pthread_mutex_destroy(&h->mu);
    free(h);
}

bool web_hub_mark(web_hub *h, web_hub_mark_t *m)
{
    if (!h)
        return false;
    m->epoch = atomic_load(&h->epoch);
    if (!atomic_load(&h->listening))
        return false;
    pthread_mutex_lock(&h->mu);
    m->id = h->last_id;
    pthread_mutex_unlock(&h->mu);
    return true;
}

bool web_hub_incidents_unchanged(web_hub *h, const web_hub_mark_t *m)
{
    return h && atomic_load(&h->listening) && atomic_load(&h->epoch) == m->epoch &&
           atomic_load(&h->last_incident_id) <= m->id;
}

int web_hub_streams(web_hub *h)
{
    if (!h)
        return 0;
    pthread_mutex_lock(&h->mu);
    int n = h->nstreams;
    pthread_mutex_unlock(&h->mu);
    return n;
}

/* ---- the route ---- */

/* The id to resume after: Last-Event-ID (what EventSource sends on its own)
 * or ?last_event_id=. 1 with *id, 0 when neither, -1 when malformed. */
static int resume_id(web_req *r, int64_t *id)
{
    const char *v = web_req_header(r, "Last-Event-ID");
    if (!v)
        v = web_req_arg(r, "last_event_id");
    if (!v)
        return 0;
    size_t n = strlen(v);
    if (n == 0 || n > 18 || strspn(v, "0123456789") != n)
        return -1;
    *id = strtoll(v, NULL, 10);
    return 1;
}

web_result web_h_stream(web_req *r)
{
    web_hub *h = web_server_hub(r->srv);
    int64_t after = 0;
    int has = resume_id(r, &after);
    if (has < 0)
        return web_reply_error(r, 400, "bad_request",
                               "Last-Event-ID (or last_event_id) is a feed id: 0 to 18 digits");
    web_stream *s = calloc(1, sizeof *s);
    if (!s)
        return web_fail(r, "out of memory");
    pthread_mutex_init(&s->mu, NULL);
    s->conn = r->conn;
    s->hub = h;
    s->cap = (size_t)r->cfg->web_stream_buffer_bytes;
    atomic_store(&s->refs, 2); /* the hub's list and the response */
    static const char hello[] = ": custos stream\n\n";
    stream_put(s, hello, sizeof hello - 1);
    struct MHD_Response *resp =
        MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096, stream_read, s, stream_free);
    if (!resp) {
        pthread_mutex_destroy(&s->mu);
        free(s->buf);
        free(s);
        return web_fail(r, "cannot create the stream's response");
    }
    pthread_mutex_lock(&h->mu);
    bool full = h->nstreams >= r->cfg->web_max_streams;
    bool closed = h->closed;
    if (!full && !closed) {
        if (has) {
            s->next_id = after;
            s->caught_up = false;
        } else {
            s->next_id = h->last_id; /* live from now */
            s->caught_up = true;
        }
        s->next = h->head;
        h->head = s;
        h->nstreams++;
        core_metric_add(&web_m_streams, 1);
    }
    pthread_mutex_unlock(&h->mu);
    if (full || closed) {
        atomic_store(&s->refs, 1);
        MHD_destroy_response(resp); /* frees s through stream_free */
        web_reply_header(r, "Retry-After", "5");
        if (full)
            core_metric_add(&web_m_streams_refused, 1);
        if (!full)
            return web_reply_error(r, 503, "unavailable", "the server is stopping");
        return web_reply_error(r, 503, "too_many_streams",
                               "%lld streams are open (web.max_streams)",
                               (long long)r->cfg->web_max_streams);
    }
    if (has)
        hub_wake(h);
    r->resp = resp;
    r->status = 200;
    r->ctype = "text/event-stream";
    /* Proxies (nginx) must pass events on at once, not buffer them. */
    web_reply_header(r, "X-Accel-Buffering", "no");
    return WEB_DONE;
}
