/* proxyd request routing: the virtual server for a Host (exact, wildcard, default), the body limits, and the
 * choice between a `return`, an upstream route (longest prefix) and a 404, made once per request. */
#include <string.h>

#include "io.h"
#include "log.h"
#include "proxyd.h"

static int name_matches(const char *pattern, const char *host, size_t len, int wildcard)
{
    if (!wildcard)
        return strlen(pattern) == len && strncasecmp(pattern, host, len) == 0;
    if (pattern[0] != '*')
        return 0;
    size_t pl = strlen(pattern) - 1; /* ".example.com" */
    return len > pl && strncasecmp(host + len - pl, pattern + 1, pl) == 0 && !memchr(host, '.', len - pl);
}

px_server *px_select_server(const px_bind *b, http_slice host)
{
    size_t len = host.len;
    if (len && host.base[0] != '[') { /* drop the port; an IPv6 literal keeps its brackets */
        const char *colon = memchr(host.base, ':', len);
        if (colon)
            len = (size_t)(colon - host.base);
    }
    while (len && host.base[len - 1] == '.')
        len--;
    for (int pass = 0; pass < 2 && len; pass++)
        for (int i = 0; i < b->nservers; i++)
            for (int k = 0; k < b->servers[i]->nnames; k++)
                if (name_matches(b->servers[i]->names[k], host.base, len, pass))
                    return b->servers[i];
    return b->default_server;
}

static const px_route *find_route(const px_server *s, http_slice path)
{
    for (int i = 0; i < s->nroutes; i++) /* sorted longest first */
        if (path.len >= s->routes[i].len && memcmp(path.base, s->routes[i].prefix, s->routes[i].len) == 0)
            return &s->routes[i];
    return NULL;
}

static int start_body(px_conn *c)
{
    const http_request *r = &c->x->req;
    uint64_t max = c->server->limits.client_max_body_size;
    c->body_off = c->head_len;
    c->req_aborted = 0;
    switch (r->body) {
    case HTTP_BODY_LENGTH:
        if (max && r->content_length > max)
            return -1;
        c->req_remaining = r->content_length;
        c->req_body = r->content_length ? BODY_LENGTH : BODY_DONE;
        break;
    case HTTP_BODY_CHUNKED:
        http_chunked_init(&c->x->req_chunked, 0, 0);
        c->req_body = BODY_CHUNKED;
        break;
    default:
        c->req_body = BODY_DONE;
        break;
    }
    return 0;
}

static void reset_exchange(px_conn *c)
{
    c->resp_head_sent = c->resp_done = c->resp_status = c->resp_error = 0;
    c->resp_bytes = 0;
    c->resp_last_len = 0;
    c->head_sent = 0;
    c->tries = 0;
    c->tried = 0;
    c->up_reusable = 0;
    c->resp_body = BODY_DONE;
    c->up_ms = 0;
    c->up_addr = NULL;
}

/* A whole request head is parsed: decide who answers it. */
int px_request_begin(px_conn *c)
{
    px_worker *w = c->w;
    const http_request *r = &c->x->req;
    c->server = px_select_server(c->bind, r->host);
    const px_limits *l = &c->server->limits;
    c->requests++;
    PX_ADD(w->stats.requests, 1);
    c->started_ms = wire_now(w->loop);
    px_conn_gauge(c, G_ACTIVE);
    reset_exchange(c);
    c->keep_alive = r->keep_alive && !r->must_close &&
                    (l->keepalive_requests == 0 || c->requests < l->keepalive_requests);
    px_conn_set_timer(c, T_NONE, 0);
    if (start_body(c) < 0)
        return px_respond_error(c, 413, "request body larger than client_max_body_size");
    if (c->bind->status)
        return px_status_respond(c);
    if (c->server->return_status)
        return px_respond_return(c);
    if (r->method_id == HTTP_M_CONNECT)
        return px_respond_error(c, 405, "CONNECT is not proxied");
    const px_route *route = r->form == HTTP_TARGET_ASTERISK ? NULL : find_route(c->server, r->path);
    if (!route && c->server->root)
        return px_static_respond(c);
    if (!route)
        return px_respond_error(c, 404, "no route");
    c->upstream = route->upstream;
    if (r->expect_continue && c->req_body != BODY_DONE) {
        /* Answered here: the body is streamed as it comes, so the origin's own 100 would be too late. */
        static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
        px_batch b;
        px_batch_init(&b);
        px_batch_add(&b, cont, sizeof(cont) - 1);
        if (px_batch_write(PX_WS(c), c->io.fd, c->tls, &c->out, &b) < 0) {
            px_conn_close(c);
            return -1;
        }
    }
    c->state = CS_UPSTREAM;
    if (px_upstream_acquire(c, c->upstream) < 0)
        return px_respond_error(c, 502, "no live upstream server");
    return 1;
}
