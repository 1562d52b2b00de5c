/* proxyd's own answers: the one place where an error becomes an HTTP status, a small body and a log line; the
 * `return` directive; the request router; the fields every response carries; and $variable expansion. */
#include <stdio.h>
#include <string.h>

#include "io.h"
#include "log.h"
#include "proxyd.h"

/* ---------------------------------------------------------------- variables */

static size_t put(char *out, size_t cap, const char *p, size_t n)
{
    if (n > cap)
        n = cap;
    if (n) /* an unparsed request has {NULL, 0} slices */
        memcpy(out, p, n);
    return n;
}

static size_t expand_xff(const px_conn *c, char *out, size_t cap)
{
    size_t n = 0;
    const http_request *r = &c->x->req;
    for (long i = http_find_field(r->fields, r->nfields, "x-forwarded-for", 0); i >= 0;
         i = http_find_field(r->fields, r->nfields, "x-forwarded-for", (size_t)i + 1)) {
        n += put(out + n, cap - n, r->fields[i].value.base, r->fields[i].value.len);
        n += put(out + n, cap - n, ", ", 2);
    }
    return n + put(out + n, cap - n, c->peer, strlen(c->peer));
}

/* $host as nginx defines it: the host name of the request (no port, lower case), else the server's name. */
static size_t expand_host(const px_conn *c, char *out, size_t cap)
{
    http_slice h = c->x->req.host;
    if (!h.len)
        return c->server->nnames ? put(out, cap, c->server->names[0], strlen(c->server->names[0])) : 0;
    size_t len = h.len;
    if (h.base[0] == '[') {
        const char *end = memchr(h.base, ']', h.len);
        len = end ? (size_t)(end - h.base) + 1 : h.len;
    } else {
        const char *colon = memchr(h.base, ':', h.len);
        len = colon ? (size_t)(colon - h.base) : h.len;
    }
    size_t n = put(out, cap, h.base, len);
    for (size_t i = 0; i < n; i++)
        out[i] = (char)(out[i] >= 'A' && out[i] <= 'Z' ? out[i] + 32 : out[i]);
    return n;
}

size_t px_var_expand(const px_conn *c, px_var v, char *out, size_t cap)
{
    switch (v) {
    case PX_VAR_HOST:
        return expand_host(c, out, cap);
    case PX_VAR_HTTP_HOST:
        if (c->x->req.host.len)
            return put(out, cap, c->x->req.host.base, c->x->req.host.len);
        return expand_host(c, out, cap);
    case PX_VAR_REQUEST_URI:
        return put(out, cap, c->x->req.path.base, c->x->req.path.len);
    case PX_VAR_SCHEME:
        return c->bind->tls ? put(out, cap, "https", 5) : put(out, cap, "http", 4);
    case PX_VAR_REMOTE_ADDR:
        return put(out, cap, c->peer, strlen(c->peer));
    case PX_VAR_PROXY_ADD_XFF:
        return expand_xff(c, out, cap);
    case PX_VAR_SERVER_NAME:
        return c->server->nnames ? put(out, cap, c->server->names[0], strlen(c->server->names[0])) : 0;
    default:
        return 0;
    }
}

size_t px_tpl_expand(const px_conn *c, const px_tpl *t, char *out, size_t cap)
{
    size_t n = 0;
    for (int i = 0; i < t->nparts; i++) {
        n += put(out + n, cap - n, t->parts[i].lit, t->parts[i].len);
        if (t->parts[i].var)
            n += px_var_expand(c, t->parts[i].var, out + n, cap - n);
    }
    return n;
}

/* ---------------------------------------------------------------- fields on every response */

/* nginx adds add_header fields to these statuses only, unless "always" is given. */
static int add_header_applies(int status)
{
    switch (status) {
    case 200: case 201: case 204: case 206: case 301: case 302: case 303: case 304: case 307: case 308:
        return 1;
    default:
        return 0;
    }
}

void px_write_common_fields(px_conn *c, http_writer *hw, int status)
{
    char tmp[2048];
    if (c->server->server_tokens)
        http_write_raw(hw, "Server: proxyd/" PX_VERSION "\r\n", sizeof("Server: proxyd/" PX_VERSION "\r\n") - 1);
    else
        http_write_raw(hw, "Server: proxyd\r\n", 16);
    for (int i = 0; i < c->server->nadd_headers; i++) {
        const px_header *h = &c->server->add_headers[i];
        if (!h->always && !add_header_applies(status))
            continue;
        size_t n = px_tpl_expand(c, &h->value, tmp, sizeof(tmp));
        if (n)
            http_write_field(hw, http_slice_cstr(h->name), http_slice_of(tmp, n));
    }
    if (status == 101)
        return; /* the connection becomes a tunnel: Connection: upgrade is the caller's, keep-alive has no sense */
    if (c->rt != c->w->rt || c->w->stopping)
        c->keep_alive = 0; /* a reload or a graceful stop retires this connection after this answer */
    if (!c->keep_alive)
        http_write_raw(hw, "Connection: close\r\n", 19);
    else if (c->x->req.minor == 0)
        http_write_raw(hw, "Connection: keep-alive\r\n", 24);
}

/* ---------------------------------------------------------------- log context */

/* The tail of every log line about an exchange, as nginx writes it: who, which server, which upstream, what. */
const char *px_log_context(const px_conn *c)
{
    static _Thread_local char buf[512];
    int n = snprintf(buf, sizeof(buf), ", client: %s, server: %s", c->peer, c->server ? c->server->name : "-");
    if (n > 0 && c->up)
        n += snprintf(buf + n, sizeof(buf) - (size_t)n, ", upstream: %s (%s)", c->up->up->name,
                      c->up->up->servers[c->up->server].text);
    else if (n > 0 && c->upstream)
        n += snprintf(buf + n, sizeof(buf) - (size_t)n, ", upstream: %s", c->upstream->name);
    if (n > 0 && (size_t)n < sizeof(buf) && c->x && c->x->req.method.len) /* a parsed target holds no CTL */
        snprintf(buf + n, sizeof(buf) - (size_t)n, ", request: \"%.*s %.*s\"", (int)c->x->req.method.len,
                 c->x->req.method.base, (int)(c->x->req.target.len > 200 ? 200 : c->x->req.target.len),
                 c->x->req.target.base);
    return buf;
}

/* ---------------------------------------------------------------- proxyd's own responses */

/* Writes a head proxyd makes itself (Content-Type only when ctype is given) and, except for HEAD, body_len
 * bytes of body; content_length may exceed body_len when the caller sends the rest (a static file). */
int px_respond_head(px_conn *c, int status, const char *location, const char *ctype, uint64_t content_length,
                    const char *body, size_t body_len)
{
    px_worker *w = c->w;
    http_writer hw;
    http_writer_init(&hw, w->scratch, w->scratch_size);
    http_write_status_line(&hw, 1, status, http_slice_of("", 0));
    if (location)
        http_write_field(&hw, http_slice_cstr("Location"), http_slice_cstr(location));
    if (ctype)
        http_write_field(&hw, http_slice_cstr("Content-Type"), http_slice_cstr(ctype));
    int bodiless = status == 204 || status == 304; /* no body, and no Content-Length on a 204 (RFC 9110 8.6) */
    if (!bodiless) {
        http_write_raw(&hw, "Content-Length: ", 16);
        http_write_u64(&hw, content_length);
        http_write_raw(&hw, "\r\n", 2);
    }
    px_write_common_fields(c, &hw, status);
    long hl = http_write_end(&hw);
    if (hl < 0)
        return -1;
    px_batch b;
    px_batch_init(&b);
    px_batch_add(&b, w->scratch, (size_t)hl);
    if (c->x->req.method_id != HTTP_M_HEAD && !bodiless)
        px_batch_add(&b, body, body_len);
    c->resp_status = status;
    c->resp_bytes = bodiless ? 0 : content_length;
    ssize_t n = px_batch_write(PX_WS(c), c->io.fd, c->tls, &c->out, &b);
    if (n < 0)
        return -1;
    if ((size_t)n < b.total)
        c->ready_write = 0;
    return 0;
}

static int send_local(px_conn *c, int status, const char *location, const char *ctype, const char *body,
                      size_t body_len)
{
    return px_respond_head(c, status, location, body_len ? ctype : NULL, body_len, body, body_len);
}

/* Statuses after which the rest of the request cannot be trusted or was not read: the connection closes. */
static int closes_connection(int status)
{
    return status == 400 || status == 408 || status == 413 || status == 414 || status == 431 || status >= 500;
}

int px_respond_error(px_conn *c, int status, const char *why)
{
    char body[512];
    const char *reason = http_reason(status);
    int n = snprintf(body, sizeof(body),
                     "<html>\r\n<head><title>%d %s</title></head>\r\n<body>\r\n<center><h1>%d %s</h1></center>\r\n"
                     "<hr><center>proxyd</center>\r\n</body>\r\n</html>\r\n",
                     status, reason, status, reason);
    if (status >= 500)
        px_notice("%d: %s%s", status, why, px_log_context(c));
    else
        px_info("%d: %s%s", status, why, px_log_context(c));
    if (closes_connection(status) || c->req_body != BODY_DONE)
        c->keep_alive = 0;
    c->state = c->keep_alive ? CS_LOCAL : CS_CLOSING;
    if (send_local(c, status, NULL, "text/html", body, (size_t)n) < 0) {
        px_conn_close(c);
        return -1;
    }
    return 1;
}

int px_respond_return(px_conn *c)
{
    const px_server *s = c->server;
    px_wstate *ws = PX_WS(c);
    /* A URL may carry $request_uri (up to a whole input block): expanded into a spare output block, which the
     * head built in the worker's scratch (2 input blocks + extra) can hold. */
    char *url = wire_pool_get(&ws->out_pool);
    if (!url)
        return px_respond_error(c, 503, "out of output blocks for a return");
    size_t cap = ws->out_pool.block_size - 1;
    size_t n = px_tpl_expand(c, &s->return_url, url, cap);
    url[n] = 0;
    int redirect = px_return_is_redirect(s->return_status), rc = 1;
    if (n == cap) {
        wire_pool_put(&ws->out_pool, url);
        return px_respond_error(c, 500, "return: the expanded text does not fit an output block");
    }
    if (c->req_body != BODY_DONE)
        c->keep_alive = 0;
    c->state = c->keep_alive ? CS_LOCAL : CS_CLOSING;
    if (send_local(c, s->return_status, redirect ? url : NULL, "text/plain", redirect ? "" : url,
                   redirect ? 0 : n) < 0) {
        px_conn_close(c);
        rc = -1;
    }
    wire_pool_put(&ws->out_pool, url);
    return rc;
}

int px_respond_body(px_conn *c, int status, const char *content_type, const char *body, size_t len)
{
    if (c->req_body != BODY_DONE)
        c->keep_alive = 0;
    c->state = c->keep_alive ? CS_LOCAL : CS_CLOSING;
    if (send_local(c, status, NULL, content_type, body, len) < 0) {
        px_conn_close(c);
        return -1;
    }
    return 1;
}
