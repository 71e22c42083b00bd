/* The configuration file: one YAML document, a mapping of section ->
 * mapping of key -> scalar (a sequence of scalars is joined with commas,
 * for lists such as topics). A section or a key given twice is an error, as
 * is a second document: the file means one thing. Every error names the
 * file, the line and the key. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <yaml.h>

#include "core/config_int.h"

/* Where the parser is, between events. */
typedef struct {
    core_config *cfg;
    const char *path;
    char *err;
    size_t errlen;
    int depth; /* 1 = root mapping, 2 = section mapping */
    int docs;
    char section[128], key[128];
    bool have_key;
    char *seqbuf; /* the values of a list being read, comma-joined */
    size_t seqline;
    size_t *set_line; /* where each setting was first given, for duplicates */
    char seen_sections[1024];
} yaml_state;

static int fail(yaml_state *st, size_t line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* "path:line: " then the message; returns -1. */
static int fail(yaml_state *st, size_t line, const char *fmt, ...)
{
    int n = snprintf(st->err, st->errlen, "%s:%zu: ", st->path, line);
    if (n < 0 || (size_t)n >= st->errlen)
        return -1;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(st->err + n, st->errlen - (size_t)n, fmt, ap);
    va_end(ap);
    return -1;
}

static int on_mapping_start(yaml_state *st, size_t line)
{
    if (st->depth == 0) {
        st->depth = 1;
    } else if (st->depth == 1 && st->have_key) {
        st->depth = 2;
        st->have_key = false;
    } else {
        return fail(st, line, "key %s%s%s: a nested mapping is not allowed here", st->section,
                    *st->key ? "." : "", st->key);
    }
    return 0;
}

static int on_sequence_start(yaml_state *st, size_t line)
{
    if (st->seqbuf)
        return fail(st, line,
                    "key %s.%s: a list inside a list is not allowed (give the values as one "
                    "flat list)",
                    st->section, st->key);
    if (st->depth != 2 || !st->have_key)
        return fail(st, line, "a list is only allowed as a setting's value");
    st->seqbuf = strdup("");
    if (!st->seqbuf)
        return fail(st, line, "out of memory");
    st->seqline = line;
    return 0;
}

static int on_sequence_end(yaml_state *st)
{
    char why[512];
    const setting *s = core_cfg_find(st->section, st->key);
    if (!s || !st->seqbuf || core_cfg_apply(st->cfg, s, st->seqbuf, why, sizeof why) < 0)
        return fail(st, st->seqline, "key %s.%s: %s", st->section, st->key,
                    s && st->seqbuf ? why : "a list is only allowed as a setting's value");
    free(st->seqbuf);
    st->seqbuf = NULL;
    st->have_key = false;
    return 0;
}

/* A scalar at the root mapping: a section's name. */
static int section_name(yaml_state *st, const char *v, size_t line)
{
    if (strlen(v) >= sizeof st->section || !core_cfg_section_known(v))
        return fail(st, line, "key %s: unknown section", v);
    char tag[140];
    snprintf(tag, sizeof tag, ",%s,", v);
    if (strstr(st->seen_sections, tag))
        return fail(st, line, "key %s: the section is given twice (merge its keys into one)", v);
    size_t used = strlen(st->seen_sections);
    if (used + strlen(v) + 2 < sizeof st->seen_sections)
        snprintf(st->seen_sections + used, sizeof st->seen_sections - used, "%s,", v);
    snprintf(st->section, sizeof st->section, "%s", v);
    st->have_key = true;
    return 0;
}

/* A scalar in a section, where a key is expected. */
static int setting_key(yaml_state *st, const char *v, size_t line)
{
    const setting *s = strlen(v) < sizeof st->key ? core_cfg_find(st->section, v) : NULL;
    if (!s)
        return fail(st, line, "key %s.%s: unknown setting", st->section, v);
    size_t idx = (size_t)(s - core_cfg_settings);
    if (st->set_line[idx])
        return fail(st, line, "key %s.%s: given twice (first at line %zu)", st->section, v,
                    st->set_line[idx]);
    st->set_line[idx] = line;
    snprintf(st->key, sizeof st->key, "%s", v);
    st->have_key = true;
    return 0;
}

/* A scalar in a section, after its key: the value. */
static int setting_value(yaml_state *st, const yaml_event_t *ev, const char *v, size_t line)
{
    char why[512];
    const setting *s = core_cfg_find(st->section, st->key);
    if (ev->data.scalar.length == 0 && ev->data.scalar.plain_implicit && s->type != T_STR)
        return fail(st, line, "key %s.%s: empty value", st->section, st->key);
    if (core_cfg_apply(st->cfg, s, v, why, sizeof why) < 0)
        return fail(st, line, "key %s.%s: %s", st->section, st->key, why);
    st->have_key = false;
    return 0;
}

static int on_scalar(yaml_state *st, const yaml_event_t *ev, size_t line)
{
    const char *v = (const char *)ev->data.scalar.value;
    if (strlen(v) != ev->data.scalar.length)
        return fail(st, line, "%s%s%s: a NUL byte in a value", st->section,
                    *st->section ? "." : "", st->depth == 2 && st->have_key ? st->key : "");
    if (st->seqbuf) {
        size_t n = strlen(st->seqbuf) + strlen(v) + 2;
        char *nb = malloc(n);
        if (!nb)
            return fail(st, line, "out of memory");
        snprintf(nb, n, "%s%s%s", st->seqbuf, *st->seqbuf ? "," : "", v);
        free(st->seqbuf);
        st->seqbuf = nb;
        return 0;
    }
    if (st->depth == 1 && st->have_key && ev->data.scalar.length == 0 &&
        ev->data.scalar.plain_implicit) {
        /* "section:" with every key commented out: an empty section */
        st->have_key = false;
        st->section[0] = '\0';
        return 0;
    }
    if (st->depth == 1 && st->have_key) /* "section: scalar": checked before a section name is
                                         * read, or the scalar would be taken for the next one */
        return fail(st, line, "key %s: a section must be a mapping", st->section);
    if (st->depth == 1)
        return section_name(st, v, line);
    if (st->depth == 2 && !st->have_key)
        return setting_key(st, v, line);
    if (st->depth == 2)
        return setting_value(st, ev, v, line);
    if (st->depth == 0 && ev->data.scalar.length > 0)
        return fail(st, line, "the file must be a mapping of sections");
    return 0;
}

/* One event; 0, 1 at the end of the stream, -1 with the error. */
static int on_event(yaml_state *st, const yaml_event_t *ev)
{
    size_t line = ev->start_mark.line + 1;
    switch (ev->type) {
    case YAML_STREAM_END_EVENT:
        return 1;
    case YAML_DOCUMENT_START_EVENT:
        if (++st->docs > 1)
            return fail(st, line, "a second YAML document: the file must hold one mapping of "
                                  "sections");
        return 0;
    case YAML_MAPPING_START_EVENT:
        return on_mapping_start(st, line);
    case YAML_MAPPING_END_EVENT:
        st->depth--;
        if (st->depth == 1)
            st->section[0] = '\0';
        return 0;
    case YAML_SEQUENCE_START_EVENT:
        return on_sequence_start(st, line);
    case YAML_SEQUENCE_END_EVENT:
        return on_sequence_end(st);
    case YAML_SCALAR_EVENT:
        return on_scalar(st, ev, line);
    case YAML_ALIAS_EVENT:
        return fail(st, line, "YAML aliases are not supported");
    default:
        return 0;
    }
}

int core_cfg_load_yaml(core_config *cfg, const char *path, char *err, size_t errlen)
{
    struct stat stt;
    if (stat(path, &stt) == 0 && S_ISDIR(stt.st_mode)) {
        snprintf(err, errlen, "%s: is a directory, not a configuration file", path);
        return -1;
    }
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
        return -1;
    }
    size_t *set_line = calloc(core_cfg_nsettings, sizeof *set_line);
    if (!set_line) {
        fclose(f);
        snprintf(err, errlen, "%s: out of memory", path);
        return -1;
    }
    yaml_state st = {.cfg = cfg, .path = path, .err = err, .errlen = errlen,
                     .set_line = set_line, .seen_sections = ","};
    yaml_parser_t p;
    yaml_parser_initialize(&p);
    yaml_parser_set_input_file(&p, f);
    int rc;
    for (;;) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&p, &ev)) {
            snprintf(err, errlen, "%s:%zu: YAML syntax error: %s", path, p.problem_mark.line + 1,
                     p.problem ? p.problem : "unknown");
            rc = -1;
            break;
        }
        rc = on_event(&st, &ev);
        yaml_event_delete(&ev);
        if (rc != 0)
            break;
    }
    if (rc > 0 && ferror(f)) {
        snprintf(err, errlen, "%s: read error: %s", path, strerror(errno));
        rc = -1;
    }
    free(st.seqbuf);
    free(set_line);
    yaml_parser_delete(&p);
    fclose(f);
    return rc > 0 ? 0 : -1;
}
