/* Finding secrets and personal data in text, for redaction at ingest
 * (collector/redact_event.c) and for the leakage evidence (analytics): one
 * pass over the bytes with a first-byte dispatch table, hand-written
 * matchers per class (core/redact_scan.c), and the keyed pseudonym of a
 * value (core/pseudonym.c). Shared by both modules so that the token a
 * stored row holds and the hash an alert's evidence holds are the same
 * value's. */
#ifndef CORE_REDACT_SCAN_H
#define CORE_REDACT_SCAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* What a finding is. Secrets first, then personal data. */
typedef enum {
    CORE_RD_API_KEY,      /* sk-..., AKIA..., ghp_..., github_pat_..., xox?-..., glpat-, AIza, hf_, npm_ */
    CORE_RD_JWT,          /* eyJ....eyJ.... (three base64url segments) */
    CORE_RD_BEARER,       /* the token after "Bearer " */
    CORE_RD_PRIVATE_KEY,  /* a PEM private key block, BEGIN to END */
    CORE_RD_PASSWORD,     /* the password of scheme://user:password@host */
    CORE_RD_EMAIL,
    CORE_RD_PHONE,        /* +CC ..., (123) 456-7890, 123-456-7890, +4915123456789 */
    CORE_RD_CARD,         /* 13-19 digits (single spaces or dashes between) passing Luhn */
    CORE_RD_IBAN,         /* passing ISO 13616 mod 97 */
    CORE_RD_N
} core_rd_class;

#define CORE_RD_SECRETS                                                                        \
    ((1u << CORE_RD_API_KEY) | (1u << CORE_RD_JWT) | (1u << CORE_RD_BEARER) |                  \
     (1u << CORE_RD_PRIVATE_KEY) | (1u << CORE_RD_PASSWORD))
#define CORE_RD_PERSONAL                                                                       \
    ((1u << CORE_RD_EMAIL) | (1u << CORE_RD_PHONE) | (1u << CORE_RD_CARD) | (1u << CORE_RD_IBAN))

/* One finding: bytes [from, to) of the text are the value. */
typedef struct {
    core_rd_class cls;
    uint32_t from, to;
} core_rd_hit;

/* The class's name as tokens and evidence spell it ("api_key", "email"). */
const char *core_rd_class_name(core_rd_class c);

/* Finds the values of the classes in mask (bits 1u << class) in t[0..n),
 * in order and not overlapping, into hits (at most max). Returns how many
 * there are, which may exceed max (only max are written). Never reads past
 * t + n; t needs no NUL. */
size_t core_rd_scan(const char *t, size_t n, unsigned mask, core_rd_hit *hits, size_t max);

/* Luhn over digits only (13 to 19 of them; all one digit refused). */
bool core_luhn(const char *digits, size_t n);
/* ISO 13616 IBAN check (letters and digits, spaces allowed): 15 to 34
 * characters, country letters, check digits, mod 97 == 1. */
bool core_iban_valid(const char *s, size_t n);

/* ---- pseudonyms (core/pseudonym.c) ------------------------------------ */

#define CORE_PSEUDONYM_KEY_BYTES 32
#define CORE_PSEUDONYM_HEX 12 /* hex digits of a token: 48 bits */

/* Reads the 32-byte key from path (64 hex digits and a newline). When the
 * file is missing and create is set, makes it first (random, mode 0600,
 * created atomically so that two starting threads end with one key). Refuses
 * a file group or others may read, or one of another shape. -1 + err. */
int core_pseudonym_key_load(const char *path, bool create,
                            unsigned char key[CORE_PSEUDONYM_KEY_BYTES], char *err,
                            size_t errlen);

/* HMAC-SHA256 of v[0..n) under key, as 64 hex digits and a NUL into hex.
 * A token's digits are the first CORE_PSEUDONYM_HEX of these, so evidence
 * holding the full hash names the same value as a stored token. */
void core_pseudonym_hex(const unsigned char key[CORE_PSEUDONYM_KEY_BYTES], const void *v,
                        size_t n, char hex[65]);

#endif
