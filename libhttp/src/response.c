/* libhttp response heads (RFC 9112 4): status line, fields, and the body framing that depends on the request
 * being answered. A malformed status line is HTTP_E_STATUS; the proxy answers such upstreams with 502. */
#include "internal.h"

#include <string.h>

static void reset(http_response *resp)
{
    http_field *fields = resp->fields;
    size_t cap = resp->fields_cap;
    memset(resp, 0, sizeof *resp);
    resp->fields = fields;
    resp->fields_cap = fields ? cap : 0;
}

/* "HTTP/1.x" SP 3DIGIT [SP reason] — the space after the code is optional when the reason is empty. */
static int parse_status_line(const char *buf, const http__head *h, http_response *resp)
{
    const char *p = buf + h->start, *cr = buf + h->lf1 - 1;
    size_t n = (size_t)(cr - p);
    const char *q = memchr(p, '\r', n);
    if (q != NULL) {
        resp->err_offset = (size_t)(q - buf);
        return HTTP_E_LINE_ENDING;
    }
    resp->err_offset = h->start;
    if (n < 12 || memcmp(p, "HTTP/1.", 7) != 0 || (p[7] != '0' && p[7] != '1') || p[8] != ' ')
        return HTTP_E_STATUS;
    for (int i = 9; i < 12; i++)
        if (!http__is((unsigned char)p[i], HTTP__C_DIGIT))
            return HTTP_E_STATUS;
    if (p[9] == '0' || (n > 12 && p[12] != ' '))
        return HTTP_E_STATUS;
    resp->minor = p[7] - '0';
    resp->status = (p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0');
    const char *r = n > 12 ? p + 13 : cr;
    q = http__scan_value(r, cr);
    if (q != cr) {
        resp->err_offset = (size_t)(q - buf);
        return HTTP_E_STATUS;
    }
    resp->reason = http_slice_of(r, (size_t)(cr - r));
    return 0;
}

/* "HTTP/1.x" SP 3DIGIT [SP reason] CRLF in one pass from p, never reading at or past e, the LF at most max_line + 1
 * bytes after p. Returns one past the LF, or NULL for anything else (incomplete included). */
static const char *onepass_status_line(const char *p, const char *e, size_t max_line, http_response *resp)
{
    if (e - p < 14 || memcmp(p, "HTTP/1.", 7) != 0 || (p[7] != '0' && p[7] != '1') || p[8] != ' ' ||
        !http__is((unsigned char)p[9], HTTP__C_DIGIT) || p[9] == '0' ||
        !http__is((unsigned char)p[10], HTTP__C_DIGIT) || !http__is((unsigned char)p[11], HTTP__C_DIGIT))
        return NULL;
    const char *r = p + 12;
    if (*r == ' ')
        r++;
    else if (*r != '\r')
        return NULL;
    const char *q = http__scan_value(r, e);
    if (e - q < 2 || q[0] != '\r' || q[1] != '\n' || (size_t)(q + 1 - p) > max_line + 1)
        return NULL;
    resp->minor = p[7] - '0';
    resp->status = (p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0');
    resp->reason = http_slice_of(r, (size_t)(q - r));
    return q + 2;
}

/* Framing and connection flags once every field is known. */
static int finish(const http__facts *f, unsigned flags, unsigned resp_flags, http_response *resp)
{
    int e = http__response_framing(f, flags, resp_flags, resp);
    if (e != 0)
        return e;
    resp->upgrade = resp->status == 101;
    resp->keep_alive = !resp->must_close && resp->body != HTTP_BODY_CLOSE && !f->conn_close &&
                       (resp->minor == 1 || f->conn_keep_alive);
    return 0;
}

/* A complete, valid head in one pass over buf[0, e), as for requests (request.c): the head length, or 0 to let the
 * two-pass parser decide. */
static long onepass(const char *buf, const char *e, const http__head *h, unsigned flags, unsigned resp_flags,
                    http_response *resp)
{
    const char *p = onepass_status_line(buf, e, h->max_line, resp);
    if (p == NULL)
        return 0;
    http__facts f = {.is_request = false};
    size_t limit = resp->fields_cap < h->max_fields ? resp->fields_cap : h->max_fields;
    p = http__parse_fields_onepass(buf, p, e, resp->fields, limit, &resp->nfields, &f);
    if (p == NULL || finish(&f, flags, resp_flags, resp) != 0)
        return 0;
    resp->err_offset = 0;
    resp->head_len = (size_t)(p - buf);
    return (long)resp->head_len;
}

static long twopass(const char *buf, const http__head *h, unsigned flags, unsigned resp_flags, http_response *resp)
{
    int e = parse_status_line(buf, h, resp);
    if (e != 0)
        return e;
    http__facts f = {.is_request = false};
    size_t limit = resp->fields_cap < h->max_fields ? resp->fields_cap : h->max_fields;
    e = http__parse_fields(buf, h->lf1 + 1, h, resp->fields, limit, &resp->nfields, &f, &resp->err_offset);
    if (e == 0)
        e = finish(&f, flags, resp_flags, resp);
    if (e != 0)
        return e;
    resp->err_offset = 0;
    resp->head_len = h->end;
    return (long)h->end;
}

/* The one-pass parser first on a first call, over the located head on later ones (see http_parse_request). */
long http_parse_response(const char *buf, size_t len, size_t last_len, http_response *resp, const http_limits *lim,
                         unsigned resp_flags)
{
    http__head h;
    unsigned flags = lim ? lim->flags : 0;
    reset(resp);
    if (last_len == 0) {
        http__limits(lim, &h);
        long r = onepass(buf, buf + (len < h.max_head ? len : h.max_head), &h, flags, resp_flags, resp);
        if (r > 0)
            return r;
    }
    long r = http__find_head(buf, len, last_len, false, lim, &h);
    reset(resp); /* drop what a failed one-pass attempt left */
    if (r < 0) {
        resp->err_offset = r == HTTP_INCOMPLETE ? 0 : h.err_off;
        return r;
    }
    if (last_len != 0) {
        if ((r = onepass(buf, buf + h.end, &h, flags, resp_flags, resp)) > 0)
            return r;
        reset(resp);
    }
    return twopass(buf, &h, flags, resp_flags, resp);
}
