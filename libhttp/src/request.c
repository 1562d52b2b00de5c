/* libhttp request heads (RFC 9112 3): request line, target forms, Host rules and the resulting framing and
 * connection flags. http_parse_request is the entry point; fields and framing live in fields.c and framing.c. */
#include "internal.h"

#include <string.h>

static void reset(http_request *req)
{
    http_field *fields = req->fields;
    size_t cap = req->fields_cap;
    memset(req, 0, sizeof *req);
    req->fields = fields;
    req->fields_cap = fields ? cap : 0;
}

static http_method method_id(const char *p, size_t n)
{
    static const struct { const char *name; size_t len; http_method id; } tab[] = {
        {"GET", 3, HTTP_M_GET},         {"PUT", 3, HTTP_M_PUT},         {"HEAD", 4, HTTP_M_HEAD},
        {"POST", 4, HTTP_M_POST},       {"PATCH", 5, HTTP_M_PATCH},     {"TRACE", 5, HTTP_M_TRACE},
        {"DELETE", 6, HTTP_M_DELETE},   {"CONNECT", 7, HTTP_M_CONNECT}, {"OPTIONS", 7, HTTP_M_OPTIONS},
    };
    for (size_t i = 0; i < sizeof tab / sizeof tab[0]; i++)
        if (tab[i].len == n && memcmp(tab[i].name, p, n) == 0) return tab[i].id; /* methods are case-sensitive */
    return HTTP_M_OTHER;
}

/* "HTTP/" DIGIT "." DIGIT: 1.0 and 1.1 are served, 2.0 and up are refused with 505, the rest is malformed. */
static int parse_version(const char *v, size_t n, int *minor)
{
    if (n != 8 || memcmp(v, "HTTP/", 5) != 0 || v[6] != '.' || !http__is((unsigned char)v[5], HTTP__C_DIGIT) ||
        !http__is((unsigned char)v[7], HTTP__C_DIGIT))
        return HTTP_E_VERSION_INVALID;
    if (v[5] >= '2') return HTTP_E_VERSION;
    if (v[5] != '1' || v[7] > '1') return HTTP_E_VERSION_INVALID;
    *minor = v[7] - '0';
    return 0;
}

/* "http://" or "https://" (case-insensitive) authority [path-abempty] [? query]. */
static int absolute_form(http_request *req)
{
    http_slice t = req->target;
    size_t skip;
    if (t.len >= 7 && http__eq_lower(http_slice_of(t.base, 7), "http://", 7))
        skip = 7;
    else if (t.len >= 8 && http__eq_lower(http_slice_of(t.base, 8), "https://", 8))
        skip = 8;
    else
        return HTTP_E_TARGET;
    const char *a = t.base + skip, *e = t.base + t.len, *q = a;
    while (q < e && *q != '/' && *q != '?')
        q++;
    req->host = http_slice_of(a, (size_t)(q - a));
    if (!http__authority_valid(req->host, false)) return HTTP_E_TARGET;
    req->path = q < e ? http_slice_of(q, (size_t)(e - q)) : http_slice_of("/", 1);
    req->form = HTTP_TARGET_ABSOLUTE;
    return 0;
}

/* RFC 9112 3.2: which form the target takes, allowed per method. A fragment is never part of a target. */
static int classify_target(http_request *req)
{
    http_slice t = req->target;
    if (memchr(t.base, '#', t.len) != NULL) return HTTP_E_TARGET;
    if (req->method_id == HTTP_M_CONNECT) {
        if (!http__authority_valid(t, true)) return HTTP_E_TARGET;
        req->form = HTTP_TARGET_AUTHORITY;
        req->host = t;
        req->path = http_slice_of(t.base, 0);
        return 0;
    }
    if (t.base[0] == '/') {
        req->form = HTTP_TARGET_ORIGIN;
        req->path = t;
        return 0;
    }
    if (t.len == 1 && t.base[0] == '*') {
        if (req->method_id != HTTP_M_OPTIONS) return HTTP_E_TARGET;
        req->form = HTTP_TARGET_ASTERISK;
        req->path = t;
        return 0;
    }
    return absolute_form(req);
}

/* method SP request-target SP HTTP-version, between h->start and the CR before h->lf1. */
static int parse_request_line(const char *buf, const http__head *h, http_request *req)
{
    const char *p = buf + h->start, *cr = buf + h->lf1 - 1;
    const char *q = memchr(p, '\r', (size_t)(cr - p));
    if (q != NULL) { /* a bare CR inside the line */
        req->err_offset = (size_t)(q - buf);
        return HTTP_E_LINE_ENDING;
    }
    q = http__scan_token(p, cr);
    req->err_offset = (size_t)(q - buf);
    if (q == p || (*q != ' ' && q != cr)) return HTTP_E_METHOD;
    if (q == cr) return HTTP_E_TARGET;
    req->method = http_slice_of(p, (size_t)(q - p));
    req->method_id = method_id(p, req->method.len);
    const char *t = q + 1;
    q = http__scan_target(t, cr);
    req->err_offset = (size_t)(q - buf);
    if (q == t || (*q != ' ' && q != cr)) return HTTP_E_TARGET;
    if (q == cr) return HTTP_E_VERSION_INVALID; /* HTTP/0.9 style: no version */
    req->target = http_slice_of(t, (size_t)(q - t));
    int r = parse_version(q + 1, (size_t)(cr - q - 1), &req->minor);
    if (r != 0) {
        req->err_offset = (size_t)(q + 1 - buf);
        return r;
    }
    req->err_offset = (size_t)(t - buf);
    return classify_target(req);
}

/* Host rules (RFC 9112 3.2), framing and connection flags once every field is known. */
static int finish(const char *buf, const http__head *h, const http__facts *f, unsigned flags, http_request *req)
{
    if (req->minor == 1 && f->nhost == 0) {
        req->err_offset = h->start;
        return HTTP_E_HOST_MISSING;
    }
    if (f->nhost == 1 && f->host.len == 0 && req->form == HTTP_TARGET_ABSOLUTE) {
        req->err_offset = f->host_off;
        return HTTP_E_HOST_INVALID;
    }
    if (req->form != HTTP_TARGET_ABSOLUTE && req->form != HTTP_TARGET_AUTHORITY)
        req->host = f->nhost ? f->host : http_slice_of(buf + h->end, 0);
    int r = http__request_framing(f, req->minor, flags, req);
    if (r != 0) return r;
    req->keep_alive = !req->must_close && !f->conn_close && (req->minor == 1 || f->conn_keep_alive);
    req->expect_continue = req->minor == 1 && f->expect_continue; /* RFC 9110 10.1.1: ignored in HTTP/1.0 */
    req->upgrade = f->conn_upgrade && f->has_upgrade;
    return 0;
}

long http_parse_request(const char *buf, size_t len, size_t last_len, http_request *req, const http_limits *lim)
{
    http__head h;
    reset(req);
    long r = http__find_head(buf, len, last_len, true, lim, &h);
    if (r < 0) {
        req->err_offset = r == HTTP_INCOMPLETE ? 0 : h.err_off;
        return r;
    }
    int e = parse_request_line(buf, &h, req);
    if (e != 0) return e;
    http__facts f = {.is_request = true};
    size_t limit = req->fields_cap < h.max_fields ? req->fields_cap : h.max_fields;
    e = http__parse_fields(buf, h.lf1 + 1, &h, req->fields, limit, &req->nfields, &f, &req->err_offset);
    if (e == 0) e = finish(buf, &h, &f, lim ? lim->flags : 0, req);
    if (e != 0) return e;
    req->err_offset = 0;
    req->head_len = h.end;
    return (long)h.end;
}
