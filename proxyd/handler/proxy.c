/* proxyd request forwarding: takes an upstream connection, builds the upstream request head, streams the request
 * body (re-encoding chunked bodies so the origin sees only proxyd's framing), and drives the exchange both ways.
 * The response side is in proxy_resp.c. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "common/fields.h"
#include "common/log.h"
#include "handler/internal.h"
#include "http/vars.h"
#include "upstream/upstream.h"

/* ---------------------------------------------------------------- the forwarded request head */

static int overridden(const px_server *s, http_slice name)
{
    for (int i = 0; i < s->nset_headers; i++)
        if (http_slice_eq_ci(name, s->set_headers[i].name))
            return 1;
    return 0;
}

/* Fields never copied from the client: framing and hop-by-hop fields are proxyd's to write, the forwarding
 * fields are replaced so that a client cannot forge them, and a name with '_' (which some back ends read as '-',
 * "Transfer_Encoding" becoming framing) is dropped unless underscores_in_headers allows it, as in nginx. */
static int dropped(const px_conn *c, size_t i, int conn_names)
{
    const http_request *r = &c->x->req;
    const http_field *f = &r->fields[i];
    switch (px_field_classify(f->name)) {
    case PF_CONTENT_LENGTH:
    case PF_TRANSFER_ENCODING:
    case PF_EXPECT:
    case PF_X_REAL_IP:
    case PF_X_FORWARDED_FOR:
    case PF_X_FORWARDED_PROTO:
    case PF_HOST: return 1;
    case PF_UPGRADE: return !r->upgrade;
    case PF_CONNECTION:
    case PF_KEEP_ALIVE:
    case PF_PROXY_CONNECTION:
    case PF_TE:
    case PF_PROXY_AUTHENTICATE:
    case PF_PROXY_AUTHORIZATION:
    case PF_TRAILER: return 1;
    case PF_OTHER:
        if (!c->server->limits.underscores_in_headers && px_field_has_underscore(f->name))
            return 1;
        if (c->server->request_id && http_slice_eq_ci(f->name, "x-request-id"))
            return 1; /* sent once, as px_request_id chose it */
        break;
    default: break;
    }
    if (conn_names && http_is_hop_by_hop(r->fields, r->nfields, i))
        return 1;
    return c->server->nset_headers && overridden(c->server, f->name);
}

static void write_default_fields(px_conn *c, http_writer *hw)
{
    static const struct {
        http_slice name;
        px_var var;
    } defaults[] = {{PX_LIT("Host"), PX_VAR_HTTP_HOST}, /* as received: Lync and Exchange need the original */
                    {PX_LIT("X-Real-IP"), PX_VAR_REMOTE_ADDR},
                    {PX_LIT("X-Forwarded-For"), PX_VAR_PROXY_ADD_XFF},
                    {PX_LIT("X-Forwarded-Proto"), PX_VAR_SCHEME}};
    for (size_t k = 0; k < sizeof(defaults) / sizeof(defaults[0]); k++) {
        if (c->server->nset_headers && overridden(c->server, defaults[k].name))
            continue;
        http_field f = {defaults[k].name, {NULL, 0}};
        if (px_var_slice(c, defaults[k].var, &f.value)) { /* most values are slices already: one copy */
            px_copy_field(hw, &f);
            continue;
        }
        http_write_slice(hw, f.name);
        http_write_raw(hw, ": ", 2);
        px_var_write(c, defaults[k].var, hw);
        http_write_raw(hw, "\r\n", 2);
    }
    if (c->server->request_id && !(c->server->nset_headers && overridden(c->server, http_slice_cstr("X-Request-ID")))) {
        http_write_raw(hw, "X-Request-ID: ", 14);
        px_var_write(c, PX_VAR_REQUEST_ID, hw);
        http_write_raw(hw, "\r\n", 2);
    }
    for (int k = 0; k < c->server->nset_headers; k++)
        px_tpl_write_field(c, hw, c->server->set_headers[k].name, &c->server->set_headers[k].value);
}

/* Builds the upstream request head into the worker's scratch block. Returns its length or -1 (too large). */
static long build_request_head(px_conn *c)
{
    px_worker *w = c->w;
    http_request *r = &c->x->req;
    http_writer hw;
    http_writer_init(&hw, w->scratch, w->scratch_size);
    http_slice target = r->form == HTTP_TARGET_ABSOLUTE ? r->path : r->target;
    http_write_slice(&hw, r->method);
    http_write_raw(&hw, " ", 1);
    if (r->form == HTTP_TARGET_ABSOLUTE && (!target.len || target.base[0] == '?'))
        http_write_raw(&hw, "/", 1); /* "http://h?q" asks for "/?q" */
    http_write_slice(&hw, target);
    http_write_raw(&hw, " HTTP/1.1\r\n", 11);
    int conn_names = px_connection_names_fields(r->fields, r->nfields);
    for (size_t i = 0; i < r->nfields; i++)
        if (!dropped(c, i, conn_names))
            px_copy_field(&hw, &r->fields[i]);
    write_default_fields(c, &hw);
    if (r->body == HTTP_BODY_LENGTH) {
        http_write_raw(&hw, "Content-Length: ", 16);
        http_write_u64(&hw, r->content_length);
        http_write_raw(&hw, "\r\n", 2);
    } else if (r->body == HTTP_BODY_CHUNKED) {
        http_write_raw(&hw, "Transfer-Encoding: chunked\r\n", 28);
    }
    if (r->upgrade)
        http_write_str(&hw, "Connection: upgrade\r\n");
    return http_write_end(&hw);
}

/* ---------------------------------------------------------------- request body */

/* Collects buffered request-body bytes into the batch; re-encodes chunked bodies. Returns 0, or a negative
 * http_err for a malformed chunked body, or HTTP_E_BODY_TOO_LARGE. */
static int collect_request_body(px_conn *c, px_batch *b)
{
    px_exchange *x = c->x;
    char *base = c->s.in.base;
    while (x->req_body != BODY_DONE && x->body_off < c->s.in.end && !px_batch_full(b)) {
        size_t avail = c->s.in.end - x->body_off;
        if (x->req_body == BODY_LENGTH) {
            size_t take = avail < x->req_remaining ? avail : (size_t)x->req_remaining;
            px_batch_add(b, base + x->body_off, take);
            x->body_off += take;
            x->req_remaining -= take;
            if (x->req_remaining == 0)
                x->req_body = BODY_DONE;
            continue;
        }
        http_slice data;
        long n = http_chunked_decode(&x->req_chunked, base + x->body_off, avail, &data);
        if (n < 0)
            return (int)n;
        x->body_off += (size_t)n;
        px_batch_add_chunk(b, data.base, data.len);
        uint64_t max = c->server->limits.client_max_body_size;
        if (max && x->req_chunked.body_bytes > max)
            return HTTP_E_BODY_TOO_LARGE;
        if (x->req_chunked.done) {
            px_batch_add(b, HTTP_LAST_CHUNK, sizeof(HTTP_LAST_CHUNK) - 1);
            x->req_body = BODY_DONE;
        } else if (n == 0) {
            break;
        }
    }
    return 0;
}

/* Keeps the head at the front of the input block and moves unprocessed body bytes right after it, so that
 * the room for the next read is as large as it can be. */
static void compact_body(px_conn *c)
{
    px_exchange *x = c->x;
    if (x->req_body == BODY_DONE)
        return; /* what is left belongs to the next request */
    size_t left = c->s.in.end - x->body_off;
    if (left && x->body_off != x->head_len)
        memmove(c->s.in.base + x->head_len, c->s.in.base + x->body_off, left);
    x->body_off = x->head_len;
    c->s.in.end = x->head_len + left;
}

static px_step body_error(px_conn *c, int err)
{
    px_proxy_abort(c);
    if (err == HTTP_E_BODY_TOO_LARGE)
        return px_respond_error(c, 413, "request body too large");
    return px_respond_error(c, http_err_status(err), http_strerror(err));
}

/* Writes the batch to the upstream, then compacts what the client sent. */
static px_step send_batch(px_conn *c, px_batch *b)
{
    if (px_stream_write(&c->x->up->s, b) < 0)
        return px_proxy_upstream_error(c, -EPIPE);
    compact_body(c);
    return PX_AGAIN;
}

/* Sends the head (once the upstream connection is ready) with whatever body bytes are already buffered. */
static px_step send_head(px_conn *c)
{
    long hl = build_request_head(c);
    if (hl < 0) {
        px_proxy_abort(c);
        return px_respond_error(c, 431, "forwarded request head too large");
    }
    px_batch b;
    px_batch_init(&b);
    px_batch_add(&b, c->w->scratch, (size_t)hl);
    int err = collect_request_body(c, &b);
    if (err < 0)
        return body_error(c, err);
    c->x->head_sent = 1;
    return send_batch(c, &b);
}

static px_step forward_request_body(px_conn *c)
{
    if (c->x->body_off == c->s.in.end) {
        ssize_t n = px_conn_read(c);
        if (n < 0)
            return px_proxy_client_gone(c);
        if (n == 0)
            return PX_WAIT;
    }
    px_batch b;
    px_batch_init(&b);
    int err = collect_request_body(c, &b);
    if (err < 0)
        return body_error(c, err);
    return send_batch(c, &b);
}

/* ---------------------------------------------------------------- one step of the exchange */

static px_step flush_stream(px_conn *c, px_stream *s, int client)
{
    int r = px_stream_flush(s);
    if (r < 0)
        return client ? px_proxy_client_gone(c) : px_proxy_upstream_error(c, r);
    return r ? PX_AGAIN : PX_WAIT;
}

/* A client that hung up while waiting (a long poll abandoned, or during the connect) frees its upstream, as
 * nginx does. A FIN may also be a half-close of a client still reading: proxy_ignore_client_abort keeps the
 * exchange then (a client really gone shows when the response cannot be written). */
static int client_left(const px_conn *c)
{
    const px_exchange *x = c->x;
    return (c->s.eof || (c->s.hup && x->req_body == BODY_DONE)) && !x->resp_done &&
           !(c->server->ignore_client_abort && x->req_body == BODY_DONE);
}

/* CS_HANDLER for a proxied request: moves whatever can move, in both directions. */
static px_step proxy_step(px_conn *c)
{
    px_exchange *x = c->x;
    px_upconn *u = x->up;
    px_step progress = PX_WAIT, r;
    if (c->s.out.len && c->s.ready_write) {
        if ((r = flush_stream(c, &c->s, 1)) == PX_CLOSE)
            return r;
        progress = r;
    }
    if (!u)
        return c->s.out.len ? progress : px_proxy_finish(c);
    if (client_left(c))
        return px_proxy_client_gone(c);
    if (u->state != UP_ACTIVE)
        return progress;
    if (!x->head_sent)
        return send_head(c);
    if (u->s.out.len && u->s.ready_write) {
        if ((r = flush_stream(c, &u->s, 0)) == PX_CLOSE)
            return r;
        progress = progress || r ? PX_AGAIN : PX_WAIT;
    }
    /* The response is read even while request bytes wait: an origin may answer before reading the body. */
    if (!c->s.out.len && !x->resp_done && x->resp_head_sent && wire_buf_len(&u->s.in) &&
        (r = px_proxy_forward_buffered(c)) != PX_WAIT)
        return r;
    if (!c->s.out.len && !x->resp_done && u->s.ready_read && (r = px_proxy_read_response(c)) != PX_WAIT)
        return r;
    if (x->req_body != BODY_DONE && !x->req_aborted && !u->s.out.len && (r = forward_request_body(c)) != PX_WAIT)
        return r;
    if (x->resp_done && !c->s.out.len)
        return px_proxy_finish(c);
    return progress;
}

/* The timers follow what the exchange waits on: the client's send_timeout while the response waits for the
 * client, its client_body_timeout while the body is awaited, else the upstream's: send_timeout while the request
 * is going out, the route's header_timeout (when on) until the first response byte, then its read_timeout
 * (re-armed by every read). */
static void proxy_update_timer(px_conn *c, int progress)
{
    px_exchange *x = c->x;
    px_upconn *u = x->up;
    const px_limits *l = &c->server->limits;
    if (u && u->state == UP_ACTIVE) {
        px_up_timer kind = c->s.out.len                                   ? UT_NONE
                           : u->s.out.len || x->req_body != BODY_DONE     ? UT_SEND
                           : !x->resp_started && x->route->header_timeout ? UT_HEADER
                                                                          : UT_READ;
        if (kind != u->tkind || (progress && kind == UT_SEND))
            px_upconn_arm(u, kind);
    }
    if (c->s.out.len) {
        if (progress || c->tkind != T_SEND)
            px_conn_set_timer(c, T_SEND, l->send_timeout);
    } else if (x->req_body != BODY_DONE && u && u->state == UP_ACTIVE && !u->s.out.len && x->head_sent) {
        if (progress || c->tkind != T_BODY)
            px_conn_set_timer(c, T_BODY, l->client_body_timeout);
    } else if (c->tkind != T_NONE) {
        px_conn_set_timer(c, T_NONE, 0); /* waiting on the upstream: its own timer governs */
    }
}

static void proxy_end(px_conn *c)
{
    px_proxy_abort(c);
    px_gzip_end(c);
}

const px_handler px_proxy_handler = {"proxy", proxy_step, proxy_update_timer, proxy_end};

/* ---------------------------------------------------------------- the upstream connection's owner */

static int acquire(px_conn *c);

static void on_up_ready(void *owner)
{
    px_conn_run(owner);
}

static void on_up_failed(void *owner, int err)
{
    px_conn_continue(owner, px_proxy_upstream_error(owner, err));
}

/* No response byte within header_timeout. Unlike a read timeout (a long poll may rightly be slow), the administrator
 * said a healthy server starts answering within it: a hung server (frozen, deadlocked) counts toward max_fails, and
 * as nginx's proxy_next_upstream timeout, an idempotent request without a body goes to the next server. */
static px_step header_timeout(px_conn *c)
{
    px_exchange *x = c->x;
    px_upconn *u = x->up;
    int safe = x->req.body == HTTP_BODY_NONE && http_method_idempotent(x->req.method_id);
    int retry = safe && ++x->tries < PX_RETRIES_ON_TIMEOUT(x->upstream->nservers);
    px_error("upstream header timeout: no response byte within %llums, %s%s", (unsigned long long)u->header_ms,
             retry  ? "trying the next server"
             : safe ? "no other server to try"
                    : "not retried (the request is not idempotent or has a body)",
             px_log_context(c));
    px_upconn_count_error(u, PX_UPERR_HEADER_TIMEOUT);
    px_upstream_failed(u);
    x->tried |= 1ull << (u->server & 63);
    px_proxy_abort(c);
    if (retry) {
        x->head_sent = 0;
        if (acquire(c) == 0)
            return PX_AGAIN;
    }
    return px_respond_error(c, 504, "upstream header timeout");
}

static px_step upstream_timeout(px_conn *c)
{
    px_exchange *x = c->x;
    px_upconn *u = x->up;
    if (u->state != UP_ACTIVE) {
        px_error("upstream connect timeout%s", px_log_context(c));
        px_upconn_count_error(u, PX_UPERR_CONNECT_TIMEOUT);
        px_upstream_failed(u);
        x->tried |= 1ull << (u->server & 63);
        px_proxy_abort(c);
        x->head_sent = 0;
        if (++x->tries < PX_RETRIES_ON_TIMEOUT(x->upstream->nservers) && acquire(c) == 0)
            return PX_AGAIN;
        return px_respond_error(c, 504, "upstream connect timeout");
    }
    if (u->tkind == UT_HEADER)
        return header_timeout(c);
    /* A read timeout is not a failure of the server: one slow long poll must not take it out of rotation. */
    px_warn("upstream %s timeout%s", u->s.out.len ? "send" : "read", px_log_context(c));
    px_upconn_count_error(u, PX_UPERR_READ_TIMEOUT);
    if (x->resp_head_sent)
        return PX_CLOSE;
    px_proxy_abort(c);
    return px_respond_error(c, 504, "upstream timeout");
}

static void on_up_timeout(void *owner)
{
    px_conn_continue(owner, upstream_timeout(owner));
}

/* The origin closed the authenticated connection this client keeps between requests. */
static void on_up_lost(void *owner)
{
    px_conn *c = owner;
    c->pinned = NULL;
    if (c->state == CS_HEAD && c->s.in.end == 0)
        px_conn_continue(c, PX_CLOSE); /* the authenticated pair ends together */
}

static const char *up_log_context(const void *owner)
{
    return px_log_context(owner);
}

static const px_upconn_ops owner_ops = {on_up_ready, on_up_failed, on_up_timeout, on_up_lost, up_log_context};

/* ---------------------------------------------------------------- starting and failing */

/* The PROXY v2 header naming the client's connection (upstream proxy_protocol). Its local address is read once per
 * client connection, and only here: a PROXY header received had it already. */
static size_t client_pp(px_conn *c, unsigned char *buf, size_t cap)
{
    if (!c->local_known) {
        wire_addr a;
        if (wire_sockname(c->s.io.fd, &a) == 0) {
            px_ip_from_sockaddr(&c->local_ip, &a.ss);
            c->local_port = px_sockaddr_port(&a.ss);
        }
        c->local_known = 1;
    }
    return px_pp_write_v2(buf, cap, &c->peer_ip, c->peer_port, &c->local_ip, c->local_port);
}

/* Takes an upstream connection for the exchange: the pinned one, a pooled one, or a new one. */
static int acquire(px_conn *c)
{
    px_exchange *x = c->x;
    unsigned char pp[PX_PP_V2_OUT_MAX];
    px_acquire a = {c,    &owner_ops, c->pinned, c->pin, &x->tried, x->route->read_timeout, x->route->header_timeout,
                    NULL, 0};
    if (x->upstream->proxy_protocol) {
        a.pp = pp;
        a.pp_len = client_pp(c, pp, sizeof(pp));
    }
    int err = 0;
    x->up = px_upstream_acquire(c->w, c->rt, x->upstream, &a, &err);
    if (!x->up)
        return err;
    x->up_addr = x->up->up->servers[x->up->server].text;
    return 0;
}

/* Answers Expect: 100-continue itself: the body is streamed as it comes, so the origin's own 100 would be late. */
static int send_continue(px_conn *c)
{
    static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
    px_batch b;
    px_batch_init(&b);
    px_batch_add(&b, cont, sizeof(cont) - 1);
    return px_conn_write(c, &b) < 0 ? -1 : 0;
}

px_step px_proxy_start(px_conn *c)
{
    px_exchange *x = c->x;
    if (!x->handler) { /* the first try; a retry comes here again */
        px_step refused;
        if (!px_auth_guard_admit(c, &refused))
            return refused;
        if (x->req.expect_continue && x->req_body != BODY_DONE && send_continue(c) < 0)
            return PX_CLOSE;
        x->handler = &px_proxy_handler;
        c->state = CS_HANDLER;
    }
    if (acquire(c) < 0) {
        if (!x->tried) /* every server was out of rotation: none was even tried */
            px_metric_add(&PX_WS(c)->metrics.upstreams[x->upstream->index].no_server, 1);
        return px_respond_error(c, 502, "no live upstream server");
    }
    return PX_AGAIN;
}

void px_proxy_abort(px_conn *c)
{
    px_exchange *x = c->x;
    if (!x->up)
        return;
    if (x->up == c->pinned)
        c->pinned = NULL;
    px_upstream_close(x->up);
    x->up = NULL;
}

px_step px_proxy_client_gone(px_conn *c)
{
    px_info("client closed the connection before the response was complete%s", px_log_context(c));
    c->x->resp_status = c->x->resp_status ? c->x->resp_status : 499;
    return PX_CLOSE;
}

/* The 502's reason for a failure before any response byte, and a hint for the log line ("" when none). A TLS
 * server closes a plain connection without a word (OpenSSL, IIS): on a new plain connection that is the likely
 * cause, said at once. */
static const char *failure_why(const px_upconn *u, int err, char *hint, size_t cap)
{
    hint[0] = 0;
    if (u->fail_why)
        return u->fail_why;
    if (u->state != UP_ACTIVE || u->reused || u->up->tls || (err != -ECONNRESET && err != -EPIPE))
        return "upstream unreachable";
    snprintf(hint, cap,
             "; a TLS server does this to plain HTTP: if %s speaks https, write proxy_pass = https://%s or tls = on "
             "in [upstream %s]",
             u->up->servers[u->server].text, u->up->name, u->up->name);
    return "upstream closed a new connection without answering";
}

/* The metrics' name for a failure before any response byte. */
static px_up_error failure_kind(const px_upconn *u, int err, int connecting)
{
    if (!connecting)
        return PX_UPERR_RESET;
    return u->fail_why ? PX_UPERR_TLS : err == -ECONNREFUSED ? PX_UPERR_REFUSED : PX_UPERR_CONNECT;
}

px_step px_proxy_upstream_error(px_conn *c, int err)
{
    px_exchange *x = c->x;
    px_upconn *u = x->up;
    if (x->resp_head_sent)
        return PX_CLOSE;
    int connecting = u->state != UP_ACTIVE; /* nothing was sent yet */
    /* As nginx: a request that may have reached the server is retried only when repeating it is harmless. */
    int safe = connecting || (x->req.body == HTTP_BODY_NONE && http_method_idempotent(x->req.method_id));
    int stale = u->reused && !connecting; /* a pooled connection the origin had closed: not the server's fault */
    char hint[256];
    const char *why = failure_why(u, err, hint, sizeof(hint));
    /* nginx's phrases: a request wholly sent (a long poll waiting) failed while reading, not while sending. */
    const char *phase = connecting ? "connecting to upstream"
                        : x->head_sent && x->req_body == BODY_DONE && !u->s.out.len
                            ? "reading the response header from upstream"
                            : "sending the request to upstream";
    if (!(connecting && u->fail_why)) /* a failed TLS handshake was logged by upstream/connect.c, with its reason */
        px_error("%s (%s) while %s%s%s", wire_strerror(err),
                 connecting  ? "connect"
                 : u->reused ? "reused connection"
                             : "new connection",
                 phase, hint, px_log_context(c));
    if (!stale) { /* a stale pooled connection says nothing about the server: it may be tried again, fresh */
        px_upconn_count_error(u, failure_kind(u, err, connecting));
        px_upstream_failed(u);
        x->tried |= 1ull << (u->server & 63);
    }
    px_proxy_abort(c);
    /* Stale pooled connections do not use up tries: each is closed, so the pool bounds them. */
    if (safe && (stale || ++x->tries < PX_RETRIES_ON_ERROR(x->upstream->nservers))) {
        x->head_sent = 0;
        if (acquire(c) == 0)
            return PX_AGAIN;
    }
    return px_respond_error(c, 502, why);
}
