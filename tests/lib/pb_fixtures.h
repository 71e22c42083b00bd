/* Shared fixtures of the playbook unit tests (test_pb_sandbox.c,
 * test_pb_hardening.c): a host that records what the playbooks asked for,
 * and one playbook run through the real loader, sandbox and API. Include
 * after <cmocka.h>. */
#ifndef TESTS_LIB_PB_FIXTURES_H
#define TESTS_LIB_PB_FIXTURES_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "playbooks/pb.h"

/* A host that records what the playbooks asked for. */
typedef struct {
    int calls;
    char last_kind[32], last_subject[300];
    char last_params[4096];
} rec_host;

/* pb_host.action: records the call; every action is "dry_run", its id the
 * call's number. */
static inline int rec_action(void *ud, const pb_call *c, int64_t *id, char *state,
                             size_t statelen, char *err, size_t errlen)
{
    rec_host *h = ud;
    (void)err;
    (void)errlen;
    h->calls++;
    snprintf(h->last_kind, sizeof h->last_kind, "%s", pb_kinds[c->kind]);
    snprintf(h->last_subject, sizeof h->last_subject, "%s", c->subject);
    char *p = cJSON_PrintUnformatted(c->params);
    snprintf(h->last_params, sizeof h->last_params, "%s", p ? p : "");
    free(p);
    *id = h->calls;
    snprintf(state, statelen, "%s", "dry_run");
    return 0;
}

/* pb_host.key_info: only "k-known" is known. */
static inline cJSON *rec_key_info(void *ud, const char *key)
{
    (void)ud;
    if (strcmp(key, "k-known") != 0)
        return NULL;
    return cJSON_Parse("{\"key_id\":\"k-known\",\"status\":\"active\",\"throttle_rps\":null}");
}

/* Loads, from file path, the playbook
 *   return { name = "NAME", on = { types = "*" }, DECL
 *   run = function(incident) BODY end }
 * (so BODY starts on line 3) under lim, and runs it once against
 * incident_json with a rec_host host h and at most 32 actions. Fails the
 * test when the playbook does not load or the incident does not parse. */
static inline pb_run_result pb_fixture_run(const char *path, const char *name, const char *decl,
                                           const char *body, const char *incident_json,
                                           rec_host *h, const pb_sb_limits *lim)
{
    size_t cap = strlen(name) + strlen(decl) + strlen(body) + 256;
    char *src = malloc(cap);
    assert_non_null(src);
    snprintf(src, cap,
             "return { name = \"%s\", on = { types = \"*\" },%s%s\n"
             "run = function(incident)\n%s\nend }\n",
             name, *decl ? " " : "", decl, body);
    pb_playbook pb;
    char err[512];
    int rc = pb_playbook_load_src(&pb, path, src, strlen(src), lim, err, sizeof err);
    free(src);
    if (rc != 0)
        fail_msg("load failed: %s", err);
    pb_incident inc;
    assert_int_equal(pb_incident_parse(&inc, incident_json, strlen(incident_json), err, sizeof err),
                     0);
    pb_host host = {.ud = h, .action = rec_action, .key_info = rec_key_info};
    pb_run_result res;
    pb_run(&pb, &inc, &host, lim, 32, &res);
    pb_incident_free(&inc);
    pb_playbook_free(&pb);
    return res;
}

#endif
