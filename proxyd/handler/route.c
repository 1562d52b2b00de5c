/* proxyd request routing: the virtual server for a Host (exact, wildcard, default), the limits that follow from it,
 * the server's allow/deny, limit_req and limit_conn, and the choice between the status endpoint, a `return`, an
 * upstream route (longest prefix), static files and a 404, made once per request. */
#include <stdio.h>
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

/* ---------------------------------------------------------------- admission */

px_step px_refuse(px_conn *c, px_refusal kind, int status, const char *why, uint64_t retry_ms)
{
    uint64_t held;
    if (px_log_every_due(&c->rt->refusals[kind], wire_now(c->w->loop), PX_REFUSAL_LOG_MS, &held)) {
        char more[64] = "";
        if (held)
            snprintf(more, sizeof(more), " (and %llu more since the last line)", (unsigned long long)held);
        px_warn("%d: %s%s%s", status, why, more, px_log_context(c));
    }
    uint64_t s = (retry_ms + 999) / 1000;
    c->x->retry_after = s > UINT32_MAX ? UINT32_MAX : (uint32_t)s;
    return px_respond_refused(c, status);
}

/* limit_req without nodelay: the request waits on the connection's timer, then is routed again. */
static px_step delay_step(px_conn *c)
{
    if (wire_now(c->w->loop) < c->x->delay_until)
        return PX_WAIT;
    px_conn_set_timer(c, T_NONE, 0);
    c->x->handler = NULL;
    return px_route_request(c); /* x->delayed: the admission goes on with limit_conn */
}

static void delay_timer(px_conn *c, int progress)
{
    uint64_t now = wire_now(c->w->loop), until = c->x->delay_until;
    if (c->tkind != T_DELAY)
        px_conn_set_timer(c, T_DELAY, until > now ? until - now : 1);
}

static const px_handler delay_handler = {"limit_req delay", delay_step, delay_timer, NULL};

static px_step refuse_limit(px_conn *c, px_limit_rc rc, px_refusal kind, int status, const char *why, uint64_t ms)
{
    if (rc == PX_LIMIT_FULL)
        return px_refuse(c, PX_REFUSED_FULL, 503, "limit table full: raise limit_table_size", 0);
    return px_refuse(c, kind, status, why, ms);
}

/* limit_req, the server's then the route's (each a bucket of its own): 1 to go on, 0 when *step answers (429,
 * or the wait that the request begins: the longer of the two). */
static int admit_rate(px_conn *c, const px_route *route, px_step *step)
{
    px_exchange *x = c->x;
    const px_server *s = c->server;
    const px_rate *rates[2] = {&s->limit_req, route ? &route->limit_req : NULL};
    const uint32_t zones[2] = {s->limit_zone, route ? route->limit_zone : 0};
    uint64_t ms = 0, now = wire_now(c->w->loop);
    for (int k = 0; k < 2; k++) {
        uint64_t wait;
        if (!rates[k] || !rates[k]->per_ks)
            continue;
        px_limit_rc rc = px_limit_req(c->rt->limits, &c->peer_ip, zones[k], rates[k], now, &wait);
        if (rc != PX_LIMIT_OK) {
            *step = refuse_limit(c, rc, PX_REFUSED_REQ, 429, "limiting requests (limit_req)", wait);
            return 0;
        }
        ms = wait > ms ? wait : ms;
    }
    if (!ms)
        return 1;
    x->delayed = 1;
    x->delay_until = now + ms;
    x->handler = &delay_handler;
    c->state = CS_HANDLER;
    *step = PX_AGAIN;
    return 0;
}

/* nginx's access and preaccess checks, before anything answers: allow/deny (the server's, then the route's),
 * limit_req (which may make the request wait), then limit_conn, held until the exchange ends (http/conn.c). A peer
 * without an IP address (a unix socket) is not counted. 1 to go on; 0 when *step answers. */
static int admit(px_conn *c, const px_route *route, px_step *step)
{
    px_exchange *x = c->x;
    const px_server *s = c->server;
    if (!x->delayed && ((s->acl.n && !px_acl_allows(&s->acl, &c->peer_ip)) ||
                        (route && route->acl.n && !px_acl_allows(&route->acl, &c->peer_ip)))) {
        *step = px_refuse(c, PX_REFUSED_ACCESS, 403, "access forbidden by rule", 0);
        return 0;
    }
    if (!x->delayed && (s->limit_req.per_ks || (route && route->limit_req.per_ks)) && c->peer_ip.family &&
        !admit_rate(c, route, step))
        return 0;
    if (s->limit_conn && c->peer_ip.family) {
        uint32_t slot;
        px_limit_rc rc = px_limit_conn_acquire(c->rt->limits, &c->peer_ip, s->limit_zone, s->limit_conn, &slot);
        if (rc != PX_LIMIT_OK) {
            *step = refuse_limit(c, rc, PX_REFUSED_CONN, 503, "limiting connections (limit_conn)", 0);
            return 0;
        }
        x->limit_slot = slot + 1;
    }
    return 1;
}

/* ---------------------------------------------------------------- routing */

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
    /* The route is known before admission, for its own allow/deny and limit_req (a `return` has none). */
    const px_route *route =
        c->server->return_status || r->method_id == HTTP_M_CONNECT || r->form == HTTP_TARGET_ASTERISK
            ? NULL
            : px_find_route(c->server, r->path);
    px_step refused;
    if (!admit(c, route, &refused))
        return refused;
    if (c->server->return_status)
        return px_respond_return(c);
    if (r->method_id == HTTP_M_CONNECT)
        return px_respond_error(c, 405, "CONNECT is not proxied");
    if (!route && c->server->root)
        return px_static_respond(c);
    if (!route)
        return px_respond_error(c, 404, "no route");
    x->route = route;
    x->upstream = route->upstream;
    return px_proxy_start(c);
}
