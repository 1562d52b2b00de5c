/* origin connections: one explicit state machine per client (head, body, wait, send, closing, linger) over
 * edge-triggered io, with pooled fixed-size input/output blocks that are returned to the pool whenever empty. */
#include "origin.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define LINGER_MS 1000
#define IOV_MAX_PIECES 8

/* What a state function needs next. */
typedef enum step {
    STEP_AGAIN, /* progress made (maybe a new state): dispatch again */
    STEP_INPUT, /* needs more bytes from the socket */
    STEP_FLUSH, /* needs output room or the output drained */
    STEP_IDLE,  /* waits for the timer */
    STEP_CLOSE, /* free the connection now */
} step;

static const http_limits limits = {.max_head = ORIGIN_MAX_HEAD, .max_fields = ORIGIN_MAX_FIELDS};

static void conn_free(conn *c)
{
    origin_worker *w = c->w;
    wire_io_stop(w->loop, &c->io);
    wire_timer_stop(w->loop, &c->timer);
    close(c->io.fd);
    if (c->in.base)
        wire_pool_put(&w->in_pool, c->in.base);
    if (c->out.base)
        wire_pool_put(&w->out_pool, c->out.base);
    if (c->prev)
        c->prev->next = c->next;
    else
        w->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    free(c);
}

void conn_free_all(origin_worker *w)
{
    while (w->conns)
        conn_free(w->conns);
}

/* Returns empty blocks to the pools so that idle keep-alive connections hold no buffer. */
static void conn_release(conn *c)
{
    if (c->in.base && wire_buf_len(&c->in) == 0) {
        wire_pool_put(&c->w->in_pool, c->in.base);
        memset(&c->in, 0, sizeof c->in);
    }
    if (c->out.base && wire_buf_len(&c->out) == 0 && !c->hold_echo) {
        wire_pool_put(&c->w->out_pool, c->out.base);
        memset(&c->out, 0, sizeof c->out);
    }
}

static int take_block(wire_pool *pool, wire_buf *b, size_t cap)
{
    if (b->base)
        return 0;
    b->base = wire_pool_get(pool);
    b->cap = cap;
    b->start = b->end = 0;
    return b->base ? 0 : -1;
}

/* Reads once. Returns 1 when the state may progress (bytes or end of file), 0 when nothing came, -1 on error. */
static int conn_fill(conn *c)
{
    if (!c->readable || c->eof)
        return 0;
    if (take_block(&c->w->in_pool, &c->in, ORIGIN_IN_SIZE) < 0)
        return -1;
    if (wire_buf_room(&c->in) == 0)
        wire_buf_compact(&c->in);
    size_t room = wire_buf_room(&c->in);
    if (room == 0)
        return -1; /* states consume before asking for more: a full block here would never drain */
    ssize_t n = wire_read(c->io.fd, wire_buf_tail(&c->in), room);
    if (n == -EAGAIN) {
        c->readable = 0;
        return 0;
    }
    if (n < 0)
        return -1;
    if (n == 0) {
        c->eof = 1;
        return 1;
    }
    c->in.end += (size_t)n;
    if ((size_t)n < room && !c->rdhup) /* a short read drained the socket; the next edge will tell */
        c->readable = 0;
    return 1;
}

/* Sends the output block, then generated body bytes. Returns 1 when something was written, 0 when blocked,
 * held or empty, -1 on error. */
static int conn_flush(conn *c)
{
    body_gen *g = &c->gen;
    int progress = 0;
    while (!c->hold_delay && !c->hold_echo && c->writable && (wire_buf_len(&c->out) > 0 || g->left > 0)) {
        struct iovec iov[IOV_MAX_PIECES];
        int cnt = 0;
        size_t total = 0, off = g->off;
        uint64_t left = g->left;
        if (wire_buf_len(&c->out) > 0) {
            iov[cnt++] = (struct iovec){wire_buf_data(&c->out), wire_buf_len(&c->out)};
            total += wire_buf_len(&c->out);
        }
        while (cnt < IOV_MAX_PIECES && left > 0) {
            size_t k = g->period - off < left ? g->period - off : (size_t)left;
            iov[cnt++] = (struct iovec){(void *)(g->pat + off), k};
            total += k;
            left -= k;
            off = (off + k) % g->period;
        }
        ssize_t n = wire_writev(c->io.fd, iov, cnt);
        if (n == -EAGAIN) {
            c->writable = 0;
            break;
        }
        if (n < 0)
            return -1;
        progress = 1;
        if ((size_t)n < total)
            c->writable = 0;
        size_t from_out = (size_t)n < wire_buf_len(&c->out) ? (size_t)n : wire_buf_len(&c->out);
        wire_buf_consume(&c->out, from_out);
        if ((size_t)n > from_out) {
            g->left -= (size_t)n - from_out;
            g->off = (g->off + ((size_t)n - from_out)) % g->period;
        }
    }
    return progress;
}

/* Makes `need` bytes of output room (0: the block must be empty). Returns 1 when there is room. */
static int out_fits(conn *c, size_t need)
{
    if (need == 0)
        return wire_buf_len(&c->out) == 0;
    if (wire_buf_room(&c->out) < need)
        wire_buf_compact(&c->out);
    return wire_buf_room(&c->out) >= need;
}

static step enter_closing(conn *c)
{
    c->state = CONN_CLOSING;
    return STEP_AGAIN;
}

/* Replaces whatever this request produced with an error response, then closes. */
static step fail_request(conn *c, int status, const char *why)
{
    c->out.start = c->out.end = 0;
    c->hold_echo = c->echo = c->echo_chunked = 0;
    if (route_error(c, status, why) < 0)
        return STEP_CLOSE;
    return enter_closing(c);
}

static step request_done(conn *c)
{
    if (c->echo_chunked)
        route_echo_finish(c);
    c->state = c->hold_delay ? CONN_WAIT : CONN_SEND;
    return STEP_AGAIN;
}

/* CONN_HEAD: parses the next request (pipelined ones are already buffered) and writes its response head. */
static step conn_head(conn *c)
{
    http_field fields[ORIGIN_MAX_FIELDS];
    http_request req = {.fields = fields, .fields_cap = ORIGIN_MAX_FIELDS};
    route_plan plan;
    size_t len = wire_buf_len(&c->in);
    if (len == 0)
        return c->eof ? enter_closing(c) : STEP_INPUT;
    long r = http_parse_request(wire_buf_data(&c->in), len, c->parse_last, &req, &limits);
    if (r == HTTP_INCOMPLETE) {
        c->parse_last = len;
        return c->eof ? enter_closing(c) : STEP_INPUT; /* a truncated head gets no answer */
    }
    if (take_block(&c->w->out_pool, &c->out, ORIGIN_OUT_SIZE) < 0)
        return STEP_CLOSE;
    if (r < 0) {
        if (!out_fits(c, ORIGIN_ROUTE_ROOM))
            return STEP_FLUSH;
        c->parse_last = 0;
        wire_buf_consume(&c->in, len); /* the stream cannot be resynchronised */
        if (route_error(c, http_err_status((int)r), http_strerror((int)r)) < 0)
            return STEP_CLOSE;
        return enter_closing(c);
    }
    route_plan_request(&req, &plan);
    if (!out_fits(c, route_room(&plan, &req)))
        return STEP_FLUSH; /* parsed again once flushed: cheap, and keeps no slices across the wait */
    c->parse_last = 0;
    if (route_write(c, &plan, &req, wire_buf_data(&c->in), (size_t)r) < 0)
        return STEP_CLOSE; /* cannot happen: route_room bounds every response head */
    wire_buf_consume(&c->in, (size_t)r);
    c->body = req.body;
    c->body_left = req.content_length;
    if (req.body == HTTP_BODY_NONE)
        return request_done(c);
    if (req.body == HTTP_BODY_CHUNKED)
        http_chunked_init(memset(&c->chunked, 0, sizeof c->chunked), 0, 0);
    c->state = CONN_BODY;
    return STEP_AGAIN;
}

/* Content-Length body: discarded, or copied after the echoed head (streamed: the length is already sent). */
static step body_length(conn *c)
{
    size_t n = wire_buf_len(&c->in);
    if (n > c->body_left)
        n = (size_t)c->body_left;
    if (c->echo) {
        if (take_block(&c->w->out_pool, &c->out, ORIGIN_OUT_SIZE) < 0)
            return STEP_CLOSE; /* the block went back to the pool when a flush emptied it */
        if (wire_buf_room(&c->out) == 0)
            wire_buf_compact(&c->out);
        if (wire_buf_room(&c->out) == 0)
            return STEP_FLUSH;
        if (n > wire_buf_room(&c->out))
            n = wire_buf_room(&c->out);
        memcpy(wire_buf_tail(&c->out), wire_buf_data(&c->in), n);
        c->out.end += n;
    }
    wire_buf_consume(&c->in, n);
    c->body_left -= n;
    return c->body_left == 0 ? request_done(c) : STEP_AGAIN;
}

/* Chunked body: decoded; for /echo buffered whole (its length heads the response), bounded by the block. */
static step body_chunked(conn *c)
{
    size_t len = wire_buf_len(&c->in), limit = len;
    http_slice span;
    if (c->echo && limit > wire_buf_room(&c->out))
        limit = wire_buf_room(&c->out); /* a span never exceeds the bytes consumed */
    long r = http_chunked_decode(&c->chunked, wire_buf_data(&c->in), limit, &span);
    if (r < 0)
        return c->hold_echo ? fail_request(c, 400, http_strerror((int)r)) : STEP_CLOSE;
    if (c->echo && span.len > 0) {
        memcpy(wire_buf_tail(&c->out), span.base, span.len);
        c->out.end += span.len;
    }
    wire_buf_consume(&c->in, (size_t)r);
    if (c->chunked.done)
        return request_done(c);
    if (r == 0 && limit < len)
        return fail_request(c, 413, "chunked /echo body over the output block");
    return r == 0 ? (c->eof ? STEP_CLOSE : STEP_INPUT) : STEP_AGAIN;
}

/* CONN_BODY */
static step conn_body(conn *c)
{
    if (wire_buf_len(&c->in) == 0)
        return c->eof ? STEP_CLOSE : STEP_INPUT; /* truncated body: the response cannot be completed */
    return c->body == HTTP_BODY_LENGTH ? body_length(c) : body_chunked(c);
}

/* CONN_WAIT: the request is read; the timer callback releases the held response. */
static step conn_wait(conn *c)
{
    if (c->hold_delay)
        return STEP_IDLE;
    c->state = CONN_SEND;
    return STEP_AGAIN;
}

/* CONN_SEND: streams the generated body, emitting chunk framing between pieces. */
static step conn_send(conn *c)
{
    if (c->gen.left > 0)
        return STEP_FLUSH;
    if (c->gen.more)
        return gen_step(c) < 0 ? STEP_FLUSH : STEP_AGAIN;
    if (c->ws) {
        c->state = CONN_WS;
        return STEP_AGAIN;
    }
    if (!c->keep_alive)
        return enter_closing(c);
    c->state = CONN_HEAD;
    return STEP_AGAIN;
}

/* CONN_CLOSING: everything written, half-close and linger so that unread input does not reset the response. */
static step conn_closing(conn *c)
{
    if (wire_buf_len(&c->out) > 0 || c->gen.left > 0)
        return STEP_FLUSH;
    if (c->eof)
        return STEP_CLOSE;
    shutdown(c->io.fd, SHUT_WR);
    c->state = CONN_LINGER;
    wire_timer_start(c->w->loop, &c->timer, LINGER_MS);
    return STEP_AGAIN;
}

/* CONN_LINGER: discards input until the peer closes or the timer fires. */
static step conn_linger(conn *c)
{
    wire_buf_consume(&c->in, wire_buf_len(&c->in));
    return c->eof ? STEP_CLOSE : STEP_INPUT;
}

/* CONN_WS: echoes frames until a close frame, an error or the end of input. */
static step conn_ws(conn *c)
{
    if (wire_buf_len(&c->in) > 0 && take_block(&c->w->out_pool, &c->out, ORIGIN_OUT_SIZE) < 0)
        return STEP_CLOSE; /* the output block went back to the pool while the connection was idle */
    switch (ws_echo(c)) {
    case WS_PROGRESS: return STEP_AGAIN;
    case WS_NEED_INPUT: return c->eof ? STEP_CLOSE : STEP_INPUT;
    case WS_NEED_ROOM: return STEP_FLUSH;
    case WS_CLOSING: return enter_closing(c);
    case WS_CLOSE_NOW: break;
    }
    return STEP_CLOSE;
}

static step conn_dispatch(conn *c)
{
    switch (c->state) {
    case CONN_HEAD: return conn_head(c);
    case CONN_BODY: return conn_body(c);
    case CONN_WAIT: return conn_wait(c);
    case CONN_SEND: return conn_send(c);
    case CONN_CLOSING: return conn_closing(c);
    case CONN_LINGER: return conn_linger(c);
    case CONN_WS: return conn_ws(c);
    }
    return STEP_CLOSE;
}

/* Whether a flush that wrote nothing will be retried: output pending on a blocked socket, or held. */
static int flush_can_resume(const conn *c)
{
    int pending = wire_buf_len(&c->out) > 0 || c->gen.left > 0;
    return c->hold_delay || c->hold_echo || (pending && !c->writable);
}

/* Runs states until one must wait for the socket or the timer; output is flushed before waiting, so that
 * responses to pipelined requests leave in one writev. */
static void conn_run(conn *c)
{
    for (;;) {
        int r = 0;
        switch (conn_dispatch(c)) {
        case STEP_AGAIN: continue;
        case STEP_CLOSE: conn_free(c); return;
        case STEP_INPUT:
            r = conn_fill(c);
            if (r == 0)
                r = conn_flush(c) < 0 ? -1 : 0;
            break;
        case STEP_FLUSH:
            r = conn_flush(c);
            if (r == 0 && !flush_can_resume(c))
                r = -1; /* nothing would ever wake this connection: a bug, but never a hang */
            break;
        case STEP_IDLE: break;
        }
        if (r < 0) {
            conn_free(c);
            return;
        }
        if (r == 0) {
            conn_release(c);
            return;
        }
    }
}

static void on_io(wire_loop *loop, wire_io *io, unsigned events)
{
    conn *c = io->data;
    if (events & (WIRE_READ | WIRE_RDHUP | WIRE_HUP | WIRE_ERROR))
        c->readable = 1;
    if (events & (WIRE_RDHUP | WIRE_HUP | WIRE_ERROR))
        c->rdhup = 1;
    if (events & (WIRE_WRITE | WIRE_HUP | WIRE_ERROR))
        c->writable = 1;
    conn_run(c);
}

static void on_timer(wire_loop *loop, wire_timer *t)
{
    conn *c = t->data;
    if (c->state == CONN_LINGER) {
        conn_free(c);
        return;
    }
    c->hold_delay = 0;
    conn_run(c);
}

void conn_start_delay(conn *c, uint32_t ms)
{
    c->hold_delay = 1;
    wire_timer_start(c->w->loop, &c->timer, ms);
}

void conn_accept(wire_listener *l, int fd, const wire_addr *peer)
{
    origin_worker *w = l->data;
    conn *c = calloc(1, sizeof *c);
    if (!c) {
        close(fd);
        return;
    }
    c->w = w;
    c->state = CONN_HEAD;
    c->writable = 1;
    (void)wire_set_nodelay(fd);
    wire_io_init(&c->io, fd, on_io, c);
    wire_timer_init(&c->timer, on_timer, c);
    if (wire_io_start(w->loop, &c->io, WIRE_READ | WIRE_WRITE | WIRE_RDHUP | WIRE_EDGE) < 0) {
        close(fd);
        free(c);
        return;
    }
    c->next = w->conns;
    if (w->conns)
        w->conns->prev = c;
    w->conns = c;
}
