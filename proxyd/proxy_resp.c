/* proxyd response path: reads the upstream's response, rewrites its head for the client (hop-by-hop fields,
 * Server, add_header, proxy_redirect, connection), streams the body with bounded buffers, and ends the exchange. */
#include <errno.h>
#include <stdio.h>
#include <strings.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "io.h"
#include "log.h"
#include "proxyd.h"

static int is_ntlm(http_slice v)
{
    return (v.len >= 4 && strncasecmp(v.base, "NTLM", 4) == 0 && (v.len == 4 || v.base[4] == ' ')) ||
           (v.len >= 9 && strncasecmp(v.base, "Negotiate", 9) == 0 && (v.len == 9 || v.base[9] == ' '));
}

/* NTLM and Negotiate authenticate the connection, not the request: such a client keeps its upstream
 * connection for good (never pooled, never shared). */
static void check_pinning(px_conn *c, const http_response *resp)
{
    if (!c->upstream->ntlm || c->pin)
        return;
    long i = http_find_field(c->x->req.fields, c->x->req.nfields, "authorization", 0);
    if (i >= 0 && is_ntlm(c->x->req.fields[i].value))
        c->pin = 1;
    if (resp->status == 401)
        for (long j = http_find_field(resp->fields, resp->nfields, "www-authenticate", 0); j >= 0;
             j = http_find_field(resp->fields, resp->nfields, "www-authenticate", (size_t)j + 1))
            if (is_ntlm(resp->fields[j].value))
                c->pin = 1;
}

/* proxy_redirect default: a Location or Refresh that names the upstream itself is rewritten to the name the
 * client used. Returns the rewritten value in tmp, or the value unchanged. */
static http_slice rewrite_location(px_conn *c, http_slice v, char *tmp, size_t cap)
{
    const px_upstream *up = c->upstream;
    const char *scheme = up->tls ? "https://" : "http://";
    size_t sl = strlen(scheme);
    if (!c->server->proxy_redirect || v.len < sl || strncasecmp(v.base, scheme, sl) != 0)
        return v;
    const px_upstream_server *s = &up->servers[c->up->server];
    const char *cands[3] = {s->text, s->host, up->tls_server_name};
    for (int k = 0; k < 3; k++) {
        size_t l = cands[k] ? strlen(cands[k]) : 0;
        if (!l || v.len < sl + l || strncasecmp(v.base + sl, cands[k], l) != 0)
            continue;
        char next = v.len > sl + l ? v.base[sl + l] : '/';
        if (next != '/' && next != '?' && next != '#')
            continue;
        size_t n = px_var_expand(c, PX_VAR_SCHEME, tmp, cap);
        n += (size_t)snprintf(tmp + n, cap - n, "://");
        n += px_var_expand(c, PX_VAR_HTTP_HOST, tmp + n, cap - n);
        size_t rest = v.len - sl - l;
        if (n + rest >= cap)
            return v;
        memcpy(tmp + n, v.base + sl + l, rest);
        return http_slice_of(tmp, n + rest);
    }
    return v;
}

/* "5; url=http://upstream/x": the URL after "url=" is rewritten like a Location. */
static http_slice rewrite_refresh(px_conn *c, http_slice v, char *tmp, size_t cap)
{
    for (size_t i = 0; i + 4 <= v.len; i++) {
        if (strncasecmp(v.base + i, "url=", 4) != 0)
            continue;
        size_t pre = i + 4;
        if (pre >= cap)
            return v;
        http_slice url = rewrite_location(c, http_slice_of(v.base + pre, v.len - pre), tmp + pre, cap - pre);
        if (url.base != tmp + pre)
            return v;
        memcpy(tmp, v.base, pre);
        return http_slice_of(tmp, pre + url.len);
    }
    return v;
}

static int response_field_dropped(const http_response *resp, size_t i, px_field_kind k, int conn_names)
{
    if (k == PF_CONTENT_LENGTH) /* rewritten when a body follows; as sent for HEAD and 304; never on a 204 */
        return resp->body != HTTP_BODY_NONE || resp->status == 204;
    if (k == PF_SERVER || px_field_hop_by_hop(k))
        return 1;
    return conn_names && http_is_hop_by_hop(resp->fields, resp->nfields, i);
}

/* Builds the client's response head into the worker's scratch block. Returns its length or -1. */
static long build_response_head(px_conn *c, const http_response *resp)
{
    px_worker *w = c->w;
    http_writer hw;
    char tmp[2048];
    http_writer_init(&hw, w->scratch, w->scratch_size);
    http_write_status_line(&hw, 1, resp->status, resp->reason);
    int conn_names = px_connection_names_fields(resp->fields, resp->nfields);
    for (size_t i = 0; i < resp->nfields; i++) {
        px_field_kind k = px_field_classify(resp->fields[i].name);
        if (response_field_dropped(resp, i, k, conn_names))
            continue;
        http_slice v = resp->fields[i].value;
        if (k == PF_OTHER) {
            px_copy_field(&hw, &resp->fields[i]);
            continue;
        }
        if (c->gz && k == PF_ETAG && v.len && v.base[0] == '"') {
            http_write_field(&hw, resp->fields[i].name, v); /* replaced below by its weak form */
            hw.len -= v.len + 2;
            http_write_str(&hw, "W/");
            http_write_slice(&hw, v);
            http_write_str(&hw, "\r\n");
            continue;
        }
        if (k == PF_LOCATION)
            v = rewrite_location(c, v, tmp, sizeof(tmp));
        else if (k == PF_REFRESH)
            v = rewrite_refresh(c, v, tmp, sizeof(tmp));
        http_write_field(&hw, resp->fields[i].name, v);
    }
    if (c->gz)
        http_write_str(&hw, "Content-Encoding: gzip\r\n");
    if (c->gz ? c->server->gzip.vary : px_gzip_vary(c, resp)) /* both variants say so, for shared caches */
        http_write_str(&hw, "Vary: Accept-Encoding\r\n");
    if (!c->gz && resp->body == HTTP_BODY_LENGTH) {
        http_write_raw(&hw, "Content-Length: ", 16);
        http_write_u64(&hw, resp->content_length);
        http_write_raw(&hw, "\r\n", 2);
    }
    if (c->resp_chunk_out)
        http_write_raw(&hw, "Transfer-Encoding: chunked\r\n", 28);
    px_write_common_fields(c, &hw, resp->status);
    return http_write_end(&hw);
}

/* ---------------------------------------------------------------- body */

/* Body bytes toward the client: raw, as one chunk, or into the compressor (emitted once per batch). */
static void emit_data(px_conn *c, px_batch *b, const char *p, size_t n)
{
    c->resp_bytes += n;
    if (c->gz) {
        if (n && px_gzip_feed(c, p, n, 0) < 0)
            c->resp_error = HTTP_E_BODY_TOO_LARGE;
    } else if (c->resp_chunk_out) {
        px_batch_add_chunk(b, p, n);
    } else {
        px_batch_add(b, p, n);
    }
}

static void emit_batch_end(px_conn *c, px_batch *b, int last)
{
    if (c->gz) {
        if (last && px_gzip_feed(c, NULL, 0, 1) < 0)
            c->resp_error = HTTP_E_BODY_TOO_LARGE;
        http_slice z = px_gzip_take(c);
        c->resp_chunk_out ? px_batch_add_chunk(b, z.base, z.len) : px_batch_add(b, z.base, z.len);
    }
    if (last && c->resp_chunk_out)
        px_batch_add(b, HTTP_LAST_CHUNK, sizeof(HTTP_LAST_CHUNK) - 1);
}

static void collect_response_body(px_conn *c, px_batch *b)
{
    px_upconn *u = c->up;
    size_t budget = c->gz ? px_gzip_input_budget(c) : SIZE_MAX;
    while (c->resp_body != BODY_DONE && wire_buf_len(&u->in) && !px_batch_full(b) && budget && !c->resp_error) {
        const char *p = wire_buf_data(&u->in);
        size_t avail = wire_buf_len(&u->in) < budget ? wire_buf_len(&u->in) : budget;
        if (c->resp_body == BODY_LENGTH) {
            size_t take = avail < c->resp_remaining ? avail : (size_t)c->resp_remaining;
            emit_data(c, b, p, take);
            u->in.start += take;
            budget -= take;
            c->resp_remaining -= take;
            if (c->resp_remaining == 0)
                c->resp_body = BODY_DONE;
        } else if (c->resp_body == BODY_CLOSE) {
            emit_data(c, b, p, avail);
            u->in.start += avail;
            budget -= avail;
        } else {
            http_slice data;
            long n = http_chunked_decode(&c->x->resp_chunked, p, avail, &data);
            if (n < 0) {
                c->resp_error = (int)n;
                return;
            }
            u->in.start += (size_t)n;
            budget -= (size_t)n;
            emit_data(c, b, data.base, data.len);
            if (c->x->resp_chunked.done)
                c->resp_body = BODY_DONE;
            else if (n == 0)
                break;
        }
    }
    emit_batch_end(c, b, c->resp_body == BODY_DONE);
}

static int write_client(px_conn *c, px_batch *b)
{
    ssize_t n = px_batch_write(PX_WS(c), c->io.fd, c->tls, &c->out, b);
    if (n < 0)
        return px_proxy_client_gone(c);
    PX_ADD(c->w->stats.bytes_out, n);
    if ((size_t)n < b->total)
        c->ready_write = 0;
    if (wire_buf_len(&c->up->in) == 0)
        c->up->in.start = c->up->in.end = 0;
    if (c->resp_body == BODY_DONE)
        c->resp_done = 1;
    if (c->resp_error) {
        if (c->resp_error != HTTP_E_BODY_TOO_LARGE) /* that one is the compressor's, already logged */
            px_error("malformed chunked response body from upstream: %s%s", http_strerror(c->resp_error),
                     px_log_context(c));
        px_conn_close(c); /* never reuse a client connection that got half a response */
        return -1;
    }
    return 1;
}

static int forward_response_body(px_conn *c)
{
    px_batch b;
    px_batch_init(&b);
    collect_response_body(c, &b);
    return write_client(c, &b);
}

/* ---------------------------------------------------------------- head */

static void choose_framing(px_conn *c, const http_response *resp)
{
    c->resp_chunk_out = 0;
    c->resp_remaining = resp->content_length;
    switch (resp->body) {
    case HTTP_BODY_NONE:
        c->resp_body = BODY_DONE;
        break;
    case HTTP_BODY_LENGTH:
        c->resp_body = resp->content_length ? BODY_LENGTH : BODY_DONE;
        break;
    case HTTP_BODY_CHUNKED:
        c->resp_body = BODY_CHUNKED;
        memset(&c->x->resp_chunked, 0, sizeof(c->x->resp_chunked));
        c->resp_chunk_out = c->x->req.minor == 1;
        break;
    case HTTP_BODY_CLOSE:
        c->resp_body = BODY_CLOSE;
        c->resp_chunk_out = c->x->req.minor == 1;
        break;
    }
    c->up_reusable = resp->keep_alive && !resp->must_close && resp->body != HTTP_BODY_CLOSE;
    if (c->resp_body != BODY_DONE && px_gzip_wanted(c, resp) && px_gzip_start(c) == 0) {
        c->resp_chunk_out = c->x->req.minor == 1; /* the compressed length is known only at the end */
        if (c->x->req.minor == 0)
            c->keep_alive = 0;
    }
    if (c->x->req.minor == 0 && (resp->body == HTTP_BODY_CHUNKED || resp->body == HTTP_BODY_CLOSE))
        c->keep_alive = 0; /* an HTTP/1.0 client learns where the body ends from the close */
}

static int on_response_head(px_conn *c, const http_response *resp, size_t head_len)
{
    c->resp_status = resp->status;
    c->up_ms = wire_now(c->w->loop) - c->started_ms;
    px_upstream_succeeded(c->up);
    check_pinning(c, resp);
    choose_framing(c, resp);
    if (c->req_body != BODY_DONE)
        c->keep_alive = 0; /* an early answer: proxyd will close, so the head says so (RFC 9112 9.6) */
    long hl = build_response_head(c, resp);
    c->up->in.start += head_len;
    if (hl < 0) {
        px_proxy_abort(c);
        return px_respond_error(c, 502, "response head too large after rewriting");
    }
    c->resp_head_sent = 1;
    px_batch b;
    px_batch_init(&b);
    px_batch_add(&b, c->w->scratch, (size_t)hl);
    collect_response_body(c, &b);
    return write_client(c, &b);
}

static int bad_response(px_conn *c, const char *why)
{
    px_upconn *u = c->up;
    px_error("upstream sent an invalid response: %s%s", why, px_log_context(c));
    px_upstream_failed(u);
    px_proxy_abort(c);
    return px_respond_error(c, 502, why);
}

static int parse_response_head(px_conn *c)
{
    px_upconn *u = c->up;
    for (;;) {
        http_response resp = {0};
        resp.fields = c->w->resp_fields;
        resp.fields_cap = sizeof(c->w->resp_fields) / sizeof(c->w->resp_fields[0]);
        http_limits lim = {0};
        lim.max_head = lim.max_line = c->rt->buf_size;
        lim.max_fields = resp.fields_cap; /* the array bounds it; libhttp's default (100) would refuse valid heads */
        unsigned flags = c->x->req.method_id == HTTP_M_HEAD ? HTTP_RESP_TO_HEAD : 0;
        long rc = http_parse_response(wire_buf_data(&u->in), wire_buf_len(&u->in), c->resp_last_len, &resp, &lim,
                                      flags);
        if (rc == HTTP_INCOMPLETE) {
            c->resp_last_len = wire_buf_len(&u->in);
            if (wire_buf_room(&u->in) == 0 && u->in.start == 0)
                return bad_response(c, "response head too large");
            if (wire_buf_room(&u->in) == 0)
                wire_buf_compact(&u->in), c->resp_last_len = 0;
            return 1;
        }
        c->resp_last_len = 0;
        if (rc < 0)
            return bad_response(c, http_strerror((int)rc));
        if (resp.status == 101)
            return c->x->req.upgrade ? px_tunnel_begin(c, &resp, (size_t)rc) : bad_response(c, "unrequested 101");
        if (resp.status >= 200)
            return on_response_head(c, &resp, (size_t)rc);
        u->in.start += (size_t)rc; /* interim responses: proxyd answered Expect itself */
        if (wire_buf_len(&u->in) == 0) {
            u->in.start = u->in.end = 0;
            return 1;
        }
    }
}

static int upstream_eof(px_conn *c)
{
    px_upconn *u = c->up;
    if (!c->resp_head_sent && u->in.end == 0)
        return px_proxy_upstream_error(c, -ECONNRESET);
    if (!c->resp_head_sent)
        return bad_response(c, "connection closed inside the response head");
    if (c->resp_body == BODY_CLOSE) {
        c->resp_body = BODY_DONE;
        c->up_reusable = 0;
        px_batch b;
        px_batch_init(&b);
        emit_batch_end(c, &b, 1);
        return write_client(c, &b);
    }
    px_error("upstream closed the connection in the middle of a response%s", px_log_context(c));
    px_upstream_failed(u);
    px_conn_close(c); /* the client must not take half a response for a whole one */
    return -1;
}

/* Response bytes already read but not yet forwarded: a batch fills up (many small chunks, each three iovecs) or
 * the compressor's budget runs out before the input block is used up. Edge-triggered, the socket will not
 * signal these again. Returns 1 on progress, 0 if nothing could move (a partial chunk header waits for more
 * input), -1 when the connection was freed. */
int px_proxy_forward_buffered(px_conn *c)
{
    size_t before = wire_buf_len(&c->up->in);
    int r = forward_response_body(c);
    return r < 0 ? r : (c->up && wire_buf_len(&c->up->in) != before) || c->resp_done;
}

int px_proxy_read_response(px_conn *c)
{
    px_upconn *u = c->up;
    if (px_upstream_alloc_in(u) < 0)
        return px_proxy_upstream_error(c, -ENOMEM);
    if (wire_buf_room(&u->in) == 0)
        wire_buf_compact(&u->in);
    size_t room = wire_buf_room(&u->in);
    if (room == 0) { /* a full block that forwarding cannot use: a zero-length read would look like EOF */
        px_error("upstream response stuck: %zu bytes cannot be forwarded%s", wire_buf_len(&u->in), px_log_context(c));
        px_conn_close(c);
        return -1;
    }
    ssize_t n = px_sock_read(u->io.fd, u->tls, wire_buf_tail(&u->in), room);
    if (n == -EAGAIN) {
        u->ready_read = 0;
        return 0;
    }
    if (n <= 0)
        return upstream_eof(c);
    if ((size_t)n < room && !u->hup && !u->tls)
        u->ready_read = 0; /* edge-triggered: a short read drained the socket */
    u->in.end += (size_t)n;
    u->tkind = T_READ;
    wire_timer_start(c->w->loop, &u->timer, u->up->read_timeout);
    if (!c->resp_head_sent)
        return parse_response_head(c);
    return forward_response_body(c);
}

/* ---------------------------------------------------------------- ending the exchange */

/* Whether nothing more is waiting on an upstream connection about to be pooled: bytes after a response (or a
 * close the origin already sent) would otherwise be read by the next client's exchange. */
static int drained(px_upconn *u)
{
    if (u->hup || (u->tls && tlsio_pending(u->tls)))
        return 0;
    if (!u->ready_read)
        return 1; /* the last read came short: the socket was empty */
    char b;
    ssize_t n = recv(u->io.fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        u->ready_read = 0;
        return 1;
    }
    return 0;
}

int px_proxy_finish(px_conn *c)
{
    px_upconn *u = c->up;
    if (u) {
        int reusable = c->up_reusable && c->req_body == BODY_DONE && !c->req_aborted && !wire_buf_len(&u->in) &&
                       !u->out.len && drained(u);
        c->up = NULL;
        if (c->pinned == u)
            c->pinned = NULL;
        if (c->pin && reusable) {
            if (c->pinned) /* pinned to another upstream before: one authenticated connection at a time */
                px_upstream_close(c->w, c->pinned);
            px_upstream_pin(c->w, u); /* stays with this client: not pooled, closed with it */
            c->pinned = u;
        } else {
            if (c->pin)
                c->keep_alive = 0; /* the authenticated pair ends together */
            px_upstream_release(c->w, u, reusable);
        }
    }
    if (c->req_body != BODY_DONE)
        c->keep_alive = 0;
    px_conn_next(c);
    return 1;
}

void px_proxy_abort(px_conn *c)
{
    if (c->up) {
        if (c->up == c->pinned)
            c->pinned = NULL;
        px_upstream_close(c->w, c->up);
        c->up = NULL;
    }
}

int px_proxy_client_gone(px_conn *c)
{
    px_info("client closed the connection before the response was complete%s", px_log_context(c));
    c->resp_status = c->resp_status ? c->resp_status : 499;
    px_conn_close(c);
    return -1;
}

/* A failure before any response byte: retried on the next server when nothing can have been processed twice,
 * otherwise 502. */
int px_proxy_upstream_error(px_conn *c, int err)
{
    px_upconn *u = c->up;
    if (c->resp_head_sent) {
        px_conn_close(c);
        return -1;
    }
    int connecting = u->state != UP_ACTIVE; /* nothing was sent yet */
    /* As nginx: a request that may have reached the server is retried only when repeating it is harmless. */
    int safe = connecting || (c->x->req.body == HTTP_BODY_NONE && http_method_idempotent(c->x->req.method_id));
    int stale = u->reused && !connecting; /* a pooled connection the origin had closed: not the server's fault */
    px_error("%s (%s) while %s%s", wire_strerror(err),
             connecting ? "connect" : u->reused ? "reused connection" : "new connection",
             connecting ? "connecting to upstream" : "sending the request to upstream", px_log_context(c));
    if (!stale) { /* a stale pooled connection says nothing about the server: it may be tried again, fresh */
        px_upstream_failed(u);
        c->tried |= 1ull << (u->server & 63);
    }
    px_proxy_abort(c);
    /* Stale pooled connections do not use up tries: each is closed, so the pool bounds them. */
    if (safe && (stale || ++c->tries < 2 * c->upstream->nservers + 1)) {
        c->head_sent = 0;
        if (px_upstream_acquire(c, c->upstream) == 0)
            return 1;
    }
    return px_respond_error(c, 502, "upstream unreachable");
}

void px_proxy_upstream_timeout(px_conn *c)
{
    px_upconn *u = c->up;
    if (u->state != UP_ACTIVE) {
        px_error("upstream connect timeout%s", px_log_context(c));
        px_upstream_failed(u);
        c->tried |= 1ull << (u->server & 63);
        px_proxy_abort(c);
        c->head_sent = 0;
        if (++c->tries < c->upstream->nservers && px_upstream_acquire(c, c->upstream) == 0) {
            px_conn_run(c);
            return;
        }
        if (px_respond_error(c, 504, "upstream connect timeout") >= 0)
            px_conn_run(c);
        return;
    }
    /* A read timeout is not a failure of the server: one slow long poll must not take it out of rotation. */
    px_warn("upstream %s timeout%s", u->out.len ? "send" : "read", px_log_context(c));
    if (c->resp_head_sent) {
        px_conn_close(c);
        return;
    }
    px_proxy_abort(c);
    if (px_respond_error(c, 504, "upstream timeout") >= 0)
        px_conn_run(c);
}
