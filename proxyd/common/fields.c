/* proxyd field classification: recognises the fields proxyd treats specially with one switch on the length and
 * one case-insensitive compare, so rewriting a head costs a few instructions per field; copies fields; formats peers.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <strings.h>

#include "common/fields.h"

static const struct {
    const char *name;
    size_t len;
    px_field_kind kind;
} known[] = {
    {"te", 2, PF_TE},
    {"via", 3, PF_VIA},
    {"host", 4, PF_HOST},
    {"etag", 4, PF_ETAG},
    {"server", 6, PF_SERVER},
    {"expect", 6, PF_EXPECT},
    {"upgrade", 7, PF_UPGRADE},
    {"trailer", 7, PF_TRAILER},
    {"refresh", 7, PF_REFRESH},
    {"location", 8, PF_LOCATION},
    {"x-real-ip", 9, PF_X_REAL_IP},
    {"connection", 10, PF_CONNECTION},
    {"keep-alive", 10, PF_KEEP_ALIVE},
    {"content-length", 14, PF_CONTENT_LENGTH},
    {"authorization", 13, PF_AUTHORIZATION},
    {"x-forwarded-for", 15, PF_X_FORWARDED_FOR},
    {"accept-encoding", 15, PF_ACCEPT_ENCODING},
    {"x-forwarded-proto", 17, PF_X_FORWARDED_PROTO},
    {"transfer-encoding", 17, PF_TRANSFER_ENCODING},
    {"proxy-connection", 16, PF_PROXY_CONNECTION},
    {"www-authenticate", 16, PF_WWW_AUTHENTICATE},
    {"proxy-authenticate", 18, PF_PROXY_AUTHENTICATE},
    {"proxy-authorization", 19, PF_PROXY_AUTHORIZATION},
};

px_field_kind px_field_classify(http_slice name)
{
    if (name.len < 2 || name.len > 19)
        return PF_OTHER;
    char first = (char)(name.base[0] | 0x20);
    for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
        if (known[i].len == name.len && known[i].name[0] == first &&
            strncasecmp(known[i].name, name.base, name.len) == 0)
            return known[i].kind;
    return PF_OTHER;
}

int px_field_hop_by_hop(px_field_kind k)
{
    switch (k) {
    case PF_CONNECTION:
    case PF_KEEP_ALIVE:
    case PF_PROXY_CONNECTION:
    case PF_TE:
    case PF_TRANSFER_ENCODING:
    case PF_UPGRADE:
    case PF_PROXY_AUTHENTICATE:
    case PF_PROXY_AUTHORIZATION:
    case PF_TRAILER: return 1;
    default: return 0;
    }
}

/* Whether a message's Connection fields name other fields (anything beyond close, keep-alive and upgrade);
 * only then does each field need the slower check against those names. */
int px_connection_names_fields(const http_field *f, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (f[i].name.len != 10 || strncasecmp(f[i].name.base, "connection", 10) != 0)
            continue;
        http_slice v = f[i].value;
        size_t start = 0;
        for (size_t k = 0; k <= v.len; k++) {
            if (k < v.len && v.base[k] != ',')
                continue;
            size_t b = start, e = k;
            while (b < e && (v.base[b] == ' ' || v.base[b] == '\t'))
                b++;
            while (e > b && (v.base[e - 1] == ' ' || v.base[e - 1] == '\t'))
                e--;
            size_t l = e - b;
            const char *t = v.base + b;
            if (l && !(l == 5 && !strncasecmp(t, "close", 5)) && !(l == 10 && !strncasecmp(t, "keep-alive", 10)) &&
                !(l == 7 && !strncasecmp(t, "upgrade", 7)))
                return 1;
            start = k + 1;
        }
    }
    return 0;
}

int px_field_has_underscore(http_slice name)
{
    return name.len && memchr(name.base, '_', name.len) != NULL;
}

void px_copy_field(http_writer *hw, const http_field *f)
{
    size_t need = f->name.len + f->value.len + 4;
    if (hw->overflow || hw->cap - hw->len < need) {
        hw->overflow = 1;
        return;
    }
    char *p = hw->buf + hw->len;
    memcpy(p, f->name.base, f->name.len);
    p += f->name.len;
    *p++ = ':';
    *p++ = ' ';
    memcpy(p, f->value.base, f->value.len);
    p += f->value.len;
    *p++ = '\r';
    *p++ = '\n';
    hw->len += need;
}

static char *put_u8(char *p, unsigned v)
{
    if (v >= 100)
        *p++ = (char)('0' + v / 100);
    if (v >= 10)
        *p++ = (char)('0' + v / 10 % 10);
    *p++ = (char)('0' + v % 10);
    return p;
}

/* The peer as text, once per connection: IPv4 without printf, the rest through inet_ntop. */
void px_peer_text(const wire_addr *a, char *out, size_t cap)
{
    if (a->ss.ss_family == AF_INET && cap >= 16) {
        const unsigned char *b = (const unsigned char *)&((const struct sockaddr_in *)&a->ss)->sin_addr;
        char *p = out;
        for (int i = 0; i < 4; i++) {
            p = put_u8(p, b[i]);
            *p++ = '.';
        }
        p[-1] = 0;
        return;
    }
    wire_addr_host(a, out, cap);
}
