/* libhttp field lines (RFC 9112 5): name ":" OWS value OWS CRLF, shared by requests, responses and their limits.
 * Runs only on a complete head, so every LF in it is known to follow a CR. */
#include "internal.h"

/* A scanner stopped at a byte that is not allowed: a CR not followed by LF is a bare CR. q[1] is in the head
 * because the head ends with CRLF CRLF. */
static int bad_byte(const char *q, int err)
{
    return (*q == '\r' && q[1] != '\n') ? HTTP_E_LINE_ENDING : err;
}

/* One field line starting at *pp (not the empty line). On success *pp is past its CRLF. */
static int parse_line(const char *buf, size_t *pp, size_t end, http_field *fl, size_t *err_off)
{
    const char *p = buf + *pp, *e = buf + end;
    if (*p == ' ' || *p == '\t') {
        *err_off = *pp;
        return HTTP_E_OBS_FOLD;
    }
    const char *q = http__scan_token(p, e);
    if (q == p || *q != ':') { /* empty name, whitespace or other non-token before the colon */
        *err_off = (size_t)(q - buf);
        return bad_byte(q, HTTP_E_FIELD_NAME);
    }
    fl->name = http_slice_of(p, (size_t)(q - p));
    q++;
    while (*q == ' ' || *q == '\t')
        q++;
    const char *v = q;
    q = http__scan_value(q, e);
    if (*q != '\r' || q[1] != '\n') {
        *err_off = (size_t)(q - buf);
        return bad_byte(q, HTTP_E_FIELD_VALUE);
    }
    const char *ve = q;
    while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
        ve--;
    fl->value = http_slice_of(v, (size_t)(ve - v));
    *pp = (size_t)(q + 2 - buf);
    return 0;
}

int http__parse_fields(const char *buf, size_t p, const http__head *h, http_field *fields, size_t limit,
                       size_t *n, http__facts *f, size_t *err_off)
{
    *n = 0;
    while (p < h->end - 2) {
        if (*n == limit) {
            *err_off = p;
            return HTTP_E_TOO_MANY_FIELDS;
        }
        int r = parse_line(buf, &p, h->end, &fields[*n], err_off);
        if (r != 0) return r;
        http__note_field(buf, &fields[*n], f);
        ++*n;
        if (f->err != 0) {
            *err_off = f->err_off;
            return f->err;
        }
    }
    return 0;
}
