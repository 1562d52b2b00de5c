/* test_loop.c: the loop and io watchers (loop.c, epoll.c) and wire_strerror (strerror.c).
 * Covers dispatch, stop-during-dispatch, alive counts, free with live watchers, edge/level triggering. */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "wire_test.h"

static int g_calls;
static unsigned g_events;

static void count_cb(wire_loop *loop, wire_io *io, unsigned events)
{
    (void)loop;
    (void)io;
    g_calls++;
    g_events = events;
}

START_TEST(test_loop_runs_callbacks)
{
    wire_loop *loop = test_loop_new();
    int p[2];
    ck_assert_int_eq(pipe(p), 0);
    wire_io io;
    wire_io_init(&io, p[0], count_cb, NULL);
    ck_assert_int_eq(wire_io_start(loop, &io, WIRE_READ), 0);
    ck_assert_int_eq(wire_loop_run_once(loop, 0), 0);
    ck_assert_int_eq(g_calls, 0);
    ck_assert_int_eq(write(p[1], "x", 1), 1);
    ck_assert_int_eq(wire_loop_run_once(loop, 1000), 1);
    ck_assert_int_eq(g_calls, 1);
    ck_assert_uint_eq(g_events, WIRE_READ);
    wire_io_stop(loop, &io);
    wire_io_stop(loop, &io); /* idempotent */
    close(p[0]);
    close(p[1]);
    test_loop_free(loop);
}
END_TEST

/* Two heap-allocated owners on the two ends of a readable socketpair: whichever runs first stops and frees the
 * other, whose event was fetched by the same epoll_wait. Delivering it would be a use-after-free (ASan). */
struct owner {
    wire_io io;
    struct owner **peer;
};

static void stop_peer_cb(wire_loop *loop, wire_io *io, unsigned events)
{
    struct owner *self = wire_container_of(io, struct owner, io);
    (void)events;
    g_calls++;
    wire_io_stop(loop, &(*self->peer)->io);
    free(*self->peer);
    *self->peer = NULL;
    wire_io_stop(loop, io);
}

START_TEST(test_io_stop_drops_fetched_event)
{
    wire_loop *loop = test_loop_new();
    int sv[2];
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
    ck_assert_int_eq(write(sv[0], "a", 1), 1);
    ck_assert_int_eq(write(sv[1], "b", 1), 1);
    struct owner *a = calloc(1, sizeof *a), *b = calloc(1, sizeof *b);
    a->peer = &b;
    b->peer = &a;
    wire_io_init(&a->io, sv[0], stop_peer_cb, NULL);
    wire_io_init(&b->io, sv[1], stop_peer_cb, NULL);
    ck_assert_int_eq(wire_io_start(loop, &a->io, WIRE_READ), 0);
    ck_assert_int_eq(wire_io_start(loop, &b->io, WIRE_READ), 0);
    ck_assert_int_eq(wire_loop_run_once(loop, 1000), 1);
    ck_assert_int_eq(g_calls, 1);
    ck_assert_int_eq(wire_loop_run_once(loop, 20), 0);
    ck_assert_int_eq(g_calls, 1);
    ck_assert((a == NULL) != (b == NULL));
    free(a ? a : b);
    close(sv[0]);
    close(sv[1]);
    test_loop_free(loop);
}
END_TEST

static void noop_timer(wire_loop *loop, wire_timer *t)
{
    (void)loop;
    (void)t;
}

static void noop_async(wire_loop *loop, wire_async *a)
{
    (void)loop;
    (void)a;
}

START_TEST(test_alive_counts_and_free_busy)
{
    wire_loop *loop = test_loop_new();
    int p[2];
    wire_io io;
    wire_timer t;
    wire_async a;
    ck_assert_uint_eq(wire_loop_alive(loop), 0);
    ck_assert_int_eq(pipe(p), 0);
    wire_io_init(&io, p[0], count_cb, NULL);
    ck_assert_int_eq(wire_io_start(loop, &io, WIRE_READ), 0);
    ck_assert_uint_eq(wire_loop_alive(loop), 1);
    wire_timer_init(&t, noop_timer, NULL);
    wire_timer_start(loop, &t, 10000);
    wire_timer_start(loop, &t, 20000); /* re-arm: still one */
    ck_assert_uint_eq(wire_loop_alive(loop), 2);
    ck_assert_int_eq(wire_async_start(loop, &a, noop_async, NULL), 0);
    ck_assert_uint_eq(wire_loop_alive(loop), 3);
    ck_assert_int_eq(wire_loop_free(loop), -EBUSY);
    wire_io_stop(loop, &io);
    ck_assert_int_eq(wire_loop_free(loop), -EBUSY);
    wire_timer_stop(loop, &t);
    wire_timer_stop(loop, &t);
    ck_assert_int_eq(wire_loop_free(loop), -EBUSY);
    wire_async_stop(loop, &a);
    close(p[0]);
    close(p[1]);
    test_loop_free(loop);
}
END_TEST

START_TEST(test_edge_and_level)
{
    wire_loop *loop = test_loop_new();
    int sv[2];
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
    wire_io io;
    wire_io_init(&io, sv[0], count_cb, NULL);
    ck_assert_int_eq(wire_io_start(loop, &io, WIRE_READ | WIRE_EDGE), 0);
    ck_assert_int_eq(write(sv[1], "x", 1), 1);
    ck_assert_int_eq(wire_loop_run_once(loop, 1000), 1);
    ck_assert_int_eq(wire_loop_run_once(loop, 30), 0); /* edge: unread data is not reported again */
    ck_assert_int_eq(wire_io_modify(loop, &io, WIRE_READ), 0);
    ck_assert_uint_eq(io.events, WIRE_READ);
    ck_assert_int_eq(wire_loop_run_once(loop, 1000), 1);
    ck_assert_int_eq(wire_loop_run_once(loop, 1000), 1); /* level: reported while unread */
    ck_assert_int_eq(wire_io_modify(loop, &io, WIRE_READ | WIRE_WRITE), 0);
    ck_assert_int_eq(wire_loop_run_once(loop, 1000), 1);
    ck_assert_uint_eq(g_events, WIRE_READ | WIRE_WRITE);
    close(sv[1]);
    ck_assert_int_eq(wire_io_modify(loop, &io, WIRE_RDHUP), 0);
    ck_assert_int_eq(wire_loop_run_once(loop, 1000), 1);
    ck_assert_uint_ne(g_events & (WIRE_RDHUP | WIRE_HUP), 0);
    wire_io_stop(loop, &io);
    close(sv[0]);
    test_loop_free(loop);
}
END_TEST

START_TEST(test_run_once_timeout_and_stop_before_run)
{
    wire_loop *loop = test_loop_new();
    uint64_t t0 = wire_now(loop);
    ck_assert_int_eq(wire_loop_run_once(loop, 50), 0);
    ck_assert_uint_ge(wire_now(loop) - t0, 49);
    wire_loop_stop(loop);
    ck_assert_int_eq(wire_loop_run(loop), 0); /* returns after one polling iteration instead of blocking */
    test_loop_free(loop);
}
END_TEST

START_TEST(test_start_rejects_bad_fd)
{
    wire_loop *loop = test_loop_new();
    wire_io io;
    wire_io_init(&io, -1, count_cb, NULL);
    ck_assert_int_eq(wire_io_start(loop, &io, WIRE_READ), -EINVAL);
    wire_io_init(&io, 1000, count_cb, NULL); /* not open */
    ck_assert_int_eq(wire_io_start(loop, &io, WIRE_READ), -EBADF);
    ck_assert_uint_eq(wire_loop_alive(loop), 0);
    test_loop_free(loop);
}
END_TEST

START_TEST(test_strerror)
{
    ck_assert_str_eq(wire_strerror(-ENOENT), "No such file or directory");
    ck_assert_str_eq(wire_strerror(ECONNREFUSED), "Connection refused");
    ck_assert_str_eq(wire_strerror(0), "Success");
    ck_assert_str_eq(wire_strerror(-99999), "Unknown error");
    ck_assert_ptr_nonnull(wire_strerror(-2147483647 - 1));
}
END_TEST

static Suite *loop_suite(void)
{
    Suite *s = suite_create("wire_loop");
    TCase *tc = tcase_create("loop");
    tcase_add_test(tc, test_loop_runs_callbacks);
    tcase_add_test(tc, test_io_stop_drops_fetched_event);
    tcase_add_test(tc, test_alive_counts_and_free_busy);
    tcase_add_test(tc, test_edge_and_level);
    tcase_add_test(tc, test_run_once_timeout_and_stop_before_run);
    tcase_add_test(tc, test_start_rejects_bad_fd);
    tcase_add_test(tc, test_strerror);
    suite_add_tcase(s, tc);
    return s;
}

WIRE_TEST_MAIN(loop_suite)
