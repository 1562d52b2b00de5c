/* libhttp internals shared by the parsers: character classes, byte scanners, head location, field-line parsing
 * and framing facts. Prefix http__; nothing here is part of the public API. */
#ifndef HTTP_INTERNAL_H
#define HTTP_INTERNAL_H

#include "http/http.h"

#include <stdbool.h>
#include <string.h>

/* Character classes in http__cc (chars.c). */
enum {
    HTTP__C_TCHAR = 0x01,  /* RFC 9110 5.6.2 tchar */
    HTTP__C_VALUE = 0x02,  /* field-value byte: HTAB, SP, VCHAR, obs-text */
    HTTP__C_TARGET = 0x04, /* request-target byte: VCHAR (0x21..0x7e) */
    HTTP__C_HEX = 0x08,
    HTTP__C_DIGIT = 0x10,
    HTTP__C_HOST = 0x20,       /* reg-name byte: unreserved, sub-delims, '%' */
    HTTP__C_HOST_PLAIN = 0x40, /* the same without '%' (needs two hex digits after it) */
};
extern const unsigned char http__cc[256];

static inline bool http__is(unsigned char c, unsigned cls)
{
    return (http__cc[c] & cls) != 0;
}

static inline unsigned char http__lower(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') ? (unsigned char)(c | 0x20) : c;
}

/* Default limits (http_limits members left at zero). */
#define HTTP__MAX_LINE 8192
#define HTTP__MAX_HEAD 65536
#define HTTP__MAX_FIELDS 100
#define HTTP__MAX_EXT 1024
#define HTTP__MAX_TRAILER 8192

/* Scanners: the first byte in [p, end) outside the class, or end. Never read at or past end. Inline because they
 * are the inner loops of head parsing, called twice per field line. Where the compiler targets SSE2 (part of every
 * x86-64, so no run-time CPU check), tokens, field values and targets are checked 16 bytes per step with compares
 * and movemask: unlike SSE4.2's pcmpestri they are cheap on every x86-64 and valgrind can run them. The portable
 * table loops handle the last bytes of a buffer and other CPUs; http__force_scalar (scan.c, false unless a test
 * sets it) makes them handle everything, so that tests cover both. */
extern bool http__force_scalar;

/* Table loop: 8 bytes per step tested with one branch (the AND of their class bits), then byte by byte. */
static inline const char *http__scan_class(const char *p, const char *end, unsigned cls)
{
    const unsigned char *u = (const unsigned char *)p, *e = (const unsigned char *)end;
    const unsigned char *cc = http__cc;
    while (e - u >= 8 && (cc[u[0]] & cc[u[1]] & cc[u[2]] & cc[u[3]] & cc[u[4]] & cc[u[5]] & cc[u[6]] & cc[u[7]] & cls))
        u += 8;
    while (u < e && (cc[*u] & cls))
        u++;
    return (const char *)u;
}

#ifdef __SSE2__
#include <emmintrin.h>

/* Bit i set when byte i of b is not allowed in a field value: 0x00-0x08, 0x0a-0x1f, 0x7f. */
static inline unsigned http__sse2_value_bad(__m128i b)
{
    __m128i ctl = _mm_cmpeq_epi8(_mm_min_epu8(b, _mm_set1_epi8(0x1f)), b); /* b <= 0x1f, unsigned */
    ctl = _mm_xor_si128(ctl, _mm_cmpeq_epi8(b, _mm_set1_epi8('\t')));      /* HTAB is allowed */
    return (unsigned)_mm_movemask_epi8(_mm_or_si128(ctl, _mm_cmpeq_epi8(b, _mm_set1_epi8(0x7f))));
}

/* Bit i set when byte i of b is not allowed in a request-target: outside 0x21..0x7e (signed: below 0x21 or 0x7f). */
static inline unsigned http__sse2_target_bad(__m128i b)
{
    __m128i bad = _mm_or_si128(_mm_cmplt_epi8(b, _mm_set1_epi8(0x21)), _mm_cmpeq_epi8(b, _mm_set1_epi8(0x7f)));
    return (unsigned)_mm_movemask_epi8(bad);
}

/* Bit i clear when byte i of b is a letter, digit or '-' (the bytes of nearly every method and field name), set
 * otherwise, including for the other tchars, which the caller then looks up. Ranges are tested signed after
 * moving their first byte to -128: b | 0x20 lowercases letters and maps nothing else into 'a'..'z'. */
static inline unsigned http__sse2_token_other(__m128i b)
{
    __m128i l = _mm_add_epi8(_mm_or_si128(b, _mm_set1_epi8(0x20)), _mm_set1_epi8((char)(0x80 - 'a')));
    __m128i d = _mm_add_epi8(b, _mm_set1_epi8((char)(0x80 - '0')));
    __m128i ok = _mm_or_si128(_mm_cmplt_epi8(l, _mm_set1_epi8(-128 + 26)), _mm_cmplt_epi8(d, _mm_set1_epi8(-128 + 10)));
    ok = _mm_or_si128(ok, _mm_cmpeq_epi8(b, _mm_set1_epi8('-')));
    return (unsigned)_mm_movemask_epi8(ok) ^ 0xffffu;
}

/* Cheap superset test: b + 1 below lim (signed). With lim 0x21 it catches 0x00-0x1f, 0x7f and 0x80-0xff, a superset
 * of the bytes refused in values; lim 0x22 adds SP, refused in targets. Exact tests run only on flagged blocks. */
static inline __m128i http__sse2_maybe_bad(__m128i b, int kind)
{
    return _mm_cmplt_epi8(_mm_add_epi8(b, _mm_set1_epi8(1)), _mm_set1_epi8(kind ? 0x22 : 0x21));
}

static inline unsigned http__sse2_bad(__m128i b, int kind)
{
    return kind ? http__sse2_target_bad(b) : http__sse2_value_bad(b);
}

/* The first refused byte of a block whose superset mask mb is not zero, or 16 when none is. When the first flagged
 * byte is the usual terminator (CR after a value, SP after a target), which is refused, it is the answer and the
 * exact test stays off the latency chain that runs from one line to the next. */
static inline unsigned http__sse2_first_bad(const char *p, __m128i b, unsigned mb, int kind)
{
    unsigned i = (unsigned)__builtin_ctz(mb);
    if (p[i] == (kind ? ' ' : '\r'))
        return i;
    unsigned m = http__sse2_bad(b, kind);
    return m != 0 ? (unsigned)__builtin_ctz(m) : 16;
}

/* Scans kind 0 (value) or 1 (target) bytes, 32 then 16 per step. The last partial block
 * is the 16 bytes ending at end, overlapping bytes already checked (masked off), when the scan started at least 16
 * bytes before end; otherwise the caller's table loop finishes the few bytes left. */
static inline const char *http__sse2_scan(const char *p, const char *end, int kind)
{
    const char *p0 = p;
    unsigned m;
    for (; end - p >= 32; p += 32) {
        __m128i a = _mm_loadu_si128((const __m128i *)(const void *)p);
        __m128i b = _mm_loadu_si128((const __m128i *)(const void *)(p + 16));
        unsigned ma = (unsigned)_mm_movemask_epi8(http__sse2_maybe_bad(a, kind));
        unsigned mb = (unsigned)_mm_movemask_epi8(http__sse2_maybe_bad(b, kind));
        if ((ma | mb) == 0)
            continue;
        if (ma != 0 && (m = http__sse2_first_bad(p, a, ma, kind)) != 16)
            return p + m;
        if (mb != 0 && (m = http__sse2_first_bad(p + 16, b, mb, kind)) != 16)
            return p + 16 + m;
    }
    for (; end - p >= 16; p += 16) {
        __m128i b = _mm_loadu_si128((const __m128i *)(const void *)p);
        unsigned mb = (unsigned)_mm_movemask_epi8(http__sse2_maybe_bad(b, kind));
        if (mb != 0 && (m = http__sse2_first_bad(p, b, mb, kind)) != 16)
            return p + m;
    }
    if (p == end || end - p0 < 16)
        return p;
    m = http__sse2_bad(_mm_loadu_si128((const __m128i *)(const void *)(end - 16)), kind) &
        (0xffffu << (16 - (end - p)));
    return m != 0 ? end - 16 + __builtin_ctz(m) : end;
}
#endif

static inline const char *http__scan_token(const char *p, const char *end)
{
#ifdef __SSE2__
    while (!http__force_scalar && end - p >= 16) {
        unsigned m = http__sse2_token_other(_mm_loadu_si128((const __m128i *)(const void *)p));
        if (m == 0) {
            p += 16;
            continue;
        }
        p += __builtin_ctz(m);
        if (!http__is((unsigned char)*p, HTTP__C_TCHAR))
            return p;
        p++; /* a tchar such as '_' or '.': carry on from the byte after it */
    }
#endif
    return http__scan_class(p, end, HTTP__C_TCHAR);
}

static inline const char *http__scan_value(const char *p, const char *end)
{
#ifdef __SSE2__
    if (!http__force_scalar) {
        p = http__sse2_scan(p, end, 0);
        if (p == end || !http__is((unsigned char)*p, HTTP__C_VALUE))
            return p;
    }
#endif
    return http__scan_class(p, end, HTTP__C_VALUE);
}

static inline const char *http__scan_target(const char *p, const char *end)
{
#ifdef __SSE2__
    if (!http__force_scalar) {
        p = http__sse2_scan(p, end, 1);
        if (p == end || !http__is((unsigned char)*p, HTTP__C_TARGET))
            return p;
    }
#endif
    return http__scan_class(p, end, HTTP__C_TARGET);
}

/* Where a head lies in the buffer (head.c). */
typedef struct http__head {
    size_t start; /* first byte of the start line (after skipped empty lines) */
    size_t lf1;   /* index of the LF ending the start line */
    size_t end;   /* head length: one past the LF of the empty line */
    size_t err_off;
    size_t max_line, max_head, max_fields;
} http__head;

/* Index of the first byte after the CRLFs that may precede a request line (RFC 9112 2.2). */
static inline size_t http__skip_empty_lines(const char *buf, size_t len)
{
    size_t i = 0;
    while (i + 1 < len && buf[i] == '\r' && buf[i + 1] == '\n')
        i += 2;
    return i;
}

/* Fills limits with defaults where the caller left zeros; lim may be NULL. */
static inline void http__limits(const http_limits *lim, http__head *h)
{
    h->max_line = (lim && lim->max_line) ? lim->max_line : HTTP__MAX_LINE;
    h->max_head = (lim && lim->max_head) ? lim->max_head : HTTP__MAX_HEAD;
    h->max_fields = (lim && lim->max_fields) ? lim->max_fields : HTTP__MAX_FIELDS;
}

/* Finds the end of the head, rescanning only from last_len. Returns the head length, HTTP_INCOMPLETE, or
 * HTTP_E_LINE_ENDING / HTTP_E_LINE_TOO_LONG / HTTP_E_HEAD_TOO_LARGE, each decided at the same byte whatever
 * the split of the input. skip_empty: ignore CRLFs before the start line (requests). */
long http__find_head(const char *buf, size_t len, size_t last_len, bool skip_empty, const http_limits *lim,
                     http__head *h);

/* Facts about framing and connection handling gathered from the fields (framing.c). */
typedef struct http__facts {
    bool is_request; /* in: Host and Expect only mean something in requests */
    int err;         /* first error met, 0 when none */
    size_t err_off;
    uint64_t cl;          /* Content-Length when ncl > 0 */
    size_t ncl;           /* Content-Length fields */
    size_t nte;           /* Transfer-Encoding fields */
    size_t te_off;        /* offset of the first Transfer-Encoding value */
    size_t codings;       /* codings listed over all Transfer-Encoding fields */
    size_t chunked;       /* how many of them are "chunked" */
    bool te_bad;          /* a malformed element (parameters, non-token) */
    bool te_other;        /* a well-formed coding other than chunked (gzip, identity, ...) */
    bool te_last_chunked; /* the last coding seen is chunked */
    size_t nhost;
    http_slice host;
    size_t host_off;
    bool conn_close, conn_keep_alive, conn_upgrade, has_upgrade, expect_continue;
} http__facts;

/* Parses field lines from buf[p] up to and including the empty line ending at h->end (whose LFs are known to be
 * preceded by CR). Fills fields[0..limit), sets *n, and feeds each field to http__note_field. 0 or an http_err. */
int http__parse_fields(const char *buf, size_t p, const http__head *h, http_field *fields, size_t limit, size_t *n,
                       http__facts *f, size_t *err_off);

/* The same rules in one pass over a head not yet known to be complete: field lines from p up to and including the
 * empty line, never reading at or past e. Returns one past the empty line's LF, or NULL when a byte is missing or
 * anything is malformed, over a limit or a framing error; the caller then runs http__find_head and
 * http__parse_fields, which name the error exactly as they always have. */
const char *http__parse_fields_onepass(const char *buf, const char *p, const char *e, http_field *fields, size_t limit,
                                       size_t *n, http__facts *f);

/* Records what one field means for framing (Content-Length, Transfer-Encoding, Host, Connection, ...). Sets f->err
 * and f->err_off on the first invalid framing field. */
void http__note_field(const char *buf, const http_field *fl, http__facts *f);

/* RFC 9112 6.3 for a request: sets body, content_length and must_close. 0 or an http_err (with *err_off). */
int http__request_framing(const http__facts *f, int minor, unsigned flags, http_request *req);

/* RFC 9112 6.3 for a response to a request described by resp_flags. 0 or an http_err (with err_off). */
int http__response_framing(const http__facts *f, unsigned flags, unsigned resp_flags, http_response *resp);

/* Validates an authority "host[:port]" (reg-name, IPv4 or [IPv6]). port_required: authority-form. */
bool http__authority_valid(http_slice a, bool port_required);

/* Next element of a comma-separated list from *pos (0 at first), OWS trimmed; false after the last one.
 * An empty list yields one empty element; "a," yields "a" and "". */
bool http__list_next(http_slice list, size_t *pos, http_slice *el);

/* Whether a comma-separated list contains tok[0..n) (case-insensitive, OWS around elements). */
bool http__list_has(http_slice list, const char *tok, size_t n);

/* Lowercases the ASCII letters among 8 bytes at once, leaving every other byte as it is: a byte is 'A'..'Z' when
 * its low 7 bits plus 0x3f carry into bit 7 (>= 0x41), plus 0x25 do not (< 0x5b), and its own bit 7 is clear. */
static inline uint64_t http__lower8(uint64_t x)
{
    const uint64_t hi = 0x8080808080808080ULL, low7 = x & ~hi;
    uint64_t upper = (low7 + 0x3f3f3f3f3f3f3f3fULL) & ~(low7 + 0x2525252525252525ULL) & ~x & hi;
    return x | (upper >> 2);
}

static inline uint64_t http__load8(const char *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

/* Case-insensitive equality of a slice with lowercase lit[0..n). Inline: called with a constant n, so the loads
 * of lit fold into constants. From 8 bytes on, 8 at a time, the last word overlapping the one before it. */
static inline bool http__eq_lower(http_slice s, const char *lit, size_t n)
{
    if (s.len != n)
        return false;
    if (n < 8) {
        for (size_t i = 0; i < n; i++)
            if (http__lower((unsigned char)s.base[i]) != (unsigned char)lit[i])
                return false;
        return true;
    }
    for (size_t i = 0; i + 8 < n; i += 8)
        if (http__lower8(http__load8(s.base + i)) != http__load8(lit + i))
            return false;
    return http__lower8(http__load8(s.base + n - 8)) == http__load8(lit + n - 8);
}

#endif
