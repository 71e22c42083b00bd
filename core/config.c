/* The configuration: defaults, values checked against the settings table
 * (config_table.c), the environment overrides, printing and the reference.
 * The YAML file is read by config_yaml.c, DSNs masked by config_mask.c. */
#include "core/config.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <libpq-fe.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

#include "core/config_int.h"
#include "core/hostport.h"




const setting *core_cfg_find(const char *section, const char *key)
{
    for (size_t i = 0; i < core_cfg_nsettings; i++)
        if (strcmp(core_cfg_settings[i].section, section) == 0 && strcmp(core_cfg_settings[i].key, key) == 0)
            return &core_cfg_settings[i];
    return NULL;
}

bool core_cfg_section_known(const char *section)
{
    for (size_t i = 0; i < core_cfg_nsettings; i++)
        if (strcmp(core_cfg_settings[i].section, section) == 0)
            return true;
    return false;
}

/* Parses an integer with an optional unit suffix. mult_units: bytes or ms. */
static int parse_scaled(const char *v, ctype t, int64_t *out, char *why, size_t whylen)
{
    errno = 0;
    char *end;
    while (isspace((unsigned char)*v))
        v++;
    if (*v == '\0') {
        snprintf(why, whylen, "empty value");
        return -1;
    }
    double d = strtod(v, &end);
    if (end == v || errno || !isfinite(d)) {
        snprintf(why, whylen, "'%s' is not a number", v);
        return -1;
    }
    while (isspace((unsigned char)*end))
        end++;
    double mult = 1;
    if (*end) {
        static const struct { const char *u; double m; ctype t; } units[] = {
            {"B", 1, T_BYTES}, {"KiB", 1024.0, T_BYTES}, {"MiB", 1048576.0, T_BYTES},
            {"GiB", 1073741824.0, T_BYTES}, {"KB", 1000.0, T_BYTES}, {"MB", 1e6, T_BYTES},
            {"GB", 1e9, T_BYTES}, {"ms", 1, T_MS}, {"s", 1000, T_MS}, {"m", 60000, T_MS},
            {"h", 3600000, T_MS},
        };
        bool found = false;
        for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
            if (units[i].t == t && strcmp(end, units[i].u) == 0) {
                mult = units[i].m;
                found = true;
            }
        if (!found) {
            snprintf(why, whylen, "'%s' has an unknown unit '%s' (%s)", v, end,
                     t == T_BYTES ? "use B, KiB, MiB, GiB" :
                     t == T_MS    ? "use ms, s, m, h" : "no unit allowed");
            return -1;
        }
    }
    d *= mult;
    if (d != floor(d) || d < -9.2e18 || d > 9.2e18) {
        snprintf(why, whylen, "'%s' is not a whole number%s", v, t == T_MS ? " of milliseconds" : "");
        return -1;
    }
    *out = (int64_t)d;
    return 0;
}

/* kafka.topics: each entry "topic" or "topic=format", the format one of
 * collector.format's choices (the decoders' names). */
static int check_topics(const char *value, char *why, size_t whylen)
{
    const setting *fmt = core_cfg_find("collector", "format");
    for (const char *p = value; *p;) {
        while (*p == ',' || *p == ' ')
            p++;
        const char *e = p;
        while (*e && *e != ',' && *e != ' ')
            e++;
        const char *eq = memchr(p, '=', (size_t)(e - p));
        if (eq == p) {
            snprintf(why, whylen, "entry '%.*s' names no topic", (int)(e - p), p);
            return -1;
        }
        if (eq) {
            size_t n = (size_t)(e - eq - 1);
            bool ok = false;
            for (const char *c = fmt->choices; *c && !ok;) {
                const char *bar = strchr(c, '|');
                size_t cn = bar ? (size_t)(bar - c) : strlen(c);
                ok = cn == n && strncmp(c, eq + 1, n) == 0;
                c += cn + (bar ? 1 : 0);
            }
            if (!ok) {
                snprintf(why, whylen, "topic %.*s: format '%.*s' is not one of %s",
                         (int)(eq - p), p, (int)n, eq + 1, fmt->choices);
                return -1;
            }
        }
        p = e;
    }
    return 0;
}

/* forensics.tsa_url: empty, or an http:// or https:// URL. */
static int check_tsa_url(const char *value, char *why, size_t whylen)
{
    if (*value && strncasecmp(value, "http://", 7) != 0 &&
        strncasecmp(value, "https://", 8) != 0) {
        snprintf(why, whylen, "the TSA's URL must start with http:// or https://");
        return -1;
    }
    return 0;
}

int core_cfg_apply(core_config *cfg, const setting *s, const char *value, char *why, size_t whylen)
{
    switch (s->type) {
    case T_STR: {
        if (s->off == OFF(kafka_topics) && check_topics(value, why, whylen) < 0)
            return -1;
        if (s->off == OFF(web_allowed_hosts) && core_hostlist_check(value, why, whylen) < 0)
            return -1;
        if (s->off == OFF(web_listen)) {
            char host[CORE_HOST_MAX + 1];
            int port;
            if (core_listen_split(value, host, sizeof host, &port) < 0) {
                snprintf(why, whylen, "'%s' is not HOST:PORT or [IPV6]:PORT", value);
                return -1;
            }
        }
        if (s->off == OFF(fo_tsa_url) && check_tsa_url(value, why, whylen) < 0)
            return -1;
        char *dup = strdup(value);
        if (!dup) {
            snprintf(why, whylen, "out of memory");
            return -1;
        }
        free(*core_cfg_str(cfg, s));
        *core_cfg_str(cfg, s) = dup;
        return 0;
    }
    case T_ENUM: {
        const char *c = s->choices;
        size_t vl = strlen(value);
        while (*c) {
            const char *bar = strchr(c, '|');
            size_t n = bar ? (size_t)(bar - c) : strlen(c);
            if (n == vl && strncasecmp(c, value, n) == 0) {
                char *dup = strndup(c, n);
                if (!dup)
                    return -1;
                free(*core_cfg_str(cfg, s));
                *core_cfg_str(cfg, s) = dup;
                return 0;
            }
            c += n + (bar ? 1 : 0);
        }
        snprintf(why, whylen, "'%s' is not one of %s", value, s->choices);
        return -1;
    }
    case T_INT:
    case T_BYTES:
    case T_MS: {
        int64_t v;
        if (parse_scaled(value, s->type, &v, why, whylen) < 0)
            return -1;
        if (v < s->min || v > s->max) {
            snprintf(why, whylen, "%s is out of range [%lld, %lld]%s", value, (long long)s->min,
                     (long long)s->max, s->type == T_BYTES ? " bytes" : s->type == T_MS ? " ms" : "");
            return -1;
        }
        *core_cfg_i64(cfg, s) = v;
        return 0;
    }
    }
    return -1;
}

void core_config_defaults(core_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    char why[256];
    for (size_t i = 0; i < core_cfg_nsettings; i++) {
        int rc = core_cfg_apply(cfg, &core_cfg_settings[i], core_cfg_settings[i].def, why, sizeof why);
        (void)rc; /* the defaults are valid by construction; tests check it */
    }
}

void core_config_free(core_config *cfg)
{
    for (size_t i = 0; i < core_cfg_nsettings; i++)
        if (core_cfg_settings[i].type == T_STR || core_cfg_settings[i].type == T_ENUM) {
            free(*core_cfg_str(cfg, &core_cfg_settings[i]));
            *core_cfg_str(cfg, &core_cfg_settings[i]) = NULL;
        }
}

int core_config_set(core_config *cfg, const char *section, const char *key, const char *value,
                    char *err, size_t errlen)
{
    const setting *s = core_cfg_find(section, key);
    if (!s) {
        if (!core_cfg_section_known(section))
            snprintf(err, errlen, "unknown section '%s'", section);
        else
            snprintf(err, errlen, "unknown key '%s' in section '%s'", key, section);
        return -1;
    }
    char why[512];
    if (core_cfg_apply(cfg, s, value, why, sizeof why) < 0) {
        snprintf(err, errlen, "%s.%s: %s", section, key, why);
        return -1;
    }
    return 0;
}


/* The CUSTOS_* variables that are not settings: the config file's path,
 * and what the build, test and demo scripts pass to their children. */
static const char *const g_env_other[] = {
    "CUSTOS_CONFIG", "CUSTOS_SHARE_DIR", "CUSTOS_PROMPTS_DIR", "CUSTOS_SOURCE_DIR", "CUSTOS_BIN",
    "CUSTOS_ROOT", "CUSTOS_TEST_FAST", "CUSTOS_TEST_RUN", "CUSTOS_FUZZ_SECONDS",
    "CUSTOS_FUZZ_TARGET_SECONDS", "CUSTOS_BUILD_JOBS", "CUSTOS_BUILD_TARGETS", "CUSTOS_DB_PASSWORD",
    "CUSTOS_DEMO_DIR", "CUSTOS_DEMO_PGPORT", "CUSTOS_DEMO_RATE", "CUSTOS_DEMO_CONFIG",
    "CUSTOS_DEMO_SEED", "CUSTOS_DEMO_WEB_PORT", "CUSTOS_SCENGEN", "CUSTOS_SCORE", NULL};

static void env_name(const setting *s, char *name, size_t size)
{
    size_t o = (size_t)snprintf(name, size, "CUSTOS_%s_%s", s->section, s->key);
    for (size_t j = 0; j < o && j < size; j++)
        name[j] = (char)toupper((unsigned char)name[j]);
}

/* Levenshtein distance of a and b, capped at cap + 1. */
static size_t edit_distance(const char *a, const char *b, size_t cap)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 150 || lb > 150)
        return cap + 1;
    if ((la > lb ? la - lb : lb - la) > cap)
        return cap + 1;
    size_t row[152];
    for (size_t j = 0; j <= lb; j++)
        row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t up = row[j];
            size_t best = diag + (a[i - 1] != b[j - 1]);
            if (up + 1 < best)
                best = up + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[lb];
}

/* A CUSTOS_* variable that is no setting is refused when it names a known
 * section (CUSTOS_KAFKA_GRUOP) or is one or two letters off a setting's
 * variable (CUSTOS_KAKFA_GROUP): set to configure custos, it would be
 * ignored silently otherwise. */
static int check_env_names(char *err, size_t errlen)
{
    for (char **e = environ; e && *e; e++) {
        if (strncmp(*e, "CUSTOS_", 7) != 0)
            continue;
        char name[160];
        size_t n = strcspn(*e, "=");
        if (n >= sizeof name)
            n = sizeof name - 1;
        memcpy(name, *e, n);
        name[n] = '\0';
        bool known = false;
        for (int i = 0; g_env_other[i] && !known; i++)
            known = strcmp(name, g_env_other[i]) == 0;
        const char *near = NULL;
        char cand[160], best[160] = "";
        for (size_t i = 0; i < core_cfg_nsettings && !known; i++) {
            env_name(&core_cfg_settings[i], cand, sizeof cand);
            if (strcmp(cand, name) == 0)
                known = true;
            else if (!near && edit_distance(cand, name, 2) <= 2) {
                snprintf(best, sizeof best, "%s", cand);
                near = best;
            }
        }
        if (known)
            continue;
        /* the section part: CUSTOS_<SECTION>_... */
        char sec[64];
        size_t sl = strcspn(name + 7, "_");
        bool in_section = false;
        if (sl < sizeof sec && name[7 + sl] == '_') {
            for (size_t j = 0; j < sl; j++)
                sec[j] = (char)tolower((unsigned char)name[7 + j]);
            sec[sl] = '\0';
            in_section = core_cfg_section_known(sec);
        }
        if (near) {
            snprintf(err, errlen, "environment %s: no such setting (did you mean %s?)", name,
                     near);
            return -1;
        }
        if (in_section) {
            snprintf(err, errlen, "environment %s: no such setting in section '%s' (see `custos "
                                  "config reference`)", name, sec);
            return -1;
        }
    }
    return 0;
}

static int load_env(core_config *cfg, char *err, size_t errlen)
{
    if (check_env_names(err, errlen) < 0)
        return -1;
    for (size_t i = 0; i < core_cfg_nsettings; i++) {
        const setting *s = &core_cfg_settings[i];
        char name[160];
        env_name(s, name, sizeof name);
        const char *v = getenv(name);
        if (!v)
            continue;
        char why[512];
        if (core_cfg_apply(cfg, s, v, why, sizeof why) < 0) {
            snprintf(err, errlen, "environment %s: key %s.%s: %s", name, s->section, s->key, why);
            return -1;
        }
    }
    return 0;
}

int core_config_load(core_config *cfg, const char *path, char *err, size_t errlen)
{
    core_config_defaults(cfg);
    if (path && core_cfg_load_yaml(cfg, path, err, errlen) < 0)
        return -1;
    return load_env(cfg, err, errlen);
}


void core_config_print(const core_config *cfg, FILE *out)
{
    const char *cur = "";
    core_config *c = (core_config *)cfg;
    for (size_t i = 0; i < core_cfg_nsettings; i++) {
        const setting *s = &core_cfg_settings[i];
        if (strcmp(cur, s->section) != 0) {
            fprintf(out, "%s:\n", s->section);
            cur = s->section;
        }
        if (s->type == T_STR || s->type == T_ENUM) {
            const char *v = *core_cfg_str(c, s);
            char *masked = NULL;
            if (s->secret && s->off == OFF(pg_dsn) && v) {
                /* room for the whole masked DSN, so that the print is never
                 * cut (a cut one would not load back, or load as another
                 * DSN): percent-encoding at most triples a value, and the
                 * option names libpq spells out add less than 1 KiB */
                size_t size = 3 * strlen(v) + 1024;
                masked = malloc(size);
                v = masked ? core_config_mask_dsn(v, masked, size) : "(out of memory: not shown)";
            } else if (s->secret && v && *v) {
                v = "****";
            }
            fputs("  ", out);
            fputs(s->key, out);
            fputs(": \"", out);
            /* YAML double-quoted: what YAML does not take raw (C0, DEL,
             * C1 and NEL, the line separators, U+FFFE/FFFF) is written as
             * an escape, so that the printed file reads back the same */
            for (const unsigned char *q = (const unsigned char *)(v ? v : ""); *q; q++) {
                if (*q == '"' || *q == '\\') {
                    fputc('\\', out);
                    fputc(*q, out);
                } else if (*q < 0x20 || *q == 0x7f) {
                    fprintf(out, "\\x%02x", *q);
                } else if (q[0] == 0xC2 && q[1] >= 0x80 && q[1] <= 0x9F) {
                    fprintf(out, "\\u%04x", q[1]);
                    q++;
                } else if (q[0] == 0xE2 && q[1] == 0x80 && (q[2] == 0xA8 || q[2] == 0xA9)) {
                    fprintf(out, "\\u%04x", 0x2028 + (q[2] - 0xA8));
                    q += 2;
                } else if (q[0] == 0xEF && q[1] == 0xBF && (q[2] == 0xBE || q[2] == 0xBF)) {
                    fprintf(out, "\\u%04x", 0xFFFE + (q[2] - 0xBE));
                    q += 2;
                } else {
                    fputc(*q, out);
                }
            }
            fputs("\"", out);
            free(masked);
        } else {
            fprintf(out, "  %s: %lld", s->key, (long long)*core_cfg_i64(c, s));
        }
        fprintf(out, "    # %s\n", s->help);
    }
}

void core_config_reference(FILE *out)
{
    static const char *const tname[] = {"string", "integer", "size", "duration", "one of"};
    const char *cur = "";
    for (size_t i = 0; i < core_cfg_nsettings; i++) {
        const setting *s = &core_cfg_settings[i];
        if (strcmp(cur, s->section) != 0) {
            fprintf(out, "%s## %s\n\n| key | type | default | environment | meaning |\n"
                         "|---|---|---|---|---|\n",
                    *cur ? "\n" : "", s->section);
            cur = s->section;
        }
        char env[160];
        size_t n = (size_t)snprintf(env, sizeof env, "CUSTOS_%s_%s", s->section, s->key);
        for (size_t j = 0; j < n && j < sizeof env; j++)
            env[j] = (char)toupper((unsigned char)env[j]);
        char type[160];
        if (s->type == T_ENUM) {
            /* '|' would end the Markdown cell */
            size_t o = (size_t)snprintf(type, sizeof type, "one of ");
            for (const char *c = s->choices; *c && o + 8 < sizeof type; c++) {
                if (*c == '|') {
                    memcpy(type + o, ", ", 2);
                    o += 2;
                } else {
                    type[o++] = *c;
                }
            }
            type[o] = '\0';
        }
        else if (s->type == T_STR)
            snprintf(type, sizeof type, "string");
        else
            snprintf(type, sizeof type, "%s %lld..%lld", tname[s->type], (long long)s->min,
                     (long long)s->max);
        fprintf(out, "| `%s` | %s | `%s` | `%s` | %s%s |\n", s->key, type,
                s->def[0] ? s->def : "\"\"", env, s->help,
                s->secret ? " (secret: masked when printed)" : "");
    }
}
