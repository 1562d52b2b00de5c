/* proxyd upstream connections: server choice (weighted round robin, least_conn, passive health, backups), the
 * per-worker keep-alive pools, non-blocking connects, and the watchers of idle pooled connections. */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "io.h"
#include "log.h"
#include "proxyd.h"

/* ---------------------------------------------------------------- passive health */

static int server_up(const px_runtime *rt, const px_upstream *up, int s, uint64_t now)
{
    if (up->nservers == 1)
        return 1; /* as in nginx: a lone server is never taken out of rotation */
    const px_health *h = &rt->health[rt->health_base[up->index] + s];
    return atomic_load(&h->down_until) <= now;
}

static void mark_failure(px_runtime *rt, const px_upstream *up, int si, uint64_t now)
{
    const px_upstream_server *s = &up->servers[si];
    px_health *h = &rt->health[rt->health_base[up->index] + si];
    if (s->max_fails == 0 || up->nservers == 1)
        return;
    if (now - atomic_load(&h->window_start) > s->fail_timeout) {
        atomic_store(&h->window_start, now);
        atomic_store(&h->fails, 0);
    }
    if (atomic_fetch_add(&h->fails, 1) + 1 >= s->max_fails) {
        atomic_store(&h->down_until, now + s->fail_timeout);
        atomic_store(&h->fails, 0);
        px_warn("upstream %s: marked down for %llums after %d failure(s)", s->text,
                (unsigned long long)s->fail_timeout, s->max_fails);
    }
}

void px_upstream_failed(px_upconn *u)
{
    mark_failure(u->rt, u->up, u->server, wire_now(u->w->loop));
}

/* A valid response head (nginx's rule): a server that accepts connections and then fails is still counted. */
void px_upstream_succeeded(px_upconn *u)
{
    px_health *h = &u->rt->health[u->hidx];
    if (atomic_load(&h->fails))
        atomic_store(&h->fails, 0);
}

/* ---------------------------------------------------------------- choosing a server */

/* Smooth weighted round robin (as nginx): each eligible server gains its weight, the largest wins and pays
 * back the total. least_conn picks the fewest active connections per weight, round robin among equals. */
static int choose(px_conn *c, const px_upstream *up, int backup)
{
    px_worker *w = c->w;
    px_runtime *rt = c->rt;
    px_wstate *ws = &rt->ws[w->id];
    uint64_t now = wire_now(w->loop);
    int base = rt->health_base[up->index], best = -1, total = 0;
    for (int i = 0; i < up->nservers; i++) {
        const px_upstream_server *s = &up->servers[i];
        if (s->backup != backup || (c->tried & (1ull << (i & 63))) || !server_up(rt, up, i, now))
            continue;
        int h = base + i;
        if (up->balance == PX_BALANCE_LEAST_CONN) {
            if (best < 0 || (uint64_t)ws->active[h] * (uint64_t)up->servers[best].weight <
                                (uint64_t)ws->active[base + best] * (uint64_t)s->weight ||
                (ws->active[h] * up->servers[best].weight == ws->active[base + best] * s->weight &&
                 ws->rr_weight[h] > ws->rr_weight[base + best]))
                best = i;
            ws->rr_weight[h] += s->weight;
            total += s->weight;
            continue;
        }
        ws->rr_weight[h] += s->weight;
        total += s->weight;
        if (best < 0 || ws->rr_weight[h] > ws->rr_weight[base + best])
            best = i;
    }
    if (best >= 0)
        ws->rr_weight[base + best] -= total;
    return best;
}

/* ---------------------------------------------------------------- connections */

static void up_io_cb(wire_loop *loop, wire_io *io, unsigned events);
static void up_timer_cb(wire_loop *loop, wire_timer *t);

static void pool_remove(px_worker *w, px_upconn *u)
{
    px_wstate *ws = &u->rt->ws[w->id];
    px_pool *p = &ws->pools[u->hidx];
    if (u->prev)
        u->prev->next = u->next;
    else
        p->head = u->next;
    if (u->next)
        u->next->prev = u->prev;
    u->next = u->prev = NULL;
    p->count--;
}

void px_upstream_close(px_worker *w, px_upconn *u)
{
    px_wstate *ws = &u->rt->ws[w->id];
    if (u->state == UP_IDLE)
        pool_remove(w, u);
    else if (u->state != UP_PINNED && ws->active[u->hidx])
        ws->active[u->hidx]--;
    wire_io_stop(w->loop, &u->io);
    wire_timer_stop(w->loop, &u->timer);
    if (u->tls) {
        if (u->state != UP_HANDSHAKE)
            tlsio_close_notify(u->tls);
        tlsio_conn_free(u->tls);
    }
    close(u->io.fd);
    if (u->in.base)
        wire_pool_put(&PX_WS(u)->in_pool, u->in.base);
    px_out_release(PX_WS(u), &u->out);
    px_runtime_unref(u->rt);
    wire_pool_put(&w->up_pool, u);
}

/* The upstream side's input block, taken when its first bytes are awaited. 0 or -ENOMEM. */
int px_upstream_alloc_in(px_upconn *u)
{
    if (u->in.base)
        return 0;
    u->in.base = wire_pool_get(&PX_WS(u)->in_pool);
    if (!u->in.base)
        return -ENOMEM;
    u->in.cap = u->rt->buf_size;
    u->in.start = u->in.end = 0;
    return 0;
}

void px_upstream_pin(px_worker *w, px_upconn *u)
{
    px_wstate *ws = &u->rt->ws[w->id];
    if (ws->active[u->hidx])
        ws->active[u->hidx]--;
    u->state = UP_PINNED;
    wire_timer_stop(w->loop, &u->timer);
}

void px_upstream_release(px_worker *w, px_upconn *u, int reusable)
{
    px_wstate *ws = &u->rt->ws[w->id];
    px_pool *p = &ws->pools[u->hidx];
    if (!reusable || w->stopping || u->rt != w->rt || p->count >= u->up->keepalive) {
        px_upstream_close(w, u);
        return;
    }
    ws->active[u->hidx]--;
    u->owner = NULL;
    u->state = UP_IDLE;
    wire_timer_stop(w->loop, &u->timer);
    if (u->in.base) {
        wire_pool_put(&PX_WS(u)->in_pool, u->in.base);
        memset(&u->in, 0, sizeof(u->in));
    }
    if (u->tls) /* its record buffers go back only if it stays pooled a while (see PX_TLS_TRIM_MS) */
        wire_timer_start(w->loop, &u->timer, PX_TLS_TRIM_MS);
    u->next = p->head;
    u->prev = NULL;
    if (p->head)
        p->head->prev = u;
    p->head = u;
    p->count++;
}

static int connect_new(px_conn *c, const px_upstream *up, int s, int hidx)
{
    px_worker *w = c->w;
    px_wstate *ws = &c->rt->ws[w->id];
    int fd = wire_connect(&up->servers[s].addr);
    if (fd < 0) {
        px_error("cannot connect to %s: %s%s", up->servers[s].text, wire_strerror(fd), px_log_context(c));
        mark_failure(c->rt, up, s, wire_now(w->loop));
        return fd;
    }
    px_upconn *u = wire_pool_get(&w->up_pool);
    if (!u) {
        close(fd);
        return -ENOMEM;
    }
    memset(u, 0, sizeof(*u));
    u->w = w;
    u->rt = c->rt;
    px_runtime_ref(u->rt);
    u->up = (px_upstream *)up;
    u->server = s;
    u->hidx = hidx;
    u->state = UP_CONNECTING;
    wire_io_init(&u->io, fd, up_io_cb, u);
    wire_timer_init(&u->timer, up_timer_cb, u);
    if (wire_io_start(w->loop, &u->io, WIRE_READ | WIRE_WRITE | WIRE_RDHUP | WIRE_EDGE) < 0) {
        px_runtime_unref(u->rt);
        wire_pool_put(&w->up_pool, u);
        close(fd);
        return -ENOMEM;
    }
    wire_timer_start(w->loop, &u->timer, up->connect_timeout);
    PX_ADD(w->stats.up_opened, 1);
    ws->active[hidx]++;
    u->owner = c;
    c->up = u;
    c->up_addr = up->servers[s].text;
    return 0;
}

static void attach(px_conn *c, px_upconn *u)
{
    c->rt->ws[c->w->id].active[u->hidx]++;
    u->owner = c;
    u->state = UP_ACTIVE;
    u->reused = 1;
    u->ready_write = 1;
    c->up = u;
    c->up_addr = u->up->servers[u->server].text;
    u->tkind = T_NONE;
    PX_ADD(c->w->stats.up_reused, 1);
    wire_timer_start(c->w->loop, &u->timer, u->up->read_timeout);
}

/* Gives c an upstream connection: its pinned one, a pooled one, or a new one (connecting). 0 or -errno. */
int px_upstream_acquire(px_conn *c, px_upstream *up)
{
    px_worker *w = c->w;
    px_wstate *ws = &c->rt->ws[w->id];
    if (c->pinned && c->pinned->up == up && c->pinned->rt == c->rt) {
        attach(c, c->pinned);
        return 0;
    }
    for (;;) {
        int s = choose(c, up, 0);
        if (s < 0)
            s = choose(c, up, 1);
        if (s < 0)
            return -EHOSTUNREACH;
        int hidx = c->rt->health_base[up->index] + s;
        px_pool *p = &ws->pools[hidx];
        if (p->head && !c->pin) {
            px_upconn *u = p->head;
            pool_remove(w, u);
            attach(c, u);
            return 0;
        }
        if (connect_new(c, up, s, hidx) == 0)
            return 0;
        c->tried |= 1ull << (s & 63);
    }
}

static void drive_handshake(px_upconn *u)
{
    px_conn *c = u->owner;
    int r = px_tls_upstream_handshake(u);
    if (r > 0)
        return;
    if (r < 0) { /* counted against the server by px_proxy_upstream_error (still connecting) */
        if (px_proxy_upstream_error(c, r) < 0)
            return; /* c is gone */
    }
    px_conn_run(c);
}

static void on_connected(px_upconn *u)
{
    int err = wire_connect_result(u->io.fd);
    px_conn *c = u->owner;
    if (err) {
        u->ready_write = 0;
        if (px_proxy_upstream_error(c, err) >= 0)
            px_conn_run(c);
        return;
    }
    wire_timer_start(u->w->loop, &u->timer, u->up->connect_timeout); /* bounds the TLS handshake too */
    if (!u->up->tls) {
        u->state = UP_ACTIVE;
        px_conn_run(c);
        return;
    }
    if (px_tls_client_start(u) < 0) {
        if (px_proxy_upstream_error(c, -ENOMEM) >= 0)
            px_conn_run(c);
        return;
    }
    drive_handshake(u);
}

static void up_io_cb(wire_loop *loop, wire_io *io, unsigned events)
{
    px_upconn *u = io->data;
    px_conn *c = u->owner;
    if (!c || c->up != u) {
        /* An idle (pooled or pinned) connection has nothing to say: data or a close ends it. */
        if (events & (WIRE_READ | WIRE_RDHUP | WIRE_HUP | WIRE_ERROR)) {
            if (c && c->pinned == u) {
                c->pinned = NULL;
                px_upstream_close(u->w, u);
                if (c->state == CS_HEAD && c->in.end == 0)
                    px_conn_close(c); /* the authenticated pair ends together */
                return;
            }
            px_upstream_close(u->w, u);
        }
        return;
    }
    if (events & (WIRE_READ | WIRE_RDHUP | WIRE_HUP | WIRE_ERROR))
        u->ready_read = 1;
    if (events & (WIRE_RDHUP | WIRE_HUP | WIRE_ERROR))
        u->hup = 1;
    if (events & (WIRE_WRITE | WIRE_HUP | WIRE_ERROR))
        u->ready_write = 1;
    if (u->state == UP_CONNECTING) {
        if (events & (WIRE_WRITE | WIRE_HUP | WIRE_ERROR))
            on_connected(u);
        return;
    }
    if (u->state == UP_HANDSHAKE) {
        drive_handshake(u);
        return;
    }
    px_conn_run(u->owner);
}

static void up_timer_cb(wire_loop *loop, wire_timer *t)
{
    px_upconn *u = t->data;
    if (u->owner && u->owner->up == u)
        px_proxy_upstream_timeout(u->owner);
    else if (u->state == UP_IDLE && u->tls)
        tlsio_conn_idle(u->tls);
}
