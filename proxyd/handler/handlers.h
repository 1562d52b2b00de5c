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

/* proxy_redirect default: when v is a URL naming the upstream itself (scheme, then one of the names, then '/',
 * '?', '#' or the end), returns the length of that prefix to replace by the client's scheme and Host; else 0.
 * names are the server as written, its host, and tls_server_name (any may be NULL). Pure. */
size_t px_redirect_prefix(http_slice v, int tls, const char *const names[3]);

#endif
