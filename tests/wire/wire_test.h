/* wire_test.h: shared helpers for the libwire Check suites (loop setup/teardown that asserts no leak, main).
 * Every test runs in its own forked process (Check's default), so a crash or hang fails one test only. */
#ifndef WIRE_TEST_H
#define WIRE_TEST_H

#include <check.h>
#include <stdlib.h>

#include "wire/wire.h"

static inline wire_loop *test_loop_new(void)
{
    wire_loop *loop = NULL;
    ck_assert_int_eq(wire_loop_new(&loop), 0);
    ck_assert_ptr_nonnull(loop);
    return loop;
}

/* Teardown: the loop must hold nothing and free cleanly (LeakSanitizer checks the rest at exit). */
static inline void test_loop_free(wire_loop *loop)
{
    ck_assert_uint_eq(wire_loop_alive(loop), 0);
    ck_assert_int_eq(wire_loop_free(loop), 0);
}

/* Runs iterations until *flag becomes non-zero or max_ms elapse. Returns the iteration count. */
static inline int test_run_until(wire_loop *loop, const volatile int *flag, int max_ms)
{
    wire_update_time(loop);
    uint64_t end = wire_now(loop) + (uint64_t)max_ms;
    int iterations = 0;
    while (!*flag && wire_now(loop) < end) {
        ck_assert_int_ge(wire_loop_run_once(loop, (int)(end - wire_now(loop))), 0);
        iterations++;
    }
    return iterations;
}

#define WIRE_TEST_MAIN(make_suite)                                                                                     \
    int main(void)                                                                                                     \
    {                                                                                                                  \
        SRunner *sr = srunner_create(make_suite());                                                                    \
        srunner_run_all(sr, CK_NORMAL);                                                                                \
        int failed = srunner_ntests_failed(sr);                                                                        \
        srunner_free(sr);                                                                                              \
        return failed ? EXIT_FAILURE : EXIT_SUCCESS;                                                                   \
    }

#endif
