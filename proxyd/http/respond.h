/* proxyd's own answers: the one place where an error becomes an HTTP status, a small body and a log line; the
 * `return` directive; the fields every response carries; and the log context naming an exchange. */
#ifndef PROXYD_HTTP_RESPOND_H
#define PROXYD_HTTP_RESPOND_H

#include <stdint.h>

#include "http/conn.h"

/* Answers status with a small HTML body and logs why (notice for 5xx, info otherwise). Closes the connection
 * after the answer when the status or an unread body requires it. Returns PX_AGAIN, or PX_CLOSE. */
px_step px_respond_error(px_conn *c, int status, const char *why);
/* Answers status like px_respond_error but writes no log line: the caller logs refusals at its own pace. Sends
 * Retry-After when the exchange's retry_after is set. Returns PX_AGAIN, or PX_CLOSE. */
px_step px_respond_refused(px_conn *c, int status);
/* Answers the server's `return` (a redirect or a text body). PX_AGAIN or PX_CLOSE. */
px_step px_respond_return(px_conn *c);
/* Answers status with body (len bytes, typed content_type). PX_AGAIN or PX_CLOSE. */
px_step px_respond_body(px_conn *c, int status, const char *content_type, const char *body, size_t len);
/* Writes a head proxyd makes itself (Content-Type only when ctype is given) and, except for HEAD, body_len bytes
 * of body; content_length may exceed body_len when the caller sends the rest (a static file). Records the status
 * for the access log. 0, or -1 when the connection cannot go on. Does not change c->state. */
int px_respond_head(px_conn *c, int status, const char *location, const char *ctype, uint64_t content_length,
                    const char *body, size_t body_len);
/* Server, add_header and the connection fields (Connection: close / keep-alive) every response carries. May turn
 * keep-alive off (a reload or a stop retires the connection). */
void px_write_common_fields(px_conn *c, http_writer *hw, int status);
/* The tail of every log line about a connection, as nginx writes it (client, server, upstream, request), with
 * client-controlled text escaped. A per-thread static buffer, valid until the next call. */
const char *px_log_context(const px_conn *c);

#endif
