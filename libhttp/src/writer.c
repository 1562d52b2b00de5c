/* libhttp head serialising into a caller's buffer: bounded appends with one overflow flag checked at the end.
 * Field names must be tokens and values free of CR, LF and NUL, so a written head can never be split. */
#include "internal.h"

#include <string.h>

void http_writer_init(http_writer *w, char *buf, size_t cap)
{
    w->buf = buf;
    w->cap = buf ? cap : 0;
    w->len = 0;
    w->overflow = 0;
}

void http_write_raw(http_writer *w, const void *p, size_t n)
{
    if (w->overflow || n > w->cap - w->len) {
        w->overflow = 1;
        return;
    }
    if (n)
        memcpy(w->buf + w->len, p, n);
    w->len += n;
}

void http_write_str(http_writer *w, const char *s)
{
    http_write_raw(w, s, strlen(s));
}

void http_write_slice(http_writer *w, http_slice s)
{
    http_write_raw(w, s.base, s.len);
}

void http_write_u64(http_writer *w, uint64_t v)
{
    char tmp[20];
    size_t n = 0;
    do {
        tmp[sizeof tmp - ++n] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    http_write_raw(w, tmp + sizeof tmp - n, n);
}

void http_write_request_line(http_writer *w, http_slice method, http_slice target, int minor)
{
    http_write_slice(w, method);
    http_write_raw(w, " ", 1);
    http_write_slice(w, target);
    http_write_str(w, minor == 0 ? " HTTP/1.0\r\n" : " HTTP/1.1\r\n");
}

void http_write_status_line(http_writer *w, int minor, int status, http_slice reason)
{
    if (status < 100 || status > 999) { /* would not parse back: refuse like an overflow */
        w->overflow = 1;
        return;
    }
    http_write_str(w, minor == 0 ? "HTTP/1.0 " : "HTTP/1.1 ");
    http_write_u64(w, (uint64_t)status);
    http_write_raw(w, " ", 1);
    if (reason.len == 0)
        http_write_str(w, http_reason(status));
    else
        http_write_slice(w, reason);
    http_write_raw(w, "\r\n", 2);
}

static bool value_safe(http_slice v)
{
    for (size_t i = 0; i < v.len; i++) {
        unsigned char c = (unsigned char)v.base[i];
        if (c == '\r' || c == '\n' || c == '\0')
            return false;
    }
    return true;
}

void http_write_field(http_writer *w, http_slice name, http_slice value)
{
    if (name.len == 0 || http__scan_token(name.base, name.base + name.len) != name.base + name.len ||
        !value_safe(value)) {
        w->overflow = 1;
        return;
    }
    http_write_slice(w, name);
    http_write_raw(w, ": ", 2);
    http_write_slice(w, value);
    http_write_raw(w, "\r\n", 2);
}

long http_write_end(http_writer *w)
{
    http_write_raw(w, "\r\n", 2);
    return w->overflow ? -1 : (long)w->len;
}
