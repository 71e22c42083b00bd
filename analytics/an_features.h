/* Features and statistics the detectors compute: hashes and sketches of
 * text, validators (Luhn, IBAN, entropy, base64) (an_features.c), and the
 * tests drift uses (an_stats.c). */
#ifndef AN_FEATURES_H
#define AN_FEATURES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- features (an_features.c) ---- */

uint64_t an_hash(const void *p, size_t n, uint64_t seed); /* FNV-1a 64 */
uint64_t an_simhash(const char *s, size_t n);
uint32_t an_prefix_hash(const char *s, size_t n);
/* Bits that differ. Inline, and by shifts and masks: the build targets any
 * x86-64 (no POPCNT), where __builtin_popcountll is a call into libgcc, and
 * the detectors compare each prompt with a key's ring of recent ones. */
static inline int an_hamming(uint64_t a, uint64_t b)
{
    uint64_t x = a ^ b;
    x -= (x >> 1) & 0x5555555555555555ULL;
    x = (x & 0x3333333333333333ULL) + ((x >> 2) & 0x3333333333333333ULL);
    x = (x + (x >> 4)) & 0x0f0f0f0f0f0f0f0fULL;
    return (int)((x * 0x0101010101010101ULL) >> 56);
}
bool an_luhn(const char *digits, size_t n); /* digits only */
bool an_iban_valid(const char *s, size_t n); /* letters/digits, spaces allowed */
double an_entropy(const char *s, size_t n);  /* bits per character */
bool an_base64_text(const char *s, size_t n);

/* ---- statistics (an_stats.c) ---- */

/* Shapiro-Wilk W of x[0..n) (sorted in place), 3 <= n <= 5000, Royston's
 * approximation (AS R94). Returns 1 when the sample has no spread. */
double an_shapiro_w(double *x, int n);
/* PSI of observed counts against reference proportions (from nref
 * reference values) over nbins; an empty bin counts as half a count of its
 * sample, and a bin empty in both is left out. */
double an_psi(const double *ref_prop, uint32_t nref, const uint32_t *cnt, int nbins);

#endif
