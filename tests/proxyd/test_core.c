/* tests/proxyd: core/: a runtime built for more workers than the old fixed arrays held (defect: `workers = auto`
 * on a host with more than 256 CPUs wrote past fds[256]), and its sockets and state sized by the worker count; the
 * limit table carried over a reload; allow/deny decided at accept only when every server on an address has a list. */
#include <arpa/inet.h>
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

#define APP "[upstream app]\nserver = 127.0.0.1:9\n"

static px_runtime *runtime(const char *text, px_runtime *old)
{
    char err[256] = "";
    px_runtime *rt = px_runtime_new(load(text), 1, 64, old, err, sizeof(err));
    ck_assert_msg(rt != NULL, "%s", err);
    return rt;
}

/* A reload keeps the table (and so every client's counts) while limit_table_size is the same, and makes a new one
 * when it changes; without limits there is none. */
START_TEST(limit_table_carried_over_reload)
{
    px_runtime *r1 = runtime("[global]\nlimit_table_size = 1000\n" APP
                             "[server a]\nlisten = 127.0.0.1:0\nproxy_pass = app\nlimit_conn = 2\n",
                             NULL);
    ck_assert_ptr_nonnull(r1->limits);
    ck_assert_uint_eq(px_limit_table_capacity(r1->limits), 1024); /* whole stripes */
    px_runtime *r2 = runtime("[global]\nlimit_table_size = 1000\n" APP
                             "[server a]\nlisten = 127.0.0.1:0\nproxy_pass = app\nlimit_req = 5r/s\n",
                             r1);
    ck_assert_ptr_eq(r2->limits, r1->limits);
    px_runtime *r3 = runtime("[global]\nlimit_table_size = 2000\n" APP
                             "[server a]\nlisten = 127.0.0.1:0\nproxy_pass = app\nlimit_req = 5r/s\n",
                             r2);
    ck_assert_ptr_ne(r3->limits, r2->limits);
    px_runtime *r4 = runtime(APP "[server a]\nlisten = 127.0.0.1:0\nproxy_pass = app\n", r3);
    ck_assert_ptr_null(r4->limits);
    px_runtime_unref(r1); /* r2 still holds the shared table: ASan checks */
    px_runtime_unref(r2);
    px_runtime_unref(r3);
    px_runtime_unref(r4);
}
END_TEST

static px_ip v4(const char *text)
{
    px_ip ip = {PX_IP_V4, {0}};
    ck_assert_int_eq(inet_pton(AF_INET, text, ip.addr), 1);
    return ip;
}

/* A client is refused at accept only when every server on the address denies it; one server without a list lets
 * everyone through to the per-request check. */
START_TEST(acl_at_accept_needs_every_server)
{
    px_runtime *rt = runtime(APP "[server a]\nlisten = 127.0.0.1:0\nserver_name = a\nproxy_pass = app\n"
                                 "deny = 127.0.0.2\n"
                                 "[server b]\nlisten = 127.0.0.1:0\nserver_name = b\nproxy_pass = app\n"
                                 "allow = 127.0.0.3\ndeny = 127.0.0.0/8\n"
                                 "[server c]\nlisten = 127.0.0.2:0\nproxy_pass = app\nallow = 127.0.0.1\ndeny = all\n"
                                 "listen = 127.0.0.1:0\n",
                             NULL);
    ck_assert_int_eq(rt->nbinds, 2);
    px_bind *shared = &rt->binds[0], *other = &rt->binds[1];
    ck_assert_int_eq(shared->nservers, 3);
    ck_assert_int_eq(shared->acl_at_accept, 1);
    px_ip two = v4("127.0.0.2"), three = v4("127.0.0.3"), four = v4("127.0.0.4");
    ck_assert_int_eq(px_bind_refuses(shared, &two), 1);   /* a, b and c all deny it */
    ck_assert_int_eq(px_bind_refuses(shared, &three), 0); /* a lets it in (no rule matches) */
    ck_assert_int_eq(px_bind_refuses(shared, &four), 0);
    ck_assert_int_eq(other->acl_at_accept, 1);
    px_runtime_unref(rt);
    rt = runtime(APP "[server a]\nlisten = 127.0.0.1:0\nserver_name = a\nproxy_pass = app\ndeny = all\n"
                     "[server b]\nlisten = 127.0.0.1:0\nserver_name = b\nproxy_pass = app\n",
                 NULL);
    ck_assert_int_eq(rt->binds[0].acl_at_accept, 0);
    px_runtime_unref(rt);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("proxyd_core");
    TCase *tc = tcase_create("runtime");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, runtime_for_many_workers);
    tcase_add_test(tc, runtime_failure_leaves_config);
    tcase_add_test(tc, limit_table_carried_over_reload);
    tcase_add_test(tc, acl_at_accept_needs_every_server);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
