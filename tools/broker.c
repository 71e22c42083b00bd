/* custos broker: librdkafka's mock cluster on loopback, for trying and
 * testing custos. It speaks the real Kafka protocol (any client, kcat
 * included, can use it) but keeps only a few MiB per partition in memory:
 * it is not a production broker. */
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "collector/kafka.h"
#include "core/cli.h"
#include "core/log.h"
#include "core/signals.h"
#include "tools/tools.h"

#define MOD "broker"
#define MAX_TOPICS 16

static volatile sig_atomic_t g_down_req, g_up_req;

static void on_usr1(int s) { (void)s; g_down_req = 1; }
static void on_usr2(int s) { (void)s; g_up_req = 1; }

static void usage(FILE *out)
{
    fprintf(out,
            "usage: custos broker [--partitions N] [--topic T]... [--brokers N] [--log-level L]\n"
            "\n"
            "Runs librdkafka's mock Kafka cluster on loopback and prints its bootstrap\n"
            "address as the first line of stdout. For trying and testing custos only: it\n"
            "keeps about 5 MiB per partition in memory and drops older data.\n"
            "\n"
            "  --partitions N  partitions of each topic created at start (default 4)\n"
            "  --topic T       topic to create (repeatable; default custos.interactions);\n"
            "                  other topics are created on first use\n"
            "  --brokers N     brokers in the cluster (default 1)\n"
            "\n"
            "Signals: SIGUSR1 takes every broker down, SIGUSR2 brings them back (fault\n"
            "tests); SIGTERM/SIGINT stop it.\n");
}

int tools_cmd_broker(int argc, char **argv)
{
    int partitions = 4, nbrokers = 1, ntopics = 0;
    const char *topics[MAX_TOPICS];
    const char *lvl = "info";
    for (int i = 1; i < argc; i++) {
        const char *v;
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return CORE_EXIT_OK;
        } else if (core_cli_opt(argc, argv, &i, "--partitions", &v)) {
            partitions = (int)core_cli_num("--partitions", v, 1, 1024);
        } else if (core_cli_opt(argc, argv, &i, "--brokers", &v)) {
            nbrokers = (int)core_cli_num("--brokers", v, 1, 16);
        } else if (core_cli_opt(argc, argv, &i, "--topic", &v)) {
            if (ntopics == MAX_TOPICS) {
                fprintf(stderr, "custos broker: at most %d --topic\n", MAX_TOPICS);
                return CORE_EXIT_USAGE;
            }
            topics[ntopics++] = v;
        } else if (core_cli_opt(argc, argv, &i, "--log-level", &v)) {
            lvl = v;
        } else {
            fprintf(stderr, "custos broker: unknown argument '%s'\n", argv[i]);
            usage(stderr);
            return CORE_EXIT_USAGE;
        }
    }
    if (core_log_parse_level(lvl) < 0) {
        fprintf(stderr, "custos broker: --log-level '%s' is not one of debug, info, warn, error\n", lvl);
        return CORE_EXIT_USAGE;
    }
    core_log_set_level((core_log_level)core_log_parse_level(lvl));
    if (ntopics == 0)
        topics[ntopics++] = "custos.interactions";

    char err[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    coll_kafka_set_logging(conf);
    /* The handle only hosts the mock cluster and never connects anywhere:
     * librdkafka's warning that it has no bootstrap.servers is noise. */
    rd_kafka_conf_set(conf, "log_level", "4", NULL, 0);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    if (!rk) {
        rd_kafka_conf_destroy(conf);
        core_log(CORE_LOG_ERROR, MOD, "cannot create the handle", "error=%s", err);
        return CORE_EXIT_FAIL;
    }
    rd_kafka_mock_cluster_t *mc = rd_kafka_mock_cluster_new(rk, nbrokers);
    if (!mc) {
        core_log(CORE_LOG_ERROR, MOD, "cannot create the mock cluster", NULL);
        rd_kafka_destroy(rk);
        return CORE_EXIT_FAIL;
    }
    int rc = CORE_EXIT_OK;
    for (int t = 0; t < ntopics; t++) {
        rd_kafka_resp_err_t e = rd_kafka_mock_topic_create(mc, topics[t], partitions, 1);
        if (e) {
            core_log(CORE_LOG_ERROR, MOD, "cannot create topic", "topic=%s error=%s", topics[t],
                     rd_kafka_err2str(e));
            rc = CORE_EXIT_FAIL;
            goto done;
        }
    }
    core_signals_install();
    signal(SIGUSR1, on_usr1);
    signal(SIGUSR2, on_usr2);
    printf("%s\n", rd_kafka_mock_cluster_bootstraps(mc));
    fflush(stdout);
    core_log(CORE_LOG_INFO, MOD, "mock cluster up (for testing only, not production)",
             "bootstrap=%s brokers=%d partitions=%d", rd_kafka_mock_cluster_bootstraps(mc),
             nbrokers, partitions);
    while (!core_stop) {
        usleep(50 * 1000);
        if (g_down_req) {
            g_down_req = 0;
            for (int b = 1; b <= nbrokers; b++)
                rd_kafka_mock_broker_set_down(mc, b);
            core_log(CORE_LOG_WARN, MOD, "brokers set down (SIGUSR1)", NULL);
        }
        if (g_up_req) {
            g_up_req = 0;
            for (int b = 1; b <= nbrokers; b++)
                rd_kafka_mock_broker_set_up(mc, b);
            core_log(CORE_LOG_INFO, MOD, "brokers set up (SIGUSR2)", NULL);
        }
    }
    core_log(CORE_LOG_INFO, MOD, "stopping", NULL);
done:
    rd_kafka_mock_cluster_destroy(mc);
    rd_kafka_destroy(rk);
    return rc;
}
