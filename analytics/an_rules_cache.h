/* A cache of compiled signature-rule databases, so that a start does not
 * spend ~0.4 s compiling the same rules again. Entries are keyed by a
 * SHA-256 of everything the compiler sees (vectorscan's version, the CPU
 * platform, the layout and every pattern with its flags), so an edited rule
 * or a new vectorscan never meets a stale entry. Only files owned by this
 * user in a directory no one else can write are read. */
#ifndef AN_RULES_CACHE_H
#define AN_RULES_CACHE_H

#include <hs/hs.h>
#include <stdbool.h>
#include <stddef.h>

typedef struct {
    char *const *pats;
    const unsigned *flags;
    const unsigned long long *within;
    const bool *on_response;
    size_t n;
    bool per_field;
} an_rules_src;

/* The cache directory for the analytics.rules_cache_dir setting: the value
 * itself, or "" for $XDG_CACHE_HOME/custos (else $HOME/.cache/custos).
 * Returns -1 when caching is off ("off", or no home to put it in). */
int an_rules_cache_dir(const char *setting, char *out, size_t outlen);

/* hex: 64 hex digits and a NUL. */
void an_rules_cache_key(const an_rules_src *src, char hex[65]);

/* Reads ndb databases (NULL where the layout has none) for key hex.
 * Returns 0, or -1 when there is no usable entry (nothing is allocated). */
int an_rules_cache_load(const char *dir, const char *hex, int ndb, hs_database_t **db);

/* Writes the entry atomically (mode 0600, directory 0700) and keeps the 8
 * newest entries. Returns -1 with err set on failure. */
int an_rules_cache_save(const char *dir, const char *hex, int ndb, hs_database_t *const *db,
                        char *err, size_t errlen);

#endif
