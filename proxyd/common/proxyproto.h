/* proxyd PROXY protocol (HAProxy's, versions 1 and 2): the header a load balancer sends before anything else on a
 * connection, carrying the client's address. Pure: no allocation, no system call; the caller reads the bytes. */
#ifndef PROXYD_COMMON_PROXYPROTO_H
#define PROXYD_COMMON_PROXYPROTO_H

#include <stddef.h>

#include <stdint.h>

#include <wire/wire.h>

#include "common/acl.h"

/* A v1 line, "PROXY TCP6 <39> <39> 65535 65535\r\n" at its longest: 107 bytes, CRLF included (the spec's bound). */
#define PX_PP_V1_MAX 107
/* A v2 header: 16 fixed bytes, then at most PX_PP_V2_MAX_LEN bytes of addresses and TLVs. The spec allows 65535;
 * addresses take at most 216 (unix) and a balancer's TLVs (ALPN, authority, TLS details, unique id) far less than
 * the rest. A longer header is refused rather than buffered. */
#define PX_PP_V2_MAX_LEN 2048
/* The most bytes a header may take, either version: what a reader must be able to hold. */
#define PX_PP_MAX (16 + PX_PP_V2_MAX_LEN)

/* px_pp_parse's results besides a length: more bytes are needed, or why the header is refused. */
typedef enum px_pp_err {
    PX_PP_INCOMPLETE = -1,     /* a valid beginning: read more */
    PX_PP_ERR_SIGNATURE = -2,  /* neither "PROXY " nor the v2 signature */
    PX_PP_ERR_V1_LENGTH = -3,  /* no CRLF within PX_PP_V1_MAX bytes */
    PX_PP_ERR_V1_SYNTAX = -4,  /* a bare CR or LF, a byte that is not printable, a missing or extra field */
    PX_PP_ERR_V1_PROTO = -5,   /* not TCP4, TCP6 or UNKNOWN */
    PX_PP_ERR_V1_ADDRESS = -6, /* not an address of the family named */
    PX_PP_ERR_V1_PORT = -7,    /* not a decimal number 0-65535 without leading zeros */
    PX_PP_ERR_V2_VERSION = -8, /* version not 2, or command neither LOCAL nor PROXY */
    PX_PP_ERR_V2_FAMILY = -9,  /* unknown family or a transport other than STREAM for PROXY */
    PX_PP_ERR_V2_LENGTH = -10, /* longer than PX_PP_V2_MAX_LEN, or too short for the addresses of its family */
    PX_PP_ERR_V2_TLV = -11,    /* a TLV that runs past the header's end */
} px_pp_err;

typedef struct px_pp_result {
    int version; /* 1 or 2 */
    /* 1: the connection's own addresses stand (v2 LOCAL, a balancer's health check; v1 UNKNOWN; v2 UNSPEC or a unix
     * socket). 0: src and dst hold the addresses the header carries (AF_INET or AF_INET6, ports included). */
    int local;
    wire_addr src, dst;
} px_pp_result;

/* Parses the header at the start of buf (len bytes received so far). Returns the header's length in bytes (> 0:
 * exactly what the header takes; what follows is the client's own first bytes), PX_PP_INCOMPLETE when buf is a
 * valid beginning of a header, or a px_pp_err. out is filled only on success. */
long px_pp_parse(const void *buf, size_t len, px_pp_result *out);

/* A short text for a px_pp_err. */
const char *px_pp_strerror(long err);

/* The longest v2 header px_pp_write_v2 writes: 16 fixed bytes and the INET6 block (two addresses, two ports). */
#define PX_PP_V2_OUT_MAX (16 + 36)

/* Writes a PROXY v2 header into buf (cap >= PX_PP_V2_OUT_MAX): command PROXY, TCP over IPv4 when both addresses
 * are IPv4, over IPv6 otherwise (an IPv4 address then mapped, ::ffff:a.b.c.d, as HAProxy does); src is the
 * client, dst the address it connected to, ports in host order. When either has no IP family (a unix socket), or
 * src is NULL, it writes a LOCAL header (a connection of proxyd's own, e.g. a health check): the receiver keeps
 * the connection's addresses. No TLV. Returns the header's length, or 0 when cap is too small. Pure. */
size_t px_pp_write_v2(void *buf, size_t cap, const px_ip *src, uint16_t sport, const px_ip *dst, uint16_t dport);

#endif
