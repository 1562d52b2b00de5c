/* libhttp: strict, incremental, zero-copy HTTP/1.1 parsing (RFC 9110/9112), chunked coding and head serialising.
 * Public API (prefix http_). Never allocates, never copies, never prints; depends on libc only. */
#ifndef HTTP_HTTP_H
#define HTTP_HTTP_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#ifdef __cplusplus
extern "C" {
#endif

/* A view into the caller's buffer: valid only as long as that buffer is unchanged. Not NUL-terminated. */
typedef struct http_slice {
    const char *base;
    size_t len;
} http_slice;

typedef struct http_field {
    http_slice name;  /* token, as received (case preserved) */
    http_slice value; /* leading and trailing whitespace trimmed */
} http_field;

/* Parser results: a parser returns bytes consumed (> 0) or one of these negative codes. */
typedef enum http_err {
    HTTP_INCOMPLETE = -1,         /* need more bytes (not an error) */
    HTTP_E_METHOD = -2,           /* method not a token                                   400 */
    HTTP_E_TARGET = -3,           /* malformed request-target                             400 */
    HTTP_E_VERSION = -4,          /* well-formed HTTP/2.0 or higher (HTTP_E_VERSION_INVALID for the rest) 505 */
    HTTP_E_LINE_ENDING = -5,      /* bare CR or bare LF where CRLF is required              400 */
    HTTP_E_LINE_TOO_LONG = -6,    /* request line (or status line) over the limit           414 */
    HTTP_E_FIELD_NAME = -7,       /* empty name, non-token byte, or whitespace before colon 400 */
    HTTP_E_FIELD_VALUE = -8,      /* CTL or NUL in a field value                            400 */
    HTTP_E_OBS_FOLD = -9,         /* line folding                                           400 */
    HTTP_E_TOO_MANY_FIELDS = -10, /* more fields than the caller's array or limit        431 */
    HTTP_E_HEAD_TOO_LARGE = -11,  /* head bytes over the limit                           431 */
    HTTP_E_CONTENT_LENGTH = -12,  /* invalid, overflowing, or differing Content-Length   400 */
    HTTP_E_TE_UNSUPPORTED = -13,  /* a transfer coding other than chunked                501 */
    HTTP_E_TE_NOT_CHUNKED = -14,  /* request Transfer-Encoding whose final coding is not chunked 400 */
    HTTP_E_TE_HTTP10 = -15,       /* Transfer-Encoding in an HTTP/1.0 message            400 */
    HTTP_E_TE_AND_CL = -16,       /* both Transfer-Encoding and Content-Length (when the caller rejects it) 400 */
    HTTP_E_HOST_MISSING = -17,    /* HTTP/1.1 request without Host                       400 */
    HTTP_E_HOST_DUP = -18,        /* more than one Host                                  400 */
    HTTP_E_HOST_INVALID = -19,    /* Host not a valid authority                          400 */
    HTTP_E_STATUS = -20,          /* malformed status line                               502 (at a proxy) */
    HTTP_E_CHUNK_SIZE = -21,      /* chunk size not hex, empty, or overflowing           400 */
    HTTP_E_CHUNK_EXT = -22,       /* chunk extension malformed or over the bound         400 */
    HTTP_E_CHUNK_DATA = -23,      /* chunk data not followed by CRLF                     400 */
    HTTP_E_TRAILER = -24,         /* malformed trailer field or trailers over the bound  400 */
    HTTP_E_BODY_TOO_LARGE = -25,  /* reserved for callers enforcing a body limit          413 */
    HTTP_E_VERSION_INVALID = -26, /* request HTTP-version malformed, or HTTP/0.x or 1.2..1.9  400 */
} http_err;

/* Names an http_err (e.g. "bare LF or CR in line ending"); never NULL. */
const char *http_strerror(int err);

/* The status a server should answer for a request-parsing error: 400, 413, 414, 431, 501 or 505. */
int http_err_status(int err);

/* The standard reason phrase for a status code ("Not Found"), or "Unknown". */
const char *http_reason(int status);

typedef enum http_method {
    HTTP_M_OTHER = 0, /* any other valid token */
    HTTP_M_GET,
    HTTP_M_HEAD,
    HTTP_M_POST,
    HTTP_M_PUT,
    HTTP_M_DELETE,
    HTTP_M_CONNECT,
    HTTP_M_OPTIONS,
    HTTP_M_TRACE,
    HTTP_M_PATCH,
} http_method;

/* RFC 9110 9.2.2: GET, HEAD, PUT, DELETE, OPTIONS, TRACE. */
int http_method_idempotent(http_method m);

typedef enum http_target_form {
    HTTP_TARGET_ORIGIN = 0, /* /path?query */
    HTTP_TARGET_ABSOLUTE,   /* http://host:port/path?query */
    HTTP_TARGET_AUTHORITY,  /* host:port, CONNECT only */
    HTTP_TARGET_ASTERISK,   /* *, OPTIONS only */
} http_target_form;

/* How the message body is delimited (RFC 9112 section 6.3). */
typedef enum http_body {
    HTTP_BODY_NONE = 0, /* no body */
    HTTP_BODY_LENGTH,   /* content_length bytes */
    HTTP_BODY_CHUNKED,  /* chunked coding: feed bytes to http_chunked_decode */
    HTTP_BODY_CLOSE,    /* responses only: until the connection closes */
} http_body;

/* Caller-set limits; a zero member means the default in brackets. */
typedef struct http_limits {
    size_t max_line;   /* request-line / status-line bytes [8192] */
    size_t max_head;   /* whole head bytes, including the final CRLF [65536] */
    size_t max_fields; /* field lines [100], also bounded by the caller's array */
    unsigned flags;    /* HTTP_F_* */
} http_limits;

enum {
    /* Reject Transfer-Encoding together with Content-Length (HTTP_E_TE_AND_CL) instead of treating the
     * message as chunked and marking it must_close. */
    HTTP_F_REJECT_TE_AND_CL = 1,
};

/* A parsed request head. Before parsing set `fields` and `fields_cap`; everything else is output. */
typedef struct http_request {
    http_field *fields; /* in: caller's array */
    size_t fields_cap;  /* in: its capacity */
    size_t nfields;     /* out */
    http_slice method;
    http_method method_id;
    http_slice target; /* as received */
    http_target_form form;
    http_slice path; /* origin-form path and query; for absolute-form the part after the authority ("/" when empty;
                      * it starts with '?' for "http://h?q", so prefix "/" when forwarding); empty for
                      * authority-form; "*" for asterisk-form */
    http_slice
        host;  /* absolute-form authority if present, else the Host field value; empty for HTTP/1.0 without Host */
    int minor; /* HTTP/1.<minor>: 0 or 1 */
    http_body body;
    uint64_t content_length;      /* when body == HTTP_BODY_LENGTH */
    unsigned keep_alive : 1;      /* persistent per version and Connection tokens (0 whenever must_close) */
    unsigned must_close : 1;      /* framing was ambiguous (TE with CL): close after this message */
    unsigned expect_continue : 1; /* Expect: 100-continue */
    unsigned upgrade : 1;         /* Connection: upgrade and an Upgrade field present */
    size_t head_len;              /* out: bytes of the head, same as the return value */
    size_t err_offset;            /* out: byte offset of the first offending byte when an error is returned */
} http_request;

/* Parses a request head from buf[0..len). last_len is the length seen by the previous call on the same message
 * (0 at first) so that re-parsing after a partial read only rescans new bytes for the end of the head.
 * Returns the head length (> 0), HTTP_INCOMPLETE, or a negative http_err with req->err_offset set.
 * Empty lines (CRLF) before the request line are skipped per RFC 9112 2.2 and counted in the head length. */
long http_parse_request(const char *buf, size_t len, size_t last_len, http_request *req, const http_limits *lim);

/* A parsed response head. Before parsing set `fields` and `fields_cap`. */
typedef struct http_response {
    http_field *fields;
    size_t fields_cap;
    size_t nfields;
    int minor;
    int status; /* 100..999 */
    http_slice reason;
    http_body body;
    uint64_t content_length;
    unsigned keep_alive : 1;
    unsigned must_close : 1;
    unsigned upgrade : 1; /* status 101 */
    size_t head_len;
    size_t err_offset;
} http_response;

/* What the response answers, because framing depends on it. */
enum {
    HTTP_RESP_TO_HEAD = 1,    /* the request was HEAD: no body whatever the fields say */
    HTTP_RESP_TO_CONNECT = 2, /* the request was CONNECT: a 2xx has no body (tunnel) */
};

/* Parses a response head (status line, fields) like http_parse_request. 1xx, 204, 304 and responses to HEAD
 * have no body; without Content-Length or chunked the body runs to close (HTTP_BODY_CLOSE). */
long http_parse_response(const char *buf, size_t len, size_t last_len, http_response *resp, const http_limits *lim,
                         unsigned resp_flags);

/* ---------------------------------------------------------------- chunked coding */

/* Incremental chunked decoder: caller-owned, valid when zero-filled. */
typedef struct http_chunked {
    /* read-only */
    int done;            /* last chunk and trailers consumed */
    uint64_t body_bytes; /* decoded body bytes so far */
    /* private */
    int _state;
    uint64_t _remaining;
    size_t _ext_len;
    size_t _trailer_len;
    size_t _max_ext;     /* bound for extensions per chunk [1024] (0: default) */
    size_t _max_trailer; /* bound for all trailer bytes [8192] (0: default) */
} http_chunked;

/* Sets the bounds (0 keeps the default). */
void http_chunked_init(http_chunked *d, size_t max_ext, size_t max_trailer);

/* Consumes chunked framing from buf[0..len). Returns bytes consumed (>= 0) or a negative http_err.
 * *data is set to the span of body bytes found within the consumed bytes (length 0 when none): one call
 * yields at most one span, so call again on the rest until it consumes nothing or d->done is set. Chunk
 * extensions are skipped within their bound and trailers are validated and discarded. */
long http_chunked_decode(http_chunked *d, const char *buf, size_t len, http_slice *data);

/* Writes "<hex size>\r\n" into out (at least 18 bytes). Returns the length written. */
size_t http_chunk_header(char *out, uint64_t size);

/* The last chunk with no trailers: "0\r\n\r\n". */
#define HTTP_LAST_CHUNK "0\r\n\r\n"

/* ---------------------------------------------------------------- fields and tokens */

/* Case-insensitive ASCII comparison of a slice with a NUL-terminated name. */
int http_slice_eq_ci(http_slice s, const char *name);

/* First field named `name` (case-insensitive) at index >= from, or -1. */
long http_find_field(const http_field *fields, size_t n, const char *name, size_t from);

/* Whether a comma-separated token list (e.g. "keep-alive, Upgrade") contains token (case-insensitive). */
int http_token_list_has(http_slice list, const char *token);

/* Hop-by-hop fields (RFC 9110 7.6.1): Connection, Keep-Alive, Proxy-Connection, TE, Transfer-Encoding, Upgrade,
 * Proxy-Authenticate, Proxy-Authorization, Trailer, and any field named in a Connection field of the message.
 * Returns 1 when fields[i] is hop-by-hop for this message. */
int http_is_hop_by_hop(const http_field *fields, size_t n, size_t i);

/* ---------------------------------------------------------------- serialising */

/* Appends to a caller's buffer; on overflow sets `overflow` and stops writing (check once at the end). */
typedef struct http_writer {
    char *buf;
    size_t cap;
    size_t len;
    int overflow;
} http_writer;

void http_writer_init(http_writer *w, char *buf, size_t cap);
void http_write_raw(http_writer *w, const void *p, size_t n);
void http_write_str(http_writer *w, const char *s);
void http_write_slice(http_writer *w, http_slice s);
void http_write_u64(http_writer *w, uint64_t v);
/* "METHOD target HTTP/1.<minor>\r\n" */
void http_write_request_line(http_writer *w, http_slice method, http_slice target, int minor);
/* "HTTP/1.<minor> status reason\r\n" (reason from http_reason when reason.len == 0); a status outside 100..999
 * sets overflow. */
void http_write_status_line(http_writer *w, int minor, int status, http_slice reason);
/* "name: value\r\n"; a name that is not a token or a value holding CR, LF or NUL is not written and sets
 * overflow, so a serialised head can never be split or smuggled into. */
void http_write_field(http_writer *w, http_slice name, http_slice value);
/* The final "\r\n". Returns the total length, or -1 on overflow. */
long http_write_end(http_writer *w);

/* Slice helpers. */
static inline http_slice http_slice_of(const char *s, size_t n)
{
    http_slice r = {s, n};
    return r;
}
http_slice http_slice_cstr(const char *s);

#ifdef __cplusplus
}
#endif
#endif
