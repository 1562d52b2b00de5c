/* proxyd $variables: the values a template (proxy_set_header, add_header, return) may name, expanded per request
 * straight into the head being written, so no value is ever cut to fit a temporary buffer. */
#ifndef PROXYD_HTTP_VARS_H
#define PROXYD_HTTP_VARS_H

#include "http/conn.h"

/* The value of v for this request as a slice into the request or the connection, when it is one already (no
 * case folding, no joining): 1 and *out set, else 0 (then px_var_write builds it). Lets a head writer copy a
 * field in one go. */
int px_var_slice(const px_conn *c, px_var v, http_slice *out);
/* 1 when s[0..n) may be kept as a request id: 1..PX_REQUEST_ID_MAX RFC 9110 token characters (visible ASCII,
 * nothing that could split a field or a log line). */
int px_request_id_valid(const char *s, size_t n);
/* Writes 32 random lower-case hex digits and a NUL (a per-thread generator seeded once). */
void px_request_id_make(char out[33]);
/* The request's id: the client's X-Request-ID when request_id is on and it is valid, else a new one; the same
 * for the whole exchange. */
http_slice px_request_id(const px_conn *c);

/* Appends the value of v for this request to hw (overflow set when it does not fit). */
void px_var_write(const px_conn *c, px_var v, http_writer *hw);
/* Appends the expanded template to hw (overflow set when it does not fit). */
void px_tpl_write(const px_conn *c, const px_tpl *t, http_writer *hw);
/* Appends "name: <expanded template>\r\n", or nothing when the expansion is empty (nginx removes the field then).
 * A value holding CR, LF or NUL sets overflow: a head is never split. */
void px_tpl_write_field(const px_conn *c, http_writer *hw, const char *name, const px_tpl *t);

#endif
