/* libhttp request heads (RFC 9112 3): request line, target forms, Host rules and the resulting framing and
 * connection flags. http_parse_request is the entry point: a one-pass parse for valid heads, else the exact two-pass
 * parse (locate the head, then parse it) that reports errors; fields and framing live in fields.c and framing.c. */
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

/* Methods are case-sensitive. By length first so that a request costs one or two fixed-size compares. */
static http_method method_id(const char *p, size_t n)
{
    switch (n) {
    case 3: return memcmp(p, "GET", 3) == 0 ? HTTP_M_GET : memcmp(p, "PUT", 3) == 0 ? HTTP_M_PUT : HTTP_M_OTHER;
    case 4: return memcmp(p, "POST", 4) == 0 ? HTTP_M_POST : memcmp(p, "HEAD", 4) == 0 ? HTTP_M_HEAD : HTTP_M_OTHER;
    case 5: return memcmp(p, "PATCH", 5) == 0 ? HTTP_M_PATCH : memcmp(p, "TRACE", 5) == 0 ? HTTP_M_TRACE : HTTP_M_OTHER;
    case 6: return memcmp(p, "DELETE", 6) == 0 ? HTTP_M_DELETE : HTTP_M_OTHER;
    case 7:
        return memcmp(p, "CONNECT", 7) == 0   ? HTTP_M_CONNECT
               : memcmp(p, "OPTIONS", 7) == 0 ? HTTP_M_OPTIONS
                                              : HTTP_M_OTHER;
    default: return HTTP_M_OTHER;
    }
}

/* "HTTP/" DIGIT "." DIGIT: 1.0 and 1.1 are served, 2.0 and up are refused with 505, the rest is malformed. */
static int parse_version(const char *v, size_t n, int *minor)
{
    if (n != 8 || memcmp(v, "HTTP/", 5) != 0 || v[6] != '.' || !http__is((unsigned char)v[5], HTTP__C_DIGIT) ||
        !http__is((unsigned char)v[7], HTTP__C_DIGIT))
        return HTTP_E_VERSION_INVALID;
    if (v[5] >= '2')
        return HTTP_E_VERSION;
    if (v[5] != '1' || v[7] > '1')
        return HTTP_E_VERSION_INVALID;
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
    if (!http__authority_valid(req->host, false))
        return HTTP_E_TARGET;
    req->path = q < e ? http_slice_of(q, (size_t)(e - q)) : http_slice_of("/", 1);
    req->form = HTTP_TARGET_ABSOLUTE;
    return 0;
}

/* RFC 9112 3.2: which form the target takes, allowed per method. A fragment is never part of a target. */
static int classify_form(http_request *req)
{
    http_slice t = req->target;
    if (req->method_id == HTTP_M_CONNECT) {
        if (!http__authority_valid(t, true))
            return HTTP_E_TARGET;
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
        if (req->method_id != HTTP_M_OPTIONS)
            return HTTP_E_TARGET;
        req->form = HTTP_TARGET_ASTERISK;
        req->path = t;
        return 0;
    }
    return absolute_form(req);
}

static int classify_target(http_request *req)
{
    if (memchr(req->target.base, '#', req->target.len) != NULL)
        return HTTP_E_TARGET;
    return classify_form(req);
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
    if (q == p || (*q != ' ' && q != cr))
        return HTTP_E_METHOD;
    if (q == cr)
        return HTTP_E_TARGET;
    req->method = http_slice_of(p, (size_t)(q - p));
    req->method_id = method_id(p, req->method.len);
    const char *t = q + 1;
    q = http__scan_target(t, cr);
    req->err_offset = (size_t)(q - buf);
    if (q == t || (*q != ' ' && q != cr))
        return HTTP_E_TARGET;
    if (q == cr)
        return HTTP_E_VERSION_INVALID; /* HTTP/0.9 style: no version */
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
    if (r != 0)
        return r;
    req->keep_alive = !req->must_close && !f->conn_close && (req->minor == 1 || f->conn_keep_alive);
    req->expect_continue = req->minor == 1 && f->expect_continue; /* RFC 9110 10.1.1: ignored in HTTP/1.0 */
    req->upgrade = f->conn_upgrade && f->has_upgrade;
    return 0;
}

/* The request line in one pass from p, never reading at or past e: method SP target SP "HTTP/1.0" or "HTTP/1.1"
 * CRLF, the LF at most max_line + 1 bytes after p. Returns one past the LF, or NULL for anything else. */
static const char *onepass_request_line(const char *p, const char *e, size_t max_line, http_request *req)
{
    const char *q = http__scan_token(p, e);
    if (q == p || q == e || *q != ' ')
        return NULL;
    req->method = http_slice_of(p, (size_t)(q - p));
    req->method_id = method_id(p, req->method.len);
    const char *t = q + 1;
    q = http__scan_target(t, e);
    if (q == t || e - q < 11 || *q != ' ' || memcmp(q + 1, "HTTP/1.", 7) != 0 || (q[8] != '0' && q[8] != '1') ||
        q[9] != '\r' || q[10] != '\n' || (size_t)(q + 10 - p) > max_line + 1)
        return NULL;
    req->target = http_slice_of(t, (size_t)(q - t));
    req->minor = q[8] - '0';
    return q + 11;
}

/* The common case, a complete and valid head, in one pass over buf[h->start, e). Returns the head length, or 0
 * when the head is incomplete or anything is wrong: the two-pass parser below then decides, so that results and
 * error precedence never depend on which path ran. */
static long onepass(const char *buf, const char *e, http__head *h, unsigned flags, http_request *req)
{
    const char *p = onepass_request_line(buf + h->start, e, h->max_line, req);
    if (p == NULL || classify_target(req) != 0)
        return 0;
    http__facts f = {.is_request = true};
    size_t limit = req->fields_cap < h->max_fields ? req->fields_cap : h->max_fields;
    p = http__parse_fields_onepass(buf, p, e, req->fields, limit, &req->nfields, &f);
    if (p == NULL)
        return 0;
    h->end = (size_t)(p - buf);
    if (finish(buf, h, &f, flags, req) != 0)
        return 0;
    req->err_offset = 0;
    req->head_len = h->end;
    return (long)h->end;
}

/* Request line and fields of a head that http__find_head has located; errors are reported here. */
static long twopass(const char *buf, const http__head *h, unsigned flags, http_request *req)
{
    int e = parse_request_line(buf, h, req);
    if (e != 0)
        return e;
    http__facts f = {.is_request = true};
    size_t limit = req->fields_cap < h->max_fields ? req->fields_cap : h->max_fields;
    e = http__parse_fields(buf, h->lf1 + 1, h, req->fields, limit, &req->nfields, &f, &req->err_offset);
    if (e == 0)
        e = finish(buf, h, &f, flags, req);
    if (e != 0)
        return e;
    req->err_offset = 0;
    req->head_len = h->end;
    return (long)h->end;
}

/* On a first call (last_len 0) the one-pass parser runs over the whole buffer. On later calls http__find_head
 * first looks for the end of the head in the new bytes only, so a head arriving byte by byte costs linear time,
 * and the one-pass parser then runs over the located head. */
long http_parse_request(const char *buf, size_t len, size_t last_len, http_request *req, const http_limits *lim)
{
    http__head h;
    unsigned flags = lim ? lim->flags : 0;
    reset(req);
    if (last_len == 0) {
        http__limits(lim, &h);
        h.start = http__skip_empty_lines(buf, len);
        size_t e = len < h.max_head ? len : h.max_head;
        long r = h.start < e ? onepass(buf, buf + e, &h, flags, req) : 0;
        if (r > 0)
            return r;
    }
    long r = http__find_head(buf, len, last_len, true, lim, &h);
    reset(req); /* drop what a failed one-pass attempt left */
    if (r < 0) {
        req->err_offset = r == HTTP_INCOMPLETE ? 0 : h.err_off;
        return r;
    }
    if (last_len != 0) {
        if ((r = onepass(buf, buf + h.end, &h, flags, req)) > 0)
            return r;
        reset(req);
    }
    return twopass(buf, &h, flags, req);
}
