/* The configuration's internals, shared by config.c (values, environment,
 * printing), config_table.c (the settings), config_yaml.c (the file) and
 * config_mask.c (secrets in DSNs). Private to core/. */
#ifndef CORE_CONFIG_INT_H
#define CORE_CONFIG_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/config.h"

typedef enum { T_STR, T_INT, T_BYTES, T_MS, T_ENUM } ctype;

typedef struct {
    const char *section;
    const char *key;
    ctype type;
    size_t off;
    const char *def;
    int64_t min, max;     /* T_INT, T_BYTES, T_MS */
    const char *choices;  /* T_ENUM: '|'-separated */
    bool secret;
    bool reloadable;
    const char *help;
} setting;

#define OFF(f) offsetof(core_config, f)

/* The one table of settings (config_table.c). docs/config.md mirrors it. */
extern const setting core_cfg_settings[];
extern const size_t core_cfg_nsettings;

static inline char **core_cfg_str(core_config *c, const setting *s)
{
    return (char **)((char *)c + s->off);
}
static inline int64_t *core_cfg_i64(core_config *c, const setting *s)
{
    return (int64_t *)((char *)c + s->off);
}

/* The setting section.key, or NULL. */
const setting *core_cfg_find(const char *section, const char *key);
bool core_cfg_section_known(const char *section);
/* Parses value by the setting's type and bounds into cfg; -1 with why. */
int core_cfg_apply(core_config *cfg, const setting *s, const char *value, char *why,
                   size_t whylen);
/* Reads the YAML file path into cfg (config_yaml.c); -1 with err naming the
 * file, the line and the key. */
int core_cfg_load_yaml(core_config *cfg, const char *path, char *err, size_t errlen);

#endif
