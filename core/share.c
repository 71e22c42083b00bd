/* Resolving the share folder: never a source path compiled in, so that a
 * binary moved, installed or built elsewhere still finds its own files. */
#include "core/share.h"

#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/util.h"

static char share_dir[PATH_MAX];
static const char *share_found;
static pthread_once_t share_once = PTHREAD_ONCE_INIT;

static int is_dir(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

static void share_resolve(void)
{
    const char *env = getenv("CUSTOS_SHARE_DIR");
    if (env && *env) {
        /* Taken as given, even if missing, so that a wrong value is named in
         * the error instead of silently falling back to another folder. */
        snprintf(share_dir, sizeof share_dir, "%s", env);
        share_found = share_dir;
        return;
    }
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0)
        return;
    exe[n] = '\0';
    char *slash = strrchr(exe, '/');
    if (!slash)
        return;
    *slash = '\0';
    static const char *const rel[] = {"/../share/custos", "/share/custos"};
    for (size_t i = 0; i < sizeof rel / sizeof rel[0]; i++) {
        char cand[PATH_MAX];
        if ((size_t)snprintf(cand, sizeof cand, "%s%s", exe, rel[i]) >= sizeof cand)
            continue;
        if (is_dir(cand)) {
            char *real = realpath(cand, NULL);
            snprintf(share_dir, sizeof share_dir, "%s", real ? real : cand);
            free(real);
            share_found = share_dir;
            return;
        }
    }
}

const char *core_share_dir(void)
{
    pthread_once(&share_once, share_resolve);
    return share_found;
}

const char *core_share_path(const char *sub, char *out, size_t outlen, char *err, size_t errlen)
{
    const char *d = core_share_dir();
    if (!d) {
        core_errf(err, errlen,
                  "cannot find custos's share folder (neither <bindir>/../share/custos nor "
                  "<bindir>/share/custos exists): install custos with cmake --install, or set "
                  "CUSTOS_SHARE_DIR");
        return NULL;
    }
    if ((size_t)snprintf(out, outlen, "%s/%s", d, sub) >= outlen) {
        core_errf(err, errlen, "share path %s/%s is too long", d, sub);
        return NULL;
    }
    return out;
}

const char *core_share_default(const char *sub)
{
    static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
    static struct {
        char sub[32];
        char path[PATH_MAX];
    } cache[8];
    static size_t n;
    const char *found = NULL;
    pthread_mutex_lock(&mu);
    for (size_t i = 0; i < n && !found; i++)
        if (strcmp(cache[i].sub, sub) == 0)
            found = cache[i].path;
    if (!found && n < sizeof cache / sizeof cache[0] && strlen(sub) < sizeof cache[0].sub) {
        const char *d = core_share_dir();
        snprintf(cache[n].sub, sizeof cache[n].sub, "%s", sub);
        snprintf(cache[n].path, sizeof cache[n].path, "%s/%s",
                 d ? d : "(no share folder: set CUSTOS_SHARE_DIR)", sub);
        found = cache[n++].path;
    }
    pthread_mutex_unlock(&mu);
    /* Only a caller with a ninth folder name or an overlong one gets here. */
    return found ? found : "(share folder table full)";
}
