/* proxyd's own answers: the one place where an error becomes an HTTP status, a small body and a log line; the
 * `return` directive; the fields every response carries; and the log context of an exchange. */
#include <stdio.h>
#include <string.h>

#include "common/log.h"
#include "http/respond.h"
#include "http/vars.h"
#include "upstream/upstream.h"

/* ---------------------------------------------------------------- fields on every response */

/* nginx adds add_header fields to these statuses only, unless "always" is given. */
static int add_header_applies(int status)
{
    switch (status) {
    case 200:
    case 201:
    case 204:
    case 206:
    case 301:
    case 302:
    case 303:
    case 304:
    case 307:
    case 308: return 1;
    default: return 0;
    }
}

void px_write_common_fields(px_conn *c, http_writer *hw, int status)
{
    if (c->server->server_tokens)
        http_write_raw(hw, "Server: proxyd/" PX_VERSION "\r\n", sizeof("Server: proxyd/" PX_VERSION "\r\n") - 1);
    else
        http_write_raw(hw, "Server: proxyd\r\n", 16);
    for (int i = 0; i < c->server->nadd_headers; i++) {
        const px_header *h = &c->server->add_headers[i];
        if (!h->always && !add_header_applies(status))
            continue;
        px_tpl_write_field(c, hw, h->name, &h->value);
    }
    if (status == 101)
        return; /* the connection becomes a tunnel: Connection: upgrade is the caller's, keep-alive has no sense */
    /* A reload or a graceful stop retires this connection after this answer; so does the drain before a graceful
     * stop (drain_delay): behind an L4 balancer a keep-alive connection stays with this instance whatever the
     * balancer decides, so each client is told to reconnect (the balancer sends it elsewhere) while everything
     * still serves, instead of having its idle connection closed under a request at the stop. */
    if (c->rt != c->w->rt || c->w->stopping || atomic_load(&c->w->daemon->draining))
        c->x->keep_alive = 0;
    if (!c->x->keep_alive)
        http_write_raw(hw, "Connection: close\r\n", 19);
    else if (c->x->req.minor == 0)
        http_write_raw(hw, "Connection: keep-alive\r\n", 24);
}

/* ---------------------------------------------------------------- log context */

/* The tail of every log line about an exchange, as nginx writes it: who, which server, which upstream, what. The
 * request line is quoted from the head, which stays in the input block until the exchange ends (a tunnel keeps
 * it too), escaped: nothing a client sends may forge or break a log line. */
const char *px_log_context(const px_conn *c)
{
    static _Thread_local char buf[1024];
    const px_exchange *x = c->x;
    px_log_route(c->server ? c->server->error_sink : 0); /* the line goes to its [server]'s error_log, if any */
    int n = snprintf(buf, sizeof(buf), ", client: %s, server: %s", c->peer, c->server ? c->server->name : "-");
    if (n > 0 && x && x->up)
        n += snprintf(buf + n, sizeof(buf) - (size_t)n, ", upstream: %s (%s)", x->up->up->name,
                      x->up->up->servers[x->up->server].text);
    else if (n > 0 && x && x->upstream)
        n += snprintf(buf + n, sizeof(buf) - (size_t)n, ", upstream: %s", x->upstream->name);
    if (n > 0 && (size_t)n < sizeof(buf) && x && x->req.method.len) {
        char method[64], target[4 * PX_LOG_TARGET_MAX + 1];
        size_t tl = x->req.target.len > PX_LOG_TARGET_MAX ? PX_LOG_TARGET_MAX : x->req.target.len;
        px_log_escape(x->req.method.base, x->req.method.len, method, sizeof(method));
        px_log_escape(x->req.target.base, tl, target, sizeof(target));
        snprintf(buf + n, sizeof(buf) - (size_t)n, ", request: \"%s %s\"", method, target);
    }
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
    if (c->x->retry_after) {
        http_write_raw(&hw, "Retry-After: ", 13);
        http_write_u64(&hw, c->x->retry_after);
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
    c->x->resp_status = status;
    c->x->resp_bytes = bodiless ? 0 : content_length;
    return px_conn_write(c, &b) < 0 ? -1 : 0;
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

/* The answer is on its way: flush, then the next request or a close. An unread body forbids keep-alive: what
 * follows it must never pass for a request. */
static px_step answered(px_conn *c, int rc)
{
    return rc < 0 ? PX_CLOSE : px_conn_answered(c);
}

static void unread_body_closes(px_conn *c)
{
    if (c->x->req_body != BODY_DONE)
        c->x->keep_alive = 0;
}

px_step px_respond_error(px_conn *c, int status, const char *why)
{
    if (status >= 500)
        px_notice("%d: %s%s", status, why, px_log_context(c));
    else
        px_info("%d: %s%s", status, why, px_log_context(c));
    return px_respond_refused(c, status);
}

px_step px_respond_refused(px_conn *c, int status)
{
    char body[512];
    const char *reason = http_reason(status);
    int n = snprintf(body, sizeof(body),
                     "<html>\r\n<head><title>%d %s</title></head>\r\n<body>\r\n<center><h1>%d %s</h1></center>\r\n"
                     "<hr><center>proxyd</center>\r\n</body>\r\n</html>\r\n",
                     status, reason, status, reason);
    if (closes_connection(status))
        c->x->keep_alive = 0;
    unread_body_closes(c);
    return answered(c, send_local(c, status, NULL, "text/html", body, (size_t)n));
}

px_step px_respond_return(px_conn *c)
{
    const px_server *s = c->server;
    px_wstate *ws = PX_WS(c);
    /* A URL may carry $request_uri (up to a whole input block): expanded into a spare output block, which the
     * head built in the worker's scratch (2 input blocks + extra) can hold. */
    char *url = wire_pool_get(&ws->out_pool);
    if (!url)
        return px_respond_error(c, 503, "out of output blocks for a return");
    http_writer hw;
    http_writer_init(&hw, url, ws->out_pool.block_size - 1);
    px_tpl_write(c, &s->return_url, &hw);
    if (hw.overflow) {
        wire_pool_put(&ws->out_pool, url);
        return px_respond_error(c, 500, "return: the expanded text does not fit an output block");
    }
    url[hw.len] = 0;
    int redirect = px_return_is_redirect(s->return_status);
    unread_body_closes(c);
    int rc = send_local(c, s->return_status, redirect ? url : NULL, "text/plain", redirect ? "" : url,
                        redirect ? 0 : hw.len);
    wire_pool_put(&ws->out_pool, url);
    return answered(c, rc);
}

px_step px_respond_body(px_conn *c, int status, const char *content_type, const char *body, size_t len)
{
    unread_body_closes(c);
    return answered(c, send_local(c, status, NULL, content_type, body, len));
}
