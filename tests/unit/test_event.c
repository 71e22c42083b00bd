/* The event model's helpers: RFC 3339 parsing and formatting, the UTF-8
 * validator, cutting at a character boundary, and the event arena. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "core/event.h"
#include "core/log.h"
#include "tests/lib/rng.h"

#define T_2026_11_21_130400 INT64_C(1795266240000000)

static int parse(const char *s, int64_t *us) { return core_ts_parse(s, strlen(s), us); }

static void ts_parses_utc_and_offsets(void **state)
{
    (void)state;
    int64_t us = -1;
    assert_int_equal(parse("2026-11-21T13:04:00Z", &us), 0);
    assert_int_equal(us, T_2026_11_21_130400);
    assert_int_equal(parse("2026-11-21t13:04:00z", &us), 0);
    assert_int_equal(us, T_2026_11_21_130400);
    assert_int_equal(parse("2026-11-21 13:04:00Z", &us), 0);
    assert_int_equal(us, T_2026_11_21_130400);
    assert_int_equal(parse("2026-11-21T14:04:00+01:00", &us), 0);
    assert_int_equal(us, T_2026_11_21_130400);
    assert_int_equal(parse("2026-11-21T07:34:00-05:30", &us), 0);
    assert_int_equal(us, T_2026_11_21_130400);
    assert_int_equal(parse("2026-11-21T13:04:00+00:00", &us), 0);
    assert_int_equal(us, T_2026_11_21_130400);
    assert_int_equal(parse("1970-01-01T00:00:00Z", &us), 0);
    assert_int_equal(us, 0);
    assert_int_equal(parse("9999-12-31T23:59:59Z", &us), 0);
    assert_int_equal(us, INT64_C(253402300799000000));
    /* an offset that crosses midnight and the year */
    int64_t us2 = -1;
    assert_int_equal(parse("2027-01-01T00:30:00+01:00", &us), 0);
    assert_int_equal(parse("2026-12-31T23:30:00Z", &us2), 0);
    assert_int_equal(us, us2);
}

static void ts_parses_fractions_up_to_nine_digits(void **state)
{
    (void)state;
    static const struct {
        const char *s;
        int64_t frac_us;
    } cases[] = {
        {"2026-11-21T13:04:00.1Z", 100000},
        {"2026-11-21T13:04:00.12Z", 120000},
        {"2026-11-21T13:04:00.123Z", 123000},
        {"2026-11-21T13:04:00.1234Z", 123400},
        {"2026-11-21T13:04:00.12345Z", 123450},
        {"2026-11-21T13:04:00.123456Z", 123456},
        {"2026-11-21T13:04:00.1234567Z", 123456}, /* below a microsecond: dropped */
        {"2026-11-21T13:04:00.12345678Z", 123456},
        {"2026-11-21T13:04:00.123456789Z", 123456},
        {"2026-11-21T13:04:00.999999999Z", 999999},
        {"2026-11-21T13:04:00.000001+00:00", 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int64_t us = -1;
        assert_int_equal(parse(cases[i].s, &us), 0);
        assert_int_equal(us - T_2026_11_21_130400, cases[i].frac_us);
    }
    int64_t us;
    assert_int_equal(parse("2026-11-21T13:04:00.1234567890Z", &us), -1); /* ten digits */
    assert_int_equal(parse("2026-11-21T13:04:00.Z", &us), -1);           /* no digit */
    assert_int_equal(parse("2026-11-21T13:04:00,5Z", &us), -1);
}

static void ts_leap_years(void **state)
{
    (void)state;
    int64_t us;
    assert_int_equal(parse("2024-02-29T23:59:59Z", &us), 0);
    assert_int_equal(us, INT64_C(1709251199000000));
    assert_int_equal(parse("2000-02-29T00:00:00Z", &us), 0); /* divisible by 400 */
    assert_int_equal(us, INT64_C(951782400000000));
    assert_int_equal(parse("2023-02-29T00:00:00Z", &us), -1);
    assert_int_equal(parse("1900-02-29T00:00:00Z", &us), -1); /* divisible by 100 */
    assert_int_equal(parse("2100-02-29T00:00:00Z", &us), -1);
    assert_int_equal(parse("2023-02-28T00:00:00Z", &us), 0);
    /* 2024-03-01 is one day after 2024-02-29 */
    int64_t a, b;
    parse("2024-02-29T00:00:00Z", &a);
    parse("2024-03-01T00:00:00Z", &b);
    assert_int_equal(b - a, INT64_C(86400000000));
}

static void ts_rejects_bad_dates_and_shapes(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "2026-02-30T00:00:00Z", /* Feb 30 */
        "2026-04-31T00:00:00Z", /* April has 30 days */
        "2026-13-01T00:00:00Z", "2026-00-10T00:00:00Z", "2026-01-00T00:00:00Z",
        "2026-01-32T00:00:00Z", "2026-01-01T24:00:00Z", "2026-01-01T23:60:00Z",
        "2026-01-01T23:59:61Z",
        "2026-11-21T13:04:00",       /* no zone */
        "2026-11-21T13:04:00.123",   /* no zone */
        "2026-11-21T13:04:00+0100",  /* offset without colon */
        "2026-11-21T13:04:00+01",    /* offset without minutes */
        "2026-11-21T13:04:00+24:00", /* offset hour out of range */
        "2026-11-21T13:04:00+01:60",
        "2026-11-21T13:04:00ZZ",     /* trailing data */
        "2026-11-21T13:04:00Z ",
        "2026-11-21X13:04:00Z",      /* bad separator */
        "2026/11/21T13:04:00Z",
        "26-11-21T13:04:00Z",
        "2026-11-21T13:04Z",         /* no seconds */
        "2026-1-21T13:04:00Z",
        "+2026-11-21T13:04:00Z",
        "2026-11-21T1a:04:00Z",
        "garbage",
        "",
        "1700000000",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int64_t us = 42;
        if (parse(bad[i], &us) != -1)
            fail_msg("accepted \"%s\"", bad[i]);
        assert_int_equal(us, 42); /* untouched on failure */
    }
}

static void ts_leap_second_is_folded(void **state)
{
    (void)state;
    int64_t a, b;
    assert_int_equal(parse("2016-12-31T23:59:60Z", &a), 0);
    assert_int_equal(parse("2016-12-31T23:59:59Z", &b), 0);
    assert_int_equal(a, b);
}

static void ts_parse_honours_length(void **state)
{
    (void)state;
    /* the parser must look only at len bytes: a Z beyond len does not count */
    const char buf[] = "2026-11-21T13:04:00ZZZZ";
    int64_t us;
    assert_int_equal(core_ts_parse(buf, 20, &us), 0);
    assert_int_equal(us, T_2026_11_21_130400);
    assert_int_equal(core_ts_parse(buf, 19, &us), -1);
    assert_int_equal(core_ts_parse(buf, 0, &us), -1);
    char *exact = malloc(20); /* no NUL after the text */
    assert_non_null(exact);
    memcpy(exact, buf, 20);
    assert_int_equal(core_ts_parse(exact, 20, &us), 0);
    free(exact);
}

static void ts_format_known_values(void **state)
{
    (void)state;
    char buf[40];
    assert_string_equal(core_ts_format(T_2026_11_21_130400 + 123456, buf, sizeof buf),
                        "2026-11-21T13:04:00.123456Z");
    assert_string_equal(core_ts_format(0, buf, sizeof buf), "1970-01-01T00:00:00.000000Z");
    assert_string_equal(core_ts_format(-1, buf, sizeof buf), "1969-12-31T23:59:59.999999Z");
    assert_string_equal(core_ts_format(INT64_C(951782400000000), buf, sizeof buf),
                        "2000-02-29T00:00:00.000000Z");
    assert_string_equal(core_ts_format(INT64_C(253402300799999999), buf, sizeof buf),
                        "9999-12-31T23:59:59.999999Z");
    /* past the digits written by hand: as printf writes them */
    assert_string_equal(core_ts_format(INT64_C(253402300800000000), buf, sizeof buf),
                        "10000-01-01T00:00:00.000000Z");
    assert_string_equal(core_ts_format(INT64_C(-62167219200000001), buf, sizeof buf),
                        "-001-12-31T23:59:59.999999Z");
    char small[12];
    assert_string_equal(core_ts_format(0, small, sizeof small), "1970-01-01T");
}

static void ts_format_parse_round_trip(void **state)
{
    (void)state;
    /* every day boundary of a leap cycle plus pseudo-random instants up to 9999 */
    uint64_t x = 88172645463325252ull;
    char buf[40];
    for (int i = 0; i < 200000; i++) {
        int64_t t;
        if (i < 1462 * 2)
            t = (int64_t)(i / 2) * INT64_C(86400000000) + (i % 2 ? -1 : 0) +
                INT64_C(946684800000000); /* from 2000-01-01 */
        else {
            t = (int64_t)(t_xorshift64(&x) % UINT64_C(253402300800000000));
        }
        core_ts_format(t, buf, sizeof buf);
        int64_t back = -1;
        if (core_ts_parse(buf, strlen(buf), &back) != 0 || back != t)
            fail_msg("round trip of %lld gave \"%s\" -> %lld", (long long)t, buf,
                     (long long)back);
    }
}

static long inv(const char *s, size_t n) { return core_utf8_invalid_at((const unsigned char *)s, n); }
#define INV(lit) inv((lit), sizeof(lit) - 1)

static void utf8_accepts_valid_text(void **state)
{
    (void)state;
    assert_int_equal(INV(""), -1);
    assert_int_equal(INV("plain ascii\n\t"), -1);
    assert_int_equal(INV("caf\xc3\xa9"), -1);                  /* U+00E9 */
    assert_int_equal(INV("\xc2\x80"), -1);                     /* U+0080, smallest 2-byte */
    assert_int_equal(INV("\xdf\xbf"), -1);                     /* U+07FF */
    assert_int_equal(INV("\xe0\xa0\x80"), -1);                 /* U+0800, smallest 3-byte */
    assert_int_equal(INV("\xe2\x82\xac"), -1);                 /* euro sign */
    assert_int_equal(INV("\xed\x9f\xbf"), -1);                 /* U+D7FF, below surrogates */
    assert_int_equal(INV("\xee\x80\x80"), -1);                 /* U+E000, above surrogates */
    assert_int_equal(INV("\xef\xbf\xbf"), -1);                 /* U+FFFF */
    assert_int_equal(INV("\xf0\x90\x80\x80"), -1);             /* U+10000 */
    assert_int_equal(INV("\xf0\x9f\x98\x80"), -1);             /* emoji */
    assert_int_equal(INV("\xf4\x8f\xbf\xbf"), -1);             /* U+10FFFF, the last */
    assert_int_equal(INV("\xe4\xb8\xad\xe6\x96\x87 text"), -1); /* CJK */
}

static void utf8_rejects_overlongs(void **state)
{
    (void)state;
    assert_int_equal(INV("\xc0\x80"), 0);         /* overlong NUL */
    assert_int_equal(INV("\xc1\xbf"), 0);         /* overlong U+007F */
    assert_int_equal(INV("ab\xe0\x80\x80"), 2);   /* overlong 3-byte NUL */
    assert_int_equal(INV("\xe0\x9f\xbf"), 0);     /* overlong U+07FF */
    assert_int_equal(INV("\xf0\x80\x80\x80"), 0); /* overlong 4-byte */
    assert_int_equal(INV("\xf0\x8f\xbf\xbf"), 0); /* overlong U+FFFF */
}

static void utf8_rejects_surrogates_and_out_of_range(void **state)
{
    (void)state;
    assert_int_equal(INV("x\xed\xa0\x80"), 1); /* U+D800 */
    assert_int_equal(INV("\xed\xbf\xbf"), 0);  /* U+DFFF */
    assert_int_equal(INV("\xed\xa0\xbd\xed\xb8\x80"), 0); /* CESU-8 pair */
    assert_int_equal(INV("\xf4\x90\x80\x80"), 0); /* U+110000 */
    assert_int_equal(INV("\xf5\x80\x80\x80"), 0);
    assert_int_equal(INV("\xf7\xbf\xbf\xbf"), 0);
    assert_int_equal(INV("\xf8\x88\x80\x80\x80"), 0); /* 5-byte form */
    assert_int_equal(INV("\xfc\x84\x80\x80\x80\x80"), 0);
    assert_int_equal(INV("ok\xfe"), 2);
    assert_int_equal(INV("ok\xff"), 2);
}

static void utf8_rejects_truncated_and_stray_bytes(void **state)
{
    (void)state;
    assert_int_equal(INV("\x80"), 0);               /* lone continuation */
    assert_int_equal(INV("abc\xbf"), 3);
    assert_int_equal(INV("\xc3"), 0);               /* 2-byte cut at the end */
    assert_int_equal(INV("ab\xe2\x82"), 2);         /* 3-byte cut */
    assert_int_equal(INV("\xf0\x9f\x98"), 0);       /* 4-byte cut */
    assert_int_equal(INV("\xc3x"), 0);              /* lead byte then ASCII */
    assert_int_equal(INV("\xe2\x82x"), 0);
    assert_int_equal(INV("\xf0\x9f\x98x"), 0);
    assert_int_equal(INV("\xc3\xa9\xc3\xc3\xa9"), 2); /* the offset of the first bad one */
    /* the length bounds the check: a valid sequence cut by n is invalid */
    assert_int_equal(inv("\xc3\xa9", 1), 0);
    assert_int_equal(inv("a\xf0\x9f\x98\x80", 4), 1);
}

static void utf8_cut_stays_on_boundaries(void **state)
{
    (void)state;
    const char *s = "a\xc3\xa9" "b\xe2\x82\xac" "c\xf0\x9f\x98\x80"; /* a é b € c 😀 */
    size_t n = strlen(s); /* 1+2+1+3+1+4 = 12 */
    assert_int_equal(n, 12);
    assert_int_equal(core_utf8_cut(s, n, 100), n); /* shorter than max: whole */
    assert_int_equal(core_utf8_cut(s, n, 12), 12);
    assert_int_equal(core_utf8_cut(s, n, 0), 0);
    assert_int_equal(core_utf8_cut(s, n, 1), 1);
    assert_int_equal(core_utf8_cut(s, n, 2), 1); /* inside é */
    assert_int_equal(core_utf8_cut(s, n, 3), 3);
    assert_int_equal(core_utf8_cut(s, n, 4), 4);
    assert_int_equal(core_utf8_cut(s, n, 5), 4); /* inside € */
    assert_int_equal(core_utf8_cut(s, n, 6), 4);
    assert_int_equal(core_utf8_cut(s, n, 7), 7);
    assert_int_equal(core_utf8_cut(s, n, 8), 8);
    assert_int_equal(core_utf8_cut(s, n, 9), 8); /* inside 😀 */
    assert_int_equal(core_utf8_cut(s, n, 11), 8);
    /* every cut of a valid string is itself valid UTF-8 */
    for (size_t m = 0; m <= n; m++) {
        size_t k = core_utf8_cut(s, n, m);
        assert_true(k <= m);
        assert_int_equal(core_utf8_invalid_at((const unsigned char *)s, k), -1);
    }
}

static void arena_strings_stay_valid_as_it_grows(void **state)
{
    (void)state;
    core_event ev;
    memset(&ev, 0, sizeof ev);
    const char *first = core_event_strdup(&ev, "first", 5);
    assert_non_null(first);
    const char *ptrs[2000];
    char want[32];
    for (int i = 0; i < 2000; i++) {
        int n = snprintf(want, sizeof want, "string-%d", i);
        ptrs[i] = core_event_strdup(&ev, want, (size_t)n);
        assert_non_null(ptrs[i]);
    }
    void *big = core_event_alloc(&ev, 100000); /* larger than a block */
    assert_non_null(big);
    memset(big, 0xab, 100000);
    double *d = core_event_alloc(&ev, sizeof(double) * 3);
    assert_non_null(d);
    assert_int_equal((uintptr_t)d % _Alignof(double), 0);
    assert_string_equal(first, "first");
    for (int i = 0; i < 2000; i++) {
        snprintf(want, sizeof want, "string-%d", i);
        assert_string_equal(ptrs[i], want);
    }
    /* strdup copies exactly n bytes and adds the NUL */
    assert_string_equal(core_event_strdup(&ev, "abcdef", 3), "abc");
    core_event_clear(&ev);
    assert_null(ev.arena);
    assert_int_equal(ev.arena_len, 0);
    assert_null(ev.event_id);
    core_event_clear(&ev); /* safe twice */
}

/* Issue 13: C1 controls and the Unicode line separators are control
 * characters for identifiers, and logs show them escaped. */
static void controls_beyond_ascii(void **state)
{
    (void)state;
    assert_int_equal(core_text_control_at("abc", 3), -1);
    assert_int_equal(core_text_control_at("caf\xc3\xa9 \xe2\x98\x83", 9), -1);
    assert_int_equal(core_text_control_at("a\nb", 3), 1);
    assert_int_equal(core_text_control_at("ab\0", 3), 2);
    assert_int_equal(core_text_control_at("a\x7f", 2), 1);
    assert_int_equal(core_text_control_at("k\xc2\x85x", 4), 1);       /* U+0085 */
    assert_int_equal(core_text_control_at("k\xc2\x9f", 3), 1);        /* U+009F */
    assert_int_equal(core_text_control_at("k\xc2\xa0", 3), -1);       /* U+00A0 is text */
    assert_int_equal(core_text_control_at("xy\xe2\x80\xa8", 5), 2);   /* U+2028 */
    assert_int_equal(core_text_control_at("xy\xe2\x80\xa9", 5), 2);   /* U+2029 */
    assert_int_equal(core_text_control_at("xy\xe2\x80\xa6", 5), -1);  /* U+2026 ... */
    char q[64];
    assert_string_equal(core_log_quote(q, sizeof q, "a\xc2\x85" "b\xe2\x80\xa8" "c\xe2\x80\xa9"),
                        "\"a\\u0085b\\u2028c\\u2029\"");
    assert_string_equal(core_log_quote(q, sizeof q, "caf\xc3\xa9\n"), "\"caf\xc3\xa9\\n\"");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(controls_beyond_ascii),
        cmocka_unit_test(ts_parses_utc_and_offsets),
        cmocka_unit_test(ts_parses_fractions_up_to_nine_digits),
        cmocka_unit_test(ts_leap_years),
        cmocka_unit_test(ts_rejects_bad_dates_and_shapes),
        cmocka_unit_test(ts_leap_second_is_folded),
        cmocka_unit_test(ts_parse_honours_length),
        cmocka_unit_test(ts_format_known_values),
        cmocka_unit_test(ts_format_parse_round_trip),
        cmocka_unit_test(utf8_accepts_valid_text),
        cmocka_unit_test(utf8_rejects_overlongs),
        cmocka_unit_test(utf8_rejects_surrogates_and_out_of_range),
        cmocka_unit_test(utf8_rejects_truncated_and_stray_bytes),
        cmocka_unit_test(utf8_cut_stays_on_boundaries),
        cmocka_unit_test(arena_strings_stay_valid_as_it_grows),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
