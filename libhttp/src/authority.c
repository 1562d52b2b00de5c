/* libhttp authority validation (RFC 3986 3.2, RFC 9110 4.2): reg-name, IPv4 or [IPv6] host with an optional
 * port, as found in Host fields, absolute-form and authority-form targets. No userinfo: a proxy must not route on it.
 */
#include "internal.h"

/* 1 to 5 digits, at most 65535. An empty port ("host:") is refused: two spellings of one origin confuse routing. */
static bool port_valid(const char *p, size_t n)
{
    unsigned v = 0;
    if (n == 0 || n > 5)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (!http__is((unsigned char)p[i], HTTP__C_DIGIT))
            return false;
        v = v * 10 + (unsigned)(p[i] - '0');
    }
    return v <= 65535;
}

/* reg-name or IPv4 from p: unreserved, sub-delims and well-formed pct-encoded bytes, at least one, up to the first
 * ':' or e. Returns where it stopped, or NULL when a byte is not allowed. One pass: Host is checked per request. */
static const char *reg_name_end(const char *p, const char *e)
{
    const char *s = p;
    const unsigned char *cc = http__cc;
    while (e - p >= 8 && (cc[(unsigned char)p[0]] & cc[(unsigned char)p[1]] & cc[(unsigned char)p[2]] &
                          cc[(unsigned char)p[3]] & cc[(unsigned char)p[4]] & cc[(unsigned char)p[5]] &
                          cc[(unsigned char)p[6]] & cc[(unsigned char)p[7]] & HTTP__C_HOST_PLAIN))
        p += 8;
    while (p < e) {
        unsigned char c = (unsigned char)*p;
        if (http__is(c, HTTP__C_HOST_PLAIN)) {
            p++;
            continue;
        }
        if (c == ':')
            break;
        if (c != '%' || e - p < 3 || !http__is((unsigned char)p[1], HTTP__C_HEX) ||
            !http__is((unsigned char)p[2], HTTP__C_HEX))
            return NULL;
        p += 3;
    }
    return p == s ? NULL : p;
}

/* Inside brackets: hex digits, ':' and '.' (embedded IPv4), with at least two colons. IPvFuture is refused. */
static bool ipv6_valid(const char *p, size_t n)
{
    size_t colons = 0;
    if (n < 2)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c == ':')
            colons++;
        else if (c != '.' && !http__is(c, HTTP__C_HEX))
            return false;
    }
    return colons >= 2;
}

bool http__authority_valid(http_slice a, bool port_required)
{
    const char *p = a.base, *e = a.base + a.len;
    const char *host_end;
    if (a.len == 0)
        return false;
    if (*p == '[') {
        const char *q = p + 1;
        while (q < e && *q != ']')
            q++;
        if (q == e || !ipv6_valid(p + 1, (size_t)(q - p - 1)))
            return false;
        host_end = q + 1;
    } else {
        host_end = reg_name_end(p, e);
        if (host_end == NULL)
            return false;
    }
    if (host_end == e)
        return !port_required;
    if (*host_end != ':')
        return false;
    return port_valid(host_end + 1, (size_t)(e - host_end - 1));
}
