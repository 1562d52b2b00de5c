/* proxyd client connections: accept, TLS with the client, reading request heads, handing them to the router,
 * keep-alive, timeouts and closing. conn_free is the only place a client connection is freed. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/fields.h"
#include "common/log.h"
#include "common/proxyproto.h"
#include "http/access.h"
#include "http/conn.h"
#include "http/respond.h"
#include "upstream/upstream.h"

/* ---------------------------------------------------------------- the exchange's life */

/* Clears the per-request state: the one place it is reset, when the first bytes of a head are parsed. */
static void exchange_start(px_conn *c)
{
    memset(c->x, 0, sizeof(*c->x));
    c->x->file_fd = -1;
    c->x->started_ms = wire_now(c->w->loop);
}

/* Ends the exchange however it ended: logged once, the handler's resources released. */
static void exchange_end(px_conn *c)
{
    px_exchange *x = c->x;
    if (!x)
        return;
    px_access_log(c);
    if (x->handler && x->handler->end)
        x->handler->end(c);
    x->handler = NULL;
    if (x->limit_slot) { /* limit_conn counts a request until its exchange ends, however it ends */
        px_limit_conn_release(c->rt->limits, x->limit_slot - 1);
        x->limit_slot = 0;
    }
}

/* ---------------------------------------------------------------- accept and free */

static void gauge(px_conn *c, px_gauge g)
{
    if (c->gauge == g)
        return;
    PX_ADD(c->w->stats.by_state[c->gauge], -1);
    PX_ADD(c->w->stats.by_state[g], 1);
    c->gauge = g;
}

/* The only function that frees a client connection. */
static void conn_free(px_conn *c)
{
    px_worker *w = c->w;
    exchange_end(c); /* an exchange that ended with the connection (errors, client gone) */
    PX_ADD(w->stats.by_state[c->gauge], -1);
    if (c->pinned)
        px_upstream_close(c->pinned);
    wire_timer_stop(w->loop, &c->timer);
    px_stream_close(&c->s, w->loop, c->reset);
    if (c->prev)
        c->prev->next = c->next;
    else
        w->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    px_runtime_unref(c->rt);
    wire_pool_put(&w->conn_pool, c);
    px_worker_conn_closed(w);
}

static void conn_io_cb(wire_loop *loop, wire_io *io, unsigned events)
{
    px_conn *c = io->data;
    px_stream_on_events(&c->s, events);
    px_conn_run(c);
}

static void conn_timer_cb(wire_loop *loop, wire_timer *t);

/* Logs a refusal at accept, at most once per PX_REFUSAL_LOG_MS. */
static void log_refused(px_worker *w, px_bind *bind, const char *why, const wire_addr *peer, const char *peer_text)
{
    uint64_t held;
    if (px_log_every_due(&w->rt->refusals[PX_REFUSED_ACCESS], wire_now(w->loop), PX_REFUSAL_LOG_MS, &held)) {
        char text[48], more[64] = "";
        if (!peer_text)
            px_peer_text(peer, text, sizeof(text));
        if (held)
            snprintf(more, sizeof(more), " (and %llu more since the last line)", (unsigned long long)held);
        px_warn("connection refused: %s on %s%s, client: %s", why, bind->text, more, peer_text ? peer_text : text);
    }
}

/* Every server on the address denies this client: closed before any byte is read or a TLS handshake begins (on a
 * proxy_protocol address, once the header said who the client is). */
static int refused_at_accept(px_worker *w, px_bind *bind, const px_ip *ip, const wire_addr *peer, const char *peer_text)
{
    if (!bind->acl_at_accept || !px_bind_refuses(bind, ip))
        return 0;
    log_refused(w, bind, "access forbidden by rule", peer, peer_text);
    return 1;
}

/* A proxy_protocol address talks only to the peers proxy_protocol_from lists: anyone else could name any address. */
static int refused_proxy_peer(px_worker *w, px_bind *bind, const px_ip *ip, const wire_addr *peer)
{
    const px_acl *from = &w->rt->cfg->proxy_protocol_from;
    for (int i = 0; i < from->n; i++)
        if (px_cidr_match(&from->rules[i].net, ip))
            return 0;
    log_refused(w, bind, "peer not in proxy_protocol_from", peer, NULL);
    return 1;
}

void px_conn_accept(px_worker *w, px_bind *bind, int fd, const wire_addr *peer)
{
    px_ip ip;
    px_ip_from_sockaddr(&ip, &peer->ss);
    int refused =
        bind->proxy_protocol ? refused_proxy_peer(w, bind, &ip, peer) : refused_at_accept(w, bind, &ip, peer, NULL);
    px_conn *c = w->stopping || refused ? NULL : wire_pool_get(&w->conn_pool);
    if (!c) {
        close(fd);
        return;
    }
    memset(c, 0, sizeof(*c));
    c->w = w;
    c->rt = w->rt;
    c->bind = bind;
    c->server = bind->default_server;
    c->peer_ip = ip;
    c->peer_port = px_sockaddr_port(&peer->ss);
    px_peer_text(peer, c->peer, sizeof(c->peer));
    wire_set_nodelay(fd);
    px_stream_init(&c->s, fd, conn_io_cb, c, &PX_WS(c)->in_pool, &PX_WS(c)->out_pool);
    wire_timer_init(&c->timer, conn_timer_cb, c);
    if (px_stream_watch(&c->s, w->loop) < 0) {
        wire_pool_put(&w->conn_pool, c);
        close(fd);
        return;
    }
    px_runtime_ref(c->rt);
    c->next = w->conns;
    if (w->conns)
        w->conns->prev = c;
    w->conns = c;
    c->gauge = G_READING;
    PX_ADD(w->stats.by_state[G_READING], 1);
    px_worker_conn_opened(w);
    c->state = CS_HEAD;
    px_conn_set_timer(c, T_HEADER, c->server->limits.client_header_timeout);
    if (bind->tls) {
        if (tlsio_conn_new_server(&c->s.tls, PX_WS(c)->tls_server[bind->index]) != TLSIO_OK) {
            conn_free(c);
            return;
        }
        tlsio_conn_set_fd(c->s.tls, fd);
        c->state = CS_HANDSHAKE;
    }
    if (bind->proxy_protocol)
        c->state = CS_PROXY; /* the header comes first, before TLS; the header timer bounds it too */
}

void px_conn_close_all(px_worker *w, int all)
{
    px_conn *c = w->conns;
    while (c) {
        px_conn *next = c->next;
        if (all || (c->state == CS_HEAD && c->s.in.end == 0))
            conn_free(c);
        c = next;
    }
}

/* ---------------------------------------------------------------- reading */

void px_conn_set_timer(px_conn *c, px_timer_kind kind, uint64_t ms)
{
    c->tkind = kind;
    if (kind == T_NONE)
        wire_timer_stop(c->w->loop, &c->timer);
    else
        wire_timer_start(c->w->loop, &c->timer, ms);
}

/* The input block: [buf_size bytes of data][field array][exchange]. */
static int alloc_in(px_conn *c)
{
    if (c->s.in.base)
        return 0;
    if (px_stream_alloc_in(&c->s, c->rt->buf_size) < 0)
        return -ENOMEM;
    c->x = (px_exchange *)(void *)(c->s.in.base + c->rt->buf_size + c->rt->fields_cap * sizeof(http_field));
    exchange_start(c);
    return 0;
}

ssize_t px_conn_read(px_conn *c)
{
    ssize_t n = px_stream_read(&c->s);
    if (n > 0)
        PX_ADD(c->w->stats.bytes_in, n);
    return n;
}

ssize_t px_conn_write(px_conn *c, const px_batch *b)
{
    return px_stream_write(&c->s, b);
}

/* An idle keep-alive connection keeps no buffer: the input block goes back to the pool and TLS drops its
 * record buffers, until the client speaks again. */
static void release_idle_in(px_conn *c)
{
    if (c->s.in.base && c->s.in.end == 0) {
        px_stream_release_in(&c->s);
        c->x = NULL;
    }
    /* Called after a read found nothing: mbedTLS holds no record then, so its buffers can go. */
    if (!c->s.in.base && c->s.tls && !c->s.out.len && (c->trim_due || c->w->nconns > PX_TLS_TRIM_CONNS)) {
        tlsio_conn_idle(c->s.tls);
        c->trim_due = 0;
    }
}

/* The keep-alive wait; a TLS connection drops its record buffers now or after PX_TLS_TRIM_MS. */
static void start_keepalive(px_conn *c)
{
    uint64_t ka = c->server->limits.keepalive_timeout;
    if (c->s.tls && ka > PX_TLS_TRIM_MS && c->w->nconns <= PX_TLS_TRIM_CONNS)
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

/* A whole head is parsed: count it, decide keep-alive, and let the router choose who answers. */
static px_step request_begin(px_conn *c, size_t head_len)
{
    px_exchange *x = c->x;
    const http_request *r = &x->req;
    c->requests++;
    PX_ADD(c->w->stats.requests, 1);
    gauge(c, G_ACTIVE);
    x->head_len = head_len;
    x->body_off = head_len;
    x->started_ms = wire_now(c->w->loop);
    px_conn_set_timer(c, T_NONE, 0);
    x->keep_alive = r->keep_alive && !r->must_close;
    return c->w->daemon->hooks->route(c); /* chooses the server, the limits that follow, and the handler */
}

static px_step parse_head(px_conn *c)
{
    if (c->last_len == 0)
        exchange_start(c);
    px_exchange *x = c->x;
    memset(&x->req, 0, sizeof(x->req));
    x->req.fields = (http_field *)(void *)(c->s.in.base + c->rt->buf_size);
    x->req.fields_cap = c->rt->fields_cap;
    http_limits lim = request_limits(c);
    long rc = http_parse_request(c->s.in.base, c->s.in.end, c->last_len, &x->req, &lim);
    if (rc == HTTP_INCOMPLETE) {
        c->last_len = c->s.in.end;
        if (c->s.in.end >= lim.max_head || wire_buf_room(&c->s.in) == 0)
            return px_respond_error(c, 431, "request head too large");
        return PX_WAIT;
    }
    c->last_len = 0;
    if (rc < 0) {
        px_debug("client %s: bad request: %s at byte %zu", c->peer, http_strerror((int)rc), x->req.err_offset);
        return px_respond_error(c, http_err_status((int)rc), http_strerror((int)rc));
    }
    return request_begin(c, (size_t)rc);
}

/* ---------------------------------------------------------------- states */

/* CS_PROXY: the PROXY header, v1 or v2. It is peeked at, then exactly its bytes are read: what follows (a TLS
 * ClientHello, the first request) stays in the socket for mbedTLS or the head reader. The address it carries
 * becomes the client's everywhere (variables, fields toward the origin, logs, allow/deny, limits); a LOCAL header
 * (a balancer's own health check) or an UNKNOWN one keeps the connection's. */
static px_step state_proxy(px_conn *c)
{
    if (!c->s.ready_read)
        return PX_WAIT;
    unsigned char buf[PX_PP_MAX];
    ssize_t n = recv(c->s.io.fd, buf, sizeof(buf), MSG_PEEK);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        c->s.ready_read = 0;
        return PX_WAIT;
    }
    if (n < 0 && errno == EINTR)
        return PX_AGAIN;
    if (n <= 0)
        return PX_CLOSE;
    px_pp_result r;
    long rc = px_pp_parse(buf, (size_t)n, &r);
    if (rc == PX_PP_INCOMPLETE && !c->s.hup) {
        c->s.ready_read = 0; /* edge-triggered: the next bytes wake the connection again */
        return PX_WAIT;
    }
    if (rc < 0) {
        px_info("PROXY header refused: %s, client: %s, server: %s", px_pp_strerror(rc), c->peer, c->bind->text);
        return PX_CLOSE;
    }
    if (recv(c->s.io.fd, buf, (size_t)rc, 0) != rc) /* the bytes just peeked: exactly the header */
        return PX_CLOSE;
    if (!r.local) {
        px_ip_from_sockaddr(&c->peer_ip, &r.src.ss);
        px_peer_text(&r.src, c->peer, sizeof(c->peer));
        c->peer_port = px_sockaddr_port(&r.src.ss);
        px_ip_from_sockaddr(&c->local_ip, &r.dst.ss); /* what the client reached, as the balancer saw it */
        c->local_port = px_sockaddr_port(&r.dst.ss);
        c->local_known = 1;
    }
    if (refused_at_accept(c->w, c->bind, &c->peer_ip, NULL, c->peer))
        return PX_CLOSE;
    c->state = c->s.tls ? CS_HANDSHAKE : CS_HEAD;
    return PX_AGAIN;
}

/* CS_HANDSHAKE: TLS with the client; a failure is the client's business, logged at info level only. */
static px_step state_handshake(px_conn *c)
{
    int r = px_stream_handshake(&c->s);
    if (r == TLSIO_WANT_READ || r == TLSIO_WANT_WRITE)
        return PX_WAIT;
    if (r != TLSIO_OK) {
        char why[256]; /* mbedTLS's text may quote what the client sent */
        const char *text = tlsio_conn_error_text(c->s.tls);
        px_log_escape(text, strlen(text), why, sizeof(why));
        px_info("TLS handshake with client failed: %s%s%s%s", tlsio_strerror(r), *why ? ": " : "", why,
                px_log_context(c));
        return PX_CLOSE;
    }
    PX_ADD(c->w->stats.tls_handshakes, 1);
    if (tlsio_conn_resumed(c->s.tls))
        PX_ADD(c->w->stats.tls_resumed, 1);
    c->state = CS_HEAD;
    return PX_AGAIN;
}

/* CS_HEAD: parse what is buffered, or read more. */
static px_step state_head(px_conn *c)
{
    if (c->s.in.base && c->s.in.end > c->last_len) {
        px_step s = parse_head(c);
        return s == PX_CLOSE ? PX_CLOSE : PX_AGAIN;
    }
    if (!c->s.ready_read)
        return PX_WAIT;
    if (alloc_in(c) < 0)
        return PX_CLOSE;
    int was_empty = c->s.in.end == 0;
    ssize_t n = px_conn_read(c);
    if (n < 0)
        return PX_CLOSE;
    if (n == 0) {
        release_idle_in(c);
        return PX_WAIT;
    }
    if (was_empty && c->requests > 0) {
        px_conn_set_timer(c, T_HEADER, c->server->limits.client_header_timeout);
        gauge(c, G_READING);
    }
    return PX_AGAIN;
}

/* After the answer to a request that proxyd will not read to its end: stop sending, discard what the client
 * still sends for a short while so that its pending bytes do not turn our FIN into a reset that destroys the
 * response in flight, then close. */
static px_step linger(px_conn *c)
{
    if (c->tkind != T_LINGER) {
        if (c->s.tls)
            tlsio_close_notify(c->s.tls); /* best effort: the socket is about to close anyway */
        shutdown(c->s.io.fd, SHUT_WR);
        px_conn_set_timer(c, T_LINGER, PX_LINGER_MS);
    }
    char sink[4096];
    while (c->s.ready_read) {
        ssize_t n = wire_read(c->s.io.fd, sink, sizeof(sink));
        if (n == -EAGAIN) {
            c->s.ready_read = 0;
            return PX_WAIT;
        }
        if (n <= 0)
            return PX_CLOSE;
    }
    return PX_WAIT;
}

/* Prepares the connection for the next request on it (keep-alive) or for closing. */
static void next_request(px_conn *c)
{
    px_exchange *x = c->x;
    exchange_end(c);
    if (!x->keep_alive || c->w->stopping) {
        c->state = CS_CLOSING;
        return;
    }
    size_t left = c->s.in.end > x->body_off ? c->s.in.end - x->body_off : 0;
    if (left && x->body_off)
        memmove(c->s.in.base, c->s.in.base + x->body_off, left);
    c->s.in.start = 0;
    c->s.in.end = left;
    c->last_len = 0;
    c->state = CS_HEAD;
    release_idle_in(c);
    gauge(c, left ? G_READING : G_IDLE);
    if (left)
        px_conn_set_timer(c, T_HEADER, c->server->limits.client_header_timeout);
    else
        start_keepalive(c);
}

/* CS_LOCAL and CS_CLOSING: flush, then either the next request or a lingering close. */
static px_step state_flush(px_conn *c)
{
    if (c->s.out.len) {
        if (!c->s.ready_write)
            return PX_WAIT;
        int r = px_stream_flush(&c->s);
        return r < 0 ? PX_CLOSE : r == 0 ? PX_WAIT : PX_AGAIN;
    }
    if (c->state == CS_LOCAL) {
        next_request(c);
        return PX_AGAIN;
    }
    return linger(c);
}

px_step px_conn_answered(px_conn *c)
{
    c->state = c->x->keep_alive ? CS_LOCAL : CS_CLOSING;
    return PX_AGAIN;
}

static px_step step(px_conn *c)
{
    switch (c->state) {
    case CS_PROXY: return state_proxy(c);
    case CS_HANDSHAKE: return state_handshake(c);
    case CS_HEAD: return state_head(c);
    case CS_HANDLER: return c->x->handler->step(c);
    case CS_LOCAL:
    case CS_CLOSING: return state_flush(c);
    }
    return PX_CLOSE;
}

/* ---------------------------------------------------------------- timers */

/* Chooses the timeout for what the connection now waits on. Header and keep-alive timers are armed once per
 * head or idle period (a slow client cannot stretch them); send and body timers restart on progress. */
static void update_timer(px_conn *c)
{
    const px_limits *l = &c->server->limits;
    int progress = c->progress;
    c->progress = 0;
    switch (c->state) {
    case CS_PROXY:
    case CS_HANDSHAKE: return;
    case CS_HEAD:
        if (c->tkind != T_HEADER && c->tkind != T_KEEPALIVE && c->tkind != T_TRIM) {
            if (c->s.in.end)
                px_conn_set_timer(c, T_HEADER, l->client_header_timeout);
            else
                start_keepalive(c);
        }
        return;
    case CS_HANDLER:
        if (c->x->handler->update_timer) {
            c->x->handler->update_timer(c, progress);
            return;
        }
        break; /* a handler that only sends is bounded by send_timeout */
    default: break;
    }
    if (c->tkind != T_LINGER && (progress || c->tkind != T_SEND))
        px_conn_set_timer(c, T_SEND, l->send_timeout);
}

void px_conn_run(px_conn *c)
{
    for (;;) {
        px_step r = step(c);
        if (r == PX_CLOSE) {
            conn_free(c);
            return;
        }
        if (r == PX_WAIT)
            break;
        c->progress = 1;
    }
    update_timer(c);
}

void px_conn_continue(px_conn *c, px_step s)
{
    if (s == PX_CLOSE)
        conn_free(c);
    else
        px_conn_run(c);
}

/* A timeout that may still be answered (nothing of a response has been sent): 408, then closing. */
static px_step answer_timeout(px_conn *c, const char *why)
{
    if (c->x->handler && c->x->handler->end)
        c->x->handler->end(c);
    c->x->handler = NULL;
    return px_respond_error(c, 408, why);
}

static px_step on_timeout(px_conn *c)
{
    switch (c->tkind) {
    case T_TRIM:
        /* One read (it finds nothing, or the next request) leaves mbedTLS clean; the buffers go then. */
        px_conn_set_timer(c, T_KEEPALIVE, c->server->limits.keepalive_timeout - PX_TLS_TRIM_MS);
        c->trim_due = 1;
        c->s.ready_read = 1;
        return PX_AGAIN;
    case T_HEADER:
        px_debug("client %s: header timeout", c->peer);
        if (c->s.in.end && c->requests == 0 && !c->s.out.len)
            return answer_timeout(c, "client header timeout");
        break;
    case T_BODY:
        px_info("client body timeout%s", px_log_context(c));
        if (!c->x->resp_head_sent && !c->s.out.len)
            return answer_timeout(c, "client body timeout");
        break;
    case T_SEND: px_info("client send timeout%s", px_log_context(c)); break;
    case T_TUNNEL: px_info("tunnel idle timeout%s", px_log_context(c)); break;
    case T_DELAY:
        c->tkind = T_NONE; /* the handler arms it again if the wait is not over */
        return PX_AGAIN;
    default: break;
    }
    c->reset = c->tkind != T_KEEPALIVE && c->tkind != T_LINGER && c->server->limits.reset_timedout_connection;
    return PX_CLOSE;
}

static void conn_timer_cb(wire_loop *loop, wire_timer *t)
{
    px_conn *c = t->data;
    px_conn_continue(c, on_timeout(c));
}
