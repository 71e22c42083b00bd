/* Why a message the parser refused is not one JSON object (json_scan.h),
 * in the words the checks have always used: first a lexical pre-scan for
 * what cJSON is lenient about, then the offset where cJSON stops. This is
 * the slow path: it runs on refused messages only. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>

#include "core/json_scan.h"
#include "core/util.h"

/* Lexical pre-scan of a refused message: NUL bytes, nesting depth, and what
 * cJSON is lenient about but JSON forbids. cJSON takes any byte below 0x20
 * for whitespace, keeps raw control characters in strings, reads an escape
 * with a bad hex digit ("\u00G1") as U+0000 and so silently cuts the string
 * there, and takes "01" or "1." for numbers. The parser (json_scan.c) refuses
 * all of these too; this names the first one. */
static int prescan(const unsigned char *s, size_t n, char *err, size_t errlen)
{
    /* bytes inside a string that need no look: not a quote, backslash,
     * control character or NUL */
    static const bool plain[256] = {[0x20 ... 0x21] = true, [0x23 ... 0x5b] = true,
                                    [0x5d ... 0xff] = true};
    int depth = 0;
    bool in_str = false;
    for (size_t i = 0; i < n; i++) {
        if (in_str) {
            while (i < n && plain[s[i]])
                i++;
            if (i == n)
                break;
        }
        unsigned char c = s[i];
        if (c == 0)
            return core_errf(err, errlen, "NUL byte at offset %zu", i);
        if (in_str) {
            if (c < 0x20)
                return core_errf(err, errlen,
                            "control character 0x%02x in a string at offset %zu (JSON needs "
                            "it escaped)",
                            c, i);
            if (c == '\\') {
                unsigned char e = i + 1 < n ? s[i + 1] : 0;
                if (e == 'u') {
                    if (i + 5 >= n || !core_json_is_hex(s[i + 2]) || !core_json_is_hex(s[i + 3]) ||
                        !core_json_is_hex(s[i + 4]) || !core_json_is_hex(s[i + 5]))
                        return core_errf(err, errlen,
                                    "bad \\u escape at offset %zu (needs 4 hex digits)", i);
                    if (s[i + 2] == '0' && s[i + 3] == '0' && s[i + 4] == '0' && s[i + 5] == '0')
                        return core_errf(err, errlen,
                                    "string holds the NUL character \\u0000 at offset %zu", i);
                    unsigned cp = core_json_hex4(s + i + 2);
                    if (cp >= 0xDC00 && cp <= 0xDFFF)
                        return core_errf(err, errlen,
                                    "lone UTF-16 low surrogate \\u%04X at offset %zu (a low "
                                    "surrogate must follow a high one)", cp, i);
                    if (cp >= 0xD800 && cp <= 0xDBFF) {
                        unsigned lo = i + 11 < n && s[i + 6] == '\\' && s[i + 7] == 'u' &&
                                              core_json_hex4_ok(s + i + 8)
                                          ? core_json_hex4(s + i + 8) : 0;
                        if (lo < 0xDC00 || lo > 0xDFFF)
                            return core_errf(err, errlen,
                                        "lone UTF-16 high surrogate \\u%04X at offset %zu (it "
                                        "must be followed by a \\uDC00-\\uDFFF escape)", cp, i);
                        i += 6; /* the low half, checked here */
                    }
                    i += 5;
                } else if (e && strchr("\"\\/bfnrt", e)) {
                    i++; /* skip the escaped character */
                } else {
                    return core_errf(err, errlen, "bad escape in a string at offset %zu", i);
                }
            } else if (c == '"') {
                in_str = false;
            }
        } else if (c == '"') {
            in_str = true;
        } else if (c == '{' || c == '[') {
            if (++depth > CORE_JSON_MAX_DEPTH)
                return core_errf(err, errlen, "JSON nested deeper than %d levels at offset %zu",
                            CORE_JSON_MAX_DEPTH, i);
        } else if (c == '}' || c == ']') {
            depth--;
        } else if (c == '-' || core_json_is_digit(c)) {
            size_t k = core_json_number_len(s + i, n - i);
            if (k == 0)
                return core_errf(err, errlen, "malformed number at offset %zu", i);
            i += k - 1;
        } else if (c < 0x20 && c != '\t' && c != '\n' && c != '\r') {
            return core_errf(err, errlen, "control character 0x%02x outside a string at offset %zu",
                        c, i);
        }
    }
    return 0;
}

/* Why a message the parser refused is not a JSON object, in the words the
 * checks have always used: the pre-scan's, else the offset where cJSON
 * stops, trailing data after the value, or the kind of value it is. cJSON
 * runs only here, on refused messages, so that those offsets stay the ones
 * operators have seen. */
void core_json_explain_refusal(const unsigned char *s, size_t len, char *err, size_t errlen)
{
    if (prescan(s, len, err, errlen) < 0)
        return;
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts((const char *)s, len, &end, 0);
    if (!root) {
        size_t at = end && end >= (const char *)s ? (size_t)(end - (const char *)s) : 0;
        core_errf(err, errlen, "malformed JSON at offset %zu", at);
        return;
    }
    for (const char *p = end; p < (const char *)s + len; p++)
        if (!core_json_is_ws((unsigned char)*p)) {
            core_errf(err, errlen, "trailing data after the JSON value at offset %zu",
                      (size_t)(p - (const char *)s));
            goto done;
        }
    int t = cJSON_IsString(root) ? COLL_J_STR : cJSON_IsNumber(root) ? COLL_J_NUM
          : cJSON_IsBool(root)   ? COLL_J_TRUE : cJSON_IsNull(root) ? COLL_J_NULL
          : cJSON_IsArray(root)  ? COLL_J_ARR : COLL_J_OBJ;
    if (t != COLL_J_OBJ)
        core_errf(err, errlen, "the message is %s, not a JSON object", core_json_type_name(t));
    else /* not reached: what cJSON and the pre-scan take, the parser takes */
        core_errf(err, errlen, "malformed JSON");
done:
    cJSON_Delete(root);
}
