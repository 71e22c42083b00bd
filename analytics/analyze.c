/* custos analyze: the detectors over JSON-lines files, offline. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analytics/analytics.h"
#include "analytics/an_engine.h"
#include "collector/collector.h"
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

/* --state-out: the saved rows, one after the other: source (int32),
 * next_offset (int64), keys (uint32), length (uint64), the row. */
static void save_row(void *ud, int32_t source, int64_t next_offset, uint32_t keys,
                     const void *blob, size_t n)
{
    FILE *f = ud;
    uint64_t len = n;
    fwrite(&source, sizeof source, 1, f);
    fwrite(&next_offset, sizeof next_offset, 1, f);
    fwrite(&keys, sizeof keys, 1, f);
    fwrite(&len, sizeof len, 1, f);
    fwrite(blob, 1, n, f);
}

static int state_save(an_engine *e, const char *path, char *err, size_t errlen)
{
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "wb");
    if (!f) {
        snprintf(err, errlen, "%.512s: cannot create: %s", tmp, strerror(errno));
        return -1;
    }
    int rc = an_engine_save(e, AN_SNAP_ALL, save_row, f);
    if (fclose(f) != 0 || rc < 0) {
        snprintf(err, errlen, "%.512s: cannot write the state", tmp);
        remove(tmp);
        return -1;
    }
    if (rename(tmp, path) != 0) {
        snprintf(err, errlen, "%.512s: cannot rename: %s", path, strerror(errno));
        return -1;
    }
    return 0;
}

#define STATE_ROW_MAX ((uint64_t)1 << 32)

static int state_load(an_engine *e, const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
        return -1;
    }
    int rc = 0;
    for (int row = 1;; row++) {
        int32_t source;
        int64_t next;
        uint32_t keys;
        uint64_t len;
        if (fread(&source, sizeof source, 1, f) != 1)
            break; /* the end */
        if (fread(&next, sizeof next, 1, f) != 1 || fread(&keys, sizeof keys, 1, f) != 1 ||
            fread(&len, sizeof len, 1, f) != 1 || len > STATE_ROW_MAX) {
            snprintf(err, errlen, "%s: row %d: truncated", path, row);
            rc = -1;
            break;
        }
        void *blob = malloc(len ? len : 1);
        char lerr[256];
        if (!blob || fread(blob, 1, len, f) != len) {
            snprintf(err, errlen, "%s: row %d: truncated", path, row);
            rc = -1;
        } else if (an_engine_load(e, source, blob, len, lerr, sizeof lerr) < 0) {
            snprintf(err, errlen, "%s: row %d (partition %d): %s", path, row, (int)source, lerr);
            rc = -1;
        }
        free(blob);
        if (rc < 0)
            break;
    }
    fclose(f);
    return rc;
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: custos analyze [--config FILE] [--log-level LEVEL] [--format F]\n"
            "                      [--state-in FILE] [--state-out FILE] FILE...\n"
            "\n"
            "Runs the detectors (extraction, probing, drift, leakage, flood) over events\n"
            "given as messages ('-' reads standard input) and writes one JSON object per\n"
            "incident to standard output. Detection runs on event time, so the same events\n"
            "give the same incidents as the live daemon. Messages that are not valid (or\n"
            "their refused events) are reported on standard error and skipped.\n"
            "\n"
            "  --format F        the messages' format, as collector.format (default): native,\n"
            "                    litellm, otlp_json (one message a line), or otlp_proto (each\n"
            "                    message a varint length and its bytes, as custos gen writes)\n"
            "  --state-in FILE   start from the state a --state-out saved (what a restart\n"
            "                    of custos run restores from its snapshots)\n"
            "  --state-out FILE  at the end, save the state and leave the open incidents\n"
            "                    open: the run that loads it prints them when they close\n");
}

int an_cmd_analyze(int argc, char **argv)
{
    const char **files = calloc((size_t)argc + 1, sizeof *files);
    int nfiles = 0, rc = CORE_EXIT_FAIL;
    const char *state_in = NULL, *state_out = NULL;
    core_config cfg;
    bool have_cfg = false;
    an_engine *e = NULL;
    char *line = NULL;
    size_t cap = 0;
    coll_decoded dd = {0};
    const char *fmt = NULL;
    if (!files)
        return CORE_EXIT_FAIL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            free(files);
            return CORE_EXIT_OK;
        } else if ((strcmp(argv[i], "--state-in") == 0 || strcmp(argv[i], "--state-out") == 0) &&
                   i + 1 < argc) {
            *(argv[i][8] == 'i' ? &state_in : &state_out) = argv[i + 1];
            i++;
        } else if (core_cli_opt(argc, argv, &i, "--format", &fmt)) {
            continue;
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
    if (core_cli_config(&cfg, NULL, NULL) < 0) {
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
    /* the decoder and limits of `custos run` (collector.format), one line a message */
    coll_limits lim = coll_limits_from_config(&cfg);
    const coll_decoder *dec = fmt ? coll_decoder_find(fmt) : coll_decoder_for(&cfg);
    if (!dec) {
        fprintf(stderr, "custos analyze: unknown event format '%s' (native, litellm, otlp_json, "
                        "otlp_proto)\n", fmt ? fmt : cfg.coll_format);
        rc = fmt ? CORE_EXIT_USAGE : CORE_EXIT_CONFIG;
        goto done;
    }
    if (coll_decoders_check(&cfg, err, sizeof err) < 0) {
        fprintf(stderr, "custos analyze: %s\n", err);
        rc = CORE_EXIT_CONFIG;
        goto done;
    }
    coll_decoders_configure(&cfg);
    if (state_in && state_load(e, state_in, err, sizeof err) < 0) {
        fprintf(stderr, "custos analyze: --state-in %s\n", err);
        goto done;
    }
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
        while ((n = coll_read_message(in, dec->framed, &line, &cap, err, sizeof err)) >= 0) {
            lineno++;
            if (n == 0 && !dec->framed)
                continue;
            nlines++;
            if (coll_decode(dec, &lim, line, (size_t)n, &dd, err, sizeof err) < 0) {
                if (bad++ < 20)
                    fprintf(stderr, "custos analyze: %s:%llu: skipped: %s\n",
                            is_stdin ? "<stdin>" : files[f], (unsigned long long)lineno, err);
                continue;
            }
            for (size_t k = 0; k < dd.n_refused; k++)
                if (bad++ < 20)
                    fprintf(stderr, "custos analyze: %s:%llu: skipped: %s\n",
                            is_stdin ? "<stdin>" : files[f], (unsigned long long)lineno,
                            dd.refused[k].reason);
            int prc = 0;
            for (size_t k = 0; k < dd.n && prc == 0; k++)
                prc = an_engine_push(e, &dd.evs[k], 0, 0);
            coll_decoded_reset(&dd);
            if (prc < 0) {
                fprintf(stderr, "custos analyze: out of memory\n");
                if (!is_stdin)
                    fclose(in);
                goto done;
            }
        }
        bool rerr = ferror(in) || n == -2;
        if (n == -2)
            fprintf(stderr, "custos analyze: %s: %s\n", files[f], err);
        if (!is_stdin)
            fclose(in);
        if (rerr) {
            fprintf(stderr, "custos analyze: %s: read error\n", files[f]);
            goto done;
        }
    }
    if (state_out) {
        an_engine_drain(e);
        int64_t s0 = core_mono_us();
        if (state_save(e, state_out, err, sizeof err) < 0) {
            fprintf(stderr, "custos analyze: --state-out %s\n", err);
            goto done;
        }
        an_engine_stats sst;
        an_engine_stats_get(e, &sst);
        FILE *sf = fopen(state_out, "rb");
        long bytes = -1;
        if (sf && fseek(sf, 0, SEEK_END) == 0)
            bytes = ftell(sf);
        if (sf)
            fclose(sf);
        core_log(CORE_LOG_INFO, "analytics", "state saved",
                 "file=%s keys=%llu bytes=%ld seconds=%.3f", state_out,
                 (unsigned long long)sst.keys, bytes, (core_mono_us() - s0) / 1e6);
    } else {
        an_engine_finish(e);
    }
    fflush(stdout);
    int64_t dt = core_mono_us() - t0;
    an_engine_stats st;
    an_engine_stats_get(e, &st);
    core_log(CORE_LOG_INFO, "analytics", "analyze done",
             "lines=%llu events=%llu skipped=%llu incidents=%llu alerts=%llu alerts_only=%llu late=%llu "
             "keys=%llu key_state_bytes_avg=%.0f seconds=%.3f events_per_s=%.0f "
             "clock_outliers=%llu prompt_memo_hit_pct=%.1f",
             (unsigned long long)nlines, (unsigned long long)st.events, (unsigned long long)bad,
             (unsigned long long)oc.printed, (unsigned long long)st.alerts,
             (unsigned long long)st.alerts_only,
             (unsigned long long)st.late, (unsigned long long)st.keys,
             st.keys ? (double)st.key_state_bytes / (double)st.keys : 0.0, dt / 1e6,
             dt > 0 ? (double)st.events * 1e6 / (double)dt : 0.0,
             (unsigned long long)st.clock_outliers,
             st.memo_lookups ? 100.0 * (double)st.memo_hits / (double)st.memo_lookups : 0.0);
    if (bad > 20)
        fprintf(stderr, "custos analyze: %llu lines skipped in all\n", (unsigned long long)bad);
    rc = CORE_EXIT_OK;
done:
    an_engine_free(e);
    coll_decoded_free(&dd);
    free(line);
    if (have_cfg)
        core_config_free(&cfg);
    free(files);
    return rc;
}
