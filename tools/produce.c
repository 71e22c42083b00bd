/* custos produce: sends JSON lines to Kafka at a paced rate, keyed by
 * api_key_id, so that tests and benchmarks offer a known load. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <inttypes.h>
#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "collector/collector.h"
#include "core/cli.h"
#include "core/event.h"
#include "core/json_scan.h"
#include "core/log.h"
#include "core/signals.h"
#include "tools/tools.h"

#define MOD "produce"
#define PACE_STEP_US 1000 /* sleep only when this far ahead of the pace */

static uint64_t g_failed, g_delivered;

static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    (void)opaque;
    if (m->err == RD_KAFKA_RESP_ERR__PURGE_QUEUE || m->err == RD_KAFKA_RESP_ERR__PURGE_INFLIGHT) {
        g_failed++; /* dropped at a stop request: counted, said once at the end */
    } else if (m->err) {
        if (g_failed++ < 10)
            core_log(CORE_LOG_ERROR, MOD, "delivery failed", "error=%s",
                     rd_kafka_err2str(m->err));
    } else {
        g_delivered++;
    }
}

/* How long the start waits for the brokers' metadata before giving up. */
#define PRODUCE_CONNECT_S 10

static void usage(FILE *out)
{
    fprintf(out,
            "usage: custos produce --rate EPS [--brokers B] [--topic T] [--count N]\n"
            "                      [--linger-ms MS] [--format F] [--config FILE]\n"
            "                      [--log-level L] FILE|-\n"
            "\n"
            "Sends each non-empty line of FILE (- for stdin) as one Kafka message, keyed\n"
            "by its api_key_id when the line is a JSON object that has one (LiteLLM:\n"
            "metadata.user_api_key_hash), at EPS messages per second (0: as fast as\n"
            "possible). With --format otlp_proto (or a topic whose kafka.topics entry\n"
            "says so) FILE holds varint-length-delimited messages instead, as custos gen\n"
            "--format otlp_proto writes them. The brokers and topic default\n"
            "to kafka.brokers and the first of kafka.topics from the config. --linger-ms\n"
            "is how long the producer waits to fill a batch (librdkafka linger.ms,\n"
            "default 5). Prints a summary on stderr; exits 1 if any message was not\n"
            "delivered. Exits 1 at once when no broker answers within %d s of the\n"
            "start; a broker that goes away later is waited for (librdkafka's\n"
            "message.timeout.ms). Ctrl-C or SIGTERM stops: undelivered messages are\n"
            "dropped and counted.\n", PRODUCE_CONNECT_S);
}

static int key_field(const char *key, size_t n)
{
    return n == 10 && memcmp(key, "api_key_id", 10) == 0 ? 0 : 1;
}

/* Extracts api_key_id from a JSON line (best effort: a line that is not JSON
 * is still sent, unkeyed, so that poison reaches the collector). A native
 * event's top-level key is read by the collector's one-pass scanner (a
 * cJSON tree of every line was most of this tool's CPU, taken from the
 * machine it measures); anything else (LiteLLM's metadata.user_api_key_hash,
 * a line the scanner refuses) by cJSON. */
static char *key_of(const char *line, size_t len)
{
    const unsigned char *u = (const unsigned char *)line;
    if (len && line[0] == '{' && core_utf8_invalid_at(u, len) < 0) {
        core_json_val f[1] = {{.type = COLL_J_NULL}};
        char err[8];
        if (core_json_parse_object(u, len, f, 1, key_field, err, sizeof err) == 0 &&
            f[0].type == COLL_J_STR && !f[0].esc)
            return strndup((const char *)f[0].p, f[0].n);
    }
    cJSON *j = len && line[0] == '{' ? cJSON_ParseWithLength(line, len) : NULL;
    char *k = NULL;
    if (j) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, "api_key_id");
        if (!v)
            v = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(j, "metadata"),
                                                 "user_api_key_hash");
        if (cJSON_IsString(v))
            k = strdup(v->valuestring);
        cJSON_Delete(j);
    }
    return k;
}

static void sleep_until_us(int64_t t)
{
    int64_t now = core_mono_us();
    if (t <= now)
        return;
    struct timespec ts = {(time_t)((t - now) / 1000000), (long)((t - now) % 1000000) * 1000};
    nanosleep(&ts, NULL);
}

typedef struct {
    const char *brokers, *topic, *file, *format;
    bool framed;
    double rate;
    long long count, linger_ms;
} produce_opts;

/* Reads the command line into o. Returns -1 to go on, else the exit code. */
static int parse_args(int argc, char **argv, produce_opts *o)
{
    *o = (produce_opts){.rate = -1, .linger_ms = 5};
    for (int i = 1; i < argc; i++) {
        const char *v;
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return CORE_EXIT_OK;
        } else if (core_cli_opt(argc, argv, &i, "--rate", &v)) {
            char *end;
            o->rate = strtod(v, &end);
            if (*end || end == v || !(o->rate >= 0 && o->rate <= 1e7)) {
                fprintf(stderr, "custos produce: --rate '%s' must be 0..10000000 events/s\n", v);
                return CORE_EXIT_USAGE;
            }
        } else if (core_cli_opt(argc, argv, &i, "--brokers", &v)) {
            o->brokers = v;
        } else if (core_cli_opt(argc, argv, &i, "--topic", &v)) {
            o->topic = v;
        } else if (core_cli_opt(argc, argv, &i, "--linger-ms", &v)) {
            o->linger_ms = core_cli_num("--linger-ms", v, 0, 10000);
        } else if (core_cli_opt(argc, argv, &i, "--format", &v)) {
            if (!coll_decoder_find(v)) {
                fprintf(stderr, "custos produce: --format '%s' is not one of native, litellm, "
                                "otlp_json, otlp_proto\n", v);
                return CORE_EXIT_USAGE;
            }
            o->format = v;
        } else if (core_cli_opt(argc, argv, &i, "--count", &v)) {
            o->count = core_cli_num("--count", v, 0, (long long)1 << 60);
        } else if (argv[i][0] == '-' && argv[i][1]) {
            fprintf(stderr, "custos produce: unknown option '%s'\n", argv[i]);
            return CORE_EXIT_USAGE;
        } else if (!o->file) {
            o->file = argv[i];
        } else {
            fprintf(stderr, "custos produce: only one FILE\n");
            return CORE_EXIT_USAGE;
        }
    }
    if (o->rate < 0 || !o->file) {
        usage(stderr);
        return CORE_EXIT_USAGE;
    }
    return -1;
}

/* The idempotent producer for cfg's brokers, or NULL (said on stderr). */
static rd_kafka_t *open_producer(const core_config *cfg, long long linger_ms)
{
    char err[512], linger[24];
    snprintf(linger, sizeof linger, "%lld", linger_ms);
    rd_kafka_conf_t *conf = coll_kafka_conf(cfg, false, err, sizeof err);
    if (!conf || coll_kafka_set(conf, "linger.ms", linger, err, sizeof err) ||
        coll_kafka_set(conf, "enable.idempotence", "true", err, sizeof err) ||
        coll_kafka_set(conf, "message.max.bytes", "16000000", err, sizeof err) ||
        coll_kafka_set(conf, "queue.buffering.max.kbytes", "262144", err, sizeof err)) {
        if (conf)
            rd_kafka_conf_destroy(conf);
        fprintf(stderr, "custos produce: kafka config: %s\n", err);
        return NULL;
    }
    rd_kafka_conf_set_dr_msg_cb(conf, dr_cb);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    if (!rk) {
        rd_kafka_conf_destroy(conf);
        fprintf(stderr, "custos produce: %s\n", err);
    }
    return rk;
}

/* Says at once when the brokers cannot be reached: librdkafka would
 * otherwise buffer quietly until message.timeout.ms (5 min). Only at the
 * start: a broker that goes away later is waited for, as a gateway does.
 * Returns 0 when they answered. */
static int wait_brokers(rd_kafka_t *rk, const char *brokers)
{
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_resp_err_t me = RD_KAFKA_RESP_ERR__TIMED_OUT;
    for (int waited = 0; waited < PRODUCE_CONNECT_S && !core_stop; waited++) {
        me = rd_kafka_metadata(rk, 0, NULL, &md, 1000);
        if (me == RD_KAFKA_RESP_ERR_NO_ERROR)
            break;
    }
    if (md)
        rd_kafka_metadata_destroy(md);
    if (core_stop)
        return -1;
    if (me != RD_KAFKA_RESP_ERR_NO_ERROR) {
        fprintf(stderr, "custos produce: cannot reach the Kafka broker(s) %s within %d s: %s\n",
                brokers, PRODUCE_CONNECT_S, rd_kafka_err2str(me));
        return -1;
    }
    return 0;
}

/* Sends the lines of in at o->rate until the end, o->count lines or a stop
 * request; returns how many were handed to librdkafka. */
static uint64_t send_lines(rd_kafka_t *rk, FILE *in, const char *topic, produce_opts *o,
                           int64_t t0)
{
    char *line = NULL;
    size_t cap = 0;
    uint64_t sent = 0;
    ssize_t n = -1;
    char err[256];
    while (!core_stop && (o->count == 0 || (long long)sent < o->count) &&
           (n = coll_read_message(in, o->framed, &line, &cap, err, sizeof err)) >= 0) {
        if (n == 0 && !o->framed)
            continue;
        /* paced in steps of a millisecond or more: a sleep per message (57
         * us apart at 17,600/s) cost the benchmark machine a seventh of a
         * core in wake-ups; within a linger of a few milliseconds the
         * batches are the same */
        if (o->rate > 0) {
            int64_t due = t0 + (int64_t)((double)sent * 1e6 / o->rate);
            if (due - core_mono_us() >= PACE_STEP_US)
                sleep_until_us(due);
        }
        char *key = o->framed ? NULL : key_of(line, (size_t)n);
        for (;;) {
            rd_kafka_resp_err_t e = rd_kafka_producev(
                rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_VALUE(line, (size_t)n),
                RD_KAFKA_V_KEY(key, key ? strlen(key) : 0), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                RD_KAFKA_V_END);
            if (e == RD_KAFKA_RESP_ERR__QUEUE_FULL && !core_stop) {
                rd_kafka_poll(rk, 10);
                continue;
            }
            if (e) {
                core_log(CORE_LOG_ERROR, MOD, "produce failed", "error=%s", rd_kafka_err2str(e));
                g_failed++;
            }
            break;
        }
        free(key);
        sent++;
        rd_kafka_poll(rk, 0);
    }
    if (n == -2) {
        fprintf(stderr, "custos produce: %s: %s\n", o->file, err);
        g_failed++;
    }
    free(line);
    return sent;
}

int tools_cmd_produce(int argc, char **argv)
{
    produce_opts o;
    int rc = parse_args(argc, argv, &o);
    if (rc >= 0)
        return rc;
    core_config cfg;
    rc = CORE_EXIT_FAIL;
    FILE *in = NULL;
    rd_kafka_t *rk = NULL;
    char *tfirst = NULL;
    const char *topic = o.topic;
    if (core_cli_config(&cfg, NULL, NULL) < 0) {
        rc = CORE_EXIT_CONFIG;
        goto done;
    }
    if (o.brokers) {
        free(cfg.kafka_brokers);
        cfg.kafka_brokers = strdup(o.brokers);
    }
    if (!topic) {
        tfirst = strdup(cfg.kafka_topics);
        char *comma = tfirst ? strchr(tfirst, ',') : NULL;
        if (comma)
            *comma = '\0';
        char *eq = tfirst ? strchr(tfirst, '=') : NULL;
        if (eq)
            *eq = '\0';
        topic = tfirst;
    }
    const coll_decoder *dec = o.format ? coll_decoder_find(o.format)
                                       : coll_decoder_for_topic(&cfg, topic);
    o.framed = dec && dec->framed;
    in = strcmp(o.file, "-") == 0 ? stdin : fopen(o.file, "rb");
    if (!in) {
        fprintf(stderr, "custos produce: %s: %s\n", o.file, strerror(errno));
        goto done;
    }
    if (!(rk = open_producer(&cfg, o.linger_ms)))
        goto done;
    core_signals_install();
    if (wait_brokers(rk, cfg.kafka_brokers) < 0)
        goto done;
    int64_t t0 = core_mono_us();
    uint64_t sent = send_lines(rk, in, topic, &o, t0);
    /* Deliver what is queued; Ctrl-C (or SIGTERM) stops waiting: what was
     * not delivered yet is purged and counted as failed. */
    while (!core_stop && rd_kafka_outq_len(rk) > 0 &&
           rd_kafka_flush(rk, 200) == RD_KAFKA_RESP_ERR__TIMED_OUT)
        ;
    if (core_stop && rd_kafka_outq_len(rk) > 0) {
        rd_kafka_purge(rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
        rd_kafka_flush(rk, 1000); /* runs the purged messages' delivery reports */
        core_log(CORE_LOG_WARN, MOD, "interrupted, undelivered messages dropped",
                 "undelivered=%" PRIu64, sent - g_delivered);
    }
    double secs = (double)(core_mono_us() - t0) / 1e6;
    core_log(CORE_LOG_INFO, MOD, "done",
             "sent=%" PRIu64 " delivered=%" PRIu64 " failed=%" PRIu64 " seconds=%.2f rate=%.0f",
             sent, g_delivered, g_failed, secs, secs > 0 ? (double)sent / secs : 0.0);
    rc = g_failed || g_delivered != sent ? CORE_EXIT_FAIL : CORE_EXIT_OK;
done:
    if (rk)
        rd_kafka_destroy(rk);
    if (in && in != stdin)
        fclose(in);
    free(tfirst);
    core_config_free(&cfg);
    return rc;
}
