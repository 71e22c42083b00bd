/* RFC 3161 timestamp tokens on evidence bundles: the request over the
 * SHA-256 of manifest.json (the exact bytes the Ed25519 signature covers),
 * sent to forensics.tsa_url with libcurl, the answer checked (granted, our
 * digest, our nonce, and when forensics.tsa_ca_file is set the TSA's
 * signature), and offline the check of a bundle's timestamp.tsr against a
 * CA file. OpenSSL's TS API (libcrypto); nothing is shelled out. */
#include "forensics/forensics.h"

#include <curl/curl.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/ts.h>
#include <openssl/x509.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* The last OpenSSL error as text (for messages), with the text OpenSSL
 * attached to it (such as "Verify error:certificate is not yet valid"),
 * and the queue cleared. */
static const char *ssl_reason(char *buf, size_t len)
{
    const char *data = NULL;
    int flags = 0;
    unsigned long e = ERR_peek_last_error_data(&data, &flags);
    if (e) {
        ERR_error_string_n(e, buf, len);
        size_t n = strlen(buf);
        if (data && *data && (flags & ERR_TXT_STRING) && n + 4 < len)
            snprintf(buf + n, len - n, " (%s)", data);
    } else {
        snprintf(buf, len, "no further detail");
    }
    ERR_clear_error();
    return buf;
}

/* A time-stamp request over digest (SHA-256), asking for the TSA's
 * certificate in the token, with a random 64-bit nonce. NULL on failure. */
static TS_REQ *make_request(const unsigned char digest[32])
{
    TS_REQ *req = TS_REQ_new();
    TS_MSG_IMPRINT *mi = TS_MSG_IMPRINT_new();
    X509_ALGOR *alg = X509_ALGOR_new();
    BIGNUM *bn = BN_new();
    ASN1_INTEGER *nonce = NULL;
    /* The setters copy what they are given: ours are freed below. */
    bool ok = req && mi && alg && bn && TS_REQ_set_version(req, 1) &&
              X509_ALGOR_set0(alg, OBJ_nid2obj(NID_sha256), V_ASN1_NULL, NULL) &&
              TS_MSG_IMPRINT_set_algo(mi, alg) &&
              TS_MSG_IMPRINT_set_msg(mi, (unsigned char *)digest, 32) &&
              TS_REQ_set_msg_imprint(req, mi) &&
              BN_rand(bn, 64, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) &&
              (nonce = BN_to_ASN1_INTEGER(bn, NULL)) && TS_REQ_set_nonce(req, nonce) &&
              TS_REQ_set_cert_req(req, 1);
    ASN1_INTEGER_free(nonce);
    BN_free(bn);
    X509_ALGOR_free(alg);
    TS_MSG_IMPRINT_free(mi);
    if (!ok) {
        TS_REQ_free(req);
        return NULL;
    }
    return req;
}

/* The answer's body, up to a cap. */
typedef struct {
    unsigned char *p;
    size_t n, cap;
    bool over;
} tsa_body;

static size_t on_body(char *p, size_t sz, size_t nm, void *ud)
{
    tsa_body *b = ud;
    size_t n = sz * nm;
    if (b->n + n > b->cap) {
        b->over = true;
        return 0; /* stops the transfer */
    }
    memcpy(b->p + b->n, p, n);
    b->n += n;
    return n;
}

/* POSTs the DER request; the body in *b (caller frees b->p). */
static int post_request(const core_config *cfg, const unsigned char *der, int dlen, tsa_body *b,
                        char *err, size_t errlen)
{
    b->cap = (size_t)cfg->fo_tsa_max_bytes;
    if (!(b->p = malloc(b->cap))) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    CURL *c = curl_easy_init();
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/timestamp-query");
    struct curl_slist *h2 = h ? curl_slist_append(h, "Accept: application/timestamp-reply") : NULL;
    if (!c || !h2) {
        snprintf(err, errlen, "cannot initialise libcurl");
        curl_slist_free_all(h);
        if (c)
            curl_easy_cleanup(c);
        return -1;
    }
    h = h2;
    curl_easy_setopt(c, CURLOPT_URL, cfg->fo_tsa_url);
    curl_easy_setopt(c, CURLOPT_POST, 1L);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, der);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)dlen);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)cfg->fo_tsa_timeout_ms);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)cfg->fo_tsa_timeout_ms);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, b);
    CURLcode cc = curl_easy_perform(c);
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(c);
    curl_slist_free_all(h);
    /* The URL is not named: it may carry credentials. */
    if (b->over) {
        snprintf(err, errlen, "the TSA's answer is larger than forensics.tsa_max_bytes (%zu)",
                 b->cap);
        return -1;
    }
    if (cc != CURLE_OK) {
        snprintf(err, errlen, "the TSA did not answer: %s%s", curl_easy_strerror(cc),
                 cc == CURLE_OPERATION_TIMEDOUT ? " (forensics.tsa_timeout_ms)" : "");
        return -1;
    }
    if (status != 200) {
        snprintf(err, errlen, "the TSA answered HTTP %ld", status);
        return -1;
    }
    return 0;
}

/* A CA store from a PEM file. NULL with err. */
static X509_STORE *load_store(const char *ca_file, char *err, size_t errlen)
{
    X509_STORE *st = X509_STORE_new();
    char why[256];
    if (!st || X509_STORE_load_file(st, ca_file) != 1) {
        snprintf(err, errlen, "cannot read the TSA CA file %s: %s", ca_file,
                 ssl_reason(why, sizeof why));
        X509_STORE_free(st);
        return NULL;
    }
    return st;
}

/* The token's time as RFC 3339 (UTC, to the second). */
static void token_time(TS_TST_INFO *ti, char out[32])
{
    struct tm tm;
    const ASN1_GENERALIZEDTIME *t = TS_TST_INFO_get_time(ti);
    if (!t || ASN1_TIME_to_tm(t, &tm) != 1)
        snprintf(out, 32, "?");
    else
        strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

int forensics_tsa_stamp(const core_config *cfg, const unsigned char digest[32],
                        unsigned char **tsr, size_t *tsr_len, char gen_time[32], char *err,
                        size_t errlen)
{
    *tsr = NULL;
    *tsr_len = 0;
    int rc = -1;
    unsigned char *der = NULL;
    tsa_body b = {0};
    TS_RESP *resp = NULL;
    TS_VERIFY_CTX *vc = NULL;
    char why[256];
    TS_REQ *req = make_request(digest);
    if (!req) {
        snprintf(err, errlen, "cannot make the time-stamp request: %s",
                 ssl_reason(why, sizeof why));
        goto done;
    }
    int dlen = i2d_TS_REQ(req, &der);
    if (dlen <= 0) {
        snprintf(err, errlen, "cannot encode the time-stamp request");
        goto done;
    }
    if (post_request(cfg, der, dlen, &b, err, errlen) < 0)
        goto done;
    const unsigned char *p = b.p;
    resp = d2i_TS_RESP(NULL, &p, (long)b.n);
    if (!resp || p != b.p + b.n) {
        snprintf(err, errlen, "the TSA's answer is not a time-stamp response");
        goto done;
    }
    /* Granted, version 1, our digest and nonce; and the TSA's signature
     * and certificate when a CA is configured. */
    vc = TS_REQ_to_TS_VERIFY_CTX(req, NULL);
    if (!vc) {
        snprintf(err, errlen, "out of memory");
        goto done;
    }
    if (!cfg->fo_tsa_ca_file[0]) {
        /* No signature check: nor of the signer's name, which needs it. */
        TS_VERIFY_CTX_set_flags(vc, TS_VERIFY_CTX_add_flags(vc, 0) & ~TS_VFY_SIGNER);
    } else {
        X509_STORE *st = load_store(cfg->fo_tsa_ca_file, err, errlen);
        if (!st)
            goto done;
        TS_VERIFY_CTX_set_store(vc, st);
        TS_VERIFY_CTX_add_flags(vc, TS_VFY_SIGNATURE | TS_VFY_SIGNER);
    }
    if (TS_RESP_verify_response(vc, resp) != 1) {
        snprintf(err, errlen, "the TSA's answer does not hold: %s", ssl_reason(why, sizeof why));
        goto done;
    }
    token_time(TS_RESP_get_tst_info(resp), gen_time);
    *tsr = b.p;
    *tsr_len = b.n;
    b.p = NULL;
    rc = 0;
done:
    TS_VERIFY_CTX_free(vc);
    TS_RESP_free(resp);
    TS_REQ_free(req);
    OPENSSL_free(der);
    free(b.p);
    ERR_clear_error();
    return rc;
}

/* The subject of the TSA's certificate (the first in the token), or its
 * name field, for the summary. */
static void tsa_name(TS_RESP *resp, TS_TST_INFO *ti, char *out, size_t len)
{
    snprintf(out, len, "?");
    PKCS7 *tok = TS_RESP_get_token(resp);
    STACK_OF(X509) *certs = tok && PKCS7_type_is_signed(tok) ? tok->d.sign->cert : NULL;
    if (certs && sk_X509_num(certs) > 0) {
        X509_NAME_oneline(X509_get_subject_name(sk_X509_value(certs, 0)), out, (int)len);
        return;
    }
    GENERAL_NAME *gn = TS_TST_INFO_get_tsa(ti);
    if (gn && gn->type == GEN_DIRNAME)
        X509_NAME_oneline(gn->d.directoryName, out, (int)len);
}

int forensics_tsa_check(const unsigned char *tsr, size_t len, const unsigned char digest[32],
                        const char *ca_file, char *what, size_t whatlen, char *err,
                        size_t errlen)
{
    int rc = 1;
    char why[256];
    const unsigned char *p = tsr;
    TS_RESP *resp = d2i_TS_RESP(NULL, &p, (long)len);
    TS_VERIFY_CTX *vc = NULL;
    if (!resp || p != tsr + len) {
        snprintf(what, whatlen, "timestamp.tsr is not a timestamp token (damaged or cut)");
        goto done;
    }
    TS_STATUS_INFO *si = TS_RESP_get_status_info(resp);
    long status = si ? ASN1_INTEGER_get(TS_STATUS_INFO_get0_status(si)) : -1;
    TS_TST_INFO *ti = TS_RESP_get_tst_info(resp);
    if ((status != 0 && status != 1) || !ti) {
        snprintf(what, whatlen, "timestamp.tsr holds no token: the TSA refused (status %ld)",
                 status);
        goto done;
    }
    TS_MSG_IMPRINT *mi = TS_TST_INFO_get_msg_imprint(ti);
    X509_ALGOR *alg = mi ? TS_MSG_IMPRINT_get_algo(mi) : NULL;
    ASN1_OCTET_STRING *msg = mi ? TS_MSG_IMPRINT_get_msg(mi) : NULL;
    if (!alg || OBJ_obj2nid(alg->algorithm) != NID_sha256 || !msg ||
        ASN1_STRING_length(msg) != 32 || memcmp(ASN1_STRING_get0_data(msg), digest, 32) != 0) {
        char got[65] = "?";
        if (msg && ASN1_STRING_length(msg) == 32)
            for (int i = 0; i < 32; i++)
                snprintf(got + 2 * i, 3, "%02x", ASN1_STRING_get0_data(msg)[i]);
        char want[65];
        for (int i = 0; i < 32; i++)
            snprintf(want + 2 * i, 3, "%02x", digest[i]);
        snprintf(what, whatlen,
                 "timestamp token is for another digest: its message imprint is %.16s..., "
                 "the manifest's SHA-256 is %.16s...",
                 got, want);
        goto done;
    }
    char when[32], tsa[256];
    token_time(ti, when);
    tsa_name(resp, ti, tsa, sizeof tsa);
    if (!ca_file) {
        snprintf(what, whatlen,
                 "timestamp: %s by %s, for the manifest's SHA-256; its signature is not "
                 "checked (give --tsa-ca FILE)",
                 when, tsa);
        rc = 0;
        goto done;
    }
    X509_STORE *st = load_store(ca_file, err, errlen);
    if (!st) {
        rc = -1;
        goto done;
    }
    /* The TSA's certificate must have been valid when it stamped, not
     * now: a bundle is checked years later, after that certificate has
     * expired. (Revocation is not checked: offline, there is no CRL.) */
    struct tm gt;
    const ASN1_GENERALIZEDTIME *g = TS_TST_INFO_get_time(ti);
    if (g && ASN1_TIME_to_tm(g, &gt) == 1)
        X509_VERIFY_PARAM_set_time(X509_STORE_get0_param(st), timegm(&gt));
    if (!(vc = TS_VERIFY_CTX_new())) {
        X509_STORE_free(st);
        snprintf(err, errlen, "out of memory");
        rc = -1;
        goto done;
    }
    TS_VERIFY_CTX_set_store(vc, st);
    TS_VERIFY_CTX_set_flags(vc, TS_VFY_VERSION | TS_VFY_SIGNATURE | TS_VFY_SIGNER);
    if (TS_RESP_verify_response(vc, resp) != 1) {
        snprintf(what, whatlen,
                 "timestamp token signature does not verify with the TSA CA %s (signed by "
                 "another authority, altered, or by a certificate not valid at the token's time): %s",
                 ca_file, ssl_reason(why, sizeof why));
        goto done;
    }
    snprintf(what, whatlen,
             "timestamp: %s by %s, for the manifest's SHA-256; signature verified against %s",
             when, tsa, ca_file);
    rc = 0;
done:
    TS_VERIFY_CTX_free(vc);
    TS_RESP_free(resp);
    ERR_clear_error();
    return rc;
}
