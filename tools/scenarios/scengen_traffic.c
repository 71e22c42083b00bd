/* scengen's scenarios: hours of benign traffic (hundreds of keys of very
 * different volumes, repeated and novel prompts, batch jobs, a version
 * rollout), the benign look-alikes of each attack, and each attack, with
 * their labels. The order of the calls (and of the draws inside them) is
 * what makes a seed give the same files. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tools/scenarios/scengen.h"

#define NSTYLES g_nstyles_scenario

void scen_world(world *w, int nkeys, double hours)
{
    int64_t end = T0 + (int64_t)(hours * HOUR);

    behaviour gx1 = {"gpt-x", "2026-09", 900, 0.6, 1.0, 0.02, 0.05};
    behaviour gx2 = gx1;
    gx2.version = "2026-11"; /* the rollout: a new version that behaves like the old */
    behaviour cy = {"claude-y", "2025-01", 1400, 0.5, 0.8, 0.02, 0.03};
    behaviour cy_drift = cy; /* after the drift starts: shorter, slower, refuses more */
    cy_drift.len_median = 500;
    cy_drift.lat_per_tok = 2.2;
    cy_drift.refusal = 0.15;
    cy_drift.length_share = 0.2;
    behaviour mz = {"mistral-z", "1.2", 700, 0.7, 0.6, 0.02, 0.05};
    int64_t rollout_start = T0 + 2 * HOUR, rollout_end = T0 + 3 * HOUR;
    int64_t drift_start = T0 + 3 * HOUR + 37 * MIN;
    *w = (world){nkeys, end, gx1, gx2, cy, cy_drift, mz, rollout_start, rollout_end, drift_start};
}

/* The benign population: keys working in sessions, on the three models. */
void scen_benign(const world *w)
{
    const int nkeys = w->nkeys;
    const int64_t end = w->end, rollout_start = w->rollout_start, rollout_end = w->rollout_end;
    const int64_t drift_start = w->drift_start;
    behaviour gx1 = w->gx1, gx2 = w->gx2, cy = w->cy, cy_drift = w->cy_drift, mz = w->mz;
    /* ---- benign population ---- */
    key *keys = calloc((size_t)nkeys, sizeof *keys);
    for (int i = 0; i < nkeys; i++) {
        key *k = &keys[i];
        snprintf(k->id, sizeof k->id, "key-%04d", i);
        snprintf(k->tenant, sizeof k->tenant, "tenant-%02d", irand(20));
        k->mult = 0.85 + 0.3 * urand();
        double rate = lognorm(8, 1.2); /* requests per hour, heavy-tailed */
        if (rate > 400)
            rate = 400;
        int which = irand(10); /* model choice: 50% gpt-x, 30% claude-y, 20% mistral */
        double switch_at = urand();
        strs own = {0};
        /* humans work in sessions: a few requests with short gaps, then a pause */
        for (int64_t t = T0 + (int64_t)(expo(3600.0 / rate * 3) * SEC); t < end;) {
            int in_session = 1 + irand(6);
            for (int s = 0; s < in_session && t < end; s++) {
                const behaviour *b;
                if (which < 5) {
                    double p = t < rollout_start ? 0
                               : t > rollout_end ? 1
                                                 : (double)(t - rollout_start) /
                                                       (double)(rollout_end - rollout_start);
                    b = switch_at < p ? &gx2 : &gx1;
                } else if (which < 8) {
                    b = t >= drift_start ? &cy_drift : &cy;
                } else {
                    b = &mz;
                }
                const char *p;
                if (own.n && urand() < 0.3) /* users repeat themselves */
                    p = own.v[irand(own.n)];
                else {
                    p = benign_prompt();
                    if (own.n < 20)
                        push(&own, (char *)p);
                }
                emit(t, k, b, p, NULL, urand() < b->refusal, urand() < 0.01 ? 500 : 200, 1);
                t += (int64_t)(expo(40) * SEC) + SEC;
            }
            t += (int64_t)(expo(3600.0 / rate * in_session) * SEC);
        }
        free(own.v);
        label_key("benign", "none", k->id, T0, 0);
    }
    free(keys);
}

/* Look-alikes of extraction: batch jobs and busy ordinary users. */
static void lookalikes_extraction(const world *w)
{
    const int64_t end = w->end;
    behaviour gx1 = w->gx1;
    /* ---- benign look-alikes ---- */
    /* batch jobs: one instruction template, different records, steady pacing,
     * long answers, thousands of requests (twin of extraction) */
    for (int j = 0; j < 3; j++) {
        key k = {.mult = 1};
        snprintf(k.id, sizeof k.id, "batch-%d", j);
        snprintf(k.tenant, sizeof k.tenant, "tenant-%02d", 3 + j);
        int64_t t = T0 + (int64_t)((0.5 + j) * HOUR);
        int64_t stop = t + 2 * HOUR;
        /* the job's instruction around a record number and the record */
        static const char *const pre[] = {
            "Summarize the following customer support ticket in detail, listing the problem, "
            "the steps already taken and the next action. Ticket #",
            "Translate the following product description into French, keeping the tone and all "
            "measurements. Product ",
            "Write a detailed, friendly reply to this customer review (id "};
        static const char *const mid[] = {": ", ": ", "), addressing each point they raise: "};
        while (t < stop) {
            char rec[400], prompt[1024];
            words(rec, 120 + (size_t)irand(200), sizeof rec);
            snprintf(prompt, sizeof prompt, "%s%d%s%s", pre[j], irand(1000000), mid[j], rec);
            emit(t, &k, &gx1, prompt, NULL, 0, 200, 1.2);
            t += (int64_t)((1.2 + 0.2 * urand()) * SEC);
        }
        label_key("twin_batch_job", "extraction", k.id, T0, 0);
    }
    /* busy ordinary users: diverse prompts, many of them, human pacing */
    for (int j = 0; j < 3; j++) {
        key k = {.mult = 1};
        snprintf(k.id, sizeof k.id, "busy-%d", j);
        snprintf(k.tenant, sizeof k.tenant, "tenant-%02d", 7 + j);
        for (int64_t t = T0 + (int64_t)(j * 20 * MIN); t < end;) {
            int burst = 3 + irand(10);
            for (int s = 0; s < burst; s++) {
                emit(t, &k, &gx1, benign_prompt(), NULL, urand() < 0.02, 200, 1);
                t += (int64_t)(expo(25) * SEC) + 2 * SEC;
            }
            t += (int64_t)(expo(240) * SEC);
        }
        label_key("twin_busy_user", "extraction", k.id, T0, 0);
    }
}

/* Look-alikes of drift, leakage, flood and probing. */
static void lookalikes_others(const world *w)
{
    behaviour gx1 = w->gx1, mz = w->mz;
    /* an unusual key on a stable model: very short answers, more refusals,
     * 20 requests a minute for an hour (twin of drift) */
    {
        key k = {.mult = 0.15};
        snprintf(k.id, sizeof k.id, "odd-drift-key");
        snprintf(k.tenant, sizeof k.tenant, "tenant-11");
        for (int64_t t = T0 + 4 * HOUR; t < T0 + 5 * HOUR; t += 3 * SEC)
            emit(t, &k, &mz, benign_prompt(), NULL, urand() < 0.08, 200, 1);
        label_key("twin_odd_key_drift", "drift", k.id, T0, 0);
    }
    /* leakage look-alikes: numbers that fail Luhn, placeholder keys, one
     * e-mail address */
    {
        key k = {.mult = 1};
        snprintf(k.id, sizeof k.id, "docs-writer");
        snprintf(k.tenant, sizeof k.tenant, "tenant-12");
        static const char *const resp[] = {
            "Set OPENAI_API_KEY=sk-your-api-key-here in the environment, then restart.",
            "Use a test card like 4111 1111 1111 1112 only in the sandbox; order id "
            "1234 5678 9012 3456 is just a reference.",
            "Contact support@example.com if the problem persists. Call us at 555-0100.",
            "The token looks like xoxb-XXXXXXXXXX-XXXXXXXXXX; never paste a real one.",
        };
        for (int i = 0; i < 40; i++)
            emit(T0 + HOUR + i * 5 * MIN, &k, &gx1, "How do I configure the client library?",
                 resp[i % 4], 0, 200, 1);
        label_key("twin_leak_lookalike", "leakage", k.id, T0, 0);
    }
    /* flood look-alikes: a steady heavy service (120 requests a minute for an
     * hour, from the start) and a retry loop (60 in one minute) */
    {
        key k = {.mult = 1};
        snprintf(k.id, sizeof k.id, "steady-service");
        snprintf(k.tenant, sizeof k.tenant, "tenant-13");
        for (int64_t t = T0 + 10 * MIN; t < T0 + 70 * MIN; t += SEC / 2)
            emit(t, &k, &mz, "Classify this log line by severity: connection reset by peer",
                 "severity: warning", 0, 200, 1);
        label_key("twin_steady_service", "flood", k.id, T0, 0);
        key r = {.mult = 1};
        snprintf(r.id, sizeof r.id, "retry-loop");
        snprintf(r.tenant, sizeof r.tenant, "tenant-13");
        for (int i = 0; i < 60; i++)
            emit(T0 + 2 * HOUR + i * SEC, &r, &mz, "ping", "pong", 0, i < 30 ? 503 : 200, 1);
        label_key("twin_retry_loop", "flood", r.id, T0, 0);
    }
    /* security-curious user: asks about attacks without attacking */
    {
        key k = {.mult = 1};
        snprintf(k.id, sizeof k.id, "curious-dev");
        snprintf(k.tenant, sizeof k.tenant, "tenant-14");
        static const char *const q[] = {
            "What is prompt injection and how can I defend my chatbot against it?",
            "Explain how role-play features work in story-writing apps.",
            "How do I write a good system message for a customer-support bot?",
            "What's the difference between fine-tuning and few-shot prompting?",
            "Can you review my content policy for a community forum?",
        };
        for (int i = 0; i < 25; i++)
            emit(T0 + 30 * MIN + i * 7 * MIN, &k, &gx1, q[i % 5], NULL, 0, 200, 1);
        label_key("twin_curious_dev", "probing", k.id, T0, 0);
    }
}

/* The benign look-alikes of each attack (labelled attack=false). */
void scen_lookalikes(const world *w)
{
    lookalikes_extraction(w);
    lookalikes_others(w);
}

/* Extraction (a burst, low and slow) and probing (a burst, mixed in). */
static void attacks_extraction_probing(const world *w)
{
    behaviour gx1 = w->gx1, cy = w->cy;
    /* ---- attacks ---- */
    /* extraction, fast burst: 2500 diverse prompts in ~50 minutes */
    {
        key k = {.mult = 1};
        snprintf(k.id, sizeof k.id, "ex-burst");
        snprintf(k.tenant, sizeof k.tenant, "tenant-02");
        int64_t t0 = T0 + 90 * MIN + 13 * SEC, t = t0;
        for (int i = 0; i < 2500; i++) {
            emit(t, &k, &gx1, question_prompt(), NULL, 0, 200, 2.5);
            t += (int64_t)((1.2 + 0.1 * urand()) * SEC);
        }
        label_key("extraction_burst", "extraction", k.id, t0, 1);
    }
    /* extraction, low and slow: a little history, then a query every ~7 s
     * for three hours */
    {
        key k = {.mult = 1};
        snprintf(k.id, sizeof k.id, "ex-slow");
        snprintf(k.tenant, sizeof k.tenant, "tenant-05");
        for (int i = 0; i < 6; i++)
            emit(T0 + 10 * MIN + i * 13 * MIN, &k, &cy, benign_prompt(), NULL, 0, 200, 1);
        int64_t t0 = T0 + 2 * HOUR + 7 * MIN, t = t0;
        while (t < t0 + 3 * HOUR) {
            emit(t, &k, &gx1, question_prompt(), NULL, 0, 200, 2.5);
            t += (int64_t)((6 + 2 * urand()) * SEC);
        }
        label_key("extraction_slow", "extraction", k.id, t0, 1);
    }
    /* probing, dedicated burst: 150 mutated variants of jailbreak prompts in
     * 15 minutes, mostly refused */
    {
        key k = {.mult = 1};
        snprintf(k.id, sizeof k.id, "pr-burst");
        snprintf(k.tenant, sizeof k.tenant, "tenant-08");
        int64_t t0 = T0 + 60 * MIN + 41 * SEC, t = t0;
        char *base = attack_prompt();
        for (int i = 0; i < 150; i++) {
            if (i % 30 == 0) {
                free(base);
                base = attack_prompt();
            }
            char *p = mutate(base);
            emit(t, &k, &cy, p, NULL, urand() < 0.8, 200, 1);
            free(p);
            t += (int64_t)((4 + 4 * urand()) * SEC);
        }
        free(base);
        label_key("probing_burst", "probing", k.id, t0, 1);
    }
    /* probing mixed into normal use: 40 keys, each an ordinary user who tries
     * one to three held-back jailbreak or extraction prompts (per-key recall) */
    for (int j = 0; j < 40; j++) {
        key k = {.mult = 1};
        snprintf(k.id, sizeof k.id, "pr-mixed-%02d", j);
        snprintf(k.tenant, sizeof k.tenant, "tenant-%02d", irand(20));
        int64_t t = T0 + (int64_t)(urand() * 2 * HOUR);
        int attempts = 1 + irand(3);
        int64_t first_attempt = -1;
        for (int i = 0; i < 30; i++) {
            if (i % 10 == 5 && attempts > 0) {
                char *p = attack_prompt();
                emit(t, &k, &gx1, p, NULL, urand() < 0.6, 200, 1);
                free(p);
                attempts--;
                if (first_attempt < 0)
                    first_attempt = t;
            } else {
                emit(t, &k, &gx1, benign_prompt(), NULL, urand() < 0.02, 200, 1);
            }
            t += (int64_t)(expo(300) * SEC) + 5 * SEC;
        }
        label_key("probing_mixed", "probing", k.id, first_attempt, 1);
    }
}

/* Drift (its labels: the change is in the benign traffic), leakage, flood. */
static void attacks_drift_leak_flood(const world *w)
{
    const int64_t drift_start = w->drift_start;
    behaviour gx1 = w->gx1, mz = w->mz;
    /* drift: claude-y 2025-01 changes behaviour at drift_start (above) */
    {
        char tsb[40];
        time_t secs = (time_t)(drift_start / 1000000);
        struct tm tm;
        gmtime_r(&secs, &tm);
        strftime(tsb, sizeof tsb, "%Y-%m-%dT%H:%M:%SZ", &tm);
        fprintf(g_labels,
                "{\"scenario\":\"drift\",\"type\":\"drift\",\"subject\":\"claude-y/2025-01\","
                "\"start\":\"%s\",\"attack\":true}\n",
                tsb);
        fprintf(g_labels,
                "{\"scenario\":\"twin_rollout\",\"type\":\"drift\",\"subject\":\"gpt-x/2026-11\","
                "\"start\":\"%s\",\"attack\":false}\n",
                "2026-11-20T02:00:00Z");
    }
    /* leakage: a key whose answers leak a cloud key, a private key, a valid
     * card number, then a list of customers' e-mail addresses */
    {
        key k = {.mult = 1};
        snprintf(k.id, sizeof k.id, "lk-victim");
        snprintf(k.tenant, sizeof k.tenant, "tenant-15");
        int64_t t0 = T0 + 150 * MIN + 17 * SEC;
        for (int i = 0; i < 20; i++)
            emit(T0 + HOUR + i * 3 * MIN, &k, &gx1, benign_prompt(), NULL, 0, 200, 1);
        emit(t0, &k, &gx1, "What credentials does the deploy script use?",
             "The script exports AWS_ACCESS_KEY_ID=AKIAZ7QX3MB2W9KD4PLT and the secret "
             "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzq8h3kLm2.",
             0, 200, 1);
        emit(t0 + 4 * MIN, &k, &gx1, "Show me the config file.",
             "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA7x9k2Lq\n-----END RSA PRIVATE "
             "KEY-----",
             0, 200, 1);
        emit(t0 + 9 * MIN, &k, &gx1, "What card is on file for order 5512?",
             "The card on file is 4539 1488 0343 6467, expiring 08/29.", 0, 200, 1);
        emit(t0 + 12 * MIN, &k, &gx1, "List the customers who complained last week.",
             "anna.k@corp-mail.com, b.ortiz@shopmail.net, chen.li@example.org, "
             "d.smith@webmail.com, e.novak@post.cz, f.ahmed@mailbox.org",
             0, 200, 1);
        label_key("leakage", "leakage", k.id, t0, 1);
    }
    /* flood: a key with an ordinary history floods at ~700 requests a minute
     * for 8 minutes; another key's requests fail in a storm */
    {
        key k = {.mult = 1};
        snprintf(k.id, sizeof k.id, "fl-flood");
        snprintf(k.tenant, sizeof k.tenant, "tenant-16");
        for (int64_t t = T0; t < T0 + 3 * HOUR; t += (int64_t)(expo(60) * SEC) + SEC)
            emit(t, &k, &mz, benign_prompt(), NULL, 0, 200, 1);
        int64_t t0 = T0 + 3 * HOUR + 21 * SEC;
        for (int64_t t = t0; t < t0 + 8 * MIN; t += (int64_t)(expo(0.085) * SEC) + 1)
            emit(t, &k, &mz, "ping", "pong", 0, 200, 1);
        label_key("flood_requests", "flood", k.id, t0, 1);
        key s = {.mult = 1};
        snprintf(s.id, sizeof s.id, "fl-errors");
        snprintf(s.tenant, sizeof s.tenant, "tenant-16");
        for (int64_t t = T0; t < T0 + 4 * HOUR; t += (int64_t)(expo(30) * SEC) + SEC)
            emit(t, &s, &mz, benign_prompt(), NULL, 0, 200, 1);
        int64_t t1 = T0 + 4 * HOUR + 5 * MIN;
        for (int64_t t = t1; t < t1 + 5 * MIN; t += (int64_t)(expo(0.5) * SEC) + 1)
            emit(t, &s, &mz, benign_prompt(), NULL, 0, urand() < 0.8 ? 500 : 200, 1);
        label_key("flood_errors", "flood", s.id, t1, 1);
    }
}

/* Each attack, with its label (attack=true). */
void scen_attacks(const world *w)
{
    attacks_extraction_probing(w);
    attacks_drift_leak_flood(w);
}

/* The traps of issue 12: heavy irregular benign keys, users who name an AI
 * vendor and get refused, and one jailbreak per key in every style. */
void scen_traps(const world *w)
{
    const int nkeys = w->nkeys;
    const int64_t end = w->end;
    behaviour gx1 = w->gx1, cy = w->cy, mz = w->mz;
    /* ---- the traps of issue 12 (generated last, so that the scenarios
     * above draw the same random numbers as before they were added) ---- */
    /* busy irregular benign keys from minute 0: Poisson pacing at 0.13 to
     * 0.4 requests a second, favourite questions repeated, ordinary answers
     * (the heavy human or integration that a cold start must not flag) */
    /* 8 of 300; none in the small scenarios of the integration tests, whose
     * broker holds only so many bytes a partition */
    for (int j = 0; j < (nkeys >= 100 ? nkeys / 37 : 0); j++) {
        key k = {.mult = 0.85 + 0.3 * urand()};
        snprintf(k.id, sizeof k.id, "busy-irregular-%d", j);
        snprintf(k.tenant, sizeof k.tenant, "tenant-%02d", irand(20));
        double rate = 0.13 + 0.27 * urand();
        const behaviour *b = j % 3 == 0 ? &cy : j % 3 == 1 ? &gx1 : &mz;
        strs own = {0};
        for (int64_t t = T0 + (int64_t)(urand() * 60 * SEC); t < end;
             t += (int64_t)(expo(1.0 / rate) * SEC) + 1) {
            const char *p;
            if (own.n && urand() < 0.3)
                p = own.v[irand(own.n)];
            else {
                p = benign_prompt();
                if (own.n < 20)
                    push(&own, (char *)p);
            }
            emit(t, &k, b, p, NULL, urand() < 0.02, 200, 1);
        }
        free(own.v);
        label_key("twin_busy_irregular", "extraction", k.id, T0, 0);
    }
    /* ordinary users whose questions name an AI vendor or model (matching a
     * weak rule such as jb.assistant-meta), and the model refuses half of
     * those */
    for (int j = 0; j < nkeys / 25 && g_vendor.n; j++) { /* 12 of 300 */
        key k = {.mult = 1};
        snprintf(k.id, sizeof k.id, "vendor-refused-%02d", j);
        snprintf(k.tenant, sizeof k.tenant, "tenant-%02d", irand(20));
        int64_t t = T0 + (int64_t)(urand() * 4 * HOUR);
        for (int i = 0; i < 30; i++) {
            if (i % 8 == 3)
                emit(t, &k, &gx1, g_vendor.v[irand(g_vendor.n)], NULL, urand() < 0.5, 200, 1);
            else
                emit(t, &k, &gx1, benign_prompt(), NULL, urand() < 0.02, 200, 1);
            t += (int64_t)(expo(240) * SEC) + 5 * SEC;
        }
        label_key("twin_vendor_refused", "probing", k.id, T0, 0);
    }

    /* exactly one jailbreak per attacking key, in every style: ordinary use
     * with one held-back attack prompt among 30 (per-key recall by style) */
    for (int j = 0; j < nkeys / 50 * NSTYLES; j++) { /* six per style of 300 */
        int st = j % NSTYLES;
        key k = {.mult = 1};
        snprintf(k.id, sizeof k.id, "pr-one-%s-%d", g_styles[st].name, j / NSTYLES);
        snprintf(k.tenant, sizeof k.tenant, "tenant-%02d", irand(20));
        int64_t t = T0 + (int64_t)(urand() * 4 * HOUR), at = -1;
        int when = 5 + irand(20);
        for (int i = 0; i < 30; i++) {
            if (i == when) {
                char *p = style_prompt(st, irand(g_styles[st].set.n));
                emit(t, &k, &gx1, p, NULL, urand() < 0.6, 200, 1);
                free(p);
                at = t;
            } else {
                emit(t, &k, &gx1, benign_prompt(), NULL, urand() < 0.02, 200, 1);
            }
            t += (int64_t)(expo(300) * SEC) + 5 * SEC;
        }
        char scen[48];
        snprintf(scen, sizeof scen, "probing_one:%s", g_styles[st].name);
        label_key(scen, "probing", k.id, at, 1);
    }

    /* persuasion-style attackers that iterate (PAIR): ordinary use, then
     * rephrasings of one harmful goal of the half, a minute or so apart,
     * which the model refuses nine times in ten, until 6 to 10 were refused
     * (the issue's case: at least five refused rephrasings), then ordinary
     * use again */
    for (int j = 0; j < nkeys / 50 && persuasion_goals(); j++) { /* six of 300 */
        key k = {.mult = 1};
        snprintf(k.id, sizeof k.id, "pr-iterate-%d", j);
        snprintf(k.tenant, sizeof k.tenant, "tenant-%02d", irand(20));
        int64_t t = T0 + (int64_t)(urand() * 4 * HOUR), at = -1;
        int when = 5 + irand(15), goal = irand(persuasion_goals()), tries = 6 + irand(5);
        for (int i = 0; i < 30; i++) {
            if (i == when) {
                at = t;
                int v0 = irand(12), refused = 0;
                for (int v = 0; refused < tries; v++) {
                    char *p = persuasion_prompt(goal, v0 + v);
                    int r = urand() < 0.9;
                    refused += r;
                    emit(t, &k, &gx1, p, NULL, r, 200, 1);
                    free(p);
                    t += (int64_t)(expo(60) * SEC) + 10 * SEC;
                }
            }
            emit(t, &k, &gx1, benign_prompt(), NULL, urand() < 0.02, 200, 1);
            t += (int64_t)(expo(300) * SEC) + 5 * SEC;
        }
        label_key("probing_iterate", "probing", k.id, at, 1);
    }
    /* their benign twins: a refused question asked again once or twice in
     * other words (refused again seven times in ten), three times a session */
    static const char *const retry[] = {"Let me rephrase: ", "I meant this: ", "To be clear, ",
                                        "Sorry, once more: "};
    for (int j = 0; j < nkeys / 25; j++) { /* twelve of 300 */
        key k = {.mult = 1};
        snprintf(k.id, sizeof k.id, "retry-refused-%02d", j);
        snprintf(k.tenant, sizeof k.tenant, "tenant-%02d", irand(20));
        int64_t t = T0 + (int64_t)(urand() * 4 * HOUR);
        for (int i = 0; i < 36; i++) {
            const char *p = benign_prompt();
            int asked_again = i % 12 == 4;
            emit(t, &k, &gx1, p, NULL, asked_again ? 1 : urand() < 0.02, 200, 1);
            for (int r = 0; asked_again && r < 1 + irand(2); r++) {
                char q[8192];
                t += (int64_t)(expo(40) * SEC) + 5 * SEC;
                snprintf(q, sizeof q, "%s%s", retry[irand(4)], p);
                emit(t, &k, &gx1, q, NULL, urand() < 0.7, 200, 1);
            }
            t += (int64_t)(expo(240) * SEC) + 5 * SEC;
        }
        label_key("twin_retry_refused", "probing", k.id, T0, 0);
    }
}
