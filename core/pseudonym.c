/* The pseudonym key and keyed hashes (redact_scan.h): HMAC-SHA256 with
 * libsodium, the key a file of 64 hex digits readable by its owner only. */
#include "core/redact_scan.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Writes a new random key to path: a temporary file, then link(2), which
 * fails when another starter made the file first (its key then wins). */
static int create_key(const char *path, char *err, size_t errlen)
{
    unsigned char k[CORE_PSEUDONYM_KEY_BYTES];
    char hex[2 * CORE_PSEUDONYM_KEY_BYTES + 2];
    char tmp[4096];
    if (sodium_init() < 0) {
        snprintf(err, errlen, "libsodium cannot start");
        return -1;
    }
    if (snprintf(tmp, sizeof tmp, "%s.new.%ld", path, (long)getpid()) >= (int)sizeof tmp) {
        snprintf(err, errlen, "collector.redact_key: path too long");
        return -1;
    }
    randombytes_buf(k, sizeof k);
    sodium_bin2hex(hex, sizeof hex, k, sizeof k);
    sodium_memzero(k, sizeof k);
    size_t n = strlen(hex);
    hex[n++] = '\n';
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        snprintf(err, errlen, "cannot create the redaction key %s: %s", tmp, strerror(errno));
        sodium_memzero(hex, sizeof hex);
        return -1;
    }
    int rc = fchmod(fd, 0600) < 0 || write(fd, hex, n) != (ssize_t)n || fsync(fd) < 0 ? -1 : 0;
    int e = errno;
    sodium_memzero(hex, sizeof hex);
    close(fd);
    if (rc == 0 && link(tmp, path) < 0 && errno != EEXIST) {
        e = errno;
        rc = -1;
    }
    unlink(tmp);
    if (rc < 0)
        snprintf(err, errlen, "cannot create the redaction key %s: %s", path, strerror(e));
    return rc;
}

int core_pseudonym_key_load(const char *path, bool create,
                            unsigned char key[CORE_PSEUDONYM_KEY_BYTES], char *err,
                            size_t errlen)
{
    if (!path || !*path) {
        snprintf(err, errlen, "collector.redact_key is not set (a key file path)");
        return -1;
    }
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT && create) {
        if (create_key(path, err, errlen) < 0)
            return -1;
        fd = open(path, O_RDONLY | O_CLOEXEC);
    }
    if (fd < 0) {
        snprintf(err, errlen, "cannot open the redaction key %s (collector.redact_key): %s", path,
                 strerror(errno));
        return -1;
    }
    struct stat st;
    char buf[2 * CORE_PSEUDONYM_KEY_BYTES + 8];
    ssize_t n = -1;
    if (fstat(fd, &st) == 0 && (st.st_mode & 077) == 0 && S_ISREG(st.st_mode))
        n = read(fd, buf, sizeof buf);
    close(fd);
    if (n < 0) {
        snprintf(err, errlen,
                 "the redaction key %s may be read by others (mode %04o) or is not a file: "
                 "chmod 600 it",
                 path, (unsigned)(st.st_mode & 07777));
        return -1;
    }
    size_t bin_len = 0;
    int rc = (n == 2 * CORE_PSEUDONYM_KEY_BYTES + 1 && buf[n - 1] == '\n') ||
                     n == 2 * CORE_PSEUDONYM_KEY_BYTES
                 ? sodium_hex2bin(key, CORE_PSEUDONYM_KEY_BYTES, buf,
                                  2 * CORE_PSEUDONYM_KEY_BYTES, NULL, &bin_len, NULL)
                 : -1;
    sodium_memzero(buf, sizeof buf);
    if (rc < 0 || bin_len != CORE_PSEUDONYM_KEY_BYTES) {
        sodium_memzero(key, CORE_PSEUDONYM_KEY_BYTES);
        snprintf(err, errlen, "%s is not a redaction key (64 hex digits and a newline)", path);
        return -1;
    }
    return 0;
}

void core_pseudonym_hex(const unsigned char key[CORE_PSEUDONYM_KEY_BYTES], const void *v,
                        size_t n, char hex[65])
{
    unsigned char mac[crypto_auth_hmacsha256_BYTES];
    crypto_auth_hmacsha256(mac, v, n, key);
    sodium_bin2hex(hex, 65, mac, sizeof mac);
}
