/* libhttp field lines (RFC 9112 5): name ":" OWS value OWS CRLF, shared by requests and responses. The exact parser
 * runs on a located head and names errors; the one-pass parser handles the common valid case with no prior scan. */
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

int http__parse_fields(const char *buf, size_t p, const http__head *h, http_field *fields, size_t limit, size_t *n,
                       http__facts *f, size_t *err_off)
{
    *n = 0;
    while (p < h->end - 2) {
        if (*n == limit) {
            *err_off = p;
            return HTTP_E_TOO_MANY_FIELDS;
        }
        int r = parse_line(buf, &p, h->end, &fields[*n], err_off);
        if (r != 0)
            return r;
        http__note_field(buf, &fields[*n], f);
        ++*n;
        if (f->err != 0) {
            *err_off = f->err_off;
            return f->err;
        }
    }
    return 0;
}

/* Only these lengths and first letters can name a field that http__note_field acts on (Host, Expect, Upgrade,
 * Connection, Content-Length, Transfer-Encoding): a cheap filter so that other fields cost no comparison. */
static const char framing_first[18] = {[4] = 'h', [6] = 'e', [7] = 'u', [10] = 'c', [14] = 'c', [17] = 't'};

static inline bool maybe_framing(http_slice name)
{
    return name.len < sizeof framing_first && framing_first[name.len] == (char)(name.base[0] | 0x20);
}

#ifdef __SSE2__
/* The first 16 bytes of a line at p classified once: when they hold the colon after a name made of letters, digits
 * and '-' (nearly every field), the name, the colon and the start of the value come from this one load. Name,
 * colon and OWS are all bytes allowed in a value, so the line's end is the first byte not allowed in a value from
 * p itself: found without waiting for the colon, which keeps it off the chain from one line to the next. Returns
 * that end, or NULL when the generic scanners must decide. */
static inline const char *sse2_line(const char *p, const char *e, http_field *fl, const char **vp)
{
    __m128i b = _mm_loadu_si128((const __m128i *)(const void *)p);
    unsigned colon = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(b, _mm_set1_epi8(':')));
    unsigned below = (colon & -colon) - 1; /* bits of the bytes before the first colon */
    if (colon == 0 || below == 0 || (http__sse2_token_other(b) & below) != 0)
        return NULL;
    unsigned maybe = (unsigned)_mm_movemask_epi8(http__sse2_maybe_bad(b, 0)), i;
    const char *q;
    if (maybe != 0 && (i = http__sse2_first_bad(p, b, maybe, 0)) != 16) {
        q = p + i;
    } else {
        q = http__sse2_scan(p + 16, e, 0);
        if (q != e && http__is((unsigned char)*q, HTTP__C_VALUE))
            q = http__scan_class(q, e, HTTP__C_VALUE);
    }
    size_t c = (size_t)__builtin_ctz(colon);
    fl->name = http_slice_of(p, c);
    const char *v = p + c + 1;
    while (v < e && (*v == ' ' || *v == '\t'))
        v++;
    *vp = v;
    return q;
}
#endif

/* One field line at p, bounded by e: the same rules as parse_line, but any doubt (missing bytes included) is a
 * NULL return rather than an error code. On success returns one past its LF. */
static inline const char *onepass_line(const char *p, const char *e, http_field *fl, bool simd)
{
    const char *q = NULL, *v;
#ifdef __SSE2__
    if (simd && e - p >= 16)
        q = sse2_line(p, e, fl, &v);
#else
    (void)simd;
#endif
    if (q == NULL) {
        q = http__scan_token(p, e);
        if (q == p || q == e || *q != ':')
            return NULL; /* also obs-fold: a leading SP or HTAB is not a tchar */
        fl->name = http_slice_of(p, (size_t)(q - p));
        q++;
        while (q < e && (*q == ' ' || *q == '\t'))
            q++;
        v = q;
        q = http__scan_value(q, e);
    }
    if (e - q < 2 || q[0] != '\r' || q[1] != '\n')
        return NULL;
    const char *ve = q;
    while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
        ve--;
    fl->value = http_slice_of(v, (size_t)(ve - v));
    return q + 2;
}

const char *http__parse_fields_onepass(const char *buf, const char *p, const char *e, http_field *fields, size_t limit,
                                       size_t *n, http__facts *f)
{
    size_t i = 0;
    bool simd = !http__force_scalar; /* read once: stores to fields[] could alias it */
    for (;;) {
        if (e - p < 2)
            return NULL;
        if (p[0] == '\r')
            break;
        if (i == limit)
            return NULL;
        p = onepass_line(p, e, &fields[i], simd);
        if (p == NULL)
            return NULL;
        if (maybe_framing(fields[i].name)) {
            http__note_field(buf, &fields[i], f);
            if (f->err != 0)
                return NULL;
        }
        i++;
    }
    if (p[1] != '\n')
        return NULL;
    *n = i;
    return p + 2;
}
