/* The incident vocabulary: every name parses back to its value, the table
 * spellings are the ones the schema checks, and what is not a word of it is
 * refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "incidents/incidents.h"

static void t_round_trip(void **s)
{
    (void)s;
    for (int i = 0; i < INC_TYPE_COUNT; i++)
        assert_int_equal(inc_type_parse(inc_type_name((inc_type)i)), i);
    for (int i = 0; i < INC_SEVERITY_COUNT; i++)
        assert_int_equal(inc_severity_parse(inc_severity_name((inc_severity)i)), i);
    for (int i = 0; i < INC_STATUS_COUNT; i++)
        assert_int_equal(inc_status_parse(inc_status_name((inc_status)i)), i);
    for (int i = INC_TRUE_POSITIVE; i < INC_DISPOSITION_COUNT; i++)
        assert_int_equal(inc_disposition_parse(inc_disposition_name((inc_disposition)i)), i);
}

/* The spellings schema 2 and 6 check, and `custos analyze` prints. */
static void t_spellings(void **s)
{
    (void)s;
    const char *types[] = {"extraction", "probing", "drift", "leakage", "flood"};
    for (int i = 0; i < INC_TYPE_COUNT; i++)
        assert_string_equal(inc_type_name((inc_type)i), types[i]);
    const char *sev[] = {"low", "medium", "high", "critical"};
    for (int i = 0; i < INC_SEVERITY_COUNT; i++)
        assert_string_equal(inc_severity_name((inc_severity)i), sev[i]);
    assert_string_equal(inc_status_name(INC_OPEN), "open");
    assert_string_equal(inc_status_name(INC_CLOSED), "closed");
    assert_string_equal(inc_status_name(INC_CONTAINED), "contained");
    assert_string_equal(inc_disposition_name(INC_DISP_NONE), "");
    assert_string_equal(inc_disposition_name(INC_FALSE_POSITIVE), "false_positive");
}

static void t_refused(void **s)
{
    (void)s;
    assert_string_equal(inc_type_name(INC_TYPE_COUNT), "?");
    assert_string_equal(inc_type_name((inc_type)-1), "?");
    assert_string_equal(inc_severity_name(INC_SEVERITY_COUNT), "?");
    assert_string_equal(inc_status_name(INC_STATUS_COUNT), "?");
    assert_string_equal(inc_disposition_name(INC_DISPOSITION_COUNT), "?");
    assert_int_equal(inc_type_parse("Extraction"), -1); /* types are exact */
    assert_int_equal(inc_type_parse(""), -1);
    assert_int_equal(inc_type_parse(NULL), -1);
    assert_int_equal(inc_type_parse("extraction "), -1);
    assert_int_equal(inc_severity_parse("HIGH"), INC_HIGH); /* severities: any case */
    assert_int_equal(inc_severity_parse("severe"), -1);
    assert_int_equal(inc_status_parse("Open"), -1);
    assert_int_equal(inc_status_parse("quarantined"), -1);
    /* "" is the absence of a disposition, not one that can be set */
    assert_int_equal(inc_disposition_parse(""), -1);
    assert_int_equal(inc_disposition_parse("false-positive"), -1);
    assert_true(inc_status_is_closing(INC_CLOSED));
    assert_true(inc_status_is_closing(INC_RESOLVED));
    assert_false(inc_status_is_closing(INC_CONTAINED));
    assert_false(inc_status_is_closing(-1));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(t_round_trip),
        cmocka_unit_test(t_spellings),
        cmocka_unit_test(t_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
