/* test_timer.c: the hierarchical timer wheel (timer.c): due order, cancellation under churn, callbacks that
 * re-arm/stop/free timers, and a virtual-clock run over 30 days that checks exactness at every level. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h" /* the virtual-clock test drives loop->now and wire__timer_expire directly */
#include "wire_test.h"

struct rec {
    wire_timer t;
    uint64_t due;
    int fired;
    int rearm; /* re-arm this many more times */
};

static uint64_t g_last_due;
static int g_fired;
static int g_order_ok = 1;

static void order_cb(wire_loop *loop, wire_timer *t)
{
    struct rec *r = wire_container_of(t, struct rec, t);
    /* A timer due at the tick already processed is scheduled for the next one: _due may exceed due by 1 ms. */
    if (t->_due < r->due || t->_due > r->due + 1 || t->_due < g_last_due || wire_now(loop) < r->due)
        g_order_ok = 0;
    g_last_due = t->_due;
    r->fired++;
    g_fired++;
}

START_TEST(test_timer_order)
{
    enum { N = 2000 };
    wire_loop *loop = test_loop_new();
    struct rec *recs = calloc(N, sizeof *recs);
    srand(1);
    for (int i = 0; i < N; i++) {
        uint64_t ms = (uint64_t)(rand() % 300);
        recs[i].due = wire_now(loop) + ms;
        wire_timer_init(&recs[i].t, order_cb, NULL);
        wire_timer_start(loop, &recs[i].t, ms);
    }
    ck_assert_uint_eq(wire_loop_alive(loop), N);
    while (wire_loop_alive(loop) > 0)
        ck_assert_int_ge(wire_loop_run_once(loop, -1), 0);
    ck_assert_int_eq(g_fired, N);
    ck_assert_int_eq(g_order_ok, 1);
    for (int i = 0; i < N; i++)
        ck_assert_int_eq(recs[i].fired, 1);
    free(recs);
    test_loop_free(loop);
}
END_TEST

START_TEST(test_timer_cancel_churn)
{
    enum { N = 100000 };
    wire_loop *loop = test_loop_new();
    struct rec *recs = calloc(N, sizeof *recs);
    srand(2);
    for (int i = 0; i < N; i++) {
        uint64_t ms = 1 + (uint64_t)(rand() % 200);
        recs[i].due = wire_now(loop) + ms;
        wire_timer_init(&recs[i].t, order_cb, NULL);
        wire_timer_start(loop, &recs[i].t, ms);
    }
    for (int i = 0; i < N; i += 2)
        wire_timer_stop(loop, &recs[i].t);
    ck_assert_uint_eq(wire_loop_alive(loop), N / 2);
    while (wire_loop_alive(loop) > 0)
        ck_assert_int_ge(wire_loop_run_once(loop, -1), 0);
    ck_assert_int_eq(g_fired, N / 2);
    ck_assert_int_eq(g_order_ok, 1);
    for (int i = 0; i < N; i++) {
        ck_assert_int_eq(recs[i].fired, i % 2);
        ck_assert_int_eq(wire_timer_active(&recs[i].t), 0);
    }
    free(recs);
    test_loop_free(loop);
}
END_TEST

static int g_self_runs;

/* Re-arms itself while rearm > 0; on its last run re-arms and immediately stops itself. */
static void self_cb(wire_loop *loop, wire_timer *t)
{
    struct rec *r = wire_container_of(t, struct rec, t);
    g_self_runs++;
    ck_assert_int_eq(wire_timer_active(t), 0);
    wire_timer_start(loop, t, 0); /* 0 ms: must not fire again within this expiry */
    ck_assert_int_ne(wire_timer_active(t), 0);
    if (r->rearm-- == 0)
        wire_timer_stop(loop, t);
}

START_TEST(test_timer_rearm_and_stop_self)
{
    wire_loop *loop = test_loop_new();
    struct rec r = {.rearm = 4};
    wire_timer_init(&r.t, self_cb, NULL);
    wire_timer_start(loop, &r.t, 5);
    int iterations = 0;
    while (wire_loop_alive(loop) > 0) {
        int before = g_self_runs;
        ck_assert_int_ge(wire_loop_run_once(loop, -1), 0);
        ck_assert_int_le(g_self_runs - before, 1); /* never twice in one iteration */
        iterations++;
    }
    ck_assert_int_eq(g_self_runs, 5);
    ck_assert_int_ge(iterations, 5);
    test_loop_free(loop);
}
END_TEST

/* Timers due at the same tick: the first callback stops and frees all the others (heap: ASan sees misuse). */
static struct rec *g_heap[16];

static void killer_cb(wire_loop *loop, wire_timer *t)
{
    g_fired++;
    for (int i = 0; i < 16; i++) {
        if (g_heap[i] && &g_heap[i]->t != t) {
            wire_timer_stop(loop, &g_heap[i]->t);
            free(g_heap[i]);
            g_heap[i] = NULL;
        }
    }
}

START_TEST(test_timer_callback_frees_others)
{
    wire_loop *loop = test_loop_new();
    for (int i = 0; i < 16; i++) {
        g_heap[i] = calloc(1, sizeof *g_heap[i]);
        wire_timer_init(&g_heap[i]->t, killer_cb, NULL);
        wire_timer_start(loop, &g_heap[i]->t, 10);
    }
    while (wire_loop_alive(loop) > 0)
        ck_assert_int_ge(wire_loop_run_once(loop, -1), 0);
    ck_assert_int_eq(g_fired, 1);
    for (int i = 0; i < 16; i++)
        free(g_heap[i]);
    test_loop_free(loop);
}
END_TEST

START_TEST(test_timer_wakes_loop_on_time)
{
    wire_loop *loop = test_loop_new();
    struct rec r = {0};
    r.due = wire_now(loop) + 30;
    wire_timer_init(&r.t, order_cb, NULL);
    wire_timer_start(loop, &r.t, 30);
    int iterations = 0;
    while (!r.fired) {
        ck_assert_int_ge(wire_loop_run_once(loop, -1), 0);
        iterations++;
    }
    ck_assert_int_eq(g_order_ok, 1); /* fired no earlier than due */
    ck_assert_int_le(iterations, 3); /* the wait is computed from the timer: no polling */
    test_loop_free(loop);
}
END_TEST

/* Virtual clock: dues spread log-uniformly up to 2^32 ms (~50 days), time advanced in random jumps from 1 ms to
 * 2^27 ms. Each timer must fire exactly at the first expiry whose clock reaches its due, in due order, and the
 * computed wait must never overshoot the earliest pending due. Every timer re-arms once from its callback. */
enum { VN = 20000 };
static struct rec g_v[VN];
static uint64_t g_prev_now;

static uint64_t rand64(void)
{
    return ((uint64_t)(unsigned)rand() << 31) ^ (uint64_t)(unsigned)rand();
}

static uint64_t log_delay(void)
{
    int bits = rand() % 33;
    return bits == 0 ? 0 : rand64() % (1ull << bits);
}

static void virtual_cb(wire_loop *loop, wire_timer *t)
{
    struct rec *r = wire_container_of(t, struct rec, t);
    uint64_t due = r->due > g_prev_now ? r->due : g_prev_now + 1;
    if (wire_now(loop) < due || due <= g_prev_now || due < g_last_due)
        g_order_ok = 0;
    g_last_due = due;
    r->fired++;
    if (r->rearm-- > 0) {
        uint64_t ms = log_delay();
        r->due = wire_now(loop) + ms;
        wire_timer_start(loop, t, ms);
    }
}

static uint64_t min_pending_due(void)
{
    uint64_t min = UINT64_MAX;
    for (int i = 0; i < VN; i++) {
        if (wire_timer_active(&g_v[i].t) && g_v[i].t._due < min)
            min = g_v[i].t._due;
    }
    return min;
}

START_TEST(test_timer_virtual_clock)
{
    wire_loop *loop = test_loop_new();
    srand(3);
    loop->now += 12345; /* an unaligned start */
    for (int i = 0; i < VN; i++) {
        uint64_t ms = log_delay();
        g_v[i].due = loop->now + ms;
        g_v[i].rearm = 1;
        wire_timer_init(&g_v[i].t, virtual_cb, NULL);
        wire_timer_start(loop, &g_v[i].t, ms);
    }
    int steps = 0;
    while (wire_loop_alive(loop) > 0) {
        int wait = wire__timer_timeout(loop);
        ck_assert_int_ge(wait, 0);
        ck_assert_uint_le(loop->now + (uint64_t)wait, min_pending_due());
        g_prev_now = loop->now;
        g_last_due = 0;
        loop->now += 1 + rand64() % (1ull << (rand() % 28));
        wire__timer_expire(loop);
        ck_assert_int_eq(g_order_ok, 1);
        steps++;
    }
    ck_assert_int_eq(wire__timer_timeout(loop), -1);
    for (int i = 0; i < VN; i++)
        ck_assert_int_eq(g_v[i].fired, 2);
    ck_assert_int_gt(steps, 10);
    test_loop_free(loop);
}
END_TEST

static Suite *timer_suite(void)
{
    Suite *s = suite_create("wire_timer");
    TCase *tc = tcase_create("timer");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_timer_order);
    tcase_add_test(tc, test_timer_cancel_churn);
    tcase_add_test(tc, test_timer_rearm_and_stop_self);
    tcase_add_test(tc, test_timer_callback_frees_others);
    tcase_add_test(tc, test_timer_wakes_loop_on_time);
    tcase_add_test(tc, test_timer_virtual_clock);
    suite_add_tcase(s, tc);
    return s;
}

WIRE_TEST_MAIN(timer_suite)
