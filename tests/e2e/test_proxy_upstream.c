/* End-to-end tests of proxyd's upstream side: keep-alive pooling (counted by the origin), least_conn and
 * weighted round_robin spreads, failover and backup servers, 502 and 504 and passive health after a timeout. */
#include "px_harness.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static px_env env;

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* One request on a new client connection; returns the status. */
static int get_status(int port, const char *path)
{
    char raw[256];
    ts_response r;
    snprintf(raw, sizeof raw, "GET %s HTTP/1.1\r\nHost: h\r\n\r\n", path);
    px_req(port, raw, &r);
    int st = r.status;
    ts_response_free(&r);
    return st;
}

#define POOLED                                                                                                         \
    "[upstream o]\nserver = 127.0.0.1:@O0@\nkeepalive = 8\n"                                                           \
    "[server s]\nlisten = 127.0.0.1:@PORT@\nproxy_pass = o\n"

/* 3. 100 requests on one client connection, then 10 client connections: one upstream connection in all. */
START_TEST(pool_reuse)
{
    const char *req = "GET /size/10 HTTP/1.1\r\nHost: h\r\n\r\n";
    ts_response r;
    px_env_init(&env, 1);
    px_proxy_start(&env, PX_GLOBAL POOLED);
    ck_assert_int_eq(ts_reset_stats(env.oport[0]), 0);
    int fd = ts_connect(env.port);
    ck_assert_int_ge(fd, 0);
    for (int i = 0; i < 100; i++) {
        ck_assert_int_eq(ts_send(fd, req, strlen(req)), 0);
        ck_assert_int_eq(ts_read_response(fd, &r, 0), 0);
        ck_assert_int_eq(r.status, 200);
        ts_response_free(&r);
    }
    close(fd);
    ck_assert_int_eq(ts_count_connections(env.oport[0]), 1);
    for (int i = 0; i < 10; i++)
        ck_assert_int_eq(get_status(env.port, "/size/10"), 200);
    ck_assert_int_eq(ts_count_connections(env.oport[0]), 1);
    ck_assert_int_eq(px_origin_requests(env.oport[0]), 110);
    px_env_done(&env);
}
END_TEST

/* keepalive = 0: one upstream connection per request. */
START_TEST(pool_off)
{
    px_env_init(&env, 1);
    px_proxy_start(&env, PX_GLOBAL "[upstream o]\nserver = 127.0.0.1:@O0@\nkeepalive = 0\n"
                                   "[server s]\nlisten = 127.0.0.1:@PORT@\nproxy_pass = o\n");
    ck_assert_int_eq(ts_reset_stats(env.oport[0]), 0);
    int fd = ts_connect(env.port);
    ck_assert_int_ge(fd, 0);
    const char *req = "GET /size/10 HTTP/1.1\r\nHost: h\r\n\r\n";
    ts_response r;
    for (int i = 0; i < 10; i++) {
        ck_assert_int_eq(ts_send(fd, req, strlen(req)), 0);
        ck_assert_int_eq(ts_read_response(fd, &r, 0), 0);
        ck_assert_int_eq(r.status, 200);
        ck_assert_int_eq(r.closed, 0); /* the client side stays keep-alive */
        ts_response_free(&r);
    }
    close(fd);
    ck_assert_int_eq(ts_count_connections(env.oport[0]), 10);
    px_env_done(&env);
}
END_TEST

/* Two workers: pools are per worker, so at most two upstream connections for sequential clients. */
START_TEST(pool_two_workers)
{
    px_env_init(&env, 1);
    px_proxy_start(&env, "[global]\nworkers = 2\nerror_log = @LOG@\npid_file = @DIR@/proxyd.pid\n" POOLED);
    ck_assert_int_eq(ts_reset_stats(env.oport[0]), 0);
    for (int i = 0; i < 20; i++)
        ck_assert_int_eq(get_status(env.port, "/size/10"), 200);
    int conns = ts_count_connections(env.oport[0]);
    ck_assert_int_ge(conns, 1);
    ck_assert_int_le(conns, 2);
    ck_assert_int_eq(px_origin_requests(env.oport[0]), 20);
    px_env_done(&env);
}
END_TEST

/* 4. least_conn sends concurrent slow requests to both origins. */
START_TEST(least_conn)
{
    const char *req = "GET /size/5?delay=300 HTTP/1.1\r\nHost: h\r\n\r\n";
    int fds[10];
    ts_response r;
    px_env_init(&env, 2);
    px_proxy_start(&env, PX_GLOBAL "[upstream o]\nserver = 127.0.0.1:@O0@\nserver = 127.0.0.1:@O1@\n"
                                   "balance = least_conn\nkeepalive = 16\n"
                                   "[server s]\nlisten = 127.0.0.1:@PORT@\nproxy_pass = o\n");
    for (int i = 0; i < 10; i++) {
        fds[i] = ts_connect(env.port);
        ck_assert_int_ge(fds[i], 0);
        ck_assert_int_eq(ts_send(fds[i], req, strlen(req)), 0);
        usleep(10000); /* each request reaches proxyd before the next: the counts are then well defined */
    }
    for (int i = 0; i < 10; i++) {
        ck_assert_int_eq(ts_read_response(fds[i], &r, 0), 0);
        ck_assert_int_eq(r.status, 200);
        ts_response_free(&r);
        close(fds[i]);
    }
    int a = px_origin_requests(env.oport[0]), b = px_origin_requests(env.oport[1]);
    ck_assert_int_eq(a + b, 10);
    ck_assert_msg(a >= 3 && b >= 3, "least_conn spread %d/%d", a, b);
    /* While one origin holds a slow request, quick ones all go to the other (round robin would alternate). */
    ck_assert_int_eq(ts_reset_stats(env.oport[0]), 0);
    ck_assert_int_eq(ts_reset_stats(env.oport[1]), 0);
    const char *slow = "GET /size/5?delay=1500 HTTP/1.1\r\nHost: h\r\n\r\n";
    int sfd = ts_connect(env.port);
    ck_assert_int_ge(sfd, 0);
    ck_assert_int_eq(ts_send(sfd, slow, strlen(slow)), 0);
    usleep(200000);
    for (int i = 0; i < 6; i++)
        ck_assert_int_eq(get_status(env.port, "/size/1"), 200);
    ck_assert_int_eq(ts_read_response(sfd, &r, 0), 0);
    ck_assert_int_eq(r.status, 200);
    ts_response_free(&r);
    close(sfd);
    a = px_origin_requests(env.oport[0]);
    b = px_origin_requests(env.oport[1]);
    ck_assert_msg((a == 1 && b == 6) || (a == 6 && b == 1), "with one origin busy: %d/%d, want 1/6", a, b);
    px_env_done(&env);
}
END_TEST

/* 5. Weighted round robin: 3 to 1. */
START_TEST(round_robin_weights)
{
    px_env_init(&env, 2);
    px_proxy_start(&env, PX_GLOBAL "[upstream o]\nserver = 127.0.0.1:@O0@ weight=3\n"
                                   "server = 127.0.0.1:@O1@ weight=1\nkeepalive = 0\n"
                                   "[server s]\nlisten = 127.0.0.1:@PORT@\nproxy_pass = o\n");
    for (int i = 0; i < 40; i++)
        ck_assert_int_eq(get_status(env.port, "/size/1"), 200);
    int a = px_origin_requests(env.oport[0]), b = px_origin_requests(env.oport[1]);
    ck_assert_msg(a >= 28 && a <= 32 && b >= 8 && b <= 12 && a + b == 40, "weighted spread %d/%d", a, b);
    px_env_done(&env);
}
END_TEST

/* 6. A dead server never costs a request: GETs and POSTs are retried on the live one. */
START_TEST(failover)
{
    ts_response r;
    px_env_init(&env, 1);
    /* max_fails=0: the dead server is never marked down, so it is tried again and again. */
    px_proxy_start(&env, PX_GLOBAL "[upstream o]\nserver = 127.0.0.1:@DEAD@ max_fails=0\n"
                                   "server = 127.0.0.1:@O0@\n"
                                   "[server s]\nlisten = 127.0.0.1:@PORT@\nproxy_pass = o\n");
    for (int i = 0; i < 20; i++)
        ck_assert_int_eq(get_status(env.port, "/size/10"), 200);
    for (int i = 0; i < 6; i++) {
        px_req(env.port, "POST /echo HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\n\r\nbody", &r);
        ck_assert_int_eq(r.status, 200);
        ck_assert_str_eq(r.body + r.body_len - 4, "body");
        ts_response_free(&r);
    }
    ck_assert_int_eq(px_origin_requests(env.oport[0]), 26);
    px_env_done(&env);
}
END_TEST

/* A backup server takes requests only while the primary is down. */
START_TEST(backup_server)
{
    px_env_init(&env, 2);
    px_proxy_start(&env, PX_GLOBAL "[upstream o]\nserver = 127.0.0.1:@O0@\n"
                                   "server = 127.0.0.1:@O1@ backup\nkeepalive = 0\n"
                                   "[server s]\nlisten = 127.0.0.1:@PORT@\nproxy_pass = o\n");
    for (int i = 0; i < 10; i++)
        ck_assert_int_eq(get_status(env.port, "/size/1"), 200);
    ck_assert_int_eq(px_origin_requests(env.oport[0]), 10);
    ck_assert_int_eq(px_origin_requests(env.oport[1]), 0);
    ck_assert_int_eq(px_origin_stop(&env, 0), 0);
    for (int i = 0; i < 10; i++)
        ck_assert_int_eq(get_status(env.port, "/size/1"), 200);
    ck_assert_int_eq(px_origin_requests(env.oport[1]), 10);
    px_env_done(&env);
}
END_TEST

/* 7. The only server down: 502, logged with the upstream's address. */
START_TEST(bad_gateway)
{
    char want[64];
    ts_response r;
    px_env_init(&env, 0);
    px_proxy_start(&env, PX_GLOBAL "[upstream o]\nserver = 127.0.0.1:@DEAD@\n"
                                   "[server s]\nlisten = 127.0.0.1:@PORT@\nproxy_pass = o\n");
    px_req(env.port, "GET / HTTP/1.1\r\nHost: h\r\n\r\n", &r);
    ck_assert_int_eq(r.status, 502);
    ck_assert_uint_gt(r.body_len, 0);
    ck_assert_str_eq(ts_header(&r, "Server"), "proxyd");
    ts_response_free(&r);
    /* Still 502 (not a hang) while the server is marked down. */
    px_req(env.port, "GET / HTTP/1.1\r\nHost: h\r\n\r\n", &r);
    ck_assert_int_eq(r.status, 502);
    ts_response_free(&r);
    char *log = px_read_file(env.log);
    snprintf(want, sizeof want, "127.0.0.1:%d", env.dead);
    ck_assert_msg(log && strstr(log, want), "error log does not name the upstream %s:\n%s", want, log);
    free(log);
    px_env_done(&env);
}
END_TEST

/* 504 on a read timeout, and the server is not marked down by it (even with max_fails=1). */
START_TEST(gateway_timeout_keeps_server)
{
    ts_response r;
    px_env_init(&env, 2);
    px_proxy_start(&env, PX_GLOBAL "[upstream o]\nserver = 127.0.0.1:@O0@ max_fails=1 fail_timeout=30s\n"
                                   "server = 127.0.0.1:@O1@ max_fails=1 fail_timeout=30s\nread_timeout = 1s\n"
                                   "[server s]\nlisten = 127.0.0.1:@PORT@\nproxy_pass = o\n");
    long long t0 = now_ms();
    px_req(env.port, "GET /size/1?delay=3000 HTTP/1.1\r\nHost: h\r\n\r\n", &r);
    long long took = now_ms() - t0;
    ck_assert_int_eq(r.status, 504);
    ck_assert_msg(took >= 900 && took < 2500, "504 after %lld ms", took);
    ts_response_free(&r);
    ck_assert_int_eq(ts_reset_stats(env.oport[0]), 0);
    ck_assert_int_eq(ts_reset_stats(env.oport[1]), 0);
    for (int i = 0; i < 10; i++) {
        t0 = now_ms();
        ck_assert_int_eq(get_status(env.port, "/size/1"), 200);
        ck_assert_int_lt(now_ms() - t0, 500);
    }
    int a = px_origin_requests(env.oport[0]), b = px_origin_requests(env.oport[1]);
    ck_assert_msg(a >= 3 && b >= 3, "after a 504 the spread is %d/%d: a server was taken out", a, b);
    px_env_done(&env);
}
END_TEST

static Suite *upstream_suite(void)
{
    Suite *s = suite_create("e2e_proxy_upstream");
    TCase *tc = tcase_create("upstream");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, pool_reuse);
    tcase_add_test(tc, pool_off);
    tcase_add_test(tc, pool_two_workers);
    tcase_add_test(tc, least_conn);
    tcase_add_test(tc, round_robin_weights);
    tcase_add_test(tc, failover);
    tcase_add_test(tc, backup_server);
    tcase_add_test(tc, bad_gateway);
    tcase_add_test(tc, gateway_timeout_keeps_server);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(upstream_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
