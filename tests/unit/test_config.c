/* Configuration: defaults, the YAML loader's errors (file:line:key),
 * environment overrides, units, and secrets masked when printed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include <libpq-fe.h>

#include "core/config.h"

extern char **environ;

static char g_dir[] = "/tmp/custos-test-config.XXXXXX";

/* Each test starts from an environment without CUSTOS_* variables, so that
 * the caller's shell cannot change the outcome. */
static void clear_custos_env(void)
{
    for (;;) {
        char name[256] = "";
        for (char **e = environ; *e; e++)
            if (strncmp(*e, "CUSTOS_", 7) == 0) {
                size_t n = strcspn(*e, "=");
                if (n < sizeof name) {
                    memcpy(name, *e, n);
                    name[n] = '\0';
                }
                break;
            }
        if (!name[0])
            return;
        unsetenv(name);
    }
}

static int setup(void **state)
{
    (void)state;
    clear_custos_env();
    return 0;
}

static int group_setup(void **state)
{
    (void)state;
    return mkdtemp(g_dir) ? 0 : -1;
}

static int group_teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
    return system(cmd) == 0 ? 0 : -1;
}

/* Writes text to a fresh file in the test folder; returns its path. */
static const char *write_file(const char *name, const char *text)
{
    static char path[512];
    snprintf(path, sizeof path, "%s/%s", g_dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    return path;
}

/* Prints cfg into a malloc'd string. */
static char *print_config(const core_config *cfg)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_non_null(f);
    core_config_print(cfg, f);
    fclose(f);
    return buf;
}

static void defaults_load_without_file(void **state)
{
    (void)state;
    core_config cfg;
    char err[512] = "";
    assert_int_equal(core_config_load(&cfg, NULL, err, sizeof err), 0);
    assert_string_equal(cfg.pg_dsn, "dbname=custos");
    assert_string_equal(cfg.kafka_brokers, "localhost:9092");
    assert_string_equal(cfg.kafka_topics, "custos.interactions");
    assert_string_equal(cfg.kafka_group, "custos");
    assert_string_equal(cfg.kafka_auto_offset_reset, "earliest");
    assert_int_equal(cfg.coll_batch_max_events, 5000);
    assert_int_equal(cfg.coll_batch_max_ms, 200);
    assert_int_equal(cfg.coll_max_message_bytes, 1 << 20);
    assert_int_equal(cfg.coll_prompt_max_bytes, 32 << 10);
    assert_int_equal(cfg.coll_response_max_bytes, 64 << 10);
    assert_int_equal(cfg.coll_max_inflight_bytes, 96 << 20);
    assert_int_equal(cfg.kafka_session_timeout_ms, 10000);
    assert_int_equal(cfg.coll_shutdown_grace_ms, 10000);
    assert_string_equal(cfg.coll_format, "native");
    assert_string_equal(cfg.log_level, "info");
    core_config_free(&cfg);
}

/* Every default passes its own validation: the printed defaults, read back
 * as a config file, load without error and print the same. */
static void defaults_are_valid_and_print_round_trips(void **state)
{
    (void)state;
    core_config cfg;
    char err[512] = "";
    core_config_defaults(&cfg);
    char *printed = print_config(&cfg);
    assert_non_null(strstr(printed, "postgres:\n"));
    assert_non_null(strstr(printed, "kafka:\n"));
    assert_non_null(strstr(printed, "collector:\n"));
    assert_non_null(strstr(printed, "log:\n"));
    const char *path = write_file("defaults.yaml", printed);
    core_config back;
    if (core_config_load(&back, path, err, sizeof err) != 0)
        fail_msg("printed defaults do not load: %s", err);
    char *again = print_config(&back);
    assert_string_equal(printed, again);
    free(printed);
    free(again);
    core_config_free(&cfg);
    core_config_free(&back);
}

static void file_values_are_applied(void **state)
{
    (void)state;
    const char *path = write_file("good.yaml",
                                  "# a comment\n"
                                  "postgres:\n"
                                  "  dsn: host=db dbname=prod\n"
                                  "kafka:\n"
                                  "  brokers: k1:9092,k2:9092\n"
                                  "  topics:\n"
                                  "    - a.events\n"
                                  "    - b.events\n"
                                  "  auto_offset_reset: LATEST\n"
                                  "collector:\n"
                                  "  batch_max_events: 100\n"
                                  "  batch_max_ms: 1.5s\n"
                                  "  max_message_bytes: 2MiB\n"
                                  "  prompt_max_bytes: 4KiB\n"
                                  "log:\n"
                                  "  level: debug\n");
    core_config cfg;
    char err[512] = "";
    if (core_config_load(&cfg, path, err, sizeof err) != 0)
        fail_msg("%s", err);
    assert_string_equal(cfg.pg_dsn, "host=db dbname=prod");
    assert_string_equal(cfg.kafka_brokers, "k1:9092,k2:9092");
    assert_string_equal(cfg.kafka_topics, "a.events,b.events"); /* a list joins with commas */
    assert_string_equal(cfg.kafka_auto_offset_reset, "latest");   /* enums are case-blind */
    assert_int_equal(cfg.coll_batch_max_events, 100);
    assert_int_equal(cfg.coll_batch_max_ms, 1500);
    assert_int_equal(cfg.coll_max_message_bytes, 2 << 20);
    assert_int_equal(cfg.coll_prompt_max_bytes, 4096);
    assert_string_equal(cfg.log_level, "debug");
    /* untouched settings keep their defaults */
    assert_string_equal(cfg.kafka_group, "custos");
    core_config_free(&cfg);

    /* a section whose keys are all commented out is empty, not an error */
    path = write_file("empty-section.yaml", "kafka:\n#  brokers: x\nlog:\n  level: warn\n");
    if (core_config_load(&cfg, path, err, sizeof err) != 0)
        fail_msg("%s", err);
    assert_string_equal(cfg.kafka_brokers, "localhost:9092");
    assert_string_equal(cfg.log_level, "warn");
    core_config_free(&cfg);
}

/* Loads text as a file and expects an error holding every string in want. */
static void expect_file_error(const char *text, const char *const *want, size_t n_want)
{
    const char *path = write_file("bad.yaml", text);
    core_config cfg;
    char err[1024] = "";
    int rc = core_config_load(&cfg, path, err, sizeof err);
    core_config_free(&cfg);
    if (rc != -1)
        fail_msg("accepted:\n%s", text);
    for (size_t i = 0; i < n_want; i++)
        if (!strstr(err, want[i]))
            fail_msg("error \"%s\" lacks \"%s\"", err, want[i]);
}
#define EXPECT_FILE_ERROR(text, ...)                                      \
    do {                                                                  \
        const char *const w_[] = {__VA_ARGS__};                           \
        expect_file_error((text), w_, sizeof w_ / sizeof w_[0]);          \
    } while (0)

static void file_errors_name_file_line_and_key(void **state)
{
    (void)state;
    char at[600];
    snprintf(at, sizeof at, "%s/bad.yaml:", g_dir);

    EXPECT_FILE_ERROR("kafka:\n  brokers: x\nbogus:\n  a: 1\n", at, "bad.yaml:3:", "bogus",
                      "unknown section");
    EXPECT_FILE_ERROR("# comment\n\nkafka:\n  brokers: x\n  nope: 1\n", "bad.yaml:5:",
                      "kafka.nope", "unknown setting");
    EXPECT_FILE_ERROR("collector:\n  batch_max_events: abc\n", "bad.yaml:2:",
                      "collector.batch_max_events", "'abc' is not a number");
    EXPECT_FILE_ERROR("collector:\n  batch_max_events: 12x\n", "bad.yaml:2:",
                      "collector.batch_max_events", "unknown unit 'x'", "no unit allowed");
    EXPECT_FILE_ERROR("collector:\n  batch_max_events: 2.5\n", "bad.yaml:2:",
                      "not a whole number");
    EXPECT_FILE_ERROR("collector:\n  batch_max_ms: 5 parsecs\n", "bad.yaml:2:",
                      "collector.batch_max_ms", "unknown unit 'parsecs'", "use ms, s, m, h");
    EXPECT_FILE_ERROR("collector:\n  max_message_bytes: 5ms\n", "bad.yaml:2:",
                      "collector.max_message_bytes", "unknown unit 'ms'",
                      "use B, KiB, MiB, GiB");
    EXPECT_FILE_ERROR("collector:\n  batch_max_ms: 0.5ms\n", "bad.yaml:2:",
                      "not a whole number of milliseconds");
    EXPECT_FILE_ERROR("collector:\n\n  batch_max_events: 0\n", "bad.yaml:3:",
                      "collector.batch_max_events", "out of range [1, 1000000]");
    EXPECT_FILE_ERROR("collector:\n  batch_max_events: 1000001\n", "bad.yaml:2:",
                      "out of range");
    EXPECT_FILE_ERROR("collector:\n  max_message_bytes: 65MiB\n", "bad.yaml:2:",
                      "collector.max_message_bytes", "out of range", "bytes");
    EXPECT_FILE_ERROR("kafka:\n  session_timeout_ms: 999ms\n", "bad.yaml:2:",
                      "kafka.session_timeout_ms", "out of range", " ms");
    EXPECT_FILE_ERROR("kafka:\n  auto_offset_reset: middle\n", "bad.yaml:2:",
                      "kafka.auto_offset_reset", "'middle' is not one of earliest|latest");
    EXPECT_FILE_ERROR("log:\n  level: loud\n", "bad.yaml:2:", "log.level",
                      "is not one of debug|info|warn|error");
    EXPECT_FILE_ERROR("kafka:\n  brokers: [a, b\n", at, "YAML syntax error");
    EXPECT_FILE_ERROR("kafka:\n  brokers: x\n   group: y\n", "bad.yaml:", "YAML syntax error");
    EXPECT_FILE_ERROR("kafka:\n  brokers:\n    nested: 1\n", "bad.yaml:3:", "kafka.brokers",
                      "nested mapping");
    EXPECT_FILE_ERROR("kafka: 12\n", "bad.yaml:1:", "kafka", "must be a mapping");
    EXPECT_FILE_ERROR("- a\n- b\n", "bad.yaml:1:");
    EXPECT_FILE_ERROR("collector:\n  batch_max_events:\n", "bad.yaml:2:",
                      "collector.batch_max_events", "empty value");
    EXPECT_FILE_ERROR("kafka:\n  brokers: &b x\n  group: *b\n", "bad.yaml:3:", "aliases");
}

static void missing_file_is_an_error(void **state)
{
    (void)state;
    core_config cfg;
    char err[512] = "";
    assert_int_equal(core_config_load(&cfg, "/nonexistent/custos.yaml", err, sizeof err), -1);
    core_config_free(&cfg);
    assert_non_null(strstr(err, "/nonexistent/custos.yaml"));
    assert_non_null(strstr(err, "cannot open"));
}

static void environment_wins_over_file(void **state)
{
    (void)state;
    const char *path = write_file("env.yaml", "kafka:\n"
                                              "  group: from-file\n"
                                              "  brokers: file:9092\n"
                                              "collector:\n"
                                              "  batch_max_events: 10\n");
    setenv("CUSTOS_KAFKA_GROUP", "from-env", 1);
    setenv("CUSTOS_KAFKA_TOPICS", "t1,t2", 1);
    setenv("CUSTOS_POSTGRES_DSN", "host=envhost dbname=x", 1);
    setenv("CUSTOS_COLLECTOR_BATCH_MAX_EVENTS", "20", 1);
    setenv("CUSTOS_COLLECTOR_BATCH_MAX_MS", "1s", 1);
    core_config cfg;
    char err[512] = "";
    if (core_config_load(&cfg, path, err, sizeof err) != 0)
        fail_msg("%s", err);
    assert_string_equal(cfg.kafka_group, "from-env");
    assert_string_equal(cfg.kafka_brokers, "file:9092"); /* no variable: the file's value */
    assert_string_equal(cfg.kafka_topics, "t1,t2");
    assert_string_equal(cfg.pg_dsn, "host=envhost dbname=x");
    assert_int_equal(cfg.coll_batch_max_events, 20);
    assert_int_equal(cfg.coll_batch_max_ms, 1000);
    core_config_free(&cfg);

    /* a bad variable stops the load and names the variable and the key */
    setenv("CUSTOS_COLLECTOR_BATCH_MAX_EVENTS", "lots", 1);
    assert_int_equal(core_config_load(&cfg, path, err, sizeof err), -1);
    core_config_free(&cfg);
    assert_non_null(strstr(err, "environment CUSTOS_COLLECTOR_BATCH_MAX_EVENTS"));
    assert_non_null(strstr(err, "collector.batch_max_events"));
    assert_non_null(strstr(err, "'lots' is not a number"));
    setenv("CUSTOS_COLLECTOR_BATCH_MAX_EVENTS", "10", 1);
    setenv("CUSTOS_LOG_LEVEL", "chatty", 1);
    assert_int_equal(core_config_load(&cfg, NULL, err, sizeof err), -1);
    core_config_free(&cfg);
    assert_non_null(strstr(err, "environment CUSTOS_LOG_LEVEL"));
}

static void units_scale_values(void **state)
{
    (void)state;
    static const struct {
        const char *section, *key, *value;
        int64_t want;
        size_t off;
    } cases[] = {
        {"collector", "max_message_bytes", "2048", 2048, offsetof(core_config, coll_max_message_bytes)},
        {"collector", "max_message_bytes", "2048B", 2048, offsetof(core_config, coll_max_message_bytes)},
        {"collector", "max_message_bytes", "64KiB", 65536, offsetof(core_config, coll_max_message_bytes)},
        {"collector", "max_message_bytes", "1.5KiB", 1536, offsetof(core_config, coll_max_message_bytes)},
        {"collector", "max_message_bytes", "3MiB", 3 << 20, offsetof(core_config, coll_max_message_bytes)},
        {"collector", "max_message_bytes", "2KB", 2000, offsetof(core_config, coll_max_message_bytes)},
        {"collector", "max_message_bytes", "1MB", 1000000, offsetof(core_config, coll_max_message_bytes)},
        {"collector", "max_message_bytes", " 8 KiB", 8192, offsetof(core_config, coll_max_message_bytes)},
        {"collector", "max_inflight_bytes", "1GiB", INT64_C(1) << 30, offsetof(core_config, coll_max_inflight_bytes)},
        {"collector", "batch_max_ms", "250", 250, offsetof(core_config, coll_batch_max_ms)},
        {"collector", "batch_max_ms", "250ms", 250, offsetof(core_config, coll_batch_max_ms)},
        {"collector", "batch_max_ms", "2s", 2000, offsetof(core_config, coll_batch_max_ms)},
        {"collector", "batch_max_ms", "0.25s", 250, offsetof(core_config, coll_batch_max_ms)},
        {"collector", "batch_max_ms", "1m", 60000, offsetof(core_config, coll_batch_max_ms)},
        {"collector", "retry_max_ms", "10m", 600000, offsetof(core_config, coll_retry_max_ms)},
        {"log", "error_interval_ms", "1h", 3600000, offsetof(core_config, log_error_interval_ms)},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        core_config cfg;
        char err[512] = "";
        core_config_defaults(&cfg);
        if (core_config_set(&cfg, cases[i].section, cases[i].key, cases[i].value, err,
                            sizeof err) != 0)
            fail_msg("%s.%s=%s: %s", cases[i].section, cases[i].key, cases[i].value, err);
        int64_t got = *(int64_t *)((char *)&cfg + cases[i].off);
        if (got != cases[i].want)
            fail_msg("%s.%s=%s gave %lld, want %lld", cases[i].section, cases[i].key,
                     cases[i].value, (long long)got, (long long)cases[i].want);
        core_config_free(&cfg);
    }
    static const char *const bad[][3] = {
        {"collector", "max_message_bytes", "1kib"},  /* units are case-sensitive */
        {"collector", "max_message_bytes", "1.0001KiB"},
        {"collector", "max_message_bytes", "2s"},
        {"collector", "batch_max_ms", "2KiB"},
        {"collector", "batch_max_ms", "1m1s"},
        {"collector", "batch_max_ms", "2m"}, /* 120000 > 60000 */
        {"collector", "batch_max_ms", "-5"},
        {"collector", "batch_max_ms", ""},
        {"collector", "batch_max_ms", "nan"},
        {"collector", "batch_max_ms", "inf"},
        {"collector", "batch_max_events", "1e300"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        core_config cfg;
        char err[512] = "";
        core_config_defaults(&cfg);
        if (core_config_set(&cfg, bad[i][0], bad[i][1], bad[i][2], err, sizeof err) != -1)
            fail_msg("accepted %s.%s=\"%s\"", bad[i][0], bad[i][1], bad[i][2]);
        char want[128];
        snprintf(want, sizeof want, "%s.%s: ", bad[i][0], bad[i][1]);
        if (!strstr(err, want))
            fail_msg("error \"%s\" lacks \"%s\"", err, want);
        core_config_free(&cfg);
    }
}

static void set_rejects_unknown_names(void **state)
{
    (void)state;
    core_config cfg;
    char err[512] = "";
    core_config_defaults(&cfg);
    assert_int_equal(core_config_set(&cfg, "nosuch", "x", "1", err, sizeof err), -1);
    assert_non_null(strstr(err, "unknown section 'nosuch'"));
    assert_int_equal(core_config_set(&cfg, "kafka", "nosuch", "1", err, sizeof err), -1);
    assert_non_null(strstr(err, "unknown key 'nosuch' in section 'kafka'"));
    core_config_free(&cfg);
}

static void dsn_password_masked_conninfo(void **state)
{
    (void)state;
    char buf[512];
    static const char *const cases[][2] = {
        {"host=db password=s3cret user=u", "host=db password=**** user=u"},
        {"password=s3cret", "password=****"},
        {"host=db  password = s3cret dbname=x", "host=db  password=**** dbname=x"},
        {"host=db password='s3 cr\\'et' dbname=x", "host=db password=**** dbname=x"},
        {"host=db dbname=x", "host=db dbname=x"},
        {"host=db passfile=/p dbname=x", "host=db passfile=/p dbname=x"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        assert_string_equal(core_config_mask_dsn(cases[i][0], buf, sizeof buf), cases[i][1]);
}

static void dsn_password_masked_uri(void **state)
{
    (void)state;
    char buf[512];
    static const char *const cases[][2] = {
        {"postgresql://u:s3cret@db:5432/custos", "postgresql://u:****@db:5432/custos"},
        {"postgres://u:s3cret@db/custos?sslmode=require",
         "postgres://u:****@db/custos?sslmode=require"},
        {"postgresql://db/custos?user=u&password=s3cret", "postgresql://db/custos?user=u&password=****"},
        {"postgresql://db/custos?password=s3cret&sslmode=require",
         "postgresql://db/custos?password=****&sslmode=require"},
        {"postgresql://u:s3cret@db/custos?password=s3cret",
         "postgresql://u:****@db/custos?password=****"},
        {"postgresql://u@db:5432/custos", "postgresql://u@db:5432/custos"},
        {"postgresql://db:5432/custos", "postgresql://db:5432/custos"},
        /* libpq takes the first '@': password "p", host "x@db" */
        {"postgresql://u:p@x@db/custos", "postgresql://u:****@x@db/custos"},
        {"postgresql://u:pw@db/custos?password=ab", "postgresql://u:****@db/custos?password=****"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        assert_string_equal(core_config_mask_dsn(cases[i][0], buf, sizeof buf), cases[i][1]);
    /* a small buffer truncates, always NUL-terminated and never showing the secret */
    char small[20];
    memset(small, 'z', sizeof small);
    core_config_mask_dsn("postgresql://user:s3cret@db/custos?password=s3cret", small,
                         sizeof small);
    assert_true(strlen(small) < sizeof small);
    assert_null(strstr(small, "s3cret"));
    char tiny[12];
    core_config_mask_dsn("postgresql://db/c?password=s3cret", tiny, sizeof tiny);
    assert_true(strlen(tiny) < sizeof tiny);
}

static void print_masks_secrets(void **state)
{
    (void)state;
    static const char *const dsns[] = {
        "host=db user=custos password=hunter2-conninfo dbname=custos",
        "postgresql://custos:hunter2-uri@db:5432/custos?sslmode=disable",
        "postgresql://db/custos?user=custos&password=hunter2-query",
    };
    for (size_t i = 0; i < sizeof dsns / sizeof dsns[0]; i++) {
        setenv("CUSTOS_POSTGRES_DSN", dsns[i], 1);
        setenv("CUSTOS_KAFKA_SASL_PASSWORD", "kafka-hunter2", 1);
        core_config cfg;
        char err[512] = "";
        if (core_config_load(&cfg, NULL, err, sizeof err) != 0)
            fail_msg("%s", err);
        assert_string_equal(cfg.pg_dsn, dsns[i]); /* the real value is kept */
        char *out = print_config(&cfg);
        if (strstr(out, "hunter2"))
            fail_msg("a secret is printed:\n%s", out);
        assert_non_null(strstr(out, "****"));
        assert_non_null(strstr(out, "sasl_password: \"****\""));
        assert_non_null(strstr(out, "dsn: \""));
        free(out);
        core_config_free(&cfg);
    }
    /* an empty secret prints as empty, not as a mask that suggests one is set */
    unsetenv("CUSTOS_KAFKA_SASL_PASSWORD");
    core_config cfg;
    char err[512];
    assert_int_equal(core_config_load(&cfg, NULL, err, sizeof err), 0);
    char *out = print_config(&cfg);
    assert_non_null(strstr(out, "sasl_password: \"\""));
    free(out);
    core_config_free(&cfg);
}

/* Issue 13: what the loader used to accept silently or crash on. */
static void file_refusals_name_the_source(void **state)
{
    (void)state;
    /* a list inside a list crashed start-up (strdup(NULL)) and leaked */
    EXPECT_FILE_ERROR("kafka:\n  topics: [a, [b, c]]\n", "bad.yaml:2:", "kafka.topics",
                      "list inside a list");
    EXPECT_FILE_ERROR("kafka:\n  topics:\n    - a\n    - [b]\n", "bad.yaml:4:", "kafka.topics",
                      "list inside a list");
    EXPECT_FILE_ERROR("kafka:\n  topics: [a, {b: c}]\n", "bad.yaml:2:", "kafka.topics",
                      "nested mapping");
    /* duplicate keys: the file must mean one thing */
    EXPECT_FILE_ERROR("log:\n  level: warn\n  level: debug\n", "bad.yaml:3:", "log.level",
                      "given twice", "line 2");
    EXPECT_FILE_ERROR("log:\n  level: warn\nkafka:\n  group: g\nlog:\n  error_interval_ms: 1s\n",
                      "bad.yaml:5:", "log", "section is given twice");
    /* addresses the web server would refuse at start are refused at load */
    EXPECT_FILE_ERROR("web:\n  allowed_hosts: \"soc.example.com, bad/host\"\n", "bad.yaml:2:",
                      "web.allowed_hosts", "'bad/host' is not HOST");
    EXPECT_FILE_ERROR("web:\n  allowed_hosts: \"a:99999\"\n", "bad.yaml:2:",
                      "web.allowed_hosts");
    EXPECT_FILE_ERROR("web:\n  allowed_hosts: \" , \"\n", "bad.yaml:2:", "web.allowed_hosts",
                      "names no host");
    EXPECT_FILE_ERROR("web:\n  listen: \"0.0.0.0\"\n", "bad.yaml:2:", "web.listen",
                      "not HOST:PORT");
    EXPECT_FILE_ERROR("web:\n  listen: \"::1:8440\"\n", "bad.yaml:2:", "web.listen");
    /* a second document */
    EXPECT_FILE_ERROR("log:\n  level: warn\n---\nlog:\n  level: debug\n", "bad.yaml:3:",
                      "second YAML document");
    /* a key is named once in the message */
    const char *path = write_file("list-bad.yaml", "kafka:\n  auto_offset_reset: [a, b]\n");
    core_config cfg;
    char err[1024] = "";
    assert_int_equal(core_config_load(&cfg, path, err, sizeof err), -1);
    core_config_free(&cfg);
    print_message("  %s\n", err);
    const char *first = strstr(err, "kafka.auto_offset_reset");
    assert_non_null(first);
    assert_null(strstr(first + 1, "kafka.auto_offset_reset"));
    /* a directory given as the file says so */
    assert_int_equal(core_config_load(&cfg, g_dir, err, sizeof err), -1);
    core_config_free(&cfg);
    print_message("  %s\n", err);
    assert_non_null(strstr(err, g_dir));
    assert_non_null(strstr(err, "is a directory"));
}

static void misspelled_environment_is_an_error(void **state)
{
    (void)state;
    core_config cfg;
    char err[512] = "";
    /* a known section, an unknown key */
    setenv("CUSTOS_KAFKA_GRUOP", "g", 1);
    assert_int_equal(core_config_load(&cfg, NULL, err, sizeof err), -1);
    core_config_free(&cfg);
    print_message("  %s\n", err);
    assert_non_null(strstr(err, "environment CUSTOS_KAFKA_GRUOP"));
    assert_non_null(strstr(err, "CUSTOS_KAFKA_GROUP"));
    unsetenv("CUSTOS_KAFKA_GRUOP");
    /* a misspelled section, close to a setting */
    setenv("CUSTOS_KAKFA_GROUP", "g", 1);
    assert_int_equal(core_config_load(&cfg, NULL, err, sizeof err), -1);
    core_config_free(&cfg);
    assert_non_null(strstr(err, "environment CUSTOS_KAKFA_GROUP"));
    assert_non_null(strstr(err, "did you mean CUSTOS_KAFKA_GROUP"));
    unsetenv("CUSTOS_KAKFA_GROUP");
    setenv("CUSTOS_SECURITY_LUA_MAX_BYTE", "1MiB", 1);
    assert_int_equal(core_config_load(&cfg, NULL, err, sizeof err), -1);
    core_config_free(&cfg);
    assert_non_null(strstr(err, "CUSTOS_SECURITY_LUA_MAX_BYTE"));
    unsetenv("CUSTOS_SECURITY_LUA_MAX_BYTE");
    /* the variables of the scripts, and unrelated names, are fine */
    setenv("CUSTOS_CONFIG", "", 1);
    setenv("CUSTOS_BIN", "/bin/true", 1);
    setenv("CUSTOS_SOMETHING_ELSE_ENTIRELY", "x", 1);
    setenv("CUSTOS_KAFKA_GROUP", "right", 1);
    if (core_config_load(&cfg, NULL, err, sizeof err) != 0)
        fail_msg("%s", err);
    assert_string_equal(cfg.kafka_group, "right");
    core_config_free(&cfg);
}

/* Issue 13: every secret keyword libpq knows, in every form libpq reads,
 * checked with libpq's own parser: the masked string parses, every secret
 * in it is "****" and every other option is what it was. */
static void dsn_secrets_masked_per_libpq(void **state)
{
    (void)state;
    static const char *const dsns[] = {
        "host=db sslpassword=hunter2-ssl dbname=x",
        "host=db password=hunter2\\ with\\ spaces user=u",
        "host=db password=hun\\'ter2 user=u",
        "host=db password='hunter2 q\\'d' sslpassword = 'hunter2-b' user=u",
        "password=hunter2-first sslmode=disable",
        "postgresql://u:hunter2-uri@db:5432/custos?sslpassword=hunter2-q&sslmode=require",
        "postgresql://db/custos?pass%77ord=hunter2-enc&user=u",
        "postgres://u:hunter2%40x@db/custos",
        "postgresql://u:hunter2-p@x@db/custos",
        "host=db dbname=x",
        /* found by fuzz_config: a '?' in the user info makes this reading
         * differ from libpq's, so libpq's options are printed, and one of
         * them holds the byte %ef decodes to: printed raw, it was not
         * UTF-8 and the printed config did not load */
        "postgresql://cpu?a@h%effect/u:db?sslpassword=hunter2-f",
    };
    char buf[1024];
    for (size_t i = 0; i < sizeof dsns / sizeof dsns[0]; i++) {
        const char *m = core_config_mask_dsn(dsns[i], buf, sizeof buf);
        print_message("  %s\n  -> %s\n", dsns[i], m);
        if (strstr(m, "hunter2"))
            fail_msg("a secret shows: %s -> %s", dsns[i], m);
        for (const unsigned char *c = (const unsigned char *)m; *c; c++)
            if (*c < 0x20 || *c >= 0x7f)
                fail_msg("%s -> %s: byte 0x%02x is not printable ASCII", dsns[i], m, *c);
        char *e1 = NULL, *e2 = NULL;
        PQconninfoOption *orig = PQconninfoParse(dsns[i], &e1);
        PQconninfoOption *back = PQconninfoParse(m, &e2);
        if (!orig || !back)
            fail_msg("libpq cannot read %s: %s", orig ? m : dsns[i], orig ? e2 : e1);
        for (PQconninfoOption *a = orig; a->keyword; a++) {
            PQconninfoOption *b = back;
            while (b->keyword && strcmp(b->keyword, a->keyword) != 0)
                b++;
            assert_non_null(b->keyword);
            bool secret = a->dispchar && a->dispchar[0] == '*';
            if (secret && a->val && *a->val) {
                assert_non_null(b->val);
                assert_string_equal(b->val, "****");
            } else if (!secret) {
                if ((a->val == NULL) != (b->val == NULL) ||
                    (a->val && strcmp(a->val, b->val) != 0))
                    fail_msg("%s: '%s' became '%s'", a->keyword, a->val ? a->val : "(null)",
                             b->val ? b->val : "(null)");
            }
        }
        PQconninfoFree(orig);
        PQconninfoFree(back);
    }
    /* what libpq cannot read is not shown at all */
    const char *m = core_config_mask_dsn("host=db password hunter2", buf, sizeof buf);
    assert_null(strstr(m, "hunter2"));
    assert_non_null(strstr(m, "not a valid libpq connection string"));
}

/* Found by fuzz_config: a value holding a control character (given as a
 * YAML escape: C0 first, then C1 such as \x99) printed raw, and the print
 * did not load back. */
static void print_escapes_control_characters(void **state)
{
    (void)state;
    const char *path = write_file("ctl.yaml", "effectors:\n  webhook_url: \"http://x/\\x01\\ty\"\n"
                                              "  control_topic: \"t\\x99\\x85\\u2028\\u00e9\"\n");
    core_config cfg, back;
    char err[512] = "";
    if (core_config_load(&cfg, path, err, sizeof err) != 0)
        fail_msg("%s", err);
    assert_string_equal(cfg.fx_webhook_url, "http://x/\x01\ty");
    char *printed = print_config(&cfg);
    const char *p2 = write_file("ctl-back.yaml", printed);
    if (core_config_load(&back, p2, err, sizeof err) != 0)
        fail_msg("the print does not load: %s", err);
    assert_string_equal(back.fx_webhook_url, "http://x/\x01\ty");
    /* C1 (U+0099), NEL and U+2028 are refused raw by YAML readers too */
    assert_string_equal(back.fx_control_topic, "t\xc2\x99\xc2\x85\xe2\x80\xa8\xc3\xa9");
    free(printed);
    core_config_free(&cfg);
    core_config_free(&back);
}

/* Found by fuzz_config: a DSN whose masked print (libpq's options,
 * percent-encoded) was longer than the print's 1 KiB buffer was cut in the
 * middle of an escape, and the print did not load back. */
static void print_long_dsn_whole(void **state)
{
    (void)state;
    char yaml[4096], dsn[2048];
    int n = snprintf(dsn, sizeof dsn, "postgresql://u?a@h/db?application_name=");
    for (int i = 0; i < 300; i++)
        n += snprintf(dsn + n, sizeof dsn - (size_t)n, "x%%0A");
    snprintf(yaml, sizeof yaml, "postgres:\n  dsn: \"%s&sslpassword=hunter2\"\n", dsn);
    core_config cfg, back;
    char err[512] = "";
    if (core_config_load(&cfg, write_file("long-dsn.yaml", yaml), err, sizeof err) != 0)
        fail_msg("%s", err);
    char *printed = print_config(&cfg);
    assert_null(strstr(printed, "hunter2"));
    if (core_config_load(&back, write_file("long-dsn-back.yaml", printed), err, sizeof err) != 0)
        fail_msg("the print does not load: %s", err);
    char *again = print_config(&back);
    assert_string_equal(printed, again);
    /* libpq reads the printed DSN as the same application_name */
    PQconninfoOption *a = PQconninfoParse(cfg.pg_dsn, NULL), *b = PQconninfoParse(back.pg_dsn, NULL);
    assert_non_null(a);
    assert_non_null(b);
    const char *va = NULL, *vb = NULL;
    for (PQconninfoOption *o = a; o->keyword; o++)
        if (!strcmp(o->keyword, "application_name"))
            va = o->val;
    for (PQconninfoOption *o = b; o->keyword; o++)
        if (!strcmp(o->keyword, "application_name"))
            vb = o->val;
    assert_non_null(va);
    assert_non_null(vb);
    assert_int_equal(strlen(va), 600);
    assert_string_equal(va, vb);
    PQconninfoFree(a);
    PQconninfoFree(b);
    free(printed);
    free(again);
    core_config_free(&cfg);
    core_config_free(&back);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(defaults_load_without_file, setup),
        cmocka_unit_test_setup(defaults_are_valid_and_print_round_trips, setup),
        cmocka_unit_test_setup(file_values_are_applied, setup),
        cmocka_unit_test_setup(file_errors_name_file_line_and_key, setup),
        cmocka_unit_test_setup(missing_file_is_an_error, setup),
        cmocka_unit_test_setup(environment_wins_over_file, setup),
        cmocka_unit_test_setup(units_scale_values, setup),
        cmocka_unit_test_setup(set_rejects_unknown_names, setup),
        cmocka_unit_test_setup(dsn_password_masked_conninfo, setup),
        cmocka_unit_test_setup(dsn_password_masked_uri, setup),
        cmocka_unit_test_setup(print_masks_secrets, setup),
        cmocka_unit_test_setup(file_refusals_name_the_source, setup),
        cmocka_unit_test_setup(misspelled_environment_is_an_error, setup),
        cmocka_unit_test_setup(dsn_secrets_masked_per_libpq, setup),
        cmocka_unit_test_setup(print_escapes_control_characters, setup),
        cmocka_unit_test_setup(print_long_dsn_whole, setup),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
