/* proxyd access lists: nginx's ngx_http_access_module semantics over a compact address form. IPv4-mapped IPv6
 * addresses become IPv4 on both sides (clients and rules), so one rule covers a client whichever socket it used. */
#include "common/acl.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

#define V4_MAPPED_BITS 96 /* ::ffff:0:0/96 */

static const uint8_t v4_mapped_prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

void px_ip_from_sockaddr(px_ip *ip, const struct sockaddr_storage *ss)
{
    memset(ip, 0, sizeof(*ip));
    if (ss->ss_family == AF_INET) {
        ip->family = PX_IP_V4;
        memcpy(ip->addr, &((const struct sockaddr_in *)(const void *)ss)->sin_addr, 4);
    } else if (ss->ss_family == AF_INET6) {
        const uint8_t *a = ((const struct sockaddr_in6 *)(const void *)ss)->sin6_addr.s6_addr;
        if (memcmp(a, v4_mapped_prefix, sizeof(v4_mapped_prefix)) == 0) {
            ip->family = PX_IP_V4;
            memcpy(ip->addr, a + 12, 4);
        } else {
            ip->family = PX_IP_V6;
            memcpy(ip->addr, a, 16);
        }
    }
}

uint16_t px_sockaddr_port(const struct sockaddr_storage *ss)
{
    if (ss->ss_family == AF_INET)
        return ntohs(((const struct sockaddr_in *)(const void *)ss)->sin_port);
    if (ss->ss_family == AF_INET6)
        return ntohs(((const struct sockaddr_in6 *)(const void *)ss)->sin6_port);
    return 0;
}

/* Decimal prefix length up to max, digits only. -1 when not one. */
static int parse_bits(const char *s, int max)
{
    int v = 0;
    if (!*s)
        return -1;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return -1;
        v = v * 10 + (*s - '0');
        if (v > max)
            return -1;
    }
    return v;
}

/* Clears the bits after the prefix; returns 1 when some were set. */
static int mask_host_bits(px_cidr *c)
{
    int changed = 0;
    for (int i = 0; i < 16; i++) {
        int keep = c->bits - 8 * i; /* bits of byte i inside the prefix */
        uint8_t mask = keep >= 8 ? 0xff : keep <= 0 ? 0 : (uint8_t)(0xff << (8 - keep));
        changed |= (c->addr[i] & ~mask) != 0;
        c->addr[i] &= mask;
    }
    return changed;
}

int px_cidr_parse(const char *text, px_cidr *out)
{
    char host[INET6_ADDRSTRLEN];
    memset(out, 0, sizeof(*out));
    if (strcmp(text, "all") == 0)
        return 0;
    if (strcmp(text, "unix:") == 0) {
        out->family = PX_CIDR_UNIX;
        return 0;
    }
    const char *slash = strchr(text, '/');
    size_t hl = slash ? (size_t)(slash - text) : strlen(text);
    if (hl == 0 || hl >= sizeof(host))
        return -1;
    memcpy(host, text, hl);
    host[hl] = 0;
    int max;
    if (inet_pton(AF_INET, host, out->addr) == 1) {
        out->family = PX_IP_V4;
        max = 32;
    } else if (inet_pton(AF_INET6, host, out->addr) == 1) {
        out->family = PX_IP_V6;
        max = 128;
    } else
        return -1;
    int bits = slash ? parse_bits(slash + 1, max) : max;
    if (bits < 0)
        return -1;
    out->bits = (uint8_t)bits;
    /* A mapped block inside ::ffff:0:0/96 is the IPv4 block it maps, as the clients are. */
    if (out->family == PX_IP_V6 && bits >= V4_MAPPED_BITS &&
        memcmp(out->addr, v4_mapped_prefix, sizeof(v4_mapped_prefix)) == 0) {
        memmove(out->addr, out->addr + 12, 4);
        memset(out->addr + 4, 0, 12);
        out->family = PX_IP_V4;
        out->bits = (uint8_t)(bits - V4_MAPPED_BITS);
    }
    return mask_host_bits(out);
}

int px_cidr_match(const px_cidr *net, const px_ip *ip)
{
    if (net->family == 0)
        return 1;
    if (net->family == PX_CIDR_UNIX)
        return ip->family == PX_IP_NONE;
    if (net->family != ip->family)
        return 0;
    int full = net->bits / 8, rest = net->bits % 8;
    if (memcmp(net->addr, ip->addr, (size_t)full) != 0)
        return 0;
    if (!rest)
        return 1;
    uint8_t mask = (uint8_t)(0xff << (8 - rest));
    return (ip->addr[full] & mask) == net->addr[full];
}

int px_acl_allows(const px_acl *acl, const px_ip *ip)
{
    for (int i = 0; i < acl->n; i++)
        if (px_cidr_match(&acl->rules[i].net, ip))
            return acl->rules[i].allow;
    return 1;
}

int px_acl_has_deny(const px_acl *acl)
{
    for (int i = 0; i < acl->n; i++)
        if (!acl->rules[i].allow)
            return 1;
    return 0;
}
