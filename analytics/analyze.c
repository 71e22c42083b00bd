/* custos analyze: the detectors over JSON-lines files, offline. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analytics/analytics.h"
#include "analytics/an_engine.h"
#include "collector/decode.h"
#include "core/cli.h"
#include "core/log.h"

typedef struct {
    FILE *out;
    uint64_t printed;
} out_ctx;

/* Offline, an incident is printed once, in its final state: when it closes
 * (quiet period) or at the end of the input. */
static void on_incident(void *ud, const an_incident_view *v)
{
    out_ctx *o = ud;
    if (!v->final)
        return;
    fputs(v->json, o->out);
    fputc('\n', o->out);
    o->printed++;
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: custos analyze [--config FILE] [--log-level LEVEL] FILE...\n"
            "\n"
            "Runs the detectors (extraction, probing, drift, leakage, flood) over events\n"
            "given as JSON lines (the native event format; '-' reads standard input) and\n"
            "writes one JSON object per incident to standard output. Detection runs on\n"
            "event time, so the same events give the same incidents as the live daemon.\n"
            "Lines that are not valid events are reported on standard error and skipped.\n");
}

int an_cmd_analyze(int argc, char **argv)
{
    const char *cfgpath = NULL, *lvl = NULL;
    const char **files = calloc((size_t)argc + 1, sizeof *files);
    int nfiles = 0, rc = CORE_EXIT_FAIL;
    core_config cfg;
    bool have_cfg = false;
    an_engine *e = NULL;
    char *line = NULL;
    size_t cap = 0;
    if (!files)
        return CORE_EXIT_FAIL;
    for (int i = 1; i < argc; i++) {
        const char *v;
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            free(files);
            return CORE_EXIT_OK;
        } else if (core_cli_opt(argc, argv, &i, "--config", &v)) {
            cfgpath = v;
        } else if (core_cli_opt(argc, argv, &i, "--log-level", &v)) {
            lvl = v;
        } else if (argv[i][0] == '-' && argv[i][1] != '\0') {
            fprintf(stderr, "custos analyze: unknown option '%s'\n", argv[i]);
            usage(stderr);
            free(files);
            return CORE_EXIT_USAGE;
        } else {
            files[nfiles++] = argv[i];
        }
    }
    if (nfiles == 0) {
        fprintf(stderr, "custos analyze: no input files (use '-' for standard input)\n");
        usage(stderr);
        free(files);
        return CORE_EXIT_USAGE;
    }
    have_cfg = true;
    if (core_cli_config(&cfg, cfgpath, lvl) < 0) {
        rc = CORE_EXIT_CONFIG;
        goto done;
    }
    char err[1024];
    out_ctx oc = {stdout, 0};
    an_callbacks cb = {on_incident, NULL, &oc};
    e = an_engine_new(&cfg, &cb, err, sizeof err);
    if (!e) {
        fprintf(stderr, "custos analyze: %s\n", err);
        rc = CORE_EXIT_CONFIG;
        goto done;
    }
    coll_limits lim = {(size_t)cfg.coll_max_message_bytes, (size_t)cfg.coll_prompt_max_bytes,
                       (size_t)cfg.coll_response_max_bytes, (size_t)cfg.coll_attrs_max_bytes};
    uint64_t nlines = 0, bad = 0;
    int64_t t0 = core_mono_us();
    for (int f = 0; f < nfiles; f++) {
        bool is_stdin = strcmp(files[f], "-") == 0;
        FILE *in = is_stdin ? stdin : fopen(files[f], "rb");
        if (!in) {
            fprintf(stderr, "custos analyze: %s: cannot open: %s\n", files[f], strerror(errno));
            goto done;
        }
        setvbuf(in, NULL, _IOFBF, 1 << 20); /* fewer, larger reads */
        ssize_t n;
        uint64_t lineno = 0;
        while ((n = getline(&line, &cap, in)) >= 0) {
            lineno++;
            while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
                n--;
            if (n == 0)
                continue;
            nlines++;
            core_event ev = {0};
            if (coll_decode_native(&lim, line, (size_t)n, &ev, err, sizeof err) < 0) {
                if (bad++ < 20)
                    fprintf(stderr, "custos analyze: %s:%llu: skipped: %s\n",
                            is_stdin ? "<stdin>" : files[f], (unsigned long long)lineno, err);
                continue;
            }
            int prc = an_engine_push(e, &ev, 0, 0);
            core_event_clear(&ev);
            if (prc < 0) {
                fprintf(stderr, "custos analyze: out of memory\n");
                if (!is_stdin)
                    fclose(in);
                goto done;
            }
        }
        bool rerr = ferror(in);
        if (!is_stdin)
            fclose(in);
        if (rerr) {
            fprintf(stderr, "custos analyze: %s: read error\n", files[f]);
            goto done;
        }
    }
    an_engine_finish(e);
    fflush(stdout);
    int64_t dt = core_mono_us() - t0;
    an_engine_stats st;
    an_engine_stats_get(e, &st);
    core_log(CORE_LOG_INFO, "analytics", "analyze done",
             "lines=%llu events=%llu skipped=%llu incidents=%llu alerts=%llu alerts_only=%llu late=%llu "
             "keys=%llu key_state_bytes_avg=%.0f seconds=%.3f events_per_s=%.0f "
             "clock_outliers=%llu",
             (unsigned long long)nlines, (unsigned long long)st.events, (unsigned long long)bad,
             (unsigned long long)oc.printed, (unsigned long long)st.alerts,
             (unsigned long long)st.alerts_only,
             (unsigned long long)st.late, (unsigned long long)st.keys,
             st.keys ? (double)st.key_state_bytes / (double)st.keys : 0.0, dt / 1e6,
             dt > 0 ? (double)st.events * 1e6 / (double)dt : 0.0,
             (unsigned long long)st.clock_outliers);
    if (bad > 20)
        fprintf(stderr, "custos analyze: %llu lines skipped in all\n", (unsigned long long)bad);
    rc = CORE_EXIT_OK;
done:
    an_engine_free(e);
    free(line);
    if (have_cfg)
        core_config_free(&cfg);
    free(files);
    return rc;
}
