/* A small ustar (POSIX.1-1988) writer and reader: regular files only, names
 * under 100 bytes, sizes under 8 GiB (11 octal digits). Enough for evidence
 * bundles, read by any tar. */
#include "forensics/forensics.h"

#include <errno.h>
#include <inttypes.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define BLOCK 512
#define MAX_SIZE 077777777777ULL

/* width-1 octal digits and a NUL (v fits: sizes are checked on write) */
static void octal(char *dst, size_t width, uint64_t v)
{
    dst[width - 1] = '\0';
    for (size_t i = width - 1; i-- > 0; v >>= 3)
        dst[i] = (char)('0' + (v & 7));
}

static void header(unsigned char h[BLOCK], const char *name, uint64_t size, int64_t mtime)
{
    memset(h, 0, BLOCK);
    memcpy(h, name, strlen(name));
    octal((char *)h + 100, 8, 0644);
    octal((char *)h + 108, 8, 0);
    octal((char *)h + 116, 8, 0);
    octal((char *)h + 124, 12, size);
    octal((char *)h + 136, 12, mtime > 0 ? (uint64_t)mtime : 0);
    h[156] = '0';
    memcpy(h + 257, "ustar", 6); /* with its NUL */
    memcpy(h + 263, "00", 2);
    memcpy(h + 265, "custos", 6);
    memcpy(h + 297, "custos", 6);
    memset(h + 148, ' ', 8);
    unsigned sum = 0;
    for (int i = 0; i < BLOCK; i++)
        sum += h[i];
    snprintf((char *)h + 148, 8, "%06o", sum);
    h[155] = ' ';
}

static int io_err(const char *what, char *err, size_t errlen)
{
    snprintf(err, errlen, "%s: %s", what, strerror(errno));
    return -1;
}

int forensics_tar_begin(forensics_tar *t, const char *name, int64_t mtime, char *err,
                        size_t errlen)
{
    if (strlen(name) >= 100) {
        snprintf(err, errlen, "tar entry name too long: %s", name);
        return -1;
    }
    unsigned char h[BLOCK];
    t->hdr_at = ftell(t->f);
    t->size = 0;
    t->lines = 0;
    t->mtime = mtime;
    snprintf(t->name, sizeof t->name, "%s", name);
    header(h, name, 0, mtime);
    if (t->hdr_at < 0 || fwrite(h, 1, BLOCK, t->f) != BLOCK)
        return io_err("writing the bundle", err, errlen);
    t->md = EVP_MD_CTX_new();
    if (!t->md || !EVP_DigestInit_ex(t->md, EVP_sha256(), NULL)) {
        snprintf(err, errlen, "SHA-256 unavailable");
        return -1;
    }
    return 0;
}

int forensics_tar_write(forensics_tar *t, const void *p, size_t n, char *err, size_t errlen)
{
    if (t->size + n > MAX_SIZE) {
        snprintf(err, errlen, "%s would exceed 8 GiB, the ustar limit: narrow the query",
                 t->name);
        return -1;
    }
    if (fwrite(p, 1, n, t->f) != n)
        return io_err("writing the bundle", err, errlen);
    EVP_DigestUpdate(t->md, p, n);
    const char *s = p, *e = s + n;
    while ((s = memchr(s, '\n', (size_t)(e - s)))) {
        t->lines++;
        s++;
    }
    t->size += n;
    return 0;
}

int forensics_tar_end(forensics_tar *t, char sha[65], uint64_t *size, uint64_t *lines,
                      char *err, size_t errlen)
{
    unsigned char md[32], h[BLOCK];
    unsigned int mdlen = 0;
    EVP_DigestFinal_ex(t->md, md, &mdlen);
    EVP_MD_CTX_free(t->md);
    t->md = NULL;
    for (int i = 0; i < 32; i++)
        snprintf(sha + 2 * i, 3, "%02x", md[i]);
    static const unsigned char zero[BLOCK];
    size_t pad = (size_t)((BLOCK - t->size % BLOCK) % BLOCK);
    if (fwrite(zero, 1, pad, t->f) != pad)
        return io_err("writing the bundle", err, errlen);
    long end = ftell(t->f);
    header(h, t->name, t->size, t->mtime);
    if (end < 0 || fseek(t->f, t->hdr_at, SEEK_SET) < 0 || fwrite(h, 1, BLOCK, t->f) != BLOCK ||
        fseek(t->f, end, SEEK_SET) < 0)
        return io_err("writing the bundle (it must be a regular file)", err, errlen);
    *size = t->size;
    *lines = t->lines;
    t->hdr_at = -1;
    return 0;
}

int forensics_tar_close(forensics_tar *t, char *err, size_t errlen)
{
    static const unsigned char zero[2 * BLOCK];
    if (fwrite(zero, 1, sizeof zero, t->f) != sizeof zero || fflush(t->f) != 0 ||
        fsync(fileno(t->f)) < 0)
        return io_err("writing the bundle", err, errlen);
    return 0;
}

static uint64_t parse_octal(const unsigned char *p, size_t n, bool *ok)
{
    uint64_t v = 0;
    size_t i = 0;
    while (i < n && p[i] == ' ')
        i++;
    size_t digits = 0;
    for (; i < n && p[i] >= '0' && p[i] <= '7'; i++, digits++)
        v = v * 8 + (uint64_t)(p[i] - '0');
    for (; i < n; i++)
        if (p[i] != ' ' && p[i] != '\0')
            *ok = false;
    if (digits == 0)
        *ok = false;
    return v;
}

int forensics_tar_next(FILE *f, char name[101], uint64_t *size, char *err, size_t errlen)
{
    unsigned char h[BLOCK];
    size_t got = fread(h, 1, BLOCK, f);
    if (got == 0 && feof(f)) {
        snprintf(err, errlen, "the archive ends without its end-of-archive blocks (cut short)");
        return -1;
    }
    if (got != BLOCK) {
        snprintf(err, errlen, "the archive is cut short inside a header");
        return -1;
    }
    bool zero = true;
    for (int i = 0; i < BLOCK && zero; i++)
        zero = h[i] == 0;
    if (zero)
        return 0;
    bool ok = true;
    uint64_t want = parse_octal(h + 148, 8, &ok);
    unsigned sum = 0;
    for (int i = 0; i < BLOCK; i++)
        sum += (i >= 148 && i < 156) ? ' ' : h[i];
    if (!ok || want != sum || memcmp(h + 257, "ustar", 5) != 0) {
        snprintf(err, errlen, "a tar header is damaged (its checksum does not match): not a "
                 "bundle, or altered");
        return -1;
    }
    if (h[156] != '0' && h[156] != '\0') {
        snprintf(err, errlen, "the archive holds an entry that is not a regular file");
        return -1;
    }
    memcpy(name, h, 100);
    name[100] = '\0';
    *size = parse_octal(h + 124, 12, &ok);
    if (!ok) {
        snprintf(err, errlen, "entry %s: its size field is damaged", name);
        return -1;
    }
    return 1;
}

int forensics_tar_skip_pad(FILE *f, uint64_t size)
{
    long pad = (long)((BLOCK - size % BLOCK) % BLOCK);
    return pad ? fseek(f, pad, SEEK_CUR) : 0;
}
