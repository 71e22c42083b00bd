/* The hold on incident updates (analytics/an_hold.c): found by id through
 * the index's growth, kept in the order of their last write (the ones due
 * first at the head), removed from both. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "analytics/an_hold.h"

#define N 2000 /* past several doublings of the index (256 buckets at first) */

static void found_ordered_removed(void **state)
{
    (void)state;
    an_hold h = {0};
    static an_hold_entry e[N];
    assert_null(an_hold_find(&h, "inc-0000000000000000"));
    assert_null(an_hold_oldest(&h));
    for (int i = 0; i < N; i++) {
        snprintf(e[i].id, sizeof e[i].id, "inc-%016x", (unsigned)i * 2654435761u);
        assert_int_equal(an_hold_add(&h, &e[i], 1000 + i), 0);
    }
    assert_int_equal(h.count, N);
    for (int i = 0; i < N; i++)
        assert_ptr_equal(an_hold_find(&h, e[i].id), &e[i]);
    assert_null(an_hold_find(&h, "inc-ffffffffffffffff"));
    /* written again: to the tail, the rest keep their order */
    an_hold_touch(&h, &e[0], 5000);
    an_hold_touch(&h, &e[N - 1], 5001); /* the tail already: stays there */
    assert_ptr_equal(an_hold_oldest(&h), &e[1]);
    assert_ptr_equal(h.tail, &e[N - 1]);
    assert_ptr_equal(e[N - 1].prev, &e[0]);
    assert_int_equal(e[0].written_ms, 5000);
    /* removed from the middle, the head and the tail */
    an_hold_remove(&h, &e[7]);
    an_hold_remove(&h, &e[1]);
    an_hold_remove(&h, &e[N - 1]);
    assert_int_equal(h.count, N - 3);
    assert_null(an_hold_find(&h, e[7].id));
    assert_null(an_hold_find(&h, e[1].id));
    assert_ptr_equal(an_hold_find(&h, e[8].id), &e[8]);
    assert_ptr_equal(an_hold_oldest(&h), &e[2]);
    assert_ptr_equal(h.tail, &e[0]);
    /* the list holds each entry left once, oldest write first */
    int n = 0;
    int64_t last = 0;
    for (an_hold_entry *x = an_hold_oldest(&h); x; x = x->next, n++) {
        assert_true(x->written_ms >= last);
        last = x->written_ms;
    }
    assert_int_equal(n, N - 3);
    while (an_hold_oldest(&h))
        an_hold_remove(&h, an_hold_oldest(&h));
    assert_int_equal(h.count, 0);
    assert_null(h.tail);
    an_hold_free(&h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(found_ordered_removed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
