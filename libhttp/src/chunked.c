/* libhttp chunked transfer coding decoder (RFC 9112 7.1): a byte-at-a-time state machine for the framing and
 * one zero-copy span per call for the data. Caller-owned state, valid when zero-filled. */
#include "internal.h"

#include <stdint.h>

/* States, kept in http_chunked._state; a negative _state is the sticky error. */
enum {
    ST_SIZE_FIRST = 0, /* first hex digit of a chunk size */
    ST_SIZE,           /* more hex digits */
    ST_BWS,            /* whitespace after the size: only ';' may follow */
    ST_EXT,            /* chunk extension bytes up to CR */
    ST_SIZE_LF,        /* LF ending the size line */
    ST_DATA,           /* chunk data (_remaining bytes) */
    ST_DATA_CR,        /* CR after chunk data */
    ST_DATA_LF,        /* LF after chunk data */
    ST_TRAILER_START,  /* start of a trailer line or of the final CRLF */
    ST_TRAILER_NAME,   /* trailer field name */
    ST_TRAILER_VALUE,  /* trailer field value up to CR */
    ST_TRAILER_LF,     /* LF ending a trailer line */
    ST_FINAL_LF,       /* LF of the final CRLF */
    ST_DONE,
};

#define MAX_SIZE_DIGITS 32 /* leading zeros included: bounds the size line like the extension bound does */

void http_chunked_init(http_chunked *d, size_t max_ext, size_t max_trailer)
{
    *d = (http_chunked){0};
    d->_max_ext = max_ext;
    d->_max_trailer = max_trailer;
}

static int hexval(unsigned char c)
{
    return c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10;
}

static int on_size_first(http_chunked *d, unsigned char c)
{
    if (!http__is(c, HTTP__C_HEX))
        return HTTP_E_CHUNK_SIZE; /* also ' ', '+', '-', empty size */
    d->_remaining = (uint64_t)hexval(c);
    d->_ext_len = 1;
    d->_state = ST_SIZE;
    return 0;
}

static int on_size(http_chunked *d, unsigned char c)
{
    if (http__is(c, HTTP__C_HEX)) {
        if (d->_remaining > ((uint64_t)INT64_MAX >> 4) || ++d->_ext_len > MAX_SIZE_DIGITS)
            return HTTP_E_CHUNK_SIZE;
        d->_remaining = (d->_remaining << 4) | (uint64_t)hexval(c);
        return 0;
    }
    d->_ext_len = 0;
    if (c == '\n')
        return HTTP_E_LINE_ENDING;
    if (c == '\r')
        d->_state = ST_SIZE_LF;
    else if (c == ';')
        d->_state = ST_EXT;
    else if (c == ' ' || c == '\t')
        d->_state = ST_BWS;
    else
        return HTTP_E_CHUNK_SIZE; /* "0x10", "1 0" lands in ST_BWS, "5g" here */
    return 0;
}

/* BWS before ';' and the extension bytes share the per-chunk bound. */
static int ext_byte(http_chunked *d)
{
    size_t max = d->_max_ext ? d->_max_ext : HTTP__MAX_EXT;
    return ++d->_ext_len > max ? HTTP_E_CHUNK_EXT : 0;
}

static int on_bws(http_chunked *d, unsigned char c)
{
    if (ext_byte(d) != 0)
        return HTTP_E_CHUNK_EXT;
    if (c == ';')
        d->_state = ST_EXT;
    else if (c != ' ' && c != '\t')
        return HTTP_E_CHUNK_SIZE; /* "1 0", "5 \r\n" */
    return 0;
}

static int on_ext(http_chunked *d, unsigned char c)
{
    if (c == '\r') {
        d->_state = ST_SIZE_LF;
        return 0;
    }
    if (c == '\n')
        return HTTP_E_LINE_ENDING;
    if (ext_byte(d) != 0 || !http__is(c, HTTP__C_VALUE))
        return HTTP_E_CHUNK_EXT;
    return 0;
}

static int on_size_lf(http_chunked *d, unsigned char c)
{
    if (c != '\n')
        return HTTP_E_LINE_ENDING;
    d->_state = d->_remaining ? ST_DATA : ST_TRAILER_START;
    return 0;
}

static int on_data_cr(http_chunked *d, unsigned char c)
{
    if (c != '\r')
        return HTTP_E_CHUNK_DATA;
    d->_state = ST_DATA_LF;
    return 0;
}

static int on_data_lf(http_chunked *d, unsigned char c)
{
    if (c != '\n')
        return HTTP_E_CHUNK_DATA;
    d->_state = ST_SIZE_FIRST;
    return 0;
}

static int on_trailer_start(http_chunked *d, unsigned char c)
{
    if (c == '\r')
        d->_state = ST_FINAL_LF;
    else if (http__is(c, HTTP__C_TCHAR))
        d->_state = ST_TRAILER_NAME;
    else
        return HTTP_E_TRAILER; /* obs-fold, empty name, stray bytes */
    return 0;
}

static int on_trailer_name(http_chunked *d, unsigned char c)
{
    if (c == ':')
        d->_state = ST_TRAILER_VALUE;
    else if (!http__is(c, HTTP__C_TCHAR))
        return HTTP_E_TRAILER;
    return 0;
}

static int on_trailer_value(http_chunked *d, unsigned char c)
{
    if (c == '\r')
        d->_state = ST_TRAILER_LF;
    else if (!http__is(c, HTTP__C_VALUE))
        return HTTP_E_TRAILER;
    return 0;
}

static int on_trailer_lf(http_chunked *d, unsigned char c)
{
    if (c != '\n')
        return HTTP_E_TRAILER;
    d->_state = ST_TRAILER_START;
    return 0;
}

static int on_final_lf(http_chunked *d, unsigned char c)
{
    if (c != '\n')
        return HTTP_E_TRAILER;
    d->_state = ST_DONE;
    d->done = 1;
    return 0;
}

/* One framing byte; trailer bytes count against the trailer bound. */
static int step(http_chunked *d, unsigned char c)
{
    static int (*const fn[])(http_chunked *, unsigned char) = {
        [ST_SIZE_FIRST] = on_size_first,
        [ST_SIZE] = on_size,
        [ST_BWS] = on_bws,
        [ST_EXT] = on_ext,
        [ST_SIZE_LF] = on_size_lf,
        [ST_DATA_CR] = on_data_cr,
        [ST_DATA_LF] = on_data_lf,
        [ST_TRAILER_START] = on_trailer_start,
        [ST_TRAILER_NAME] = on_trailer_name,
        [ST_TRAILER_VALUE] = on_trailer_value,
        [ST_TRAILER_LF] = on_trailer_lf,
        [ST_FINAL_LF] = on_final_lf,
    };
    if (d->_state >= ST_TRAILER_START) {
        size_t max = d->_max_trailer ? d->_max_trailer : HTTP__MAX_TRAILER;
        if (++d->_trailer_len > max)
            return HTTP_E_TRAILER;
    }
    return fn[d->_state](d, c);
}

/* The data span at buf[i..]: as much of the current chunk as is available. */
static size_t take_data(http_chunked *d, const char *buf, size_t i, size_t len, http_slice *data)
{
    size_t n = len - i;
    if ((uint64_t)n > d->_remaining)
        n = (size_t)d->_remaining;
    *data = http_slice_of(buf + i, n);
    d->_remaining -= n;
    d->body_bytes += n;
    if (d->_remaining == 0)
        d->_state = ST_DATA_CR;
    return i + n;
}

long http_chunked_decode(http_chunked *d, const char *buf, size_t len, http_slice *data)
{
    size_t i = 0;
    *data = http_slice_of(buf, 0);
    if (d->_state < 0)
        return d->_state;
    while (i < len && d->_state != ST_DONE) {
        if (d->_state == ST_DATA)
            return (long)take_data(d, buf, i, len, data);
        int r = step(d, (unsigned char)buf[i]);
        if (r != 0) {
            d->_state = r;
            return r;
        }
        i++;
    }
    return (long)i;
}

size_t http_chunk_header(char *out, uint64_t size)
{
    static const char hex[] = "0123456789abcdef";
    char tmp[16];
    size_t n = 0;
    do {
        tmp[n++] = hex[size & 15];
        size >>= 4;
    } while (size != 0);
    for (size_t i = 0; i < n; i++)
        out[i] = tmp[n - 1 - i];
    out[n] = '\r';
    out[n + 1] = '\n';
    return n + 2;
}
