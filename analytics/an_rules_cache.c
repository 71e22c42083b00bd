/* The compiled-rules cache: see rules_cache.h.
 *
 * An entry is <dir>/rules-<sha256>.hsdb:
 *   "custos-hsdb-1\n", then per database a little-endian u64 length and that
 *   many bytes of hs_serialize_database() output (length 0: no database). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "analytics/an_rules_cache.h"
#include "core/util.h"

#define MAGIC "custos-hsdb-1\n"
#define MAX_ENTRY_BYTES (256u << 20)
#define KEEP 8

int an_rules_cache_dir(const char *setting, char *out, size_t outlen)
{
    int n;
    if (setting && strcmp(setting, "off") == 0)
        return -1;
    if (setting && *setting) {
        n = snprintf(out, outlen, "%s", setting);
    } else {
        const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
        if (xdg && xdg[0] == '/')
            n = snprintf(out, outlen, "%s/custos", xdg);
        else if (home && home[0] == '/')
            n = snprintf(out, outlen, "%s/.cache/custos", home);
        else
            return -1;
    }
    return n > 0 && (size_t)n < outlen ? 0 : -1;
}

static void put_bytes(EVP_MD_CTX *md, const void *p, size_t n)
{
    uint64_t len = n; /* length-prefixed: no two inputs hash alike by concatenation */
    EVP_DigestUpdate(md, &len, sizeof len);
    EVP_DigestUpdate(md, p, n);
}

void an_rules_cache_key(const an_rules_src *src, char hex[65])
{
    unsigned char h[EVP_MAX_MD_SIZE];
    unsigned hl = 0;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    EVP_DigestInit_ex(md, EVP_sha256(), NULL);
    put_bytes(md, MAGIC, strlen(MAGIC));
    const char *v = hs_version();
    put_bytes(md, v, strlen(v));
    hs_platform_info_t plat;
    memset(&plat, 0, sizeof plat);
    if (hs_populate_platform(&plat) == HS_SUCCESS)
        put_bytes(md, &plat, sizeof plat);
    unsigned char pf = src->per_field;
    put_bytes(md, &pf, 1);
    for (size_t i = 0; i < src->n; i++) {
        unsigned char resp = src->on_response[i];
        put_bytes(md, src->pats[i], strlen(src->pats[i]));
        put_bytes(md, &src->flags[i], sizeof src->flags[i]);
        put_bytes(md, &src->within[i], sizeof src->within[i]);
        put_bytes(md, &resp, 1);
    }
    EVP_DigestFinal_ex(md, h, &hl);
    EVP_MD_CTX_free(md);
    for (unsigned i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", h[i]);
}

/* Only what this user alone can have written is trusted. */
static bool private_to_us(const struct stat *st)
{
    return st->st_uid == geteuid() && !(st->st_mode & (S_IWGRP | S_IWOTH));
}

static int entry_path(char *out, size_t outlen, const char *dir, const char *hex)
{
    int n = snprintf(out, outlen, "%s/rules-%s.hsdb", dir, hex);
    return n > 0 && (size_t)n < outlen ? 0 : -1;
}

int an_rules_cache_load(const char *dir, const char *hex, int ndb, hs_database_t **db)
{
    char path[4096];
    struct stat st;
    unsigned char *buf = NULL;
    int fd = -1, rc = -1;
    for (int i = 0; i < ndb; i++)
        db[i] = NULL;
    if (entry_path(path, sizeof path, dir, hex) < 0 || lstat(dir, &st) < 0 ||
        !S_ISDIR(st.st_mode) || !private_to_us(&st))
        return -1;
    fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || !private_to_us(&st) ||
        st.st_size < (off_t)strlen(MAGIC) || st.st_size > (off_t)MAX_ENTRY_BYTES)
        goto out;
    size_t size = (size_t)st.st_size, got = 0;
    if (!(buf = malloc(size)))
        goto out;
    while (got < size) {
        ssize_t r = read(fd, buf + got, size - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            goto out;
        got += (size_t)r;
    }
    size_t at = strlen(MAGIC);
    if (memcmp(buf, MAGIC, at) != 0)
        goto out;
    for (int i = 0; i < ndb; i++) {
        uint64_t len;
        if (size - at < sizeof len)
            goto out;
        memcpy(&len, buf + at, sizeof len);
        at += sizeof len;
        if (len > size - at)
            goto out;
        /* vectorscan checks the version, the platform and the layout */
        if (len && hs_deserialize_database((const char *)buf + at, (size_t)len, &db[i]) !=
                       HS_SUCCESS) {
            db[i] = NULL;
            goto out;
        }
        at += (size_t)len;
    }
    rc = at == size ? 0 : -1;
out:
    if (rc < 0)
        for (int i = 0; i < ndb; i++)
            if (db[i]) {
                hs_free_database(db[i]);
                db[i] = NULL;
            }
    if (fd >= 0)
        close(fd);
    free(buf);
    return rc;
}

/* mkdir -p with 0700 for what it creates. */
static int make_dirs(const char *dir)
{
    char p[4096];
    int n = snprintf(p, sizeof p, "%s", dir);
    if (n <= 0 || (size_t)n >= sizeof p)
        return -1;
    for (char *s = p + 1; *s; s++)
        if (*s == '/') {
            *s = '\0';
            if (mkdir(p, 0700) < 0 && errno != EEXIST)
                return -1;
            *s = '/';
        }
    return mkdir(p, 0700) < 0 && errno != EEXIST ? -1 : 0;
}

static bool write_all(int fd, const void *p, size_t n)
{
    const char *c = p;
    while (n) {
        ssize_t w = write(fd, c, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return false;
        c += w;
        n -= (size_t)w;
    }
    return true;
}

/* Keeps the KEEP newest entries: rule sets that are gone stop taking room. */
static void prune(const char *dir)
{
    DIR *dh = opendir(dir);
    if (!dh)
        return;
    struct {
        char name[96];
        time_t mtime;
    } e[64];
    int n = 0;
    struct dirent *de;
    while ((de = readdir(dh)) && n < 64) {
        size_t l = strlen(de->d_name);
        struct stat st;
        if (l >= sizeof e[0].name || strncmp(de->d_name, "rules-", 6) != 0 || l < 11 ||
            strcmp(de->d_name + l - 5, ".hsdb") != 0 || fstatat(dirfd(dh), de->d_name, &st,
                                                                 AT_SYMLINK_NOFOLLOW) < 0)
            continue;
        memcpy(e[n].name, de->d_name, l + 1);
        e[n].mtime = st.st_mtime;
        n++;
    }
    while (n > KEEP) {
        int old = 0;
        for (int i = 1; i < n; i++)
            if (e[i].mtime < e[old].mtime)
                old = i;
        unlinkat(dirfd(dh), e[old].name, 0);
        e[old] = e[--n];
    }
    closedir(dh);
}

int an_rules_cache_save(const char *dir, const char *hex, int ndb, hs_database_t *const *db,
                        char *err, size_t errlen)
{
    char path[4096], tmp[4096];
    struct stat st;
    if (entry_path(path, sizeof path, dir, hex) < 0 ||
        snprintf(tmp, sizeof tmp, "%s/.rules-XXXXXX", dir) >= (int)sizeof tmp)
        return core_errf(err, errlen, "cache path too long");
    if (make_dirs(dir) < 0)
        return core_errf(err, errlen, "%s: cannot create: %s", dir, strerror(errno));
    if (lstat(dir, &st) < 0 || !S_ISDIR(st.st_mode) || !private_to_us(&st))
        return core_errf(err, errlen, "%s: not a directory of this user that only it can write",
                         dir);
    int fd = mkstemp(tmp); /* mode 0600 */
    if (fd < 0)
        return core_errf(err, errlen, "%s: cannot write: %s", dir, strerror(errno));
    bool ok = write_all(fd, MAGIC, strlen(MAGIC));
    for (int i = 0; ok && i < ndb; i++) {
        char *bytes = NULL;
        size_t len = 0;
        if (db[i] && hs_serialize_database(db[i], &bytes, &len) != HS_SUCCESS) {
            ok = false;
            break;
        }
        uint64_t l64 = len;
        ok = write_all(fd, &l64, sizeof l64) && (!len || write_all(fd, bytes, len));
        free(bytes); /* vectorscan's default allocator is malloc */
    }
    ok = close(fd) == 0 && ok;
    if (!ok || rename(tmp, path) < 0) {
        int e = errno;
        unlink(tmp);
        return core_errf(err, errlen, "%s: cannot write: %s", path, ok ? strerror(e) : "short write");
    }
    prune(dir);
    return 0;
}
