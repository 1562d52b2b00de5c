/* proxyd request routing: the virtual server for a Host (exact, wildcard, default), the limits that follow from it,
 * and the choice between the status endpoint, a `return`, an upstream route (longest prefix), static files and a
 * 404, made once per request. */
#include <string.h>
#include <strings.h>

#include "common/log.h"
#include "handler/internal.h"

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

const px_route *px_find_route(const px_server *s, http_slice path)
{
    for (int i = 0; i < s->nroutes; i++) /* sorted longest first */
        if (path.len >= s->routes[i].len && memcmp(path.base, s->routes[i].prefix, s->routes[i].len) == 0)
            return &s->routes[i];
    return NULL;
}

/* Body framing of the request, within client_max_body_size. -1 when the declared length is too large. */
static int start_body(px_conn *c)
{
    px_exchange *x = c->x;
    const http_request *r = &x->req;
    uint64_t max = c->server->limits.client_max_body_size;
    switch (r->body) {
    case HTTP_BODY_LENGTH:
        if (max && r->content_length > max)
            return -1;
        x->req_remaining = r->content_length;
        x->req_body = r->content_length ? BODY_LENGTH : BODY_DONE;
        break;
    case HTTP_BODY_CHUNKED:
        http_chunked_init(&x->req_chunked, 0, 0);
        x->req_body = BODY_CHUNKED;
        break;
    default: x->req_body = BODY_DONE; break;
    }
    return 0;
}

px_step px_route_request(px_conn *c)
{
    px_exchange *x = c->x;
    const http_request *r = &x->req;
    c->server = px_select_server(c->bind, r->host);
    const px_limits *l = &c->server->limits;
    if (l->keepalive_requests && c->requests >= l->keepalive_requests)
        x->keep_alive = 0;
    if (start_body(c) < 0)
        return px_respond_error(c, 413, "request body larger than client_max_body_size");
    if (c->bind->status)
        return px_status_respond(c);
    if (c->server->return_status)
        return px_respond_return(c);
    if (r->method_id == HTTP_M_CONNECT)
        return px_respond_error(c, 405, "CONNECT is not proxied");
    const px_route *route = r->form == HTTP_TARGET_ASTERISK ? NULL : px_find_route(c->server, r->path);
    if (!route && c->server->root)
        return px_static_respond(c);
    if (!route)
        return px_respond_error(c, 404, "no route");
    x->route = route;
    x->upstream = route->upstream;
    return px_proxy_start(c);
}
