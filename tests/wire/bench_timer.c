/* bench_timer.c: timer wheel figures: N start+stop pairs, N starts, and the expiry of N timers.
 * Usage: bench_timer [N]. Prints nanoseconds per operation; makes no timing assertion. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "internal.h" /* the expiry run drives loop->now directly so the figure excludes real waiting */

static int g_fired;

static void fire_cb(wire_loop *loop, wire_timer *t)
{
    (void)loop;
    (void)t;
    g_fired++;
}

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 100000;
    wire_loop *loop;
    wire_timer *t = calloc((size_t)(n > 0 ? n : 1), sizeof *t);
    if (n <= 0 || !t || wire_loop_new(&loop) < 0)
        return 1;
    srand(7);
    for (int i = 0; i < n; i++)
        wire_timer_init(&t[i], fire_cb, NULL);
    double t0 = now_ns();
    for (int i = 0; i < n; i++) {
        wire_timer_start(loop, &t[i], 1 + (uint64_t)(rand() % 60000));
        wire_timer_stop(loop, &t[i]);
    }
    double t1 = now_ns();
    for (int i = 0; i < n; i++)
        wire_timer_start(loop, &t[i], 1 + (uint64_t)(rand() % 60000));
    double t2 = now_ns();
    uint64_t start = loop->now;
    while (wire_loop_alive(loop) > 0) { /* advance 1 ms at a time for 60 s of virtual time */
        loop->now++;
        wire__timer_expire(loop);
    }
    double t3 = now_ns();
    printf("timers=%d start+stop: %.1f ms (%.0f ns/pair)  start: %.1f ms (%.0f ns/op)\n", n, (t1 - t0) / 1e6,
           (t1 - t0) / n, (t2 - t1) / 1e6, (t2 - t1) / n);
    printf("expiry of %d timers over %llu ms of 1-ms steps: %.1f ms (%.0f ns/timer, fired=%d)\n", n,
           (unsigned long long)(loop->now - start), (t3 - t2) / 1e6, (t3 - t2) / n, g_fired);
    free(t);
    return wire_loop_free(loop) == 0 && g_fired == n ? 0 : 1;
}
