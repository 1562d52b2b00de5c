/* libhttp framing (RFC 9112 6): what Content-Length, Transfer-Encoding, Host, Connection, Upgrade and Expect say,
 * and the body length they imply for requests and responses. Ambiguity is an error or a forced close. */
#include "internal.h"

#include <stdint.h>

/* 1*DIGIT without sign or spaces, at most 2^63 - 1. */
static bool parse_decimal(http_slice s, uint64_t *out)
{
    uint64_t v = 0;
    if (s.len == 0)
        return false;
    for (size_t i = 0; i < s.len; i++) {
        unsigned char c = (unsigned char)s.base[i];
        if (!http__is(c, HTTP__C_DIGIT))
            return false;
        if (v > ((uint64_t)INT64_MAX - (c - '0')) / 10)
            return false;
        v = v * 10 + (c - '0');
    }
    *out = v;
    return true;
}

/* RFC 9110 8.6: a list of identical values (and repeated identical fields) may be folded into one. */
static void note_content_length(http_slice v, size_t off, http__facts *f)
{
    size_t pos = 0;
    http_slice el;
    while (http__list_next(v, &pos, &el)) {
        uint64_t x;
        if (!parse_decimal(el, &x) || (f->ncl > 0 && x != f->cl)) {
            f->err = HTTP_E_CONTENT_LENGTH;
            f->err_off = off + (size_t)(el.base - v.base);
            return;
        }
        f->cl = x;
        f->ncl++;
    }
}

/* One coding of the combined Transfer-Encoding list. Empty elements are ignored (RFC 9110 5.6.1). */
static void note_coding(http_slice el, http__facts *f)
{
    if (el.len == 0)
        return;
    const char *q = http__scan_token(el.base, el.base + el.len);
    f->codings++;
    f->te_last_chunked = false;
    if (q != el.base + el.len || q == el.base) /* parameters, spaces or non-token bytes */
        f->te_bad = true;
    else if (http__eq_lower(el, "chunked", 7)) {
        f->chunked++;
        f->te_last_chunked = true;
    } else
        f->te_other = true;
}

static void note_transfer_encoding(http_slice v, size_t off, http__facts *f)
{
    size_t pos = 0;
    http_slice el;
    if (f->nte++ == 0)
        f->te_off = off;
    while (http__list_next(v, &pos, &el))
        note_coding(el, f);
}

static void note_host(http_slice v, size_t off, http__facts *f)
{
    if (++f->nhost > 1) {
        f->err = HTTP_E_HOST_DUP;
        f->err_off = off;
        return;
    }
    f->host = v;
    f->host_off = off;
    if (v.len > 0 && !http__authority_valid(v, false)) {
        f->err = HTTP_E_HOST_INVALID;
        f->err_off = off;
    }
}

/* One walk over the list for the three options that matter; a lone "keep-alive" or "close", what browsers and
 * most clients send, is recognised without it. */
static void note_connection(http_slice v, http__facts *f)
{
    size_t pos = 0;
    http_slice el;
    if (http__eq_lower(v, "keep-alive", 10)) {
        f->conn_keep_alive = true;
        return;
    }
    if (http__eq_lower(v, "close", 5)) {
        f->conn_close = true;
        return;
    }
    while (http__list_next(v, &pos, &el)) {
        f->conn_close |= http__eq_lower(el, "close", 5);
        f->conn_keep_alive |= http__eq_lower(el, "keep-alive", 10);
        f->conn_upgrade |= http__eq_lower(el, "upgrade", 7);
    }
}

void http__note_field(const char *buf, const http_field *fl, http__facts *f)
{
    http_slice n = fl->name, v = fl->value;
    size_t off = (size_t)(v.base - buf);
    switch (n.len) {
    case 4:
        if (f->is_request && http__eq_lower(n, "host", 4))
            note_host(v, off, f);
        break;
    case 6:
        if (f->is_request && http__eq_lower(n, "expect", 6))
            f->expect_continue |= http__eq_lower(v, "100-continue", 12);
        break;
    case 7:
        if (http__eq_lower(n, "upgrade", 7))
            f->has_upgrade = true;
        break;
    case 10:
        if (http__eq_lower(n, "connection", 10))
            note_connection(v, f);
        break;
    case 14:
        if (http__eq_lower(n, "content-length", 14))
            note_content_length(v, off, f);
        break;
    case 17:
        if (http__eq_lower(n, "transfer-encoding", 17))
            note_transfer_encoding(v, off, f);
        break;
    default: break;
    }
}

/* The Transfer-Encoding list must end in exactly one chunked (RFC 9112 6.1, 6.3 item 4). */
static bool te_chunked_final(const http__facts *f)
{
    return f->codings > 0 && !f->te_bad && f->chunked == 1 && f->te_last_chunked;
}

int http__request_framing(const http__facts *f, int minor, unsigned flags, http_request *req)
{
    if (f->nte > 0) {
        req->err_offset = f->te_off;
        if (minor == 0)
            return HTTP_E_TE_HTTP10;
        if (!te_chunked_final(f))
            return HTTP_E_TE_NOT_CHUNKED;
        if (f->te_other)
            return HTTP_E_TE_UNSUPPORTED;
        if (f->ncl > 0) {
            if (flags & HTTP_F_REJECT_TE_AND_CL)
                return HTTP_E_TE_AND_CL;
            req->must_close = 1;
        }
        req->body = HTTP_BODY_CHUNKED;
        return 0;
    }
    if (f->ncl > 0) {
        req->body = HTTP_BODY_LENGTH;
        req->content_length = f->cl;
    }
    return 0;
}

/* A response Transfer-Encoding (HTTP/1.1, body allowed): chunked final, read-to-close, or an error. */
static int response_te(const http__facts *f, unsigned flags, http_response *resp)
{
    resp->err_offset = f->te_off;
    if (f->codings == 0 || f->te_bad || f->chunked > 1)
        return HTTP_E_TE_NOT_CHUNKED;
    if (!f->te_last_chunked) { /* RFC 9112 6.3 item 4: read until the connection closes */
        resp->body = HTTP_BODY_CLOSE;
        resp->must_close = 1;
        return 0;
    }
    if (f->te_other)
        return HTTP_E_TE_UNSUPPORTED;
    if (f->ncl > 0) {
        if (flags & HTTP_F_REJECT_TE_AND_CL)
            return HTTP_E_TE_AND_CL;
        resp->must_close = 1;
    }
    resp->body = HTTP_BODY_CHUNKED;
    return 0;
}

int http__response_framing(const http__facts *f, unsigned flags, unsigned resp_flags, http_response *resp)
{
    int st = resp->status;
    if ((resp_flags & HTTP_RESP_TO_HEAD) || st < 200 || st == 204 || st == 304)
        return 0;
    if ((resp_flags & HTTP_RESP_TO_CONNECT) && st / 100 == 2)
        return 0;
    if (f->nte > 0 && resp->minor == 0) { /* RFC 9112 6.1: faulty framing in HTTP/1.0 */
        resp->body = HTTP_BODY_CLOSE;
        resp->must_close = 1;
        return 0;
    }
    if (f->nte > 0)
        return response_te(f, flags, resp);
    if (f->ncl > 0) {
        resp->body = HTTP_BODY_LENGTH;
        resp->content_length = f->cl;
        return 0;
    }
    resp->body = HTTP_BODY_CLOSE;
    return 0;
}
