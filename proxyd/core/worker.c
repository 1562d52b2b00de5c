/* proxyd workers: one thread and one event loop each, accepting on their own SO_REUSEPORT sockets; they take a
 * new runtime on reload and stop gracefully (finish what is in flight) or fast when the main thread asks. The
 * connections themselves belong to the layers above, reached through the daemon's hooks. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "core/worker.h"

static void on_accept(wire_listener *l, int fd, const wire_addr *peer)
{
    px_worker *w = l->data;
    int i = (int)(l - w->listeners);
    w->daemon->hooks->accept(w, w->listener_bind[i], fd, peer);
}

static void stop_listeners(px_worker *w)
{
    for (int i = 0; i < w->nlisteners; i++)
        wire_listener_stop(&w->listeners[i]);
    w->nlisteners = 0;
}

static void start_listeners(px_worker *w)
{
    px_runtime *rt = w->rt;
    for (int i = 0; i < rt->nbinds; i++) {
        px_bind *b = &rt->binds[i];
        wire_listener *l = &w->listeners[w->nlisteners];
        memset(l, 0, sizeof(*l));
        l->batch = PX_ACCEPT_BATCH;
        l->pause_ms = PX_ACCEPT_PAUSE_MS;
        if (wire_listener_start(w->loop, l, b->fds[w->id], on_accept, w) < 0) {
            px_error("worker %u: cannot accept on %s", w->id, b->text);
            continue;
        }
        w->listener_bind[w->nlisteners++] = b;
    }
    if (w->nconns >= rt->conn_cap) {
        w->held = 0; /* the new listeners start unheld */
        px_worker_hold(w, 1);
    }
}

/* Stopping: this worker's listening sockets close now, so the kernel refuses new connections instead of
 * queueing them for a worker that will never accept them. */
static void close_sockets(px_worker *w)
{
    px_runtime *rt = w->rt;
    for (int i = 0; i < rt->nbinds; i++)
        if (rt->binds[i].fds[w->id] >= 0) {
            close(rt->binds[i].fds[w->id]);
            rt->binds[i].fds[w->id] = -1;
        }
}

void px_worker_hold(px_worker *w, int hold)
{
    if (w->held == hold)
        return;
    w->held = hold;
    for (int i = 0; i < w->nlisteners; i++)
        hold ? wire_listener_hold(&w->listeners[i]) : wire_listener_release(&w->listeners[i]);
}

/* Idle keep-alive connections are closed at once when stopping; busy ones finish their exchange first. */
static void close_idle(px_worker *w)
{
    w->daemon->hooks->close_conns(w, w->stopping == 2);
}

static void close_pools(px_worker *w, px_runtime *rt)
{
    w->daemon->hooks->close_pools(w, rt);
}

void px_worker_conn_opened(px_worker *w)
{
    w->nconns++;
    PX_ADD(w->stats.accepted, 1);
    PX_ADD(w->stats.conns, 1);
    if (w->nconns >= w->rt->conn_cap)
        px_worker_hold(w, 1);
}

void px_worker_conn_closed(px_worker *w)
{
    PX_ADD(w->stats.conns, -1);
    if (--w->nconns < w->rt->conn_cap)
        px_worker_hold(w, 0);
    if (w->stopping && w->nconns == 0)
        wire_loop_stop(w->loop);
}

static void on_grace_timeout(wire_loop *loop, wire_timer *t)
{
    px_worker *w = t->data;
    px_warn("worker %u: graceful stop timed out with %llu connection(s) left", w->id, (unsigned long long)w->nconns);
    w->stopping = 2;
    close_idle(w);
    wire_loop_stop(loop);
}

/* The scratch block where heads are built grows with the runtime's buffers (a reload may enlarge them). */
static int worker_scratch(px_worker *w)
{
    size_t want = 2 * w->rt->buf_size + PX_HEAD_EXTRA;
    if (w->scratch_size >= want)
        return 0;
    char *p = realloc(w->scratch, want);
    if (!p)
        return -1;
    w->scratch = p;
    w->scratch_size = want;
    return 0;
}

static void on_wake(wire_loop *loop, wire_async *a)
{
    px_worker *w = a->data;
    px_daemon *d = w->daemon;
    px_runtime *next = atomic_load(&d->rt);
    if (next != w->rt) {
        stop_listeners(w);
        close_pools(w, w->rt);
        px_runtime_unref(w->rt);
        px_runtime_ref(next);
        w->rt = next;
        if (worker_scratch(w) < 0)
            px_error("worker %u: out of memory growing the scratch block", w->id);
        start_listeners(w);
        atomic_fetch_add(&d->acks, 1);
    }
    int stop = atomic_load(&d->stopping);
    if (stop && w->stopping < stop) {
        w->stopping = stop;
        stop_listeners(w);
        close_sockets(w);
        close_pools(w, w->rt);
        close_idle(w);
        if (stop == 1 && w->nconns)
            wire_timer_start(loop, &w->grace, d->grace_ms);
        if (w->nconns == 0)
            wire_loop_stop(loop);
    }
}

static int worker_setup(px_worker *w)
{
    if (wire_loop_new(&w->loop) < 0)
        return -1;
    wire_loop_set_data(w->loop, w);
    wire_pool_init(&w->conn_pool, w->daemon->hooks->conn_size, PX_CONN_POOL_CACHE);
    wire_pool_init(&w->up_pool, w->daemon->hooks->upconn_size, PX_UP_POOL_CACHE);
    if (worker_scratch(w) < 0)
        return -1;
    wire_timer_init(&w->grace, on_grace_timeout, w);
    px_alog_init(&w->alog, w->loop);
    if (!w->scratch || wire_async_start(w->loop, &w->wake, on_wake, w) < 0)
        return -1;
    start_listeners(w);
    return 0;
}

static void worker_main(wire_worker *ww)
{
    px_worker *w = ww->data;
    if (worker_setup(w) == 0) {
        atomic_fetch_add(&w->daemon->ready, 1);
        wire_loop_run(w->loop);
    } else {
        px_error("worker %u: cannot start", w->id);
        atomic_fetch_add(&w->daemon->ready, 1);
    }
    w->stopping = 2;
    stop_listeners(w);
    close_idle(w);
    close_pools(w, w->rt);
    wire_timer_stop(w->loop, &w->grace);
    px_alog_flush(&w->alog);
    wire_async_stop(w->loop, &w->wake);
    wire_loop_free(w->loop);
    wire_pool_drain(&w->conn_pool);
    wire_pool_drain(&w->up_pool);
    free(w->scratch);
    px_runtime_unref(w->rt);
}

int px_worker_start(px_worker *w, px_daemon *d, unsigned id, px_runtime *rt)
{
    memset(w, 0, sizeof(*w));
    w->id = id;
    w->daemon = d;
    w->rt = rt;
    px_runtime_ref(rt);
    w->thread.cpu = -1;
    return wire_worker_start(&w->thread, worker_main, w);
}

void px_worker_wake(px_worker *w)
{
    wire_async_send(&w->wake);
}
