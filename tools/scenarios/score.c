/* Scores `custos analyze` incidents against scengen's labels.
 *
 *   score LABELS INCIDENTS
 *
 * An incident is a true positive when an attack label has its type and
 * subject (api_key_id, or model/version for drift); every other incident is
 * a false positive. Per scenario: recall (attack instances with an incident),
 * time to detect (detected_at - the attack's start, event time; the worst
 * instance) against its target, and the false positives on benign keys and
 * look-alikes. Exit status 0 when every target is met. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct {
    char scenario[48], type[16], subject[96];
    long long start;
    int attack;
    long long detected; /* earliest detected_at, -1 none */
    int incidents;
} label;

static label *g_l;
static int g_nl;

static long long parse_ts(const char *s)
{
    struct tm tm = {0};
    const char *p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
    if (!p)
        return -1;
    return (long long)timegm(&tm);
}

static char *slurp_line(FILE *f)
{
    char *line = NULL;
    size_t cap = 0;
    if (getline(&line, &cap, f) < 0) {
        free(line);
        return NULL;
    }
    return line;
}

typedef struct {
    const char *scenario;
    long long target_s; /* time-to-detect target */
} target;

static const target g_targets[] = {
    {"extraction_burst", 5 * 60}, {"extraction_slow", 30 * 60}, {"probing_burst", 5 * 60},
    {"probing_mixed", 30 * 60},   {"drift", 20 * 60},           {"leakage", 5 * 60},
    {"flood_requests", 5 * 60},   {"flood_errors", 5 * 60},     {"probing_iterate", 30 * 60},
};

static const char *const g_types[] = {"extraction", "probing", "drift", "leakage", "flood"};

/* Reads scengen's labels. */
static void load_labels(FILE *lf)
{
    char *line;
    while ((line = slurp_line(lf))) {
        cJSON *j = cJSON_Parse(line);
        free(line);
        if (!j)
            continue;
        g_l = realloc(g_l, (size_t)(g_nl + 1) * sizeof *g_l);
        label *l = &g_l[g_nl++];
        memset(l, 0, sizeof *l);
        snprintf(l->scenario, sizeof l->scenario, "%s",
                 cJSON_GetObjectItem(j, "scenario")->valuestring);
        snprintf(l->type, sizeof l->type, "%s", cJSON_GetObjectItem(j, "type")->valuestring);
        snprintf(l->subject, sizeof l->subject, "%s",
                 cJSON_GetObjectItem(j, "subject")->valuestring);
        l->start = parse_ts(cJSON_GetObjectItem(j, "start")->valuestring);
        l->attack = cJSON_IsTrue(cJSON_GetObjectItem(j, "attack"));
        l->detected = -1;
        cJSON_Delete(j);
    }
}

typedef struct {
    int total, tp, fp;
    int type_tot[5], type_tp[5];
} tally;

/* Matches each incident against the labels; prints the false positives. */
static void read_incidents(FILE *inf, tally *t)
{
    char *line;
    printf("false positives:\n");
    while ((line = slurp_line(inf))) {
        cJSON *j = cJSON_Parse(line);
        free(line);
        if (!j)
            continue;
        const char *type = cJSON_GetObjectItem(j, "type")->valuestring;
        char subject[128];
        const cJSON *k = cJSON_GetObjectItem(j, "api_key_id");
        if (cJSON_IsString(k))
            snprintf(subject, sizeof subject, "%s", k->valuestring);
        else
            snprintf(subject, sizeof subject, "%s/%s",
                     cJSON_GetObjectItem(j, "model")->valuestring,
                     cJSON_GetObjectItem(j, "model_version")->valuestring);
        long long det = parse_ts(cJSON_GetObjectItem(j, "detected_at")->valuestring);
        int ti = 0;
        while (ti < 5 && strcmp(g_types[ti], type))
            ti++;
        t->total++;
        if (ti < 5)
            t->type_tot[ti]++;
        int matched = 0;
        for (int i = 0; i < g_nl; i++) {
            label *l = &g_l[i];
            if (strcmp(l->subject, subject))
                continue;
            if (l->attack && !strcmp(l->type, type)) {
                matched = 1;
                l->incidents++;
                if (det >= l->start - 60 && (l->detected < 0 || det < l->detected))
                    l->detected = det;
            } else if (!l->attack) {
                l->incidents++;
            }
        }
        if (matched) {
            t->tp++;
            if (ti < 5)
                t->type_tp[ti]++;
        } else {
            t->fp++;
            printf("  %s %s (%s) %s\n", type, subject,
                   cJSON_GetObjectItem(j, "severity")->valuestring,
                   cJSON_GetObjectItem(j, "summary")->valuestring);
        }
        cJSON_Delete(j);
    }
    if (!t->fp)
        printf("  none\n");
}

/* The per-scenario table: recall and time to detect against the targets.
 * Returns whether every target is met. */
static int print_scenarios(void)
{
    int ok = 1;
    printf("\n| scenario | instances | detected | recall | median time to detect | worst | target | met |\n");
    printf("|---|---|---|---|---|---|---|---|\n");
    for (size_t s = 0; s < sizeof g_targets / sizeof g_targets[0]; s++) {
        int n = 0, d = 0;
        long long worst = -1, ttds[256];
        for (int i = 0; i < g_nl; i++) {
            label *l = &g_l[i];
            if (!l->attack || strcmp(l->scenario, g_targets[s].scenario))
                continue;
            n++;
            if (l->detected >= 0) {
                d++;
                long long ttd = l->detected - l->start;
                if (ttd < 0)
                    ttd = 0;
                if (d <= 256)
                    ttds[d - 1] = ttd;
                if (ttd > worst)
                    worst = ttd;
            }
        }
        if (!n)
            continue;
        int met = d == n && worst <= g_targets[s].target_s;
        ok &= met;
        char w[32], med[32] = "-";
        if (worst >= 0)
            snprintf(w, sizeof w, "%lldm%02llds", worst / 60, worst % 60);
        else
            snprintf(w, sizeof w, "-");
        int nd = d < 256 ? d : 256;
        if (nd) {
            for (int a = 1; a < nd; a++) /* insertion sort: a few dozen at most */
                for (int b = a; b > 0 && ttds[b - 1] > ttds[b]; b--) {
                    long long x = ttds[b];
                    ttds[b] = ttds[b - 1];
                    ttds[b - 1] = x;
                }
            long long m = ttds[nd / 2];
            snprintf(med, sizeof med, "%lldm%02llds", m / 60, m % 60);
        }
        printf("| %s | %d | %d | %.2f | %s | %s | %lldm | %s |\n", g_targets[s].scenario, n, d,
               (double)d / n, med, w, g_targets[s].target_s / 60, met ? "yes" : "NO");
    }
    return ok;
}

/* Precision by type and overall; returns whether it is >= 0.95. */
static int print_precision(const tally *t)
{
    printf("\n| type | incidents | true | precision |\n|---|---|---|---|\n");
    for (int i = 0; i < 5; i++)
        printf("| %s | %d | %d | %.3f |\n", g_types[i], t->type_tot[i], t->type_tp[i],
               t->type_tot[i] ? (double)t->type_tp[i] / t->type_tot[i] : 1.0);
    double precision = t->total ? (double)t->tp / t->total : 1.0;
    printf("| all | %d | %d | %.3f |\n", t->total, t->tp, precision);
    return precision >= 0.95;
}

/* Exactly one jailbreak per key, by style (reported; the target of issue 12
 * is >= 0.90 overall, not yet met by signatures alone). */
static void print_probing_one(void)
{
    char styles[16][24];
    int nst = 0, st_n[16] = {0}, st_d[16] = {0}, one = 0, one_d = 0;
    for (int i = 0; i < g_nl; i++) {
        label *l = &g_l[i];
        if (!l->attack || strncmp(l->scenario, "probing_one:", 12))
            continue;
        const char *sn = l->scenario + 12;
        int k = 0;
        while (k < nst && strcmp(styles[k], sn))
            k++;
        if (k == nst && nst < 16)
            snprintf(styles[nst++], sizeof styles[0], "%s", sn);
        if (k < 16) {
            st_n[k]++;
            st_d[k] += l->detected >= 0;
        }
        one++;
        one_d += l->detected >= 0;
    }
    if (one) {
        printf("\none jailbreak per key (probing_one): %d/%d = %.3f; by style:", one_d, one,
               (double)one_d / one);
        for (int k = 0; k < nst; k++)
            printf(" %s %d/%d%s", styles[k], st_d[k], st_n[k], k + 1 < nst ? "," : "\n");
    }
}

/* The look-alikes by scenario: how many of their subjects were flagged. */
static void print_lookalikes(void)
{
    printf("look-alikes by scenario (flagged/subjects):");
    {
        char seen[32][48];
        int ns = 0;
        for (int i = 0; i < g_nl; i++) {
            label *l = &g_l[i];
            if (l->attack || !strcmp(l->scenario, "benign"))
                continue;
            int k = 0;
            while (k < ns && strcmp(seen[k], l->scenario))
                k++;
            if (k < ns || ns == 32)
                continue;
            snprintf(seen[ns++], sizeof seen[0], "%s", l->scenario);
            int n = 0, f = 0;
            for (int j = 0; j < g_nl; j++)
                if (!g_l[j].attack && !strcmp(g_l[j].scenario, l->scenario)) {
                    n++;
                    f += g_l[j].incidents > 0;
                }
            printf(" %s %d/%d", l->scenario, f, n);
        }
        printf("\n");
    }
}

/* Per-key recall, benign keys and look-alikes flagged; returns whether
 * their targets are met. */
static int print_keys(void)
{
    int benign = 0, flagged_any = 0, twins = 0, twins_flagged = 0;
    for (int i = 0; i < g_nl; i++) {
        label *l = &g_l[i];
        if (l->attack)
            continue;
        if (!strcmp(l->scenario, "benign")) {
            benign++;
            flagged_any += l->incidents > 0;
        } else {
            twins++;
            twins_flagged += l->incidents > 0;
        }
    }
    int mixed = 0, mixed_d = 0;
    for (int i = 0; i < g_nl; i++)
        if (g_l[i].attack && !strcmp(g_l[i].scenario, "probing_mixed")) {
            mixed++;
            mixed_d += g_l[i].detected >= 0;
        }
    double bf = benign ? 100.0 * flagged_any / benign : 0;
    double pkr = mixed ? (double)mixed_d / mixed : 1;
    printf("\nper-key recall on jailbreak keys (probing_mixed): %d/%d = %.3f (target >= 0.90)\n",
           mixed_d, mixed, pkr);
    printf("benign keys flagged (any incident): %d/%d = %.2f%% (target <= 1%%)\n", flagged_any,
           benign, bf);
    printf("look-alike subjects flagged: %d/%d\n", twins_flagged, twins);
    return pkr >= 0.90 && bf <= 1.0 && twins_flagged == 0;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: score LABELS INCIDENTS\n");
        return 2;
    }
    FILE *lf = fopen(argv[1], "r"), *inf = fopen(argv[2], "r");
    if (!lf || !inf) {
        fprintf(stderr, "score: cannot open input\n");
        return 2;
    }
    load_labels(lf);
    tally t = {0};
    read_incidents(inf, &t);
    int ok = print_scenarios();
    ok &= print_precision(&t);
    print_probing_one();
    print_lookalikes();
    ok &= print_keys();
    printf("\nall targets met: %s\n", ok ? "yes" : "NO");
    return ok ? 0 : 1;
}
