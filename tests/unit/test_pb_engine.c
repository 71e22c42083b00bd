/* The engine in memory (no database): matching by type, severity and
 * event; a failing playbook does not stop the others; the same action is
 * one action; a reload keeps the old version of a refused file and drops
 * removed ones. And the audit hash's documented encoding. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "audit/audit.h"
#include "core/log.h"
#include "core/metrics.h"
#include "playbooks/pb_engine.h"
#include "playbooks/playbooks.h"
#include "playbooks/pb_store.h"

static char g_dir[128];
static core_config g_cfg;

static void write_file(const char *name, const char *src)
{
    char p[256];
    snprintf(p, sizeof p, "%s/%s", g_dir, name);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fputs(src, f);
    fclose(f);
}

static const char *EXTRACTION =
    "{\"incident_id\":\"i-1\",\"type\":\"extraction\",\"severity\":\"high\","
    "\"api_key_id\":\"k-1\",\"model\":\"m\",\"model_version\":\"v\",\"summary\":\"s\","
    "\"evidence\":{}}";

static pb_engine *engine(void)
{
    char err[256];
    pb_engine_opts o = {.cfg = &g_cfg};
    pb_engine *e = pb_engine_new(&o, err, sizeof err);
    assert_non_null(e);
    return e;
}

static int count_kind(const pb_engine *e, const char *kind)
{
    int n = 0;
    const cJSON *a;
    cJSON_ArrayForEach(a, pb_engine_memory_actions(e))
    {
        if (strcmp(cJSON_GetObjectItem(a, "kind")->valuestring, kind) == 0)
            n++;
    }
    return n;
}

static int setup(void **s)
{
    (void)s;
    snprintf(g_dir, sizeof g_dir, "/tmp/custos-pb-engine.XXXXXX");
    assert_non_null(mkdtemp(g_dir));
    core_config_defaults(&g_cfg);
    write_file("a_revoke.lua",
               "return { name = 'revoke', on = { types = { 'extraction' }, min_severity = 'high' },\n"
               "run = function(i) custos.revoke_key(i.subject.api_key_id) end }\n");
    write_file("b_probe.lua",
               "return { name = 'probe', on = { types = { 'probing' } },\n"
               "run = function(i) custos.throttle_key(i.subject.api_key_id, { rps = 1 }) end }\n");
    write_file("c_evil.lua",
               "return { name = 'evil', on = { types = '*' }, run = function(i) while true do end end }\n");
    write_file("d_never.lua",
               "return { name = 'never', on = { types = '*' }, when = function(i) return false end,\n"
               "run = function(i) custos.revoke_key('never') end }\n");
    write_file("e_failed.lua",
               "return { name = 'on-failure', on = { types = '*', events = { 'action_failed' } },\n"
               "run = function(i) custos.set_incident({ status = 'escalated' }) end }\n");
    return 0;
}

static int teardown(void **s)
{
    (void)s;
    const char *names[] = {"a_revoke.lua", "b_probe.lua", "c_evil.lua", "d_never.lua",
                           "e_failed.lua", "f_new.lua"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char p[256];
        snprintf(p, sizeof p, "%s/%s", g_dir, names[i]);
        unlink(p);
    }
    rmdir(g_dir);
    core_config_free(&g_cfg);
    return 0;
}

static void t_matching_and_isolation(void **s)
{
    (void)s;
    pb_engine *e = engine();
    assert_int_equal(pb_engine_load_dir(e, g_dir, NULL), 0);
    assert_int_equal(pb_engine_count(e), 5);
    char err[256];
    assert_int_equal(pb_engine_incident(e, EXTRACTION, strlen(EXTRACTION), PB_EV_OPENED, 0, err,
                                        sizeof err), 0);
    pb_engine_stats st;
    pb_engine_stats_get(e, &st);
    /* revoke, evil, never ran; probe (type) and on-failure (event) did not */
    assert_int_equal(st.runs, 3);
    assert_int_equal(st.failed[PB_SB_INSTRUCTIONS], 1);
    assert_int_equal(st.failed[PB_SB_OK], 2);
    assert_int_equal(st.matched, 2); /* never's when() said no */
    assert_int_equal(count_kind(e, "revoke_key"), 1);
    /* the same incident again: the same action, not a second one */
    assert_int_equal(pb_engine_incident(e, EXTRACTION, strlen(EXTRACTION), PB_EV_UPDATED, 0, err,
                                        sizeof err), 0);
    assert_int_equal(count_kind(e, "revoke_key"), 1);
    /* below min_severity: revoke does not run */
    pb_engine_memory_reset(e);
    char low[512];
    snprintf(low, sizeof low, "%s", EXTRACTION);
    memcpy(strstr(low, "\"high\""), "\"low\" ", 6);
    assert_int_equal(pb_engine_incident(e, low, strlen(low), PB_EV_OPENED, 0, err, sizeof err), 0);
    assert_int_equal(count_kind(e, "revoke_key"), 0);
    /* action_failed reaches only the playbooks that listen for it */
    assert_int_equal(pb_engine_incident(e, EXTRACTION, strlen(EXTRACTION), PB_EV_ACTION_FAILED, 0,
                                        err, sizeof err), 0);
    assert_int_equal(count_kind(e, "set_incident"), 1);
    assert_int_equal(count_kind(e, "revoke_key"), 0);
    /* everything in memory is a dry run */
    const cJSON *a;
    cJSON_ArrayForEach(a, pb_engine_memory_actions(e))
    {
        assert_string_equal(cJSON_GetObjectItem(a, "state")->valuestring, "dry_run");
    }
    /* a bad incident is refused with the field */
    const char *bad = "{\"incident_id\":\"x\",\"type\":\"weird\",\"severity\":\"low\"}";
    assert_int_equal(pb_engine_incident(e, bad, strlen(bad), PB_EV_OPENED, 0, err, sizeof err), -1);
    assert_non_null(strstr(err, "type 'weird'"));
    /* every run is counted by class for /metrics */
    char *text = core_metrics_render(NULL);
    assert_non_null(text);
    unsigned long long instr = 0, ok = 0;
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        sscanf(line, "custos_playbook_runs_total{class=\"instructions\"} %llu", &instr);
        sscanf(line, "custos_playbook_runs_total{class=\"ok\"} %llu", &ok);
    }
    free(text);
    assert_true(instr >= 1 && ok >= 2);
    pb_engine_free(e);
}

static void t_reload_keeps_old_version(void **s)
{
    (void)s;
    pb_engine *e = engine();
    assert_int_equal(pb_engine_load_dir(e, g_dir, NULL), 0);
    /* a broken new version of a_revoke.lua: refused, the old one stays */
    write_file("a_revoke.lua", "return { name = 'revoke', on = { types = 'extraction' },\n"
                               "run = function(i) custos.revoke_key( end }\n");
    FILE *rep = tmpfile();
    assert_int_equal(pb_engine_load_dir(e, g_dir, rep), 1);
    rewind(rep);
    char line[512], all[2048] = "";
    while (fgets(line, sizeof line, rep))
        strncat(all, line, sizeof all - strlen(all) - 1);
    fclose(rep);
    assert_non_null(strstr(all, "a_revoke.lua:2:"));
    assert_non_null(strstr(all, "previous version stays"));
    assert_int_equal(pb_engine_count(e), 5);
    char err[256];
    assert_int_equal(pb_engine_incident(e, EXTRACTION, strlen(EXTRACTION), PB_EV_OPENED, 0, err,
                                        sizeof err), 0);
    assert_int_equal(count_kind(e, "revoke_key"), 1);
    /* a file removed from the folder is dropped; a new one comes in */
    char p[256];
    snprintf(p, sizeof p, "%s/c_evil.lua", g_dir);
    unlink(p);
    write_file("f_new.lua", "return { on = { types = '*' }, run = function(i) end }\n");
    assert_int_equal(pb_engine_load_dir(e, g_dir, NULL), 1); /* a_revoke still broken */
    assert_int_equal(pb_engine_count(e), 5);
    /* a folder that cannot be read changes nothing */
    assert_int_equal(pb_engine_load_dir(e, "/nonexistent/custos", NULL), -1);
    assert_int_equal(pb_engine_count(e), 5);
    pb_engine_free(e);
}

/* config check's playbooks row: the shipped playbooks load; a folder with
 * a broken file (a_revoke.lua, broken by t_reload_keeps_old_version) fails
 * naming how many were refused. */
static void t_config_check(void **s)
{
    (void)s;
    char err[512] = "", *out = NULL;
    size_t outlen = 0;
    assert_int_equal(core_config_set(&g_cfg, "playbooks", "dir", CUSTOS_SOURCE_DIR "/playbooks",
                                     err, sizeof err), 0);
    FILE *f = open_memstream(&out, &outlen);
    assert_int_equal(pb_config_check(&g_cfg, f, err, sizeof err), 0);
    fclose(f);
    assert_non_null(strstr(out, "# playbooks: 5 loaded from " CUSTOS_SOURCE_DIR "/playbooks"));
    free(out);
    assert_int_equal(core_config_set(&g_cfg, "playbooks", "dir", g_dir, err, sizeof err), 0);
    assert_int_equal(pb_config_check(&g_cfg, stdout, err, sizeof err), -1);
    assert_non_null(strstr(err, "1 playbook file(s) in"));
    assert_int_equal(core_config_set(&g_cfg, "playbooks", "dir", "", err, sizeof err), 0);
}

static void t_audit_hash_encoding(void **s)
{
    (void)s;
    char h[65], h2[65];
    /* the value docs/playbooks.md's encoding gives (computed independently) */
    audit_hash("0000000000000000000000000000000000000000000000000000000000000000", 1,
                  1763731703000000LL, "cli:alice", "approved", "7", NULL,
                  "{\"from\":\"pending_approval\",\"to\":\"approved\"}", h);
    assert_string_equal(h, "34a144f4a971b4b90a37d95b9873e506933b5f42c71ccd757add35b792cb9108");
    /* NULL and "" differ; moving a boundary between fields changes it */
    audit_hash("0", 1, 1, "a", "b", "7", "", "{}", h2);
    audit_hash("0", 1, 1, "a", "b", "7", NULL, "{}", h);
    assert_string_not_equal(h, h2);
    audit_hash("0", 1, 1, "ab", "", NULL, NULL, "{}", h);
    audit_hash("0", 1, 1, "a", "b", NULL, NULL, "{}", h2);
    assert_string_not_equal(h, h2);
}

int main(void)
{
    core_log_set_level(CORE_LOG_ERROR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(t_matching_and_isolation),
        cmocka_unit_test(t_reload_keeps_old_version),
        cmocka_unit_test(t_config_check),
        cmocka_unit_test(t_audit_hash_encoding),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
