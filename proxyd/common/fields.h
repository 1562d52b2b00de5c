/* proxyd's view of header fields: the few names it treats specially, recognised in a few instructions, the
 * Connection option parser, a validated-field copier, and the client address as text. Pure functions. */
#ifndef PROXYD_COMMON_FIELDS_H
#define PROXYD_COMMON_FIELDS_H

#include <http/http.h>
#include <wire/wire.h>

typedef enum px_field_kind {
    PF_OTHER = 0,
    PF_HOST,
    PF_CONNECTION,
    PF_KEEP_ALIVE,
    PF_PROXY_CONNECTION,
    PF_TE,
    PF_TRANSFER_ENCODING,
    PF_UPGRADE,
    PF_PROXY_AUTHENTICATE,
    PF_PROXY_AUTHORIZATION,
    PF_TRAILER,
    PF_CONTENT_LENGTH,
    PF_EXPECT,
    PF_X_REAL_IP,
    PF_X_FORWARDED_FOR,
    PF_X_FORWARDED_PROTO,
    PF_SERVER,
    PF_LOCATION,
    PF_REFRESH,
    PF_ETAG,
    PF_VIA,
    PF_AUTHORIZATION,
    PF_WWW_AUTHENTICATE,
    PF_ACCEPT_ENCODING,
} px_field_kind;

/* A literal as a slice initializer, without strlen at run time. */
#define PX_LIT(s)                                                                                                      \
    {                                                                                                                  \
        "" s, sizeof(s) - 1                                                                                            \
    }

/* The kind of a field name (case-insensitive), PF_OTHER for any name proxyd passes through. */
px_field_kind px_field_classify(http_slice name);
/* 1 for the fields RFC 9110 7.6.1 makes hop-by-hop (never forwarded), else 0. */
int px_field_hop_by_hop(px_field_kind k);
/* 1 when a Connection field among f[0..n) names other fields (beyond close, keep-alive, upgrade), else 0. */
int px_connection_names_fields(const http_field *f, size_t n);
/* 1 when the name holds '_': some back ends read it as '-', so such fields are dropped unless allowed. */
int px_field_has_underscore(http_slice name);
/* Appends "name: value\r\n" of a field libhttp already validated, without checking it again; sets hw->overflow
 * when it does not fit. */
void px_copy_field(http_writer *hw, const http_field *f);
/* The address (no port) as text into out; IPv4 without printf. out holds at least 16 bytes. */
void px_peer_text(const wire_addr *a, char *out, size_t cap);

#endif
