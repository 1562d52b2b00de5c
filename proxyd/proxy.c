/* proxyd request forwarding: builds the upstream request head, streams the request body (re-encoding chunked
 * bodies so the origin sees only proxyd's framing), reads and rewrites the response, and streams it back. */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "io.h"
#include "log.h"
#include "proxyd.h"

/* ---------------------------------------------------------------- the forwarded request head */

static int overridden(const px_server *s, http_slice name)
{
    for (int i = 0; i < s->nset_headers; i++)
        if (http_slice_eq_ci(name, s->set_headers[i].name))
            return 1;
    return 0;
}

/* Fields never copied from the client: framing and hop-by-hop fields are proxyd's to write, and the
 * forwarding fields are replaced so that a client cannot forge them. */
static int dropped(const px_conn *c, size_t i, int conn_names)
{
    const http_field *f = &c->x->req.fields[i];
    switch (px_field_classify(f->name)) {
    case PF_CONTENT_LENGTH: case PF_TRANSFER_ENCODING: case PF_EXPECT: case PF_X_REAL_IP:
    case PF_X_FORWARDED_FOR: case PF_X_FORWARDED_PROTO: case PF_HOST:
        return 1;
    case PF_UPGRADE:
        return !c->x->req.upgrade;
    case PF_CONNECTION: case PF_KEEP_ALIVE: case PF_PROXY_CONNECTION: case PF_TE: case PF_PROXY_AUTHENTICATE:
    case PF_PROXY_AUTHORIZATION: case PF_TRAILER:
        return 1;
    default:
        break;
    }
    if (conn_names && http_is_hop_by_hop(c->x->req.fields, c->x->req.nfields, i))
        return 1;
    return c->server->nset_headers && overridden(c->server, f->name);
}

/* Copies a field libhttp already validated, without checking it again. */
void px_copy_field(http_writer *hw, const http_field *f)
{
    size_t need = f->name.len + f->value.len + 4;
    if (hw->overflow || hw->cap - hw->len < need) {
        hw->overflow = 1;
        return;
    }
    char *p = hw->buf + hw->len;
    memcpy(p, f->name.base, f->name.len);
    p += f->name.len;
    *p++ = ':';
    *p++ = ' ';
    memcpy(p, f->value.base, f->value.len);
    p += f->value.len;
    *p++ = '\r';
    *p++ = '\n';
    hw->len += need;
}

static void write_default_fields(px_conn *c, http_writer *hw, char *tmp, size_t tmpcap)
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
        http_field f = {defaults[k].name, http_slice_of(tmp, px_var_expand(c, defaults[k].var, tmp, tmpcap))};
        px_copy_field(hw, &f);
    }
    for (int k = 0; k < c->server->nset_headers; k++) {
        const px_header *h = &c->server->set_headers[k];
        size_t n = px_tpl_expand(c, &h->value, tmp, tmpcap);
        if (n) /* an empty value removes the field, as in nginx */
            http_write_field(hw, http_slice_cstr(h->name), http_slice_of(tmp, n));
    }
}

/* Builds the upstream request head into the worker's scratch block. Returns its length or -1. */
static long build_request_head(px_conn *c)
{
    px_worker *w = c->w;
    http_request *r = &c->x->req;
    http_writer hw;
    char tmp[2048];
    http_writer_init(&hw, w->scratch, w->scratch_size);
    http_slice target = r->target;
    if (r->form == HTTP_TARGET_ABSOLUTE) {
        target = r->path;
    }
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
    write_default_fields(c, &hw, tmp, sizeof(tmp));
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
    char *base = c->in.base;
    while (c->req_body != BODY_DONE && c->body_off < c->in.end && !px_batch_full(b)) {
        size_t avail = c->in.end - c->body_off;
        if (c->req_body == BODY_LENGTH) {
            size_t take = avail < c->req_remaining ? avail : (size_t)c->req_remaining;
            px_batch_add(b, base + c->body_off, take);
            c->body_off += take;
            c->req_remaining -= take;
            if (c->req_remaining == 0)
                c->req_body = BODY_DONE;
            continue;
        }
        http_slice data;
        long n = http_chunked_decode(&c->x->req_chunked, base + c->body_off, avail, &data);
        if (n < 0)
            return (int)n;
        c->body_off += (size_t)n;
        px_batch_add_chunk(b, data.base, data.len);
        uint64_t max = c->server->limits.client_max_body_size;
        if (max && c->x->req_chunked.body_bytes > max)
            return HTTP_E_BODY_TOO_LARGE;
        if (c->x->req_chunked.done) {
            px_batch_add(b, HTTP_LAST_CHUNK, sizeof(HTTP_LAST_CHUNK) - 1);
            c->req_body = BODY_DONE;
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
    if (c->req_body == BODY_DONE)
        return; /* what is left belongs to the next request */
    size_t left = c->in.end - c->body_off;
    if (left && c->body_off != c->head_len)
        memmove(c->in.base + c->head_len, c->in.base + c->body_off, left);
    c->body_off = c->head_len;
    c->in.end = c->head_len + left;
}

static int write_upstream(px_conn *c, px_batch *b)
{
    px_upconn *u = c->up;
    ssize_t n = px_batch_write(PX_WS(c), u->io.fd, u->tls, &u->out, b);
    if (n < 0)
        return (int)n;
    if ((size_t)n < b->total)
        u->ready_write = 0;
    return 0;
}

static int body_error(px_conn *c, int err)
{
    px_proxy_abort(c);
    if (err == HTTP_E_BODY_TOO_LARGE)
        return px_respond_error(c, 413, "request body too large");
    return px_respond_error(c, http_err_status(err), http_strerror(err));
}

/* Sends the head (once the upstream connection is ready) with whatever body bytes are already buffered. */
static int send_head(px_conn *c)
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
    c->head_sent = 1;
    if (write_upstream(c, &b) < 0)
        return px_proxy_upstream_error(c, -EPIPE);
    compact_body(c);
    return 1;
}

static int forward_request_body(px_conn *c)
{
    if (c->body_off == c->in.end) {
        ssize_t n = px_conn_read(c);
        if (n < 0)
            return px_proxy_client_gone(c);
        if (n == 0)
            return 0;
    }
    px_batch b;
    px_batch_init(&b);
    int err = collect_request_body(c, &b);
    if (err < 0)
        return body_error(c, err);
    if (write_upstream(c, &b) < 0)
        return px_proxy_upstream_error(c, -EPIPE);
    compact_body(c);
    return 1;
}

/* ---------------------------------------------------------------- one step of the exchange */

static int flush_upstream(px_conn *c)
{
    px_upconn *u = c->up;
    int r = px_out_flush(PX_WS(c), u->io.fd, u->tls, &u->out);
    if (r < 0)
        return px_proxy_upstream_error(c, r);
    if (r == 0)
        u->ready_write = 0;
    return r;
}

static int flush_client(px_conn *c)
{
    int r = px_out_flush(PX_WS(c), c->io.fd, c->tls, &c->out);
    if (r < 0)
        return px_proxy_client_gone(c);
    if (r == 0)
        c->ready_write = 0;
    return r;
}

/* CS_UPSTREAM: moves whatever can move, in both directions. Returns 1 on progress, 0 to wait, -1 when the
 * connection was freed. */
int px_proxy_step(px_conn *c)
{
    px_upconn *u = c->up;
    int progress = 0, r;
    if (c->out.len && c->ready_write) {
        if ((r = flush_client(c)) < 0)
            return -1;
        progress = r;
    }
    if (!u)
        return c->out.len ? progress : px_proxy_finish(c);
    /* A client that hung up while waiting (a long poll abandoned, or during the connect) frees its upstream, as
     * nginx does. A FIN may also be a half-close of a client still reading: proxy_ignore_client_abort keeps the
     * exchange then (a client really gone shows when the response cannot be written). */
    if ((c->eof || (c->hup && c->req_body == BODY_DONE)) && !c->resp_done &&
        !(c->server->ignore_client_abort && c->req_body == BODY_DONE))
        return px_proxy_client_gone(c);
    if (u->state != UP_ACTIVE)
        return progress;
    if (!c->head_sent)
        return send_head(c);
    if (u->out.len && u->ready_write) {
        if ((r = flush_upstream(c)) < 0)
            return -1;
        progress |= r;
    }
    /* The response is read even while request bytes wait: an origin may answer before reading the body. */
    if (!c->out.len && !c->resp_done && c->resp_head_sent && wire_buf_len(&u->in) &&
        (r = px_proxy_forward_buffered(c)) != 0)
        return r;
    if (!c->out.len && !c->resp_done && u->ready_read && (r = px_proxy_read_response(c)) != 0)
        return r;
    if (c->req_body != BODY_DONE && !c->req_aborted && !u->out.len && (r = forward_request_body(c)) != 0)
        return r;
    if (c->resp_done && !c->out.len)
        return px_proxy_finish(c);
    return progress;
}

/* The upstream's timer follows what the exchange waits on: send_timeout while the request is going out,
 * read_timeout while waiting for the response (re-armed by every read), nothing while the client is the slow
 * side (its send_timeout governs then). */
void px_proxy_update_timer(px_conn *c, int progress)
{
    px_upconn *u = c->up;
    if (!u || u->state != UP_ACTIVE)
        return;
    px_timer_kind kind = c->out.len ? T_NONE : (u->out.len || c->req_body != BODY_DONE) ? T_SEND : T_READ;
    if ((int)kind == u->tkind && !(progress && kind == T_SEND))
        return;
    u->tkind = kind;
    if (kind == T_NONE)
        wire_timer_stop(c->w->loop, &u->timer);
    else
        wire_timer_start(c->w->loop, &u->timer, kind == T_SEND ? u->up->send_timeout : u->up->read_timeout);
}
