/* libhttp head location: skipping empty lines, finding the empty line that ends a head, and the limits that can
 * be decided before the head is complete. Every decision depends on a byte index, never on how input was split. */
#include "internal.h"

#include <string.h>

static size_t min_sz(size_t a, size_t b)
{
    return a < b ? a : b;
}

/* Nothing found below `limit`: the head is too large if the byte at index max_head exists, else incomplete. */
static long not_found(size_t len, http__head *h)
{
    if (len > h->max_head) {
        h->err_off = h->max_head;
        return HTTP_E_HEAD_TOO_LARGE;
    }
    return HTTP_INCOMPLETE;
}

/* The start line must end (LF) before index start + max_line + 2, i.e. at most max_line bytes before its CR. */
static long find_first_lf(const char *buf, size_t len, http__head *h)
{
    size_t limit = min_sz(len, h->max_head);
    size_t line_limit = h->start + h->max_line + 2;
    size_t n = min_sz(limit, line_limit);
    const char *lf = n > h->start ? memchr(buf + h->start, '\n', n - h->start) : NULL;
    if (lf == NULL) {
        if (n == line_limit) { /* byte line_limit - 1 exists, is below max_head and is not the LF */
            h->err_off = h->start + h->max_line;
            return HTTP_E_LINE_TOO_LONG;
        }
        return not_found(len, h);
    }
    h->lf1 = (size_t)(lf - buf);
    return 0;
}

/* An LF at i: bare (error), the end of the head (returns i + 1), or an ordinary line end (0). */
static long at_lf(const char *buf, size_t i, http__head *h)
{
    if (i == 0 || buf[i - 1] != '\r') {
        h->err_off = i;
        return HTTP_E_LINE_ENDING;
    }
    if (i - 1 > h->start && buf[i - 2] == '\n')
        return (long)(i + 1);
    return 0;
}

long http__find_head(const char *buf, size_t len, size_t last_len, bool skip_empty, const http_limits *lim,
                     http__head *h)
{
    http__limits(lim, h);
    h->start = skip_empty ? http__skip_empty_lines(buf, len) : 0;
    size_t limit = min_sz(len, h->max_head);
    if (h->start >= limit)
        return not_found(len, h);
    long r = find_first_lf(buf, len, h);
    if (r != 0)
        return r;
    if ((r = at_lf(buf, h->lf1, h)) != 0)
        return r;
    /* LFs below last_len were checked by the previous call, which returned HTTP_INCOMPLETE. */
    size_t i = h->lf1 + 1;
    if (last_len > i && last_len <= len)
        i = last_len;
    while (i < limit) {
        const char *lf = memchr(buf + i, '\n', limit - i);
        if (lf == NULL)
            break;
        i = (size_t)(lf - buf);
        if ((r = at_lf(buf, i, h)) != 0) {
            if (r > 0)
                h->end = (size_t)r;
            return r;
        }
        i++;
    }
    return not_found(len, h);
}
