/* proxyd $variables (config.c names them), written straight into an http_writer so that a value is whole or the
 * head is refused; and the request id behind $request_id and X-Request-ID. */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <sys/random.h>

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

/* ---------------------------------------------------------------- request id */

int px_request_id_valid(const char *s, size_t n)
{
    static const char tchar[] = "!#$%&'*+-.^_`|~";
    if (n == 0 || n > PX_REQUEST_ID_MAX)
        return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        int alnum = (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z');
        if (!alnum && !(ch && strchr(tchar, ch)))
            return 0;
    }
    return 1;
}

/* xorshift128+ per thread (each worker is one thread), seeded once from getrandom: no system call per request.
 * An id needs to be unique, not secret. */
static _Thread_local uint64_t rid_state[2];

static uint64_t rid_next(void)
{
    if (!rid_state[0] && !rid_state[1]) {
        if (getrandom(rid_state, sizeof(rid_state), 0) != (ssize_t)sizeof(rid_state) ||
            (!rid_state[0] && !rid_state[1])) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            rid_state[0] = (uint64_t)ts.tv_nsec * 0x9E3779B97F4A7C15ull ^ (uint64_t)(uintptr_t)&ts;
            rid_state[1] = (uint64_t)ts.tv_sec | 1;
        }
    }
    uint64_t a = rid_state[0];
    const uint64_t b = rid_state[1];
    rid_state[0] = b;
    a ^= a << 23;
    rid_state[1] = a ^ b ^ (a >> 17) ^ (b >> 26);
    return rid_state[1] + b;
}

void px_request_id_make(char out[33])
{
    static const char hex[] = "0123456789abcdef";
    for (int k = 0; k < 2; k++) {
        uint64_t r = rid_next();
        for (int i = 0; i < 16; i++, r >>= 4)
            out[k * 16 + i] = hex[r & 15];
    }
    out[32] = 0;
}

/* The client's X-Request-ID when request_id is on and the first one is valid, else a new one; chosen once. */
http_slice px_request_id(const px_conn *c)
{
    px_exchange *x = c->x;
    if (!x->request_id_len) {
        const http_request *r = &x->req;
        long i =
            r->method.len && c->server->request_id ? http_find_field(r->fields, r->nfields, "x-request-id", 0) : -1;
        if (i >= 0 && px_request_id_valid(r->fields[i].value.base, r->fields[i].value.len)) {
            memcpy(x->request_id, r->fields[i].value.base, r->fields[i].value.len);
            x->request_id_len = r->fields[i].value.len;
        } else {
            px_request_id_make(x->request_id);
            x->request_id_len = 32;
        }
        x->request_id[x->request_id_len] = 0;
    }
    return http_slice_of(x->request_id, x->request_id_len);
}

/* ---------------------------------------------------------------- the other variables */

static void put_field(const px_conn *c, http_writer *hw, const char *name)
{
    const http_request *r = &c->x->req;
    long i = r->method.len ? http_find_field(r->fields, r->nfields, name, 0) : -1;
    if (i >= 0)
        put(hw, r->fields[i].value.base, r->fields[i].value.len);
}

static void put_fmt(http_writer *hw, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put_fmt(http_writer *hw, const char *fmt, ...)
{
    char buf[64];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    if (n > 0)
        put(hw, buf, (size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf) - 1);
}

static void put_time(http_writer *hw, int iso)
{
    char buf[64];
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    localtime_r(&ts.tv_sec, &tm);
    put(hw, buf, strftime(buf, sizeof(buf), iso ? "%Y-%m-%dT%H:%M:%S%z" : "%d/%b/%Y:%H:%M:%S %z", &tm));
}

/* $request: the request line as received, without the CRLF. */
static void put_request(const px_conn *c, http_writer *hw)
{
    const http_request *r = &c->x->req;
    if (!r->method.len)
        return;
    put(hw, r->method.base, (size_t)(r->target.base + r->target.len - r->method.base));
    put_str(hw, r->minor ? " HTTP/1.1" : " HTTP/1.0");
}

void px_var_write(const px_conn *c, px_var v, http_writer *hw)
{
    const px_exchange *x = c->x;
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
    case PX_VAR_SERVER: put_str(hw, c->server->name); return;
    case PX_VAR_REQUEST_ID: {
        http_slice id = px_request_id(c);
        put(hw, id.base, id.len);
        return;
    }
    case PX_VAR_TIME_LOCAL: put_time(hw, 0); return;
    case PX_VAR_TIME_ISO8601: put_time(hw, 1); return;
    case PX_VAR_REQUEST: put_request(c, hw); return;
    case PX_VAR_REQUEST_METHOD: put(hw, x->req.method.base, x->req.method.len); return;
    case PX_VAR_STATUS:
        if (x->resp_status)
            put_fmt(hw, "%d", x->resp_status);
        return;
    case PX_VAR_BODY_BYTES_SENT: put_fmt(hw, "%llu", (unsigned long long)x->resp_bytes); return;
    case PX_VAR_HTTP_REFERER: put_field(c, hw, "referer"); return;
    case PX_VAR_HTTP_USER_AGENT: put_field(c, hw, "user-agent"); return;
    case PX_VAR_UPSTREAM_ADDR:
        if (x->up_addr)
            put_str(hw, x->up_addr);
        return;
    case PX_VAR_UPSTREAM_STATUS:
        if (x->up_status)
            put_fmt(hw, "%d", x->up_status);
        return;
    case PX_VAR_REQUEST_TIME: put_fmt(hw, "%.3f", (double)(wire_now(c->w->loop) - x->started_ms) / 1000.0); return;
    case PX_VAR_UPSTREAM_RESPONSE_TIME:
        if (x->up_status)
            put_fmt(hw, "%.3f", (double)x->up_ms / 1000.0);
        return;
    case PX_VAR_SSL_PROTOCOL:
        if (c->s.tls && tlsio_conn_version(c->s.tls))
            put_str(hw, tlsio_conn_version(c->s.tls));
        return;
    case PX_VAR_SSL_CIPHER:
        if (c->s.tls && tlsio_conn_cipher(c->s.tls))
            put_str(hw, tlsio_conn_cipher(c->s.tls));
        return;
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
