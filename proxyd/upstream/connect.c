/* proxyd upstream connects: the non-blocking connect, TLS toward https upstreams (with session resumption per
 * server), and the I/O and timer callbacks, which report to the owner through its px_upconn_ops. */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "upstream/internal.h"

static void up_io_cb(wire_loop *loop, wire_io *io, unsigned events);
static void up_timer_cb(wire_loop *loop, wire_timer *t);

static const char *owner_context(const px_upconn *u)
{
    return u->owner && u->ops ? u->ops->log_context(u->owner) : "";
}

px_upconn *px__upstream_connect(px_worker *w, px_runtime *rt, const px_upstream *up, int s, const px_acquire *a,
                                int *err)
{
    px_wstate *ws = &rt->ws[w->id];
    int fd = wire_connect(&up->servers[s].addr);
    if (fd < 0) {
        px_error("cannot connect to %s: %s%s", up->servers[s].text, wire_strerror(fd), a->ops->log_context(a->owner));
        px_upstream_mark_failure(rt, up, s, wire_now(w->loop));
        int hidx = rt->health_base[up->index] + s;
        px_metric_add(&ws->metrics.upservers[hidx].errors[fd == -ECONNREFUSED ? PX_UPERR_REFUSED : PX_UPERR_CONNECT],
                      1);
        *err = fd;
        return NULL;
    }
    px_upconn *u = wire_pool_get(&w->up_pool);
    if (!u) {
        close(fd);
        *err = -ENOMEM;
        return NULL;
    }
    memset(u, 0, sizeof(*u));
    u->w = w;
    u->rt = rt;
    u->up = up;
    u->server = s;
    u->hidx = rt->health_base[up->index] + s;
    u->state = UP_CONNECTING;
    px_stream_init(&u->s, fd, up_io_cb, u, &ws->in_pool, &ws->out_pool);
    wire_timer_init(&u->timer, up_timer_cb, u);
    if (px_stream_watch(&u->s, w->loop) < 0) {
        wire_pool_put(&w->up_pool, u);
        close(fd);
        *err = -ENOMEM;
        return NULL;
    }
    px_runtime_ref(rt);
    wire_timer_start(w->loop, &u->timer, up->connect_timeout);
    PX_ADD(w->stats.up_opened, 1);
    px__active_add(ws, u->hidx, 1);
    u->owner = a->owner;
    u->ops = a->ops;
    u->read_ms = a->read_ms;
    u->header_ms = a->header_ms;
    if (a->pp_len && a->pp_len <= sizeof(u->pp)) {
        memcpy(u->pp, a->pp, a->pp_len);
        u->pp_len = (uint8_t)a->pp_len;
    }
    return u;
}

static int tls_start(px_upconn *u)
{
    px_wstate *ws = &u->rt->ws[u->w->id];
    const px_upstream *up = u->up;
    const char *name = up->tls_server_name ? up->tls_server_name : up->servers[u->server].host;
    if (tlsio_conn_new_client(&u->s.tls, ws->tls_client[up->index], name) != TLSIO_OK)
        return -ENOMEM;
    tlsio_conn_set_fd(u->s.tls, u->s.io.fd);
    if (ws->sessions[u->hidx])
        tlsio_conn_set_session(u->s.tls, ws->sessions[u->hidx]);
    u->state = UP_HANDSHAKE;
    return 0;
}

/* A full TLS 1.2 handshake, or a TLS 1.3 NewSessionTicket (read after the handshake), leaves a session to resume
 * the next connection to this server with; called when the handshake ends and when the connection is released. */
void px__upstream_save_session(px_upconn *u)
{
    px_wstate *ws = &u->rt->ws[u->w->id];
    tlsio_session *s = NULL;
    if (!tlsio_conn_session_pending(u->s.tls) || tlsio_conn_save_session(u->s.tls, &s) != TLSIO_OK)
        return;
    if (ws->sessions[u->hidx])
        tlsio_session_free(ws->sessions[u->hidx]);
    ws->sessions[u->hidx] = s;
}

/* Drives the handshake; tells the owner when it is done or failed. */
static void drive_handshake(px_upconn *u)
{
    int r = px_stream_handshake(&u->s);
    if (r == TLSIO_WANT_READ || r == TLSIO_WANT_WRITE)
        return;
    if (r == TLSIO_ENOTTLS) { /* the scheme does not match the port: say so rather than "unreachable" */
        px_error("TLS handshake with upstream %s failed: it answered in plain text (%s): it does not speak TLS on "
                 "this port; make [upstream %s] plain (tls = off, proxy_pass = http://%s) or give its TLS port%s",
                 u->up->servers[u->server].text, tlsio_conn_error_text(u->s.tls), u->up->name, u->up->name,
                 owner_context(u));
        u->fail_why = "upstream speaks plain HTTP, not TLS";
        u->ops->failed(u->owner, -EPROTO);
        return;
    }
    if (r != TLSIO_OK) { /* counted against the server by the owner (still connecting) */
        px_error("TLS handshake with upstream %s failed: %s%s%s%s", u->up->servers[u->server].text, tlsio_strerror(r),
                 *tlsio_conn_error_text(u->s.tls) ? ": " : "", tlsio_conn_error_text(u->s.tls), owner_context(u));
        u->fail_why = "TLS handshake with the upstream failed";
        u->ops->failed(u->owner, -EPROTO);
        return;
    }
    px__upstream_save_session(u);
    u->state = UP_ACTIVE;
    u->ops->ready(u->owner);
}

static void on_connected(px_upconn *u)
{
    int err = wire_connect_result(u->s.io.fd);
    if (err) {
        u->s.ready_write = 0;
        u->ops->failed(u->owner, err);
        return;
    }
    wire_timer_start(u->w->loop, &u->timer, u->up->connect_timeout); /* bounds the TLS handshake too */
    /* The PROXY header goes first, before TLS. A new socket's send buffer is empty, so these few dozen bytes go
     * out whole or the connection failed: no partial state to keep. */
    ssize_t sent = u->pp_len ? wire_write(u->s.io.fd, u->pp, u->pp_len) : 0;
    if (sent != (ssize_t)u->pp_len) {
        u->ops->failed(u->owner, sent < 0 ? (int)sent : -EIO);
        return;
    }
    if (!u->up->tls) {
        u->state = UP_ACTIVE;
        u->ops->ready(u->owner);
        return;
    }
    if (tls_start(u) < 0) {
        u->ops->failed(u->owner, -ENOMEM);
        return;
    }
    drive_handshake(u);
}

/* An idle (pooled or pinned) connection has nothing to say: data or a close ends it. */
static void on_idle_event(px_upconn *u, unsigned events)
{
    if (!(events & (WIRE_READ | WIRE_RDHUP | WIRE_HUP | WIRE_ERROR)))
        return;
    void *owner = u->owner;
    const px_upconn_ops *ops = u->ops;
    int pinned = u->state == UP_PINNED;
    px_upstream_close(u);
    if (pinned && owner)
        ops->lost(owner);
}

static void up_io_cb(wire_loop *loop, wire_io *io, unsigned events)
{
    px_upconn *u = io->data;
    if (u->state == UP_IDLE || u->state == UP_PINNED) {
        on_idle_event(u, events);
        return;
    }
    px_stream_on_events(&u->s, events);
    if (u->state == UP_CONNECTING) {
        if (events & (WIRE_WRITE | WIRE_HUP | WIRE_ERROR))
            on_connected(u);
        return;
    }
    if (u->state == UP_HANDSHAKE) {
        drive_handshake(u);
        return;
    }
    u->ops->ready(u->owner);
}

static void up_timer_cb(wire_loop *loop, wire_timer *t)
{
    px_upconn *u = t->data;
    if (u->owner && u->state != UP_PINNED)
        u->ops->timeout(u->owner);
    else if (u->state == UP_IDLE && u->s.tls)
        tlsio_conn_idle(u->s.tls);
}
