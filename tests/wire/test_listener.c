/* test_listener.c: batched accept (listener.c): a burst of 100 connections, hold/release, and the pause on
 * EMFILE that must neither spin nor lose the pending connections once descriptors are free again. */
#include <errno.h>
#include <sys/resource.h>
#include <unistd.h>

#include "wire_test.h"

enum { MAXC = 128 };
static int g_fds[MAXC];
static int g_nfds;

static void keep_cb(wire_listener *l, int fd, const wire_addr *peer)
{
    (void)l;
    ck_assert_int_eq(peer->ss.ss_family, AF_INET);
    ck_assert_int_lt(g_nfds, MAXC);
    g_fds[g_nfds++] = fd;
}

static void close_all(void)
{
    for (int i = 0; i < g_nfds; i++)
        close(g_fds[i]);
    g_nfds = 0;
}

static int listen_loopback(wire_addr *bound)
{
    wire_addr a;
    ck_assert_int_eq(wire_addr_parse("127.0.0.1:0", &a), 0);
    int fd = wire_listen(&a, MAXC, 0);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(wire_sockname(fd, bound), 0);
    return fd;
}

/* Runs the loop until the listener has accepted want connections (or max_ms pass). */
static void run_until_accepted(wire_loop *loop, wire_listener *l, uint64_t want, int max_ms)
{
    wire_update_time(loop);
    uint64_t end = wire_now(loop) + (uint64_t)max_ms;
    while (l->accepted < want && wire_now(loop) < end)
        ck_assert_int_ge(wire_loop_run_once(loop, 10), 0);
}

START_TEST(test_listener_batch_100)
{
    wire_loop *loop = test_loop_new();
    wire_addr a;
    int lfd = listen_loopback(&a);
    int clients[100];
    for (int i = 0; i < 100; i++)
        ck_assert_int_ge(clients[i] = wire_connect(&a), 0);
    wire_listener l = {.batch = 16};
    ck_assert_int_eq(wire_listener_start(loop, &l, lfd, keep_cb, NULL), 0);
    ck_assert_uint_eq(l.pause_ms, 100); /* default filled in */
    ck_assert_int_eq(wire_listener_start(loop, &l, lfd, keep_cb, NULL), -EBUSY);
    int iterations = 0;
    wire_update_time(loop);
    uint64_t end = wire_now(loop) + 3000;
    while (l.accepted < 100 && wire_now(loop) < end) {
        ck_assert_int_ge(wire_loop_run_once(loop, 100), 0);
        iterations++;
    }
    ck_assert_uint_eq(l.accepted, 100);
    ck_assert_int_eq(g_nfds, 100);
    ck_assert_int_ge(iterations, 100 / 16); /* the batch bounds each readiness event */
    ck_assert_uint_eq(l.paused_count, 0);
    wire_listener_stop(&l);
    wire_listener_stop(&l);
    close_all();
    for (int i = 0; i < 100; i++)
        close(clients[i]);
    close(lfd);
    test_loop_free(loop);
}
END_TEST

static void hold_after_one_cb(wire_listener *l, int fd, const wire_addr *peer)
{
    keep_cb(l, fd, peer);
    wire_listener_hold(l); /* e.g. max_connections reached */
}

START_TEST(test_listener_hold_release)
{
    wire_loop *loop = test_loop_new();
    wire_addr a;
    int lfd = listen_loopback(&a);
    int c1 = wire_connect(&a), c2 = wire_connect(&a);
    ck_assert_int_ge(c1, 0);
    ck_assert_int_ge(c2, 0);
    wire_listener l = {0};
    ck_assert_int_eq(wire_listener_start(loop, &l, lfd, hold_after_one_cb, NULL), 0);
    run_until_accepted(loop, &l, 1, 2000);
    ck_assert_uint_eq(l.accepted, 1);
    ck_assert_uint_eq(wire_loop_alive(loop), 0); /* held: not watching */
    ck_assert_int_eq(wire_loop_run_once(loop, 50), 0);
    ck_assert_uint_eq(l.accepted, 1);
    wire_listener_release(&l);
    ck_assert_uint_eq(wire_loop_alive(loop), 1);
    run_until_accepted(loop, &l, 2, 2000);
    ck_assert_uint_eq(l.accepted, 2);
    wire_listener_stop(&l);
    close_all();
    close(c1);
    close(c2);
    close(lfd);
    test_loop_free(loop);
}
END_TEST

/* Lowers RLIMIT_NOFILE so that only a few accepts fit, and checks pause, absence of spinning and recovery. */
START_TEST(test_listener_emfile_pause_and_recovery)
{
    enum { CLIENTS = 20, FIT = 5 };
    wire_loop *loop = test_loop_new();
    wire_addr a;
    int lfd = listen_loopback(&a);
    int clients[CLIENTS];
    for (int i = 0; i < CLIENTS; i++)
        ck_assert_int_ge(clients[i] = wire_connect(&a), 0);
    int lowest_free = dup(0);
    ck_assert_int_ge(lowest_free, 0);
    close(lowest_free);
    struct rlimit rl;
    ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
    struct rlimit low = {.rlim_cur = (rlim_t)lowest_free + FIT, .rlim_max = rl.rlim_max};
    ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &low), 0);

    wire_listener l = {.pause_ms = 50};
    ck_assert_int_eq(wire_listener_start(loop, &l, lfd, keep_cb, NULL), 0);
    int iterations = 0;
    wire_update_time(loop);
    uint64_t end = wire_now(loop) + 300;
    while (wire_now(loop) < end) {
        ck_assert_int_ge(wire_loop_run_once(loop, (int)(end - wire_now(loop))), 0);
        iterations++;
    }
    ck_assert_uint_le(l.accepted, FIT);
    ck_assert_uint_gt(l.accepted, 0);
    ck_assert_uint_gt(l.paused_count, 0);
    ck_assert_int_lt(iterations, 30); /* paused: woken by the resume timer only, ~300/50 times */
    ck_assert_uint_le(l.paused_count, 10);

    uint64_t before = l.accepted;
    close_all(); /* free descriptors under the same limit: the next resume accepts as many again */
    run_until_accepted(loop, &l, before * 2, 2000);
    ck_assert_uint_eq(l.accepted, before * 2);
    ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &rl), 0);
    run_until_accepted(loop, &l, CLIENTS, 3000);
    ck_assert_uint_eq(l.accepted, CLIENTS);
    wire_listener_stop(&l);
    close_all();
    for (int i = 0; i < CLIENTS; i++)
        close(clients[i]);
    close(lfd);
    test_loop_free(loop);
}
END_TEST

static Suite *listener_suite(void)
{
    Suite *s = suite_create("wire_listener");
    TCase *tc = tcase_create("listener");
    tcase_set_timeout(tc, 20);
    tcase_add_test(tc, test_listener_batch_100);
    tcase_add_test(tc, test_listener_hold_release);
    tcase_add_test(tc, test_listener_emfile_pause_and_recovery);
    suite_add_tcase(s, tc);
    return s;
}

WIRE_TEST_MAIN(listener_suite)
