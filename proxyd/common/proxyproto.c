/* proxyd PROXY protocol parser, versions 1 and 2 (haproxy.org/download/2.9/doc/proxy-protocol.txt). Strict: one
 * space between v1 fields, CRLF within 107 bytes, v2 lengths and TLVs inside the bound; a header that could still
 * become valid is PX_PP_INCOMPLETE, anything else is refused as soon as it is seen. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

#include "common/proxyproto.h"

static const unsigned char v1_sig[6] = {'P', 'R', 'O', 'X', 'Y', ' '};
static const unsigned char v2_sig[12] = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};

/* Bytes the v2 address block takes per family (INET, INET6, UNIX). */
enum { V2_INET = 1, V2_INET6 = 2, V2_UNIX = 3 };
static const size_t v2_addr_len[4] = {0, 12, 36, 216};

/* Whether the first len bytes of buf match the first len bytes of sig (len may exceed neither). */
static int prefix_matches(const unsigned char *buf, size_t len, const unsigned char *sig, size_t siglen)
{
    return memcmp(buf, sig, len < siglen ? len : siglen) == 0;
}

/* ---------------------------------------------------------------- version 1 */

/* The next field of [*p, end): up to a space or end; a field is never empty. */
static int v1_field(const char **p, const char *end, const char **f, size_t *flen)
{
    const char *s = *p;
    const char *e = memchr(s, ' ', (size_t)(end - s));
    if (!e)
        e = end;
    if (e == s)
        return -1;
    *f = s;
    *flen = (size_t)(e - s);
    *p = e < end ? e + 1 : end;
    return e < end && e + 1 == end ? -1 : 0; /* a trailing space is an empty field */
}

static int v1_addr(const char *f, size_t flen, int family, wire_addr *a)
{
    char text[INET6_ADDRSTRLEN];
    if (flen >= sizeof(text))
        return -1;
    memcpy(text, f, flen);
    text[flen] = 0;
    memset(a, 0, sizeof(*a));
    if (family == AF_INET) {
        struct sockaddr_in *in = (struct sockaddr_in *)&a->ss;
        in->sin_family = AF_INET;
        a->len = sizeof(*in);
        return inet_pton(AF_INET, text, &in->sin_addr) == 1 ? 0 : -1;
    }
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&a->ss;
    in6->sin6_family = AF_INET6;
    a->len = sizeof(*in6);
    return inet_pton(AF_INET6, text, &in6->sin6_addr) == 1 ? 0 : -1;
}

static int v1_port(const char *f, size_t flen, wire_addr *a)
{
    if (flen > 5 || (flen > 1 && f[0] == '0'))
        return -1;
    unsigned v = 0;
    for (size_t i = 0; i < flen; i++) {
        if (f[i] < '0' || f[i] > '9')
            return -1;
        v = v * 10 + (unsigned)(f[i] - '0');
    }
    if (v > 65535)
        return -1;
    if (a->ss.ss_family == AF_INET)
        ((struct sockaddr_in *)&a->ss)->sin_port = htons((uint16_t)v);
    else
        ((struct sockaddr_in6 *)&a->ss)->sin6_port = htons((uint16_t)v);
    return 0;
}

/* "PROXY TCP4|TCP6 SRC DST SPORT DPORT" or "PROXY UNKNOWN[ anything]", the CRLF already found at end. */
static long v1_fields(const char *line, const char *end, px_pp_result *r)
{
    const char *p = line + sizeof(v1_sig), *f;
    size_t flen;
    if (end - p >= 7 && memcmp(p, "UNKNOWN", 7) == 0 && (p + 7 == end || p[7] == ' ')) {
        r->local = 1; /* the rest, whatever it is, is ignored (the spec) */
        return 0;
    }
    if (v1_field(&p, end, &f, &flen) < 0)
        return PX_PP_ERR_V1_SYNTAX;
    int family;
    if (flen == 4 && memcmp(f, "TCP4", 4) == 0)
        family = AF_INET;
    else if (flen == 4 && memcmp(f, "TCP6", 4) == 0)
        family = AF_INET6;
    else
        return PX_PP_ERR_V1_PROTO;
    const char *a[4];
    size_t alen[4];
    for (int i = 0; i < 4; i++)
        if (p == end || v1_field(&p, end, &a[i], &alen[i]) < 0)
            return PX_PP_ERR_V1_SYNTAX;
    if (p != end)
        return PX_PP_ERR_V1_SYNTAX;
    if (v1_addr(a[0], alen[0], family, &r->src) < 0 || v1_addr(a[1], alen[1], family, &r->dst) < 0)
        return PX_PP_ERR_V1_ADDRESS;
    if (v1_port(a[2], alen[2], &r->src) < 0 || v1_port(a[3], alen[3], &r->dst) < 0)
        return PX_PP_ERR_V1_PORT;
    r->local = 0;
    return 0;
}

static long parse_v1(const unsigned char *buf, size_t len, px_pp_result *out)
{
    if (len < sizeof(v1_sig))
        return PX_PP_INCOMPLETE;
    size_t n = len < PX_PP_V1_MAX ? len : PX_PP_V1_MAX;
    for (size_t i = sizeof(v1_sig); i < n; i++) {
        unsigned char ch = buf[i];
        if (ch == '\r') {
            if (i + 1 == len)
                return i + 1 < PX_PP_V1_MAX ? PX_PP_INCOMPLETE : PX_PP_ERR_V1_LENGTH;
            if (i + 1 == PX_PP_V1_MAX)
                return PX_PP_ERR_V1_LENGTH;
            if (buf[i + 1] != '\n')
                return PX_PP_ERR_V1_SYNTAX;
            px_pp_result r;
            memset(&r, 0, sizeof(r));
            r.version = 1;
            long rc = v1_fields((const char *)buf, (const char *)buf + i, &r);
            if (rc < 0)
                return rc;
            *out = r;
            return (long)(i + 2);
        }
        if (ch < 0x20 || ch > 0x7e)
            return PX_PP_ERR_V1_SYNTAX;
    }
    return len >= PX_PP_V1_MAX ? PX_PP_ERR_V1_LENGTH : PX_PP_INCOMPLETE;
}

/* ---------------------------------------------------------------- version 2 */

static long parse_v2(const unsigned char *buf, size_t len, px_pp_result *out)
{
    if (len > 12 && (buf[12] >> 4 != 2 || (buf[12] & 0xF) > 1))
        return PX_PP_ERR_V2_VERSION;
    if (len < 16)
        return PX_PP_INCOMPLETE;
    size_t plen = (size_t)buf[14] << 8 | buf[15];
    if (plen > PX_PP_V2_MAX_LEN)
        return PX_PP_ERR_V2_LENGTH;
    int command = buf[12] & 0xF, family = buf[13] >> 4, transport = buf[13] & 0xF;
    if (command == 1 && (family > V2_UNIX || transport > 2 || (family != 0 && transport != 1)))
        return PX_PP_ERR_V2_FAMILY;
    if (len < 16 + plen)
        return PX_PP_INCOMPLETE;
    px_pp_result r;
    memset(&r, 0, sizeof(r));
    r.version = 2;
    r.local = 1;
    /* LOCAL: the block, family included, is discarded (the spec); UNSPEC carries no address to check. */
    if (command == 1 && family != 0) {
        const unsigned char *p = buf + 16, *end = p + plen;
        if (plen < v2_addr_len[family])
            return PX_PP_ERR_V2_LENGTH;
        if (family == V2_INET) {
            struct sockaddr_in *s = (struct sockaddr_in *)&r.src.ss, *d = (struct sockaddr_in *)&r.dst.ss;
            s->sin_family = d->sin_family = AF_INET;
            memcpy(&s->sin_addr, p, 4);
            memcpy(&d->sin_addr, p + 4, 4);
            memcpy(&s->sin_port, p + 8, 2);
            memcpy(&d->sin_port, p + 10, 2);
            r.src.len = r.dst.len = sizeof(*s);
            r.local = 0;
        } else if (family == V2_INET6) {
            struct sockaddr_in6 *s = (struct sockaddr_in6 *)&r.src.ss, *d = (struct sockaddr_in6 *)&r.dst.ss;
            s->sin6_family = d->sin6_family = AF_INET6;
            memcpy(&s->sin6_addr, p, 16);
            memcpy(&d->sin6_addr, p + 16, 16);
            memcpy(&s->sin6_port, p + 32, 2);
            memcpy(&d->sin6_port, p + 34, 2);
            r.src.len = r.dst.len = sizeof(*s);
            r.local = 0;
        } /* a unix socket's path is no client address: the connection's own stands */
        for (p += v2_addr_len[family]; p < end;) { /* TLVs: skipped, each inside the header */
            if (end - p < 3 || (size_t)(end - p - 3) < ((size_t)p[1] << 8 | p[2]))
                return PX_PP_ERR_V2_TLV;
            p += 3 + ((size_t)p[1] << 8 | p[2]);
        }
    }
    *out = r;
    return (long)(16 + plen);
}

/* ---------------------------------------------------------------- either */

long px_pp_parse(const void *buf, size_t len, px_pp_result *out)
{
    const unsigned char *b = buf;
    if (len == 0)
        return PX_PP_INCOMPLETE;
    if (b[0] == v1_sig[0])
        return prefix_matches(b, len, v1_sig, sizeof(v1_sig)) ? parse_v1(b, len, out) : PX_PP_ERR_SIGNATURE;
    if (b[0] == v2_sig[0])
        return prefix_matches(b, len, v2_sig, sizeof(v2_sig))
                   ? len < sizeof(v2_sig) ? PX_PP_INCOMPLETE : parse_v2(b, len, out)
                   : PX_PP_ERR_SIGNATURE;
    return PX_PP_ERR_SIGNATURE;
}

const char *px_pp_strerror(long err)
{
    switch (err) {
    case PX_PP_INCOMPLETE: return "incomplete PROXY header";
    case PX_PP_ERR_SIGNATURE: return "no PROXY protocol header";
    case PX_PP_ERR_V1_LENGTH: return "PROXY v1 line longer than 107 bytes";
    case PX_PP_ERR_V1_SYNTAX: return "malformed PROXY v1 line";
    case PX_PP_ERR_V1_PROTO: return "PROXY v1 protocol not TCP4, TCP6 or UNKNOWN";
    case PX_PP_ERR_V1_ADDRESS: return "bad address in PROXY v1 line";
    case PX_PP_ERR_V1_PORT: return "bad port in PROXY v1 line";
    case PX_PP_ERR_V2_VERSION: return "bad PROXY v2 version or command";
    case PX_PP_ERR_V2_FAMILY: return "bad PROXY v2 address family or transport";
    case PX_PP_ERR_V2_LENGTH: return "bad PROXY v2 length";
    case PX_PP_ERR_V2_TLV: return "PROXY v2 TLV past the header's end";
    default: return "PROXY header error";
    }
}

/* ---------------------------------------------------------------- writing (version 2) */

/* The 16 bytes of an IPv6 address for ip: its own, or an IPv4 one mapped (::ffff:a.b.c.d). */
static void v6_bytes(const px_ip *ip, unsigned char out[16])
{
    if (ip->family == PX_IP_V6) {
        memcpy(out, ip->addr, 16);
        return;
    }
    memset(out, 0, 10);
    out[10] = out[11] = 0xFF;
    memcpy(out + 12, ip->addr, 4);
}

static void put16(unsigned char *p, uint16_t v)
{
    p[0] = (unsigned char)(v >> 8);
    p[1] = (unsigned char)v;
}

size_t px_pp_write_v2(void *buf, size_t cap, const px_ip *src, uint16_t sport, const px_ip *dst, uint16_t dport)
{
    unsigned char *b = buf;
    int known = src && dst && (src->family == PX_IP_V4 || src->family == PX_IP_V6) &&
                (dst->family == PX_IP_V4 || dst->family == PX_IP_V6);
    int v4 = known && src->family == PX_IP_V4 && dst->family == PX_IP_V4;
    size_t alen = !known ? 0 : v4 ? v2_addr_len[V2_INET] : v2_addr_len[V2_INET6];
    if (cap < 16 + alen)
        return 0;
    memcpy(b, v2_sig, sizeof(v2_sig));
    b[12] = known ? 0x21 : 0x20;                                           /* version 2, PROXY or LOCAL */
    b[13] = !known ? 0x00 : v4 ? (V2_INET << 4 | 1) : (V2_INET6 << 4 | 1); /* family, STREAM */
    put16(b + 14, (uint16_t)alen);
    unsigned char *p = b + 16;
    if (v4) {
        memcpy(p, src->addr, 4);
        memcpy(p + 4, dst->addr, 4);
        put16(p + 8, sport);
        put16(p + 10, dport);
    } else if (known) {
        v6_bytes(src, p);
        v6_bytes(dst, p + 16);
        put16(p + 32, sport);
        put16(p + 34, dport);
    }
    return 16 + alen;
}
