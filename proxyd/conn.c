/* proxyd client connections: accept, reading request heads, choosing what answers them, keep-alive, timeouts
 * and closing. The exchange with an upstream is in proxy.c; responses proxyd makes itself are in respond.c. */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "proxyd.h"
#include "io.h"
#include "log.h"

static void conn_io_cb(wire_loop *loop, wire_io *io, unsigned events)
{
    px_conn *c = io->data;
    if (events & (WIRE_READ | WIRE_RDHUP | WIRE_HUP | WIRE_ERROR))
        c->ready_read = 1;
    if (events & (WIRE_RDHUP | WIRE_HUP | WIRE_ERROR))
        c->hup = 1;
    if (events & (WIRE_WRITE | WIRE_HUP | WIRE_ERROR))
        c->ready_write = 1;
    px_conn_run(c);
}

static void conn_timer_cb(wire_loop *loop, wire_timer *t)
{
    px_conn_timeout(t->data);
}

void px_conn_accept(px_worker *w, px_bind *bind, int fd, const wire_addr *peer)
{
    px_conn *c = w->stopping ? NULL : wire_pool_get(&w->conn_pool);
    if (!c) {
        close(fd);
        return;
    }
    memset(c, 0, sizeof(*c));
    c->w = w;
    c->rt = w->rt;
    px_runtime_ref(c->rt);
    c->bind = bind;
    c->server = bind->default_server;
    px_peer_text(peer, c->peer, sizeof(c->peer));
    c->file_fd = -1;
    wire_set_nodelay(fd);
    wire_io_init(&c->io, fd, conn_io_cb, c);
    wire_timer_init(&c->timer, conn_timer_cb, c);
    if (wire_io_start(w->loop, &c->io, WIRE_READ | WIRE_WRITE | WIRE_RDHUP | WIRE_EDGE) < 0) {
        px_runtime_unref(c->rt);
        wire_pool_put(&w->conn_pool, c);
        close(fd);
        return;
    }
    c->next = w->conns;
    if (w->conns)
        w->conns->prev = c;
    w->conns = c;
    w->nconns++;
    PX_ADD(w->stats.accepted, 1);
    PX_ADD(w->stats.conns, 1);
    c->gauge = G_READING;
    PX_ADD(w->stats.by_state[G_READING], 1);
    if (w->nconns >= w->rt->conn_cap)
        px_worker_hold(w, 1);
    c->state = CS_HEAD;
    if (bind->tls) {
        if (tlsio_conn_new_server(&c->tls, c->rt->ws[w->id].tls_server[bind->index]) != TLSIO_OK) {
            px_conn_close(c);
            return;
        }
        tlsio_conn_set_fd(c->tls, fd);
        c->state = CS_HANDSHAKE;
    }
    px_conn_set_timer(c, T_HEADER, c->server->limits.client_header_timeout);
}

/* CS_HANDSHAKE: TLS with the client; a failure is the client's business, logged at info level only. */
static int state_handshake(px_conn *c)
{
    int r = tlsio_handshake(c->tls);
    if (r == TLSIO_WANT_READ) {
        c->ready_read = 0;
        return 0;
    }
    if (r == TLSIO_WANT_WRITE) {
        c->ready_write = 0;
        return 0;
    }
    if (r != TLSIO_OK) {
        px_info("TLS handshake with client failed: %s%s%s%s", tlsio_strerror(r),
                *tlsio_conn_error_text(c->tls) ? ": " : "", tlsio_conn_error_text(c->tls), px_log_context(c));
        px_conn_close(c);
        return -1;
    }
    PX_ADD(c->w->stats.tls_handshakes, 1);
    if (tlsio_conn_resumed(c->tls))
        PX_ADD(c->w->stats.tls_resumed, 1);
    c->state = CS_HEAD;
    return 1;
}

void px_conn_gauge(px_conn *c, px_gauge g)
{
    if (c->gauge == g)
        return;
    PX_ADD(c->w->stats.by_state[c->gauge], -1);
    PX_ADD(c->w->stats.by_state[g], 1);
    c->gauge = g;
}

void px_conn_set_timer(px_conn *c, px_timer_kind kind, uint64_t ms)
{
    c->tkind = kind;
    if (kind == T_NONE)
        wire_timer_stop(c->w->loop, &c->timer);
    else
        wire_timer_start(c->w->loop, &c->timer, ms);
}

int px_conn_alloc_in(px_conn *c)
{
    if (c->in.base)
        return 0;
    char *b = wire_pool_get(&PX_WS(c)->in_pool);
    if (!b)
        return -ENOMEM;
    c->in.base = b;
    c->in.cap = c->rt->buf_size;
    c->in.start = c->in.end = 0;
    c->x = (px_exchange *)(void *)(b + c->rt->buf_size + c->rt->fields_cap * sizeof(http_field));
    memset(c->x, 0, sizeof(*c->x));
    return 0;
}

size_t px_in_block_size(const px_runtime *rt)
{
    return rt->buf_size + rt->fields_cap * sizeof(http_field) + sizeof(px_exchange);
}

/* Reads what the client sent into the input block. Returns bytes read, 0 when nothing is ready (or no room),
 * or -1 at end of stream or error (c->eof set). */
ssize_t px_conn_read(px_conn *c)
{
    if (!c->ready_read || wire_buf_room(&c->in) == 0)
        return 0;
    size_t room = wire_buf_room(&c->in);
    ssize_t n = px_sock_read(c->io.fd, c->tls, wire_buf_tail(&c->in), room);
    if (n == -EAGAIN) {
        c->ready_read = 0;
        return 0;
    }
    if (n <= 0) {
        c->ready_read = 0;
        c->eof = 1;
        return -1;
    }
    if ((size_t)n < room && !c->tls && !c->hup)
        c->ready_read = 0; /* edge-triggered: a short read drained the socket */
    c->in.end += (size_t)n;
    PX_ADD(c->w->stats.bytes_in, n);
    return n;
}

/* An idle keep-alive connection keeps no buffer: the input block goes back to the pool and TLS drops its
 * record buffers, until the client speaks again. */
static void release_idle_in(px_conn *c)
{
    if (c->in.base && c->in.end == 0) {
        wire_pool_put(&PX_WS(c)->in_pool, c->in.base);
        memset(&c->in, 0, sizeof(c->in));
        c->x = NULL;
    }
    /* Called after a read found nothing: mbedTLS holds no record then, so its buffers can go. */
    if (!c->in.base && c->tls && !c->out.len && (c->trim_due || c->w->nconns > PX_TLS_TRIM_CONNS)) {
        tlsio_conn_idle(c->tls);
        c->trim_due = 0;
    }
}

/* The keep-alive wait; a TLS connection drops its record buffers now or after PX_TLS_TRIM_MS (see proxyd.h). */
static void start_keepalive(px_conn *c)
{
    uint64_t ka = c->server->limits.keepalive_timeout;
    if (c->tls && ka > PX_TLS_TRIM_MS && c->w->nconns <= PX_TLS_TRIM_CONNS)
        px_conn_set_timer(c, T_TRIM, PX_TLS_TRIM_MS);
    else
        px_conn_set_timer(c, T_KEEPALIVE, ka);
}

static http_limits request_limits(const px_conn *c)
{
    const px_limits *l = &c->server->limits;
    http_limits lim = {0};
    lim.max_head = l->client_header_buffer_size;
    lim.max_line = l->client_header_buffer_size - 2; /* a start line that alone fills the buffer: 414, not 431 */
    lim.max_fields = l->max_header_fields;
    return lim;
}

static int parse_head(px_conn *c)
{
    memset(&c->x->req, 0, sizeof(c->x->req));
    c->x->req.fields = (http_field *)(void *)(c->in.base + c->rt->buf_size);
    c->x->req.fields_cap = c->rt->fields_cap;
    http_limits lim = request_limits(c);
    long rc = http_parse_request(c->in.base, c->in.end, c->last_len, &c->x->req, &lim);
    if (rc == HTTP_INCOMPLETE) {
        c->last_len = c->in.end;
        if (c->in.end >= lim.max_head || wire_buf_room(&c->in) == 0)
            return px_respond_error(c, 431, "request head too large");
        return 0;
    }
    c->last_len = 0;
    if (rc < 0) {
        px_debug("client %s: bad request: %s at byte %zu", px_conn_peer(c), http_strerror((int)rc),
                 c->x->req.err_offset);
        return px_respond_error(c, http_err_status((int)rc), http_strerror((int)rc));
    }
    c->head_len = (size_t)rc;
    return px_request_begin(c);
}

/* CS_HEAD: parse what is buffered, or read more. */
static int state_head(px_conn *c)
{
    if (c->in.base && c->in.end > c->last_len)
        return parse_head(c) < 0 ? -1 : 1;
    if (!c->ready_read)
        return 0;
    if (px_conn_alloc_in(c) < 0)
        return px_conn_close(c), -1;
    int was_empty = c->in.end == 0;
    ssize_t n = px_conn_read(c);
    if (n < 0) {
        px_conn_close(c);
        return -1;
    }
    if (n == 0) {
        release_idle_in(c);
        return 0;
    }
    if (was_empty && c->requests > 0) {
        px_conn_set_timer(c, T_HEADER, c->server->limits.client_header_timeout);
        px_conn_gauge(c, G_READING);
    }
    return 1;
}

/* CS_LOCAL and CS_CLOSING: flush, then either the next request or a lingering close. */
static int state_flush(px_conn *c)
{
    if (c->out.len) {
        if (!c->ready_write)
            return 0;
        int r = px_out_flush(PX_WS(c), c->io.fd, c->tls, &c->out);
        if (r == 0) {
            c->ready_write = 0;
            return 0;
        }
        if (r < 0) {
            px_conn_close(c);
            return -1;
        }
        return 1;
    }
    if (c->state == CS_LOCAL) {
        px_conn_next(c);
        return 1;
    }
    return px_conn_linger(c);
}

/* After the answer to a request that proxyd will not read to its end: stop sending, discard what the client
 * still sends for a short while so that its pending bytes do not turn our FIN into a reset that destroys the
 * response in flight, then close. */
int px_conn_linger(px_conn *c)
{
    if (c->tkind != T_LINGER) {
        if (c->tls)
            tlsio_close_notify(c->tls); /* best effort: the socket is about to close anyway */
        shutdown(c->io.fd, SHUT_WR);
        px_conn_set_timer(c, T_LINGER, 2000);
    }
    char sink[4096];
    while (c->ready_read) {
        ssize_t n = wire_read(c->io.fd, sink, sizeof(sink));
        if (n == -EAGAIN) {
            c->ready_read = 0;
            return 0;
        }
        if (n <= 0) {
            px_conn_close(c);
            return -1;
        }
    }
    return 0;
}

/* Prepares the connection for the next request on it (keep-alive) or closes it. */
void px_conn_next(px_conn *c)
{
    px_access_log(c);
    px_gzip_end(c);
    if (!c->keep_alive || c->w->stopping) {
        c->state = CS_CLOSING;
        return;
    }
    size_t left = c->in.end > c->body_off ? c->in.end - c->body_off : 0;
    if (left && c->body_off)
        memmove(c->in.base, c->in.base + c->body_off, left);
    c->in.start = 0;
    c->in.end = left;
    c->head_len = c->body_off = c->last_len = 0;
    c->state = CS_HEAD;
    c->resp_head_sent = 0;
    c->req_body = BODY_DONE;
    c->resp_body = BODY_DONE;
    release_idle_in(c);
    px_conn_gauge(c, left ? G_READING : G_IDLE);
    if (left)
        px_conn_set_timer(c, T_HEADER, c->server->limits.client_header_timeout);
    else
        start_keepalive(c);
}

void px_conn_run(px_conn *c)
{
    for (;;) {
        int r;
        switch (c->state) {
        case CS_HANDSHAKE:
            r = state_handshake(c);
            break;
        case CS_HEAD:
            r = state_head(c);
            break;
        case CS_UPSTREAM:
            r = px_proxy_step(c);
            break;
        case CS_TUNNEL:
            r = px_tunnel_step(c);
            break;
        case CS_FILE:
            r = px_static_step(c);
            break;
        default:
            r = state_flush(c);
            break;
        }
        if (r < 0)
            return;
        if (r == 0)
            break;
        c->progress = 1;
    }
    px_conn_update_timer(c);
}

/* Chooses the timeout for what the connection now waits on. Header and keep-alive timers are armed once per
 * head or idle period (a slow client cannot stretch them); send, body and tunnel timers restart on progress. */
void px_conn_update_timer(px_conn *c)
{
    const px_limits *l = &c->server->limits;
    int progress = c->progress;
    c->progress = 0;
    switch (c->state) {
    case CS_HANDSHAKE:
        return;
    case CS_HEAD:
        if (c->tkind != T_HEADER && c->tkind != T_KEEPALIVE && c->tkind != T_TRIM) {
            if (c->in.end)
                px_conn_set_timer(c, T_HEADER, l->client_header_timeout);
            else
                start_keepalive(c);
        }
        return;
    case CS_UPSTREAM:
        px_proxy_update_timer(c, progress);
        if (c->out.len) {
            if (progress || c->tkind != T_SEND)
                px_conn_set_timer(c, T_SEND, l->send_timeout);
        } else if (c->req_body != BODY_DONE && c->up && c->up->state == UP_ACTIVE && !c->up->out.len &&
                   c->head_sent) {
            if (progress || c->tkind != T_BODY)
                px_conn_set_timer(c, T_BODY, l->client_body_timeout);
        } else if (c->tkind != T_NONE) {
            px_conn_set_timer(c, T_NONE, 0); /* waiting on the upstream: its own timer governs */
        }
        return;
    case CS_TUNNEL:
        if (progress || c->tkind != T_TUNNEL)
            px_conn_set_timer(c, T_TUNNEL, c->upstream->read_timeout);
        return;
    default:
        if (c->tkind != T_LINGER && (progress || c->tkind != T_SEND))
            px_conn_set_timer(c, T_SEND, l->send_timeout);
        return;
    }
}

void px_conn_timeout(px_conn *c)
{
    switch (c->tkind) {
    case T_TRIM:
        /* One read (it finds nothing, or the next request) leaves mbedTLS clean; the buffers go then. */
        px_conn_set_timer(c, T_KEEPALIVE, c->server->limits.keepalive_timeout - PX_TLS_TRIM_MS);
        c->trim_due = 1;
        c->ready_read = 1;
        px_conn_run(c);
        return;
    case T_HEADER:
        px_debug("client %s: header timeout", px_conn_peer(c));
        if (c->in.end && c->requests == 0 && !c->out.len) {
            if (px_respond_error(c, 408, "client header timeout") >= 0)
                px_conn_run(c);
            return;
        }
        break;
    case T_BODY:
        px_info("client body timeout%s", px_log_context(c));
        if (!c->resp_head_sent && !c->out.len) {
            px_proxy_abort(c);
            if (px_respond_error(c, 408, "client body timeout") >= 0)
                px_conn_run(c);
            return;
        }
        break;
    case T_SEND:
        px_info("client send timeout%s", px_log_context(c));
        break;
    case T_TUNNEL:
        px_debug("client %s: tunnel idle timeout", px_conn_peer(c));
        break;
    default:
        break;
    }
    c->reset = c->tkind != T_KEEPALIVE && c->tkind != T_LINGER && c->server->limits.reset_timedout_connection;
    px_conn_close(c);
}

void px_conn_close(px_conn *c)
{
    px_worker *w = c->w;
    if (c->resp_status)
        px_access_log(c); /* an exchange that ended with the connection (errors, client gone) */
    PX_ADD(w->stats.conns, -1);
    PX_ADD(w->stats.by_state[c->gauge], -1);
    if (c->up)
        px_proxy_abort(c);
    px_gzip_end(c);
    if (c->file_fd >= 0)
        close(c->file_fd);
    if (c->pinned) {
        px_upstream_close(w, c->pinned);
        c->pinned = NULL;
    }
    wire_io_stop(w->loop, &c->io);
    wire_timer_stop(w->loop, &c->timer);
    if (c->tls)
        tlsio_conn_free(c->tls);
    if (c->reset)
        wire_set_linger0(c->io.fd);
    close(c->io.fd);
    if (c->in.base)
        wire_pool_put(&PX_WS(c)->in_pool, c->in.base);
    px_out_release(PX_WS(c), &c->out);
    if (c->prev)
        c->prev->next = c->next;
    else
        w->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    px_runtime_unref(c->rt);
    wire_pool_put(&w->conn_pool, c);
    if (--w->nconns < w->rt->conn_cap)
        px_worker_hold(w, 0);
    px_worker_conn_closed(w);
}

const char *px_conn_peer(px_conn *c)
{
    return c->peer;
}
