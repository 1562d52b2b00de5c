/* proxyd upstream pools: per worker and server, the idle keep-alive connections (LIFO), handing a connection to
 * an owner (pinned, pooled or new), taking it back, and closing. */
#include <errno.h>
#include <string.h>

#include "upstream/internal.h"

static px_wstate *ws_of(const px_upconn *u)
{
    return &u->rt->ws[u->w->id];
}

static void pool_remove(px_upconn *u)
{
    px_pool *p = &ws_of(u)->pools[u->hidx];
    if (u->prev)
        u->prev->next = u->next;
    else
        p->head = u->next;
    if (u->next)
        u->next->prev = u->prev;
    u->next = u->prev = NULL;
    p->count--;
}

void px_upstream_close(px_upconn *u)
{
    px_wstate *ws = ws_of(u);
    px_worker *w = u->w;
    if (u->state == UP_IDLE)
        pool_remove(u);
    else if (u->state != UP_PINNED && ws->active[u->hidx])
        px__active_add(ws, u->hidx, -1);
    wire_timer_stop(w->loop, &u->timer);
    if (u->s.tls && u->state != UP_HANDSHAKE)
        tlsio_close_notify(u->s.tls); /* best effort: the socket closes now */
    px_stream_close(&u->s, w->loop, 0);
    px_runtime_unref(u->rt);
    wire_pool_put(&w->up_pool, u);
}

void px_upstream_close_pools(px_worker *w, px_runtime *rt)
{
    px_wstate *ws = &rt->ws[w->id];
    for (int h = 0; h < rt->nhealth; h++)
        while (ws->pools[h].head)
            px_upstream_close(ws->pools[h].head);
}

int px_upconn_alloc_in(px_upconn *u)
{
    return px_stream_alloc_in(&u->s, u->rt->buf_size);
}

void px_upconn_arm(px_upconn *u, px_up_timer kind)
{
    u->tkind = kind;
    if (kind == UT_NONE)
        wire_timer_stop(u->w->loop, &u->timer);
    else
        wire_timer_start(u->w->loop, &u->timer,
                         kind == UT_SEND     ? u->up->send_timeout
                         : kind == UT_HEADER ? u->header_ms
                                             : u->read_ms);
}

void px_upstream_pin(px_upconn *u)
{
    px_wstate *ws = ws_of(u);
    if (ws->active[u->hidx])
        px__active_add(ws, u->hidx, -1);
    u->state = UP_PINNED;
    wire_timer_stop(u->w->loop, &u->timer);
}

/* A full pool of a proxy_protocol upstream makes room by closing its oldest connection: each serves only its own
 * client connection, so the oldest is the one whose client most likely left (keepalive bounds the walk). */
static int make_room(px_pool *p, const px_upconn *u)
{
    if (!u->pp_len || !p->head)
        return 0;
    px_upconn *last = p->head;
    while (last->next)
        last = last->next;
    px_upstream_close(last);
    return 1;
}

void px_upstream_release(px_upconn *u, int reusable)
{
    px_worker *w = u->w;
    px_wstate *ws = ws_of(u);
    px_pool *p = &ws->pools[u->hidx];
    if (u->s.tls && u->rt == w->rt) /* a TLS 1.3 ticket arrives with the first response */
        px__upstream_save_session(u);
    if (!reusable || w->stopping || u->rt != w->rt || (p->count >= u->up->keepalive && !make_room(p, u))) {
        px_upstream_close(u);
        return;
    }
    px__active_add(ws, u->hidx, -1);
    u->owner = NULL;
    u->ops = NULL;
    u->state = UP_IDLE;
    wire_timer_stop(w->loop, &u->timer);
    u->tkind = UT_NONE;
    px_stream_release_in(&u->s);
    if (u->s.tls) /* its record buffers go back only if it stays pooled a while (see PX_TLS_TRIM_MS) */
        wire_timer_start(w->loop, &u->timer, PX_TLS_TRIM_MS);
    u->next = p->head;
    u->prev = NULL;
    if (p->head)
        p->head->prev = u;
    p->head = u;
    p->count++;
}

/* A pooled or pinned connection goes to work for the owner. */
static px_upconn *attach(px_upconn *u, const px_acquire *a)
{
    px__active_add(ws_of(u), u->hidx, 1);
    u->owner = a->owner;
    u->ops = a->ops;
    u->read_ms = a->read_ms;
    u->header_ms = a->header_ms;
    u->state = UP_ACTIVE;
    u->reused = 1;
    u->s.ready_write = 1;
    PX_ADD(u->w->stats.up_reused, 1);
    px_upconn_arm(u, UT_READ);
    u->tkind = UT_NONE; /* armed as a read, but no request is out yet */
    return u;
}

/* The most recently pooled connection the owner may take: any, or with a PROXY header the one that began with the
 * owner's (bounded by keepalive). */
static px_upconn *pooled(px_pool *p, const px_acquire *a)
{
    px_upconn *u = p->head;
    if (!a->pp_len)
        return u;
    while (u && (u->pp_len != a->pp_len || memcmp(u->pp, a->pp, a->pp_len) != 0))
        u = u->next;
    return u;
}

/* Chooses among primaries, then backups, seeing each server's health once. */
static int choose(px_worker *w, px_runtime *rt, const px_upstream *up, uint64_t tried)
{
    px_wstate *ws = &rt->ws[w->id];
    int base = rt->health_base[up->index];
    int up_now[PX_MAX_SERVERS_PER_UPSTREAM];
    uint64_t now = wire_now(w->loop);
    for (int i = 0; i < up->nservers; i++)
        up_now[i] = px_upstream_server_up(rt, up, i, now);
    px_balance_view v = {up, ws->active + base, ws->rr_weight + base, up_now};
    int s = px_balance_choose(&v, 0, tried);
    return s >= 0 ? s : px_balance_choose(&v, 1, tried);
}

px_upconn *px_upstream_acquire(px_worker *w, px_runtime *rt, const px_upstream *up, const px_acquire *a, int *err)
{
    px_upconn *pinned = a->pinned;
    if (pinned && pinned->up == up && pinned->rt == rt) {
        px_metric_add(&px_upconn_metrics(pinned)->requests, 1);
        return attach(pinned, a);
    }
    for (;;) {
        int s = choose(w, rt, up, *a->tried);
        if (s < 0) {
            *err = -EHOSTUNREACH;
            return NULL;
        }
        /* A try toward s, whether a connection to it opens or not (a refused connect is an error of a request). */
        px_metric_add(&rt->ws[w->id].metrics.upservers[rt->health_base[up->index] + s].requests, 1);
        px_pool *p = &rt->ws[w->id].pools[rt->health_base[up->index] + s];
        px_upconn *u = a->fresh ? NULL : pooled(p, a);
        if (u) {
            pool_remove(u);
            return attach(u, a);
        }
        u = px__upstream_connect(w, rt, up, s, a, err);
        if (u)
            return u;
        *a->tried |= 1ull << (s & 63);
    }
}
