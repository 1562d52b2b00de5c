/* proxyd $variables: $host, $http_host, $request_uri, $scheme, $remote_addr, $proxy_add_x_forwarded_for and
 * $server_name, written straight into an http_writer so that a value is whole or the head is refused. */
#include <string.h>
#include <sys/socket.h>

#include "http/vars.h"

static void put(http_writer *hw, const char *p, size_t n)
{
    if (n) /* an unparsed request has {NULL, 0} slices */
        http_write_raw(hw, p, n);
}

static void put_str(http_writer *hw, const char *s)
{
    put(hw, s, strlen(s));
}

/* $proxy_add_x_forwarded_for: every X-Forwarded-For the client sent, then its address. */
static void write_xff(const px_conn *c, http_writer *hw)
{
    const http_request *r = &c->x->req;
    for (long i = http_find_field(r->fields, r->nfields, "x-forwarded-for", 0); i >= 0;
         i = http_find_field(r->fields, r->nfields, "x-forwarded-for", (size_t)i + 1)) {
        put(hw, r->fields[i].value.base, r->fields[i].value.len);
        put(hw, ", ", 2);
    }
    put_str(hw, c->peer);
}

static void write_server_name(const px_conn *c, http_writer *hw)
{
    if (c->server->nnames)
        put_str(hw, c->server->names[0]);
}

/* A host for a URL when the request named none: the server's first name, else the address the client connected
 * to ("https:///x" or "https://:4443/x" would name no host). Only an HTTP/1.0 request without Host to a server
 * without server_name gets to the getsockname, so it stays off the hot path. */
static void write_fallback_host(const px_conn *c, http_writer *hw)
{
    wire_addr local;
    char text[64];
    if (c->server->nnames) {
        put_str(hw, c->server->names[0]);
        return;
    }
    if (wire_sockname(c->s.io.fd, &local) < 0 || local.ss.ss_family == AF_UNIX)
        return;
    wire_addr_host(&local, text, sizeof(text));
    int v6 = local.ss.ss_family == AF_INET6;
    put(hw, "[", (size_t)v6);
    put_str(hw, text);
    put(hw, "]", (size_t)v6);
}

/* $host as nginx defines it: the host name of the request (no port, lower case), else the server's name. */
static void write_host(const px_conn *c, http_writer *hw)
{
    http_slice h = c->x->req.host;
    if (!h.len) {
        write_fallback_host(c, hw);
        return;
    }
    size_t len = h.len;
    if (h.base[0] == '[') {
        const char *end = memchr(h.base, ']', h.len);
        len = end ? (size_t)(end - h.base) + 1 : h.len;
    } else {
        const char *colon = memchr(h.base, ':', h.len);
        len = colon ? (size_t)(colon - h.base) : h.len;
    }
    size_t from = hw->len;
    put(hw, h.base, len);
    for (size_t i = from; i < hw->len; i++)
        hw->buf[i] = (char)(hw->buf[i] >= 'A' && hw->buf[i] <= 'Z' ? hw->buf[i] + 32 : hw->buf[i]);
}

int px_var_slice(const px_conn *c, px_var v, http_slice *out)
{
    switch (v) {
    case PX_VAR_HTTP_HOST: *out = c->x->req.host; return c->x->req.host.len != 0;
    case PX_VAR_REQUEST_URI: *out = c->x->req.path; return 1;
    case PX_VAR_SCHEME: *out = c->bind->tls ? http_slice_of("https", 5) : http_slice_of("http", 4); return 1;
    case PX_VAR_REMOTE_ADDR: *out = http_slice_cstr(c->peer); return 1;
    default: return 0;
    }
}

void px_var_write(const px_conn *c, px_var v, http_writer *hw)
{
    switch (v) {
    case PX_VAR_HOST: write_host(c, hw); return;
    case PX_VAR_HTTP_HOST:
        if (c->x->req.host.len)
            put(hw, c->x->req.host.base, c->x->req.host.len);
        else
            write_host(c, hw);
        return;
    case PX_VAR_REQUEST_URI: put(hw, c->x->req.path.base, c->x->req.path.len); return;
    case PX_VAR_SCHEME: put_str(hw, c->bind->tls ? "https" : "http"); return;
    case PX_VAR_REMOTE_ADDR: put_str(hw, c->peer); return;
    case PX_VAR_PROXY_ADD_XFF: write_xff(c, hw); return;
    case PX_VAR_SERVER_NAME: write_server_name(c, hw); return;
    default: return;
    }
}

void px_tpl_write(const px_conn *c, const px_tpl *t, http_writer *hw)
{
    for (int i = 0; i < t->nparts; i++) {
        put(hw, t->parts[i].lit, t->parts[i].len);
        if (t->parts[i].var)
            px_var_write(c, t->parts[i].var, hw);
    }
}

void px_tpl_write_field(const px_conn *c, http_writer *hw, const char *name, const px_tpl *t)
{
    size_t mark = hw->len;
    put_str(hw, name);
    put(hw, ": ", 2);
    size_t value = hw->len;
    px_tpl_write(c, t, hw);
    if (hw->overflow)
        return;
    if (hw->len == value) {
        hw->len = mark; /* an empty value removes the field, as in nginx */
        return;
    }
    for (size_t i = value; i < hw->len; i++)
        if (hw->buf[i] == '\r' || hw->buf[i] == '\n' || hw->buf[i] == 0)
            hw->overflow = 1;
    put(hw, "\r\n", 2);
}
