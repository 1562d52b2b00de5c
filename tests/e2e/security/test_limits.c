/* End-to-end tests of proxyd under resource exhaustion and slow clients: max_connections, a low descriptor limit
 * (nofile), and a short slowloris run against client_header_timeout while a normal client keeps being served. */
#include "px_harness.h"

#include <check.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static px_env env;

#define SERVER                                                                                                         \
    "[upstream o]\nserver = 127.0.0.1:@O0@\nkeepalive = 8\n[server s]\nlisten = 127.0.0.1:@PORT@\nproxy_pass = o\n"
#define GET_SMALL "GET /size/10 HTTP/1.1\r\nHost: h\r\n\r\n"

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

/* nofile is accepted down to 16 and refused below. */
START_TEST(nofile_config_bounds)
{
    char out[1024];
    px_env_init(&env, 1);
    ck_assert_msg(px_check_config(&env, PX_GLOBAL "nofile = 64\nmax_connections = 16\n" SERVER, out, sizeof out) == 0,
                  "nofile = 64 refused: %s", out);
    ck_assert_int_eq(px_check_config(&env, PX_GLOBAL "nofile = 16\n" SERVER, out, sizeof out), 0);
    ck_assert_int_eq(px_check_config(&env, PX_GLOBAL "nofile = 15\n" SERVER, out, sizeof out), 1);
    ck_assert_msg(strstr(out, "nofile"), "error line does not name the key: %s", out);
    px_env_done(&env);
}
END_TEST

static void read_ok(int fd, int i)
{
    ts_response r;
    ck_assert_msg(ts_read_response(fd, &r, 0) == 0, "connection %d: no response", i);
    ck_assert_msg(r.status == 200 && r.body_len == 10, "connection %d: %d", i, r.status);
    ts_response_free(&r);
}

/* max_connections = 16, 40 clients: the 16 accepted are served while the rest wait; as they leave the others are
 * accepted and served in turn. No request is lost. */
START_TEST(max_connections_recovers)
{
    enum { N = 40, MAX = 16 };
    int fds[N];
    px_env_init(&env, 1);
    px_proxy_start(&env, PX_GLOBAL "nofile = 64\nmax_connections = 16\n" SERVER);
    for (int i = 0; i < N; i++) {
        fds[i] = ts_connect(env.port);
        ck_assert_int_ge(fds[i], 0);
        sleep_ms(5); /* keep the accept order the connect order */
    }
    sleep_ms(300);
    for (int i = 0; i < N; i++)
        ck_assert_int_eq(ts_send(fds[i], GET_SMALL, strlen(GET_SMALL)), 0);
    for (int i = 0; i < MAX; i++)
        read_ok(fds[i], i);
    struct pollfd p = {.fd = fds[MAX], .events = POLLIN};
    ck_assert_msg(poll(&p, 1, 300) == 0, "connection %d over max_connections was served", MAX);
    for (int first = 0; first < N; first += MAX) {
        for (int i = first; i < first + MAX && i < N; i++) {
            if (i >= MAX)
                read_ok(fds[i], i);
        }
        for (int i = first; i < first + MAX && i < N; i++)
            close(fds[i]);
    }
    for (int i = 0; i < 5; i++) {
        ts_response r;
        px_req(env.port, GET_SMALL, &r);
        ck_assert_int_eq(r.status, 200);
        ts_response_free(&r);
    }
    px_env_done(&env);
}
END_TEST

/* A real descriptor limit of 64 and 80 clients: every client gets a complete answer, and once they have left every
 * request succeeds again. Lenient: 502/503 allowed while no descriptor is left for the upstream. Strict: all 200,
 * i.e. proxyd keeps descriptors for the upstream side of the clients it accepts (issue 10: "keeps serving the ones
 * it accepted"). */
static void nofile_exhaustion(int strict)
{
    enum { N = 80 };
    int fds[N], ok = 0, unavailable = 0;
    struct rlimit saved, low;
    px_env_init(&env, 1);
    ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &saved), 0);
    low = saved;
    low.rlim_cur = 64;
    ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &low), 0); /* inherited by proxyd */
    px_proxy_start(&env, PX_GLOBAL "nofile = 64\n" SERVER);
    ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &saved), 0);
    for (int i = 0; i < N; i++) {
        fds[i] = ts_connect(env.port);
        ck_assert_int_ge(fds[i], 0);
    }
    sleep_ms(300);
    const char *req = "GET /size/10 HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n";
    for (int i = 0; i < N; i++)
        ck_assert_int_eq(ts_send(fds[i], req, strlen(req)), 0);
    for (int i = 0; i < N; i++) {
        ts_response r;
        ck_assert_msg(ts_read_response(fds[i], &r, 0) == 0, "client %d: no complete answer", i);
        ck_assert_msg(r.status == 200 || (!strict && (r.status == 502 || r.status == 503)), "client %d: %d", i,
                      r.status);
        ok += r.status == 200;
        unavailable += r.status != 200;
        ts_response_free(&r);
        close(fds[i]);
    }
    fprintf(stderr, "nofile 64, %d clients: %d answered 200, %d answered 502/503, 0 lost\n", N, ok, unavailable);
    for (int i = 0; i < 20; i++) {
        ts_response r;
        px_req(env.port, GET_SMALL, &r);
        ck_assert_msg(r.status == 200, "after the clients left: %d", r.status);
        ts_response_free(&r);
    }
    px_env_done(&env);
}

START_TEST(nofile_exhaustion_recovers)
{
    nofile_exhaustion(0);
}
END_TEST

START_TEST(nofile_accepted_are_served)
{
    nofile_exhaustion(1);
}
END_TEST

/* 200 slowloris connections dribbling header lines: client_header_timeout (2 s) closes them all while a normal
 * client keeps getting 200. */
START_TEST(slowloris_short)
{
    enum { N = 200 };
    int fds[N], open = N, served = 0;
    px_env_init(&env, 1);
    px_proxy_start(&env, PX_GLOBAL "client_header_timeout = 2s\n" SERVER);
    long start = now_ms();
    for (int i = 0; i < N; i++) {
        fds[i] = ts_connect(env.port);
        ck_assert_int_ge(fds[i], 0);
        ck_assert_int_eq(ts_send(fds[i], "GET / HTTP/1.1\r\nHost: h\r\n", 25), 0);
    }
    while (open > 0 && now_ms() - start < 8000) {
        for (int i = 0; i < N; i++) {
            char buf[512];
            if (fds[i] < 0)
                continue;
            ssize_t n = recv(fds[i], buf, sizeof buf, MSG_DONTWAIT); /* a 408 may come first, then the close */
            if (n == 0 || (n < 0 && errno != EAGAIN) ||
                send(fds[i], "X-a: b\r\n", 8, MSG_NOSIGNAL | MSG_DONTWAIT) < 0) {
                close(fds[i]);
                fds[i] = -1;
                open--;
            }
        }
        ts_response r;
        px_req(env.port, GET_SMALL, &r);
        ck_assert_int_eq(r.status, 200);
        served++;
        ts_response_free(&r);
        sleep_ms(250);
    }
    long took = now_ms() - start;
    fprintf(stderr, "slowloris %d connections: all closed by proxyd after %ld ms, normal client served %d times\n", N,
            took, served);
    for (int i = 0; i < N; i++)
        if (fds[i] >= 0)
            close(fds[i]);
    ck_assert_msg(open == 0, "%d slowloris connections still open after %ld ms (client_header_timeout 2s)", open, took);
    ck_assert_int_ge(served, 4);
    px_env_done(&env);
}
END_TEST

static Suite *limits_suite(void)
{
    Suite *s = suite_create("security_limits");
    TCase *tc = tcase_create("limits");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, nofile_config_bounds);
    tcase_add_test(tc, max_connections_recovers);
    tcase_add_test(tc, nofile_exhaustion_recovers);
    tcase_add_test(tc, nofile_accepted_are_served);
    tcase_add_test(tc, slowloris_short);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(limits_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
