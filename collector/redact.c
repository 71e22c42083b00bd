/* Secrets out of what custos keeps: the value after "Bearer ", sk- keys
 * (OpenAI's and LiteLLM's virtual keys), and the values of authorization,
 * api-key, x-api-key, api_key and cookie members or headers are overwritten
 * with '*' in place, so a dead letter's raw bytes, a reason or a stored
 * attribute never holds them (LiteLLM's guardrail logs carry the caller's
 * raw headers: BerriAI/litellm#20240). Byte-level and length-keeping, so it
 * works on a message that does not even parse. */
#include <ctype.h>
#include <stdbool.h>
#include <string.h>
#include <strings.h>

#include "collector/collector.h"

/* Characters a token or header value is made of (base64, JWT, hex, ...). */
static bool token_char(unsigned char c)
{
    return isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' || c == '+' || c == '/' ||
           c == '=' || c == ':';
}

static bool word_at(const unsigned char *p, const unsigned char *end, const char *w)
{
    size_t n = strlen(w);
    return (size_t)(end - p) >= n && strncasecmp((const char *)p, w, n) == 0;
}

/* Overwrites the token chars from p on; returns where it stopped. */
static unsigned char *blank_token(unsigned char *p, unsigned char *end)
{
    while (p < end && token_char(*p))
        *p++ = '*';
    return p;
}

/* After a header or member name: skips `"`, spaces, ':' or '=' and then
 * blanks the value up to its closing quote, end of line or ','. */
static unsigned char *blank_value(unsigned char *p, unsigned char *end, bool in_json)
{
    unsigned char *q = p;
    if (q < end && *q == '"')
        q++;
    else if (in_json)
        return p; /* "authorization" as a word of a string, not a member */
    while (q < end && (*q == ' ' || *q == '\t'))
        q++;
    if (q >= end || (*q != ':' && *q != '='))
        return p;
    q++;
    while (q < end && (*q == ' ' || *q == '\t'))
        q++;
    bool quoted = q < end && *q == '"';
    if (!quoted && in_json)
        return p; /* a JSON number or literal: blanking it would break the JSON */
    if (quoted)
        q++;
    for (; q < end && *q != '\n' && *q != '\r'; q++) {
        if (quoted && *q == '"')
            break;
        if (quoted && *q == '\\' && q + 1 < end) {
            *q++ = '*';
            *q = '*';
            continue;
        }
        if (!quoted && (*q == ',' || *q == '}' || *q == '&'))
            break;
        *q = '*';
    }
    return q;
}

static const char *const g_names[] = {"authorization", "proxy-authorization", "x-api-key",
                                      "api-key", "api_key", "apikey", "cookie", "set-cookie",
                                      "x-litellm-api-key"};

void coll_redact_secrets(void *buf, size_t len)
{
    unsigned char *p = buf, *end = p + len;
    while (p < end) {
        unsigned char c = (unsigned char)tolower(*p);
        bool boundary = p == (unsigned char *)buf || !token_char(p[-1]);
        if (c == 'b' && boundary && word_at(p, end, "bearer") && p + 6 < end &&
            (p[6] == ' ' || p[6] == '\t')) {
            unsigned char *q = p + 6;
            while (q < end && (*q == ' ' || *q == '\t'))
                q++;
            p = blank_token(q, end);
            continue;
        }
        if (c == 's' && boundary && word_at(p, end, "sk-") && end - p > 11 &&
            token_char(p[3]) && token_char(p[10])) {
            p = blank_token(p + 3, end);
            continue;
        }
        if (boundary) {
            bool in_json = p > (unsigned char *)buf && p[-1] == '"';
            bool hit = false;
            for (size_t i = 0; i < sizeof g_names / sizeof g_names[0] && !hit; i++) {
                size_t n = strlen(g_names[i]);
                if (word_at(p, end, g_names[i]) && (p + n >= end || !token_char(p[n]) ||
                                                    p[n] == ':')) {
                    unsigned char *q = blank_value(p + n, end, in_json);
                    if (q != p + n) {
                        p = q;
                        hit = true;
                    }
                }
            }
            if (hit)
                continue;
        }
        p++;
    }
}
