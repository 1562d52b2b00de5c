/* proxyd handlers: what answers a request (the router, the proxy, tunnels, static files, the status endpoint,
 * gzip). main.c gives px_route to the workers; the pure functions below are also what the unit tests exercise. */
#ifndef PROXYD_HANDLER_HANDLERS_H
#define PROXYD_HANDLER_HANDLERS_H

#include "http/conn.h"

/* px_hooks.route: a whole request head is parsed; chooses the server by Host, then a `return`, an upstream
 * route (longest prefix), static files or a 404, and starts the answer. */
px_step px_route_request(px_conn *c);

/* The virtual server of bind b for a Host value: exact name, then "*.suffix" wildcard, then the default. The port
 * and trailing dots are ignored, IPv6 literals kept whole. Pure. */
px_server *px_select_server(const px_bind *b, http_slice host);

/* The longest route prefix of s matching path, or NULL. Pure. */
const px_route *px_find_route(const px_server *s, http_slice path);

/* Decodes a static file path (percent-escapes, no query) into out. Returns its length, or -1 for a path that must
 * not be served (a ".." segment, NUL, a bad escape, not starting with '/', longer than cap - 1). Pure. */
long px_static_decode_path(http_slice path, char *out, size_t cap);

/* Whether an Accept-Encoding list accepts gzip (RFC 9110 12.5.3: gzip named with q > 0, or "*" when gzip is not
 * named; q=0 refuses). Pure. */
int px_gzip_accepted(const http_field *fields, size_t nfields);

/* What proxy_redirect default recognises as the upstream itself at the start of a URL. */
typedef struct px_redirect_self {
    int tls;              /* the upstream's scheme: https:// when on, else http:// */
    const char *names[3]; /* the server as written (host:port), its host, tls_server_name; any may be NULL */
    http_slice host;      /* the client's host name ($host), which counts only with the upstream's port after it */
    http_slice port;      /* the upstream server's port, in digits */
} px_redirect_self;

/* proxy_redirect default: when v is a URL naming the upstream itself (its scheme, then the server as written, its
 * host or tls_server_name, alone or followed by ":port", or the client's host followed by ":port", then '/', '?',
 * '#' or the end), returns the length of that prefix to replace by the client's scheme and Host; else 0. Pure. */
size_t px_redirect_prefix(http_slice v, const px_redirect_self *self);

/* proxy_redirect FROM TO: from.len when v starts with from (scheme and host compared without regard to case, the
 * rest exactly, as a path is case-sensitive), else 0. An empty from matches nothing. Pure. */
size_t px_redirect_match(http_slice v, http_slice from);

#endif
