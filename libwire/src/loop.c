/* loop.c: the wire_loop object, its cached monotonic clock and one iteration (epoll_wait, io dispatch, timers).
 * Watcher registration lives in epoll.c, the timer wheel in timer.c, eventfd wake-ups in async.c. */
#include "internal.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

/* The wake-up only has to make epoll_wait return; wire_loop_run checks the stop flag itself. */
static void wake_cb(wire_loop *loop, wire_async *a)
{
    (void)loop;
    (void)a;
}

int wire_loop_new(wire_loop **out)
{
    wire_loop *loop = calloc(1, sizeof *loop);
    if (!loop)
        return -ENOMEM;
    loop->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (loop->epfd < 0) {
        int err = -errno;
        free(loop);
        return err;
    }
    atomic_init(&loop->stop, 0);
    wire_io_init(&loop->sig_io, -1, NULL, NULL);
    wire_update_time(loop);
    wire__wheel_init(&loop->wheel, loop->now);
    int err = wire_async_start(loop, &loop->wake, wake_cb, NULL);
    if (err) {
        close(loop->epfd);
        free(loop);
        return err;
    }
    loop->internal_io = 1;
    *out = loop;
    return 0;
}

int wire_loop_free(wire_loop *loop)
{
    if (!loop)
        return 0;
    if (wire_loop_alive(loop) > 0)
        return -EBUSY;
    wire_async_stop(loop, &loop->wake);
    close(loop->epfd);
    free(loop);
    return 0;
}

size_t wire_loop_alive(const wire_loop *loop)
{
    return loop->io_count - loop->internal_io + loop->timer_count;
}

uint64_t wire_now(const wire_loop *loop)
{
    return loop->now;
}

void wire_update_time(wire_loop *loop)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts); /* cannot fail for CLOCK_MONOTONIC with a valid pointer */
    loop->now = (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

void wire_loop_set_data(wire_loop *loop, void *data)
{
    loop->data = data;
}

void *wire_loop_data(const wire_loop *loop)
{
    return loop->data;
}

void wire_loop_stop(wire_loop *loop)
{
    atomic_store(&loop->stop, 1);
    wire_async_send(&loop->wake);
}

/* Calls each fetched event's callback. wire_io_stop() nulls later entries of a stopped io (see epoll.c), so an
 * owner freed by an earlier callback is never touched. */
static int dispatch(wire_loop *loop, int n)
{
    int handled = 0;
    loop->nready = n;
    for (int i = 0; i < n; i++) {
        wire_io *io = loop->events[i].data.ptr;
        if (!io)
            continue;
        loop->cursor = i;
        io->cb(loop, io, loop->events[i].events & WIRE__RECV_MASK);
        handled++;
    }
    loop->nready = 0;
    loop->cursor = 0;
    return handled;
}

int wire_loop_run_once(wire_loop *loop, int timeout_ms)
{
    int wait = wire__timer_timeout(loop);
    if (timeout_ms >= 0 && (wait < 0 || timeout_ms < wait))
        wait = timeout_ms;
    int n = epoll_wait(loop->epfd, loop->events, WIRE__MAX_EVENTS, wait);
    if (n < 0 && errno != EINTR)
        return -errno;
    wire_update_time(loop);
    int handled = n > 0 ? dispatch(loop, n) : 0;
    return handled + wire__timer_expire(loop);
}

/* Always runs one iteration: whatever was signalled before the stop, such as an async sent just before
 * wire_loop_stop, is handled before returning. A pending stop does not block: its eventfd is readable. */
int wire_loop_run(wire_loop *loop)
{
    int rc;
    do {
        rc = wire_loop_run_once(loop, -1);
    } while (rc >= 0 && !atomic_load(&loop->stop));
    atomic_store(&loop->stop, 0);
    return rc < 0 ? rc : 0;
}
