/* The instance's Ed25519 signing key (libsodium): the secret key file
 * (created 0600, refused when anyone but its owner may read it), the public
 * key's text form that `custos keys public` prints and `--pubkey` reads,
 * and detached signatures. Used by the signed audit checkpoints here and by
 * the evidence bundles (forensics/). */
#include "audit/audit.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SECRET_TAG "custos-ed25519-secret-v1"
#define PUBLIC_TAG "custos-ed25519"
#define B64 sodium_base64_VARIANT_ORIGINAL

static int sodium_ready(char *err, size_t errlen)
{
    if (sodium_init() < 0) {
        snprintf(err, errlen, "libsodium cannot be initialised");
        return -1;
    }
    return 0;
}

void audit_key_id(const unsigned char pk[32], char id[17])
{
    char hex[65];
    audit_sha256_hex(pk, 32, hex);
    memcpy(id, hex, 16);
    id[16] = '\0';
}

static void key_from_seed(audit_key *k, const unsigned char seed[32])
{
    crypto_sign_seed_keypair(k->pk, k->sk, seed);
    audit_key_id(k->pk, k->id);
}

void audit_key_wipe(audit_key *k) { sodium_memzero(k, sizeof *k); }

int audit_key_generate(const char *path, bool force, audit_key *k, char *err, size_t errlen)
{
    if (sodium_ready(err, errlen) < 0)
        return -1;
    if (!path || !*path) {
        snprintf(err, errlen, "no key file: set audit.signing_key (or CUSTOS_AUDIT_SIGNING_KEY)");
        return -1;
    }
    struct stat st;
    if (!force && stat(path, &st) == 0) {
        snprintf(err, errlen, "%s exists: it is the instance's key; --force replaces it "
                 "(bundles and checkpoints signed with it then verify only with its old "
                 "public key)", path);
        return -1;
    }
    unsigned char seed[32];
    randombytes_buf(seed, sizeof seed);
    char b64[64];
    sodium_bin2base64(b64, sizeof b64, seed, sizeof seed, B64);
    char tmp[4200];
    if (snprintf(tmp, sizeof tmp, "%s.new.%ld", path, (long)getpid()) >= (int)sizeof tmp) {
        snprintf(err, errlen, "key file path too long");
        return -1;
    }
    int rc = -1;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        snprintf(err, errlen, "cannot create %s: %s", tmp, strerror(errno));
        goto done;
    }
    char line[128];
    int n = snprintf(line, sizeof line, "%s %s\n", SECRET_TAG, b64);
    /* fchmod too: the umask may have kept bits off, never added them, but
     * say exactly what the file is. */
    if (fchmod(fd, 0600) < 0 || write(fd, line, (size_t)n) != n || fsync(fd) < 0) {
        snprintf(err, errlen, "cannot write %s: %s", tmp, strerror(errno));
        close(fd);
        unlink(tmp);
        sodium_memzero(line, sizeof line);
        goto done;
    }
    sodium_memzero(line, sizeof line);
    close(fd);
    /* Without --force the final name must still be free (link fails when
     * it exists, so two concurrent inits cannot both win). */
    if (force ? rename(tmp, path) < 0 : link(tmp, path) < 0) {
        snprintf(err, errlen, "cannot create %s: %s", path, strerror(errno));
        unlink(tmp);
        goto done;
    }
    if (!force)
        unlink(tmp);
    key_from_seed(k, seed);
    rc = 0;
done:
    sodium_memzero(seed, sizeof seed);
    sodium_memzero(b64, sizeof b64);
    return rc;
}

int audit_key_load(const char *path, audit_key *k, char *err, size_t errlen)
{
    if (sodium_ready(err, errlen) < 0)
        return -1;
    if (!path || !*path) {
        snprintf(err, errlen, "no signing key: set audit.signing_key (or "
                 "CUSTOS_AUDIT_SIGNING_KEY) and run 'custos keys init'");
        return -1;
    }
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, errlen, "cannot open the signing key %s: %s%s", path, strerror(errno),
                 errno == ENOENT ? " (run 'custos keys init')" : "");
        return -1;
    }
    struct stat st;
    if (fstat(fd, &st) < 0 || (st.st_mode & 077) != 0) {
        snprintf(err, errlen, "the signing key %s may be read by others (mode %04o): "
                 "chmod 600 it", path, (unsigned)(st.st_mode & 07777));
        close(fd);
        return -1;
    }
    char buf[256];
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    int rc = -1;
    unsigned char seed[32];
    size_t seedlen = 0;
    if (n <= 0) {
        snprintf(err, errlen, "the signing key %s is empty or unreadable", path);
        goto done;
    }
    buf[n] = '\0';
    size_t tl = strlen(SECRET_TAG);
    char *b = buf + tl + 1;
    b[strcspn(b, "\r\n")] = '\0';
    if (strncmp(buf, SECRET_TAG " ", tl + 1) != 0 ||
        sodium_base642bin(seed, sizeof seed, b, strlen(b), NULL, &seedlen, NULL, B64) != 0 ||
        seedlen != 32) {
        snprintf(err, errlen, "%s is not a custos signing key (%s BASE64)", path, SECRET_TAG);
        goto done;
    }
    key_from_seed(k, seed);
    rc = 0;
done:
    sodium_memzero(buf, sizeof buf);
    sodium_memzero(seed, sizeof seed);
    return rc;
}

void audit_pubkey_text(const unsigned char pk[32], char out[AUDIT_PUBKEY_TEXT])
{
    char b64[64], id[17];
    sodium_bin2base64(b64, sizeof b64, pk, 32, B64);
    audit_key_id(pk, id);
    snprintf(out, AUDIT_PUBKEY_TEXT, "%s %s %s", PUBLIC_TAG, b64, id);
}

int audit_pubkey_parse(const char *text, unsigned char pk[32])
{
    if (sodium_init() < 0)
        return -1;
    const char *p = text;
    while (*p == ' ' || *p == '\t')
        p++;
    size_t tl = strlen(PUBLIC_TAG);
    if (strncmp(p, PUBLIC_TAG " ", tl + 1) == 0)
        p += tl + 1;
    size_t n = strcspn(p, " \t\r\n");
    size_t got = 0;
    if (n == 0 || sodium_base642bin(pk, 32, p, n, NULL, &got, NULL, B64) != 0 || got != 32)
        return -1;
    return 0;
}

int audit_pubkey_load(const char *path, unsigned char pk[32], char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "cannot open the public key %s: %s", path, strerror(errno));
        return -1;
    }
    char line[256] = "";
    bool ok = fgets(line, sizeof line, f) != NULL;
    fclose(f);
    if (!ok || audit_pubkey_parse(line, pk) < 0) {
        snprintf(err, errlen, "%s is not a public key ('%s BASE64 ID', as 'custos keys "
                 "public' prints it, or the base64 of 32 bytes)", path, PUBLIC_TAG);
        return -1;
    }
    return 0;
}

void audit_sign(const audit_key *k, const void *msg, size_t len, unsigned char sig[64])
{
    crypto_sign_detached(sig, NULL, msg, len, k->sk);
}

bool audit_sig_ok(const unsigned char pk[32], const void *msg, size_t len,
                  const unsigned char sig[64])
{
    if (sodium_init() < 0)
        return false;
    return crypto_sign_verify_detached(sig, msg, len, pk) == 0;
}

void audit_b64(const unsigned char *bin, size_t len, char *out, size_t outlen)
{
    sodium_bin2base64(out, outlen, bin, len, B64);
}

int audit_unb64(const char *text, unsigned char *bin, size_t len)
{
    size_t got = 0;
    if (sodium_init() < 0 ||
        sodium_base642bin(bin, len, text, strlen(text), NULL, &got, NULL, B64) != 0 || got != len)
        return -1;
    return 0;
}
