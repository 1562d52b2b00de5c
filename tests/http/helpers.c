/* tests/http helpers: guard-page placement of inputs and the suite runner.
 * One mapping at a time; each forked test case maps and unmaps its own. */
#include "helpers.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static void *g_map;
static size_t g_maplen;

void guard_free(void)
{
    if (g_map)
        munmap(g_map, g_maplen);
    g_map = NULL;
}

const char *guard_copy(const char *s, size_t n)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    size_t data_pages = (n + page - 1) / page + 1;
    guard_free();
    g_maplen = (data_pages + 1) * page;
    g_map = mmap(NULL, g_maplen, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    ck_assert_ptr_ne(g_map, MAP_FAILED);
    char *guard = (char *)g_map + data_pages * page;
    ck_assert_int_eq(mprotect(guard, page, PROT_NONE), 0);
    char *p = guard - n;
    if (n)
        memcpy(p, s, n);
    return p;
}

int run_suite(Suite *s)
{
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
