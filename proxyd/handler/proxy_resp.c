/* proxyd response path: reads the upstream's response, rewrites its head for the client (hop-by-hop fields,
 * Server, add_header, proxy_redirect, connection), streams the body with bounded buffers, and ends the exchange. */
#include <errno.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "common/fields.h"
#include "common/log.h"
#include "handler/internal.h"
#include "http/vars.h"
#include "upstream/upstream.h"

/* ---------------------------------------------------------------- head */

static int is_ntlm(http_slice v)
{
    return (v.len >= 4 && strncasecmp(v.base, "NTLM", 4) == 0 && (v.len == 4 || v.base[4] == ' ')) ||
           (v.len >= 9 && strncasecmp(v.base, "Negotiate", 9) == 0 && (v.len == 9 || v.base[9] == ' '));
}

/* NTLM and Negotiate authenticate the connection, not the request: such a client keeps its upstream
 * connection for good (never pooled, never shared). */
static void check_pinning(px_conn *c, const http_response *resp)
{
    const http_request *r = &c->x->req;
    if (!c->x->upstream->ntlm || c->pin)
        return;
    long i = http_find_field(r->fields, r->nfields, "authorization", 0);
    if (i >= 0 && is_ntlm(r->fields[i].value))
        c->pin = 1;
    if (resp->status == 401)
        for (long j = http_find_field(resp->fields, resp->nfields, "www-authenticate", 0); j >= 0;
             j = http_find_field(resp->fields, resp->nfields, "www-authenticate", (size_t)j + 1))
            if (is_ntlm(resp->fields[j].value))
                c->pin = 1;
}

/* Whether a URL's authority ends at p (n bytes left): the end, or a path, query or fragment follows. */
static int authority_ends(const char *p, size_t n)
{
    return n == 0 || *p == '/' || *p == '?' || *p == '#';
}

/* The length of name at p, or of name followed by ":port" (only that when need_port), when the URL's authority
 * ends there; else 0. */
static size_t name_at(const char *p, size_t n, http_slice name, http_slice port, int need_port)
{
    if (!name.len || n < name.len || strncasecmp(p, name.base, name.len) != 0)
        return 0;
    size_t at = name.len;
    if (!need_port && authority_ends(p + at, n - at))
        return at;
    if (!port.len || n < at + 1 + port.len || p[at] != ':' || memcmp(p + at + 1, port.base, port.len) != 0)
        return 0;
    at += 1 + port.len;
    return authority_ends(p + at, n - at) ? at : 0;
}

size_t px_redirect_prefix(http_slice v, const px_redirect_self *self)
{
    const char *scheme = self->tls ? "https://" : "http://";
    size_t sl = strlen(scheme);
    if (v.len < sl || strncasecmp(v.base, scheme, sl) != 0)
        return 0;
    const char *p = v.base + sl;
    size_t n = v.len - sl, got = 0;
    for (int k = 0; k < 3 && !got; k++) {
        http_slice name = http_slice_cstr(self->names[k] ? self->names[k] : "");
        got = name_at(p, n, name, k ? self->port : http_slice_of("", 0), 0); /* "host:port" as written: no port */
    }
    if (!got) /* the public name with the internal port: IIS's https://meet.contoso.com:4443/ */
        got = name_at(p, n, self->host, self->port, 1);
    return got ? sl + got : 0;
}

size_t px_redirect_match(http_slice v, http_slice from)
{
    if (!from.len || v.len < from.len)
        return 0;
    size_t ci = 0; /* scheme://authority: case does not matter there */
    const char *sep = memmem(from.base, from.len, "://", 3);
    if (sep)
        for (ci = (size_t)(sep - from.base) + 3; ci < from.len && !authority_ends(from.base + ci, 1);)
            ci++;
    if (strncasecmp(v.base, from.base, ci) != 0 || memcmp(v.base + ci, from.base + ci, from.len - ci) != 0)
        return 0;
    return from.len;
}

/* proxy_redirect default for this exchange: the length of the prefix of v naming the upstream itself, or 0. */
static size_t default_prefix(const px_conn *c, http_slice v)
{
    const px_upstream *up = c->x->upstream;
    const px_upstream_server *s = &up->servers[c->x->up->server];
    char host[256];
    http_writer hw;
    http_writer_init(&hw, host, sizeof(host));
    px_var_write(c, PX_VAR_HOST, &hw);
    const char *colon = strrchr(s->text, ':');
    px_redirect_self self = {up->tls,
                             {s->text, s->host, up->tls_server_name},
                             hw.overflow ? http_slice_cstr("") : http_slice_of(host, hw.len),
                             http_slice_cstr(colon ? colon + 1 : "")};
    return px_redirect_prefix(v, &self);
}

/* A FROM prefix of v, its variables expanded for this request; 0 when it does not match. */
static size_t from_prefix(const px_conn *c, const px_redirect *r, http_slice v)
{
    char from[1024]; /* longer than any URL prefix worth matching: an expansion beyond it matches nothing */
    http_writer hw;
    http_writer_init(&hw, from, sizeof(from));
    px_tpl_write(c, &r->from, &hw);
    return hw.overflow ? 0 : px_redirect_match(v, http_slice_of(from, hw.len));
}

/* The first proxy_redirect rule matching v: the prefix length, and in *hit the rule (NULL for the implicit
 * default). 0 when none matches or proxy_redirect is off. */
static size_t redirect_rule(const px_conn *c, http_slice v, const px_redirect **hit)
{
    const px_server *s = c->server;
    *hit = NULL;
    if (!s->proxy_redirect)
        return 0;
    if (!s->nredirects)
        return default_prefix(c, v);
    for (int i = 0; i < s->nredirects; i++) {
        const px_redirect *r = &s->redirects[i];
        size_t n = r->is_default ? default_prefix(c, v) : from_prefix(c, r, v);
        if (n) {
            *hit = r;
            return n;
        }
    }
    return 0;
}

/* Writes a Location, or a Refresh ("5; url=..."), whose URL starts with a proxy_redirect prefix, with its
 * replacement: the scheme and Host the client used for default, TO for a rule. Returns 0 when the value needs no
 * rewriting (the caller copies it). */
static int write_redirect(const px_conn *c, http_writer *hw, const http_field *f, px_field_kind k)
{
    http_slice v = f->value;
    size_t pre = 0;
    if (k == PF_REFRESH) {
        while (pre + 4 <= v.len && strncasecmp(v.base + pre, "url=", 4) != 0)
            pre++;
        if (pre + 4 > v.len)
            return 0;
        pre += 4;
    }
    const px_redirect *rule;
    size_t skip = redirect_rule(c, http_slice_of(v.base + pre, v.len - pre), &rule);
    if (!skip)
        return 0;
    http_write_slice(hw, f->name);
    http_write_raw(hw, ": ", 2);
    http_write_raw(hw, v.base, pre);
    if (rule && !rule->is_default) {
        px_tpl_write(c, &rule->to, hw);
    } else {
        px_var_write(c, PX_VAR_SCHEME, hw);
        http_write_raw(hw, "://", 3);
        px_var_write(c, PX_VAR_HTTP_HOST, hw);
    }
    http_write_raw(hw, v.base + pre + skip, v.len - pre - skip);
    http_write_raw(hw, "\r\n", 2);
    return 1;
}

static int response_field_dropped(const px_exchange *x, const http_response *resp, size_t i, px_field_kind k,
                                  int conn_names)
{
    /* Rewritten when a body follows; as sent for HEAD and 304, but for a HEAD whose GET would be compressed (the
     * compressed length is not known); never on a 204. */
    if (k == PF_CONTENT_LENGTH)
        return resp->body != HTTP_BODY_NONE || resp->status == 204 || x->resp_gzip;
    if (k == PF_SERVER || px_field_hop_by_hop(k))
        return 1;
    return conn_names && http_is_hop_by_hop(resp->fields, resp->nfields, i);
}

/* A strong ETag becomes weak on a compressed body: the bytes differ from the origin's. */
static void write_weak_etag(http_writer *hw, const http_field *f)
{
    http_write_slice(hw, f->name);
    http_write_str(hw, ": W/");
    http_write_slice(hw, f->value);
    http_write_str(hw, "\r\n");
}

static void write_response_field(px_conn *c, http_writer *hw, const http_field *f, px_field_kind k)
{
    if (k == PF_OTHER)
        px_copy_field(hw, f);
    else if (c->x->resp_gzip && k == PF_ETAG && f->value.len && f->value.base[0] == '"')
        write_weak_etag(hw, f);
    else if (!((k == PF_LOCATION || k == PF_REFRESH) && write_redirect(c, hw, f, k)))
        px_copy_field(hw, f);
}

/* Builds the client's response head into the worker's scratch block. Returns its length or -1. */
static long build_response_head(px_conn *c, const http_response *resp)
{
    px_exchange *x = c->x;
    http_writer hw;
    http_writer_init(&hw, c->w->scratch, c->w->scratch_size);
    http_write_status_line(&hw, 1, resp->status, resp->reason);
    int conn_names = px_connection_names_fields(resp->fields, resp->nfields);
    for (size_t i = 0; i < resp->nfields; i++) {
        px_field_kind k = px_field_classify(resp->fields[i].name);
        if (!response_field_dropped(x, resp, i, k, conn_names))
            write_response_field(c, &hw, &resp->fields[i], k);
    }
    if (x->resp_gzip)
        http_write_str(&hw, "Content-Encoding: gzip\r\n");
    if (x->resp_gzip ? c->server->gzip.vary : px_gzip_vary(c, resp)) /* both variants say so, for shared caches */
        http_write_str(&hw, "Vary: Accept-Encoding\r\n");
    if (!x->resp_gzip && resp->body == HTTP_BODY_LENGTH) {
        http_write_raw(&hw, "Content-Length: ", 16);
        http_write_u64(&hw, resp->content_length);
        http_write_raw(&hw, "\r\n", 2);
    }
    if (x->resp_chunk_out)
        http_write_raw(&hw, "Transfer-Encoding: chunked\r\n", 28);
    px_write_common_fields(c, &hw, resp->status);
    return http_write_end(&hw);
}

/* ---------------------------------------------------------------- body */

/* Body bytes toward the client: raw, as one chunk, or into the compressor (emitted once per batch). */
static void emit_data(px_conn *c, px_batch *b, const char *p, size_t n)
{
    px_exchange *x = c->x;
    x->resp_bytes += n;
    if (x->gz) {
        if (n && px_gzip_feed(c, p, n, 0) < 0)
            x->resp_error = HTTP_E_BODY_TOO_LARGE;
    } else if (x->resp_chunk_out) {
        px_batch_add_chunk(b, p, n);
    } else {
        px_batch_add(b, p, n);
    }
}

static void emit_batch_end(px_conn *c, px_batch *b, int last)
{
    px_exchange *x = c->x;
    if (x->gz) {
        if (last && px_gzip_feed(c, NULL, 0, 1) < 0)
            x->resp_error = HTTP_E_BODY_TOO_LARGE;
        http_slice z = px_gzip_take(c);
        x->resp_chunk_out ? px_batch_add_chunk(b, z.base, z.len) : px_batch_add(b, z.base, z.len);
    }
    if (last && x->resp_chunk_out)
        px_batch_add(b, HTTP_LAST_CHUNK, sizeof(HTTP_LAST_CHUNK) - 1);
}

/* Takes up to avail body bytes at p. Returns the bytes consumed from the input; 0 with more needed stops. */
static size_t take_body(px_conn *c, px_batch *b, const char *p, size_t avail)
{
    px_exchange *x = c->x;
    if (x->resp_body == BODY_LENGTH) {
        size_t take = avail < x->resp_remaining ? avail : (size_t)x->resp_remaining;
        emit_data(c, b, p, take);
        x->resp_remaining -= take;
        if (x->resp_remaining == 0)
            x->resp_body = BODY_DONE;
        return take;
    }
    if (x->resp_body == BODY_CLOSE) {
        emit_data(c, b, p, avail);
        return avail;
    }
    http_slice data;
    long n = http_chunked_decode(&x->resp_chunked, p, avail, &data);
    if (n < 0) {
        x->resp_error = (int)n;
        return 0;
    }
    emit_data(c, b, data.base, data.len);
    if (x->resp_chunked.done)
        x->resp_body = BODY_DONE;
    return (size_t)n;
}

static void collect_response_body(px_conn *c, px_batch *b)
{
    px_exchange *x = c->x;
    wire_buf *in = &x->up->s.in;
    size_t budget = x->gz ? px_gzip_input_budget(c) : SIZE_MAX;
    while (x->resp_body != BODY_DONE && wire_buf_len(in) && !px_batch_full(b) && budget && !x->resp_error) {
        size_t avail = wire_buf_len(in) < budget ? wire_buf_len(in) : budget;
        size_t n = take_body(c, b, wire_buf_data(in), avail);
        in->start += n;
        budget -= n;
        if (n == 0 && x->resp_body == BODY_CHUNKED)
            break; /* a partial chunk header waits for more input */
    }
    emit_batch_end(c, b, x->resp_body == BODY_DONE);
}

static px_step write_client(px_conn *c, px_batch *b)
{
    px_exchange *x = c->x;
    ssize_t n = px_conn_write(c, b);
    if (n < 0)
        return px_proxy_client_gone(c);
    PX_ADD(c->w->stats.bytes_out, n);
    if (wire_buf_len(&x->up->s.in) == 0)
        x->up->s.in.start = x->up->s.in.end = 0;
    if (x->resp_body == BODY_DONE)
        x->resp_done = 1;
    if (x->resp_error) {
        if (x->resp_error != HTTP_E_BODY_TOO_LARGE) { /* that one is the compressor's, already logged */
            px_error("malformed chunked response body from upstream: %s%s", http_strerror(x->resp_error),
                     px_log_context(c));
            px_upconn_count_error(x->up, PX_UPERR_INVALID);
        }
        return PX_CLOSE; /* never reuse a client connection that got half a response */
    }
    return PX_AGAIN;
}

static px_step forward_response_body(px_conn *c)
{
    px_batch b;
    px_batch_init(&b);
    collect_response_body(c, &b);
    return write_client(c, &b);
}

/* ---------------------------------------------------------------- the response head */

static void choose_framing(px_conn *c, const http_response *resp)
{
    px_exchange *x = c->x;
    int http10 = x->req.minor == 0;
    x->resp_chunk_out = 0;
    x->resp_remaining = resp->content_length;
    switch (resp->body) {
    case HTTP_BODY_NONE: x->resp_body = BODY_DONE; break;
    case HTTP_BODY_LENGTH: x->resp_body = resp->content_length ? BODY_LENGTH : BODY_DONE; break;
    case HTTP_BODY_CHUNKED:
        x->resp_body = BODY_CHUNKED;
        memset(&x->resp_chunked, 0, sizeof(x->resp_chunked));
        x->resp_chunk_out = !http10;
        break;
    case HTTP_BODY_CLOSE:
        x->resp_body = BODY_CLOSE;
        x->resp_chunk_out = !http10;
        break;
    }
    x->up_reusable = resp->keep_alive && !resp->must_close && resp->body != HTTP_BODY_CLOSE;
    if (x->req.method_id == HTTP_M_HEAD)
        x->resp_gzip = px_gzip_wanted(c, resp); /* the head GET would get; no body, so no compressor */
    else if (x->resp_body != BODY_DONE && px_gzip_wanted(c, resp) && px_gzip_start(c) == 0) {
        x->resp_gzip = 1;
        x->resp_chunk_out = !http10; /* the compressed length is known only at the end */
        if (http10)
            x->keep_alive = 0;
    }
    if (http10 && (resp->body == HTTP_BODY_CHUNKED || resp->body == HTTP_BODY_CLOSE))
        x->keep_alive = 0; /* an HTTP/1.0 client learns where the body ends from the close */
}

/* A response head from u's server: its class, a 5xx as an error of the server, and the time it took. */
static void count_response(const px_upconn *u, int status, uint64_t ms)
{
    px_upserver_metrics *m = px_upconn_metrics(u);
    if (status >= 100 && status <= 599)
        px_metric_add(&m->responses[status / 100], 1);
    if (status >= 500 && status <= 599)
        px_metric_add(&m->errors[PX_UPERR_HTTP_5XX], 1);
    px_hist_add(&m->response_time, ms);
}

static px_step on_response_head(px_conn *c, const http_response *resp, size_t head_len)
{
    px_exchange *x = c->x;
    x->resp_status = x->up_status = resp->status;
    x->up_ms = wire_now(c->w->loop) - x->started_ms;
    count_response(x->up, resp->status, x->up_ms);
    px_upstream_succeeded(x->up);
    check_pinning(c, resp);
    px_auth_guard_response(c, resp);
    choose_framing(c, resp);
    if (x->req_body != BODY_DONE)
        x->keep_alive = 0; /* an early answer: proxyd will close, so the head says so (RFC 9112 9.6) */
    long hl = build_response_head(c, resp);
    x->up->s.in.start += head_len;
    if (hl < 0) {
        px_proxy_abort(c);
        return px_respond_error(c, 502, "response head too large after rewriting");
    }
    x->resp_head_sent = 1;
    px_batch b;
    px_batch_init(&b);
    px_batch_add(&b, c->w->scratch, (size_t)hl);
    collect_response_body(c, &b);
    return write_client(c, &b);
}

/* A TLS record (handshake 22 or alert 21, then version 3.x) where an HTTP response should start. */
static int tls_record(const wire_buf *in)
{
    const unsigned char *p = (const unsigned char *)wire_buf_data(in);
    return wire_buf_len(in) >= 2 && (p[0] == 21 || p[0] == 22) && p[1] == 3;
}

static px_step bad_response(px_conn *c, const char *why)
{
    const px_upconn *u = c->x->up;
    if (!u->up->tls && tls_record(&u->s.in)) { /* the scheme does not match the port: say so */
        px_error("upstream %s answered in TLS on a plain connection: it speaks https; write proxy_pass = https://%s "
                 "or set tls = on in [upstream %s]%s",
                 u->up->servers[u->server].text, u->up->name, u->up->name, px_log_context(c));
        why = "upstream speaks TLS, not plain HTTP";
        px_upconn_count_error(u, PX_UPERR_TLS);
    } else {
        px_error("upstream sent an invalid response: %s%s", why, px_log_context(c));
        px_upconn_count_error(u, PX_UPERR_INVALID);
    }
    px_upstream_failed(c->x->up);
    px_proxy_abort(c);
    return px_respond_error(c, 502, why);
}

static px_step parse_response_head(px_conn *c)
{
    px_exchange *x = c->x;
    wire_buf *in = &x->up->s.in;
    for (;;) {
        http_response resp = {0};
        resp.fields = c->w->resp_fields;
        resp.fields_cap = PX_RESP_FIELDS_MAX;
        http_limits lim = {0};
        lim.max_head = lim.max_line = c->rt->buf_size;
        lim.max_fields = resp.fields_cap; /* the array bounds it; libhttp's default (100) would refuse valid heads */
        unsigned flags = x->req.method_id == HTTP_M_HEAD ? HTTP_RESP_TO_HEAD : 0;
        long rc = http_parse_response(wire_buf_data(in), wire_buf_len(in), x->resp_last_len, &resp, &lim, flags);
        if (rc == HTTP_INCOMPLETE) {
            x->resp_last_len = wire_buf_len(in);
            if (wire_buf_room(in) == 0 && in->start == 0)
                return bad_response(c, "response head too large");
            if (wire_buf_room(in) == 0)
                wire_buf_compact(in), x->resp_last_len = 0;
            return PX_AGAIN;
        }
        x->resp_last_len = 0;
        if (rc < 0)
            return bad_response(c, http_strerror((int)rc));
        if (resp.status == 101 && !x->req.upgrade)
            return bad_response(c, "unrequested 101");
        if (resp.status == 101) {
            count_response(x->up, 101, wire_now(c->w->loop) - x->started_ms);
            return px_tunnel_begin(c, &resp, (size_t)rc);
        }
        if (resp.status >= 200)
            return on_response_head(c, &resp, (size_t)rc);
        in->start += (size_t)rc; /* interim responses: proxyd answered Expect itself */
        if (wire_buf_len(in) == 0) {
            in->start = in->end = 0;
            return PX_AGAIN;
        }
    }
}

/* ---------------------------------------------------------------- reading */

static px_step upstream_eof(px_conn *c)
{
    px_exchange *x = c->x;
    px_upconn *u = x->up;
    if (!x->resp_head_sent && u->s.in.end == 0)
        return px_proxy_upstream_error(c, -ECONNRESET);
    if (!x->resp_head_sent)
        return bad_response(c, "connection closed inside the response head");
    if (x->resp_body == BODY_CLOSE) {
        x->resp_body = BODY_DONE;
        x->up_reusable = 0;
        px_batch b;
        px_batch_init(&b);
        emit_batch_end(c, &b, 1);
        return write_client(c, &b);
    }
    px_error("upstream closed the connection in the middle of a response%s", px_log_context(c));
    px_upconn_count_error(u, PX_UPERR_RESET);
    px_upstream_failed(u);
    return PX_CLOSE; /* the client must not take half a response for a whole one */
}

/* Edge-triggered, the socket will not signal bytes already read again: a batch that filled up (many small
 * chunks, each three iovecs) or a compressor budget that ran out leaves them here. PX_WAIT when nothing could
 * move (a partial chunk header waits for more input). */
px_step px_proxy_forward_buffered(px_conn *c)
{
    px_exchange *x = c->x;
    size_t before = wire_buf_len(&x->up->s.in);
    px_step r = forward_response_body(c);
    if (r == PX_CLOSE)
        return r;
    return (x->up && wire_buf_len(&x->up->s.in) != before) || x->resp_done ? PX_AGAIN : PX_WAIT;
}

px_step px_proxy_read_response(px_conn *c)
{
    px_exchange *x = c->x;
    px_upconn *u = x->up;
    if (px_upconn_alloc_in(u) < 0)
        return px_proxy_upstream_error(c, -ENOMEM);
    if (wire_buf_room(&u->s.in) == 0)
        wire_buf_compact(&u->s.in);
    if (wire_buf_room(&u->s.in) == 0) { /* a full block that forwarding cannot use: a zero-length read is no EOF */
        px_error("upstream response stuck: %zu bytes cannot be forwarded%s", wire_buf_len(&u->s.in), px_log_context(c));
        return PX_CLOSE;
    }
    ssize_t n = px_stream_read(&u->s);
    if (n == 0)
        return PX_WAIT;
    if (n < 0)
        return upstream_eof(c);
    x->resp_started = 1;
    px_upconn_arm(u, UT_READ);
    if (!x->resp_head_sent)
        return parse_response_head(c);
    return forward_response_body(c);
}

/* ---------------------------------------------------------------- ending the exchange */

/* Whether nothing more is waiting on an upstream connection about to be pooled: bytes after a response (or a
 * close the origin already sent) would otherwise be read by the next client's exchange. */
static int drained(px_upconn *u)
{
    if (u->s.hup || (u->s.tls && tlsio_pending(u->s.tls)))
        return 0;
    if (!u->s.ready_read)
        return 1; /* the last read came short: the socket was empty */
    char b;
    ssize_t n = recv(u->s.io.fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        u->s.ready_read = 0;
        return 1;
    }
    return 0;
}

/* The upstream connection after a whole response: kept by an NTLM client, pooled, or closed. */
static void give_back(px_conn *c, px_upconn *u)
{
    px_exchange *x = c->x;
    int reusable = x->up_reusable && x->req_body == BODY_DONE && !x->req_aborted && !wire_buf_len(&u->s.in) &&
                   !u->s.out.len && drained(u);
    x->up = NULL;
    if (c->pinned == u)
        c->pinned = NULL;
    if (c->pin && reusable) {
        if (c->pinned) /* pinned to another upstream before: one authenticated connection at a time */
            px_upstream_close(c->pinned);
        px_upstream_pin(u); /* stays with this client: not pooled, closed with it */
        c->pinned = u;
        return;
    }
    if (c->pin)
        x->keep_alive = 0; /* the authenticated pair ends together */
    px_upstream_release(u, reusable);
}

px_step px_proxy_finish(px_conn *c)
{
    px_exchange *x = c->x;
    if (x->up)
        give_back(c, x->up);
    if (x->req_body != BODY_DONE)
        x->keep_alive = 0;
    return px_conn_answered(c);
}
