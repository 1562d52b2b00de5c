/* proxyd access lists: client addresses, CIDR blocks and allow/deny rules with nginx's semantics (rules in order,
 * the first match decides, no match allows). Pure: no allocation, no system call; the loader owns the rule arrays. */
#ifndef PROXYD_COMMON_ACL_H
#define PROXYD_COMMON_ACL_H

#include <stdint.h>
#include <sys/socket.h>

/* Address families as matched: an IPv4-mapped IPv6 address (::ffff:a.b.c.d, a client of a dual-stack socket, or
 * such a rule) is IPv4, as nginx treats it. */
enum { PX_IP_NONE = 0, PX_IP_V4 = 4, PX_IP_V6 = 6 };
/* A rule's family besides those: `unix:`, the clients of unix-domain sockets (nginx's `allow unix:`). `all` is 0. */
enum { PX_CIDR_UNIX = 1 };

/* A client address: family and bytes in network order (IPv4 in the first 4). PX_IP_NONE: not an IP peer (a unix
 * socket), which only `all` matches and which no limit counts. */
typedef struct px_ip {
    uint8_t family;
    uint8_t addr[16];
} px_ip;

/* A block of addresses: family (0 for `all`, PX_CIDR_UNIX for `unix:`), prefix length, and the address with its
 * host bits cleared. */
typedef struct px_cidr {
    uint8_t family;
    uint8_t bits;
    uint8_t addr[16];
} px_cidr;

typedef struct px_acl_rule {
    px_cidr net;
    uint8_t allow; /* 1: allow, 0: deny */
} px_acl_rule;

/* allow and deny rules in the order written. Empty: everyone is allowed. */
typedef struct px_acl {
    px_acl_rule *rules;
    int n;
} px_acl;

/* The address of a peer as accept(2) gave it (AF_INET, AF_INET6; anything else is PX_IP_NONE). */
void px_ip_from_sockaddr(px_ip *ip, const struct sockaddr_storage *ss);

/* The port of an AF_INET or AF_INET6 address in host order; 0 for any other family. */
uint16_t px_sockaddr_port(const struct sockaddr_storage *ss);

/* Parses "all", "unix:", "ADDR" or "ADDR/BITS" (IPv4 0-32, IPv6 0-128). Returns 0, 1 when host bits below the prefix
 * were set and have been cleared (nginx warns: "low address bits are meaningless"), or -1 when text is not one. */
int px_cidr_parse(const char *text, px_cidr *out);

/* Whether ip is inside net: same family (or net is `all`) and the same first net->bits bits; `unix:` matches the
 * peers that have no IP address. */
int px_cidr_match(const px_cidr *net, const px_ip *ip);

/* Whether the list lets ip in: the first matching rule decides; no match allows. */
int px_acl_allows(const px_acl *acl, const px_ip *ip);

/* Whether the list has a deny rule: without one, it lets every address in, whatever it allows. */
int px_acl_has_deny(const px_acl *acl);

#endif
