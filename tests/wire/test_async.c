/* test_async.c: cross-thread wake-ups (async.c), signals through signalfd (signal.c) and worker threads
 * (worker.c), including the drain pattern: a stop request lets in-flight work finish before the loop exits. */
#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <unistd.h>

#include "wire_test.h"

static atomic_int g_async_runs;

static void async_cb(wire_loop *loop, wire_async *a)
{
    (void)loop;
    (void)a;
    atomic_fetch_add(&g_async_runs, 1);
}

struct sender {
    wire_loop *loop;
    wire_async *async;
};

static void *sender_main(void *arg)
{
    struct sender *s = arg;
    for (int i = 0; i < 1000; i++)
        wire_async_send(s->async);
    wire_loop_stop(s->loop); /* from another thread */
    return NULL;
}

START_TEST(test_async_cross_thread_and_stop)
{
    wire_loop *loop = test_loop_new();
    wire_async a;
    ck_assert_int_eq(wire_async_start(loop, &a, async_cb, NULL), 0);
    struct sender s = {loop, &a};
    pthread_t th;
    ck_assert_int_eq(pthread_create(&th, NULL, sender_main, &s), 0);
    ck_assert_int_eq(wire_loop_run(loop), 0); /* returns only through the other thread's wire_loop_stop */
    ck_assert_int_eq(pthread_join(th, NULL), 0);
    int runs = atomic_load(&g_async_runs);
    ck_assert_int_ge(runs, 1);
    ck_assert_int_le(runs, 1000); /* coalesced: usually far fewer */
    wire_async_send(&a);
    wire_async_send(&a);
    ck_assert_int_ge(wire_loop_run_once(loop, 1000), 1); /* two sends, one callback */
    ck_assert_int_eq(atomic_load(&g_async_runs), runs + 1);
    wire_async_stop(loop, &a);
    wire_async_stop(loop, &a);
    test_loop_free(loop);
}
END_TEST

static int g_signo;

static void signal_cb(wire_loop *loop, int signo, void *data)
{
    (void)loop;
    ck_assert_ptr_eq(data, &g_signo);
    g_signo = signo;
}

START_TEST(test_signal_via_signalfd)
{
    wire_loop *loop = test_loop_new();
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR1);
    ck_assert_int_eq(wire_signal_start(loop, &set, signal_cb, &g_signo), 0);
    ck_assert_int_eq(wire_signal_start(loop, &set, signal_cb, &g_signo), -EBUSY);
    ck_assert_uint_eq(wire_loop_alive(loop), 1);
    ck_assert_int_eq(raise(SIGUSR1), 0); /* blocked: would otherwise terminate the process */
    test_run_until(loop, &g_signo, 2000);
    ck_assert_int_eq(g_signo, SIGUSR1);
    wire_signal_stop(loop);
    wire_signal_stop(loop);
    test_loop_free(loop);
}
END_TEST

/* Drain pattern: the stop request closes the entry points (here the async itself), then the worker keeps
 * iterating while wire_loop_alive() > 0, so the in-flight timer completes; the loop then frees cleanly. */
struct drain_worker {
    wire_async stop_request;
    wire_timer work;
    atomic_int ready;
    int stopping;
    int work_done_after_stop;
    int free_rc;
};

static void drain_stop_cb(wire_loop *loop, wire_async *a)
{
    struct drain_worker *d = a->data;
    d->stopping = 1;
    wire_async_stop(loop, a);
}

static void drain_work_cb(wire_loop *loop, wire_timer *t)
{
    struct drain_worker *d = t->data;
    (void)loop;
    d->work_done_after_stop = d->stopping;
}

static void drain_main(wire_worker *w)
{
    struct drain_worker *d = w->data;
    wire_loop *loop;
    if (wire_loop_new(&loop) < 0)
        return;
    if (wire_async_start(loop, &d->stop_request, drain_stop_cb, d) < 0) {
        wire_loop_free(loop);
        return; /* free_rc stays -1: the test fails */
    }
    wire_timer_init(&d->work, drain_work_cb, d);
    wire_timer_start(loop, &d->work, 300);
    atomic_store(&d->ready, 1);
    while (wire_loop_alive(loop) > 0) {
        if (wire_loop_run_once(loop, -1) < 0)
            break;
    }
    d->free_rc = wire_loop_free(loop);
}

START_TEST(test_worker_drain_on_stop)
{
    struct drain_worker d = {.free_rc = -1};
    wire_worker w = {.id = 0, .cpu = 0};
    ck_assert_int_eq(wire_worker_start(&w, drain_main, &d), 0);
    ck_assert_int_eq(wire_worker_start(&w, drain_main, &d), -EINVAL);
    while (!atomic_load(&d.ready))
        usleep(1000);
    wire_async_send(&d.stop_request); /* ask the worker to stop while its timer is in flight */
    ck_assert_int_eq(wire_worker_join(&w), 0);
    ck_assert_int_eq(d.stopping, 1);
    ck_assert_int_eq(d.work_done_after_stop, 1);
    ck_assert_int_eq(d.free_rc, 0);
    ck_assert_int_eq(wire_worker_join(&w), -EINVAL);
}
END_TEST

static void pinned_main(wire_worker *w)
{
    cpu_set_t set;
    int *ok = w->data;
    *ok = pthread_getaffinity_np(pthread_self(), sizeof set, &set) == 0 && CPU_COUNT(&set) == 1 &&
          CPU_ISSET((size_t)w->cpu, &set);
}

START_TEST(test_worker_pinning_and_limits)
{
    int ok = 0;
    unsigned ncpu = wire_cpu_count();
    ck_assert_uint_ge(ncpu, 1);
    wire_worker w = {.id = 1, .cpu = (int)ncpu - 1};
    ck_assert_int_eq(wire_worker_start(&w, pinned_main, &ok), 0);
    ck_assert_int_eq(wire_worker_join(&w), 0);
    ck_assert_int_eq(ok, 1);
    wire_worker bad = {.cpu = 1 << 20};
    ck_assert_int_eq(wire_worker_start(&bad, pinned_main, &ok), -EINVAL);
    long now = wire_raise_nofile(0);
    ck_assert_int_gt(now, 0);
    ck_assert_int_ge(wire_raise_nofile(now + 1), now); /* raised, or capped at the hard limit */
    ck_assert_int_eq(wire_raise_nofile(-1), -EINVAL);
}
END_TEST

static Suite *async_suite(void)
{
    Suite *s = suite_create("wire_async");
    TCase *tc = tcase_create("async");
    tcase_set_timeout(tc, 20);
    tcase_add_test(tc, test_async_cross_thread_and_stop);
    tcase_add_test(tc, test_signal_via_signalfd);
    tcase_add_test(tc, test_worker_drain_on_stop);
    tcase_add_test(tc, test_worker_pinning_and_limits);
    suite_add_tcase(s, tc);
    return s;
}

WIRE_TEST_MAIN(async_suite)
