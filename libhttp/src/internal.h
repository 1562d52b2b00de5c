/* libhttp internals shared by the parsers: character classes, byte scanners, head location, field-line parsing
 * and framing facts. Prefix http__; nothing here is part of the public API. */
#ifndef HTTP_INTERNAL_H
#define HTTP_INTERNAL_H

#include "http/http.h"

#include <stdbool.h>

/* Character classes in http__cc (chars.c). */
enum {
    HTTP__C_TCHAR = 0x01,  /* RFC 9110 5.6.2 tchar */
    HTTP__C_VALUE = 0x02,  /* field-value byte: HTAB, SP, VCHAR, obs-text */
    HTTP__C_TARGET = 0x04, /* request-target byte: VCHAR (0x21..0x7e) */
    HTTP__C_HEX = 0x08,
    HTTP__C_DIGIT = 0x10,
    HTTP__C_HOST = 0x20, /* reg-name byte: unreserved, sub-delims, '%' */
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
 * are the inner loops of head parsing, called twice per field line. Where the compiler targets SSE2 (every x86-64),
 * field values and targets are checked 16 bytes per step; http__force_scalar (scan.c, false unless a test sets it)
 * takes the portable table loops instead so that tests cover both. */
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
    ctl = _mm_xor_si128(ctl, _mm_cmpeq_epi8(b, _mm_set1_epi8('\t')));    /* HTAB is allowed */
    return (unsigned)_mm_movemask_epi8(_mm_or_si128(ctl, _mm_cmpeq_epi8(b, _mm_set1_epi8(0x7f))));
}

/* Bit i set when byte i of b is not allowed in a request-target: outside 0x21..0x7e (signed: below 0x21 or 0x7f). */
static inline unsigned http__sse2_target_bad(__m128i b)
{
    __m128i bad = _mm_or_si128(_mm_cmplt_epi8(b, _mm_set1_epi8(0x21)), _mm_cmpeq_epi8(b, _mm_set1_epi8(0x7f)));
    return (unsigned)_mm_movemask_epi8(bad);
}

/* 16 bytes per step with kind 0 (value) or 1 (target). The last partial block is the 16 bytes ending at end,
 * overlapping bytes already checked (masked off), when the scan started at least 16 bytes before end. */
static inline const char *http__sse2_scan(const char *p, const char *end, int kind)
{
    const char *p0 = p;
    unsigned m;
    for (; end - p >= 16; p += 16) {
        __m128i b = _mm_loadu_si128((const __m128i *)(const void *)p);
        m = kind ? http__sse2_target_bad(b) : http__sse2_value_bad(b);
        if (m != 0) return p + __builtin_ctz(m);
    }
    if (p == end || end - p0 < 16) return p;
    __m128i b = _mm_loadu_si128((const __m128i *)(const void *)(end - 16));
    m = (kind ? http__sse2_target_bad(b) : http__sse2_value_bad(b)) & (0xffffu << (16 - (end - p)));
    return m != 0 ? end - 16 + __builtin_ctz(m) : end;
}
#endif

static inline const char *http__scan_token(const char *p, const char *end)
{
    return http__scan_class(p, end, HTTP__C_TCHAR);
}

static inline const char *http__scan_value(const char *p, const char *end)
{
#ifdef __SSE2__
    if (!http__force_scalar) {
        p = http__sse2_scan(p, end, 0);
        if (p == end || !http__is((unsigned char)*p, HTTP__C_VALUE)) return p;
    }
#endif
    return http__scan_class(p, end, HTTP__C_VALUE);
}

static inline const char *http__scan_target(const char *p, const char *end)
{
#ifdef __SSE2__
    if (!http__force_scalar) {
        p = http__sse2_scan(p, end, 1);
        if (p == end || !http__is((unsigned char)*p, HTTP__C_TARGET)) return p;
    }
#endif
    return http__scan_class(p, end, HTTP__C_TARGET);
}

/* Where a head lies in the buffer (head.c). */
typedef struct http__head {
    size_t start;  /* first byte of the start line (after skipped empty lines) */
    size_t lf1;    /* index of the LF ending the start line */
    size_t end;    /* head length: one past the LF of the empty line */
    size_t err_off;
    size_t max_line, max_head, max_fields;
} http__head;

/* Finds the end of the head, rescanning only from last_len. Returns the head length, HTTP_INCOMPLETE, or
 * HTTP_E_LINE_ENDING / HTTP_E_LINE_TOO_LONG / HTTP_E_HEAD_TOO_LARGE, each decided at the same byte whatever
 * the split of the input. skip_empty: ignore CRLFs before the start line (requests). */
long http__find_head(const char *buf, size_t len, size_t last_len, bool skip_empty, const http_limits *lim,
                     http__head *h);

/* Facts about framing and connection handling gathered from the fields (framing.c). */
typedef struct http__facts {
    bool is_request;        /* in: Host and Expect only mean something in requests */
    int err;                /* first error met, 0 when none */
    size_t err_off;
    uint64_t cl;            /* Content-Length when ncl > 0 */
    size_t ncl;             /* Content-Length fields */
    size_t nte;             /* Transfer-Encoding fields */
    size_t te_off;          /* offset of the first Transfer-Encoding value */
    size_t codings;         /* codings listed over all Transfer-Encoding fields */
    size_t chunked;         /* how many of them are "chunked" */
    bool te_bad;            /* a malformed element (parameters, non-token) */
    bool te_other;          /* a well-formed coding other than chunked (gzip, identity, ...) */
    bool te_last_chunked;   /* the last coding seen is chunked */
    size_t nhost;
    http_slice host;
    size_t host_off;
    bool conn_close, conn_keep_alive, conn_upgrade, has_upgrade, expect_continue;
} http__facts;

/* Parses field lines from buf[p] up to and including the empty line ending at h->end (whose LFs are known to be
 * preceded by CR). Fills fields[0..limit), sets *n, and feeds each field to http__note_field. 0 or an http_err. */
int http__parse_fields(const char *buf, size_t p, const http__head *h, http_field *fields, size_t limit,
                       size_t *n, http__facts *f, size_t *err_off);

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

/* Case-insensitive equality of a slice with lowercase lit[0..n). */
bool http__eq_lower(http_slice s, const char *lit, size_t n);

/* Fills limits with defaults where the caller left zeros; lim may be NULL. */
void http__limits(const http_limits *lim, http__head *h);

#endif
