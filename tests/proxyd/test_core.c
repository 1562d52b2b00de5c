/* tests/proxyd: core/: a runtime built for more workers than the old fixed arrays held (defect: `workers = auto`
 * on a host with more than 256 CPUs wrote past fds[256]), and its sockets and state sized by the worker count. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/runtime.h"

static px_config *load(const char *text)
{
    char path[] = "/tmp/pxcore-XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    px_config *cfg = px_config_load(path, stderr);
    unlink(path);
    ck_assert_ptr_nonnull(cfg);
    return cfg;
}

START_TEST(runtime_for_many_workers)
{
    enum { WORKERS = 300 };
    px_config *cfg = load("[upstream app]\nserver = 127.0.0.1:9\n"
                          "[server a]\nlisten = 127.0.0.1:0\nproxy_pass = app\n"
                          "[server b]\nlisten = 127.0.0.2:0\nproxy_pass = app\n");
    char err[256] = "";
    px_runtime *rt = px_runtime_new(cfg, WORKERS, 64, NULL, err, sizeof(err));
    ck_assert_msg(rt != NULL, "%s", err);
    ck_assert_int_eq(rt->nbinds, 2);
    for (int i = 0; i < rt->nbinds; i++) {
        ck_assert_int_eq(rt->binds[i].index, i);
        ck_assert_int_eq(rt->binds[i].status, 0);
        ck_assert_int_eq(rt->binds[i].nservers, 1);
        for (int k = 0; k < WORKERS; k++)
            ck_assert_int_ge(rt->binds[i].fds[k], 0);
    }
    ck_assert_ptr_eq(rt->binds[1].default_server, &cfg->servers[1]);
    ck_assert_uint_eq(rt->nworkers, WORKERS);
    ck_assert_uint_eq(px_runtime_in_block_size(rt), rt->buf_size + rt->fields_cap * sizeof(http_field) + 64);
    px_runtime_unref(rt); /* closes 600 sockets, frees everything: ASan checks */
}
END_TEST

/* A failed runtime leaves the configuration to the caller and leaks nothing. */
START_TEST(runtime_failure_leaves_config)
{
    px_config *cfg = load("[upstream app]\nserver = 127.0.0.1:9\n"
                          "[server a]\nlisten = 192.0.2.1:1\nproxy_pass = app\n"); /* not an address of ours */
    char err[256] = "";
    ck_assert_ptr_null(px_runtime_new(cfg, 2, 64, NULL, err, sizeof(err)));
    ck_assert_msg(strstr(err, "cannot listen on 192.0.2.1:1"), "%s", err);
    px_config_free(cfg);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("proxyd_core");
    TCase *tc = tcase_create("runtime");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, runtime_for_many_workers);
    tcase_add_test(tc, runtime_failure_leaves_config);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
