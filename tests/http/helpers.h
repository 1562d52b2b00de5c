/* tests/http helpers: guard-page buffers (any over-read faults) and the common Check runner.
 * Shared by every libhttp test executable. */
#ifndef TESTS_HTTP_HELPERS_H
#define TESTS_HTTP_HELPERS_H

#include <check.h>
#include <stdbool.h>
#include <stddef.h>

/* libhttp's internal switch (declared in libhttp/src/internal.h): true makes the parsers' scanners take their
 * portable table loops instead of SSE2, so that tests cover both paths. */
extern bool http__force_scalar;

#define S(x) x, sizeof(x) - 1
#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* Copies s[0..n) so that its last byte sits right before a PROT_NONE page. Freed by guard_free. */
const char *guard_copy(const char *s, size_t n);
void guard_free(void);

/* Runs one suite (CK_FORK per the environment) and returns the process exit status. */
int run_suite(Suite *s);

#endif
