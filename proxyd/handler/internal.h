/* Private to proxyd/handler/: the entry points the handlers give each other. Nothing outside this folder
 * includes it, except the unit tests. */
#ifndef PROXYD_HANDLER_INTERNAL_H
#define PROXYD_HANDLER_INTERNAL_H

#include "handler/handlers.h"
#include "http/respond.h"

/* route.c: a client refused by policy (allow/deny, limit_conn, limit_req): answered with status (Retry-After from
 * retry_ms when not 0), logged at most once per PX_REFUSAL_LOG_MS for each kind. PX_AGAIN or PX_CLOSE. */
px_step px_refuse(px_conn *c, px_refusal kind, int status, const char *why, uint64_t retry_ms);

/* proxy.c: the request toward the upstream. */
extern const px_handler px_proxy_handler;
/* Starts proxying the routed request to x->upstream. */
px_step px_proxy_start(px_conn *c);
/* Closes the exchange's upstream connection, if any (an error, a timeout, the end). */
void px_proxy_abort(px_conn *c);
/* The client went away before the response was complete: logged, counted as 499. Returns PX_CLOSE. */
px_step px_proxy_client_gone(px_conn *c);
/* A failure before any response byte: retried on the next server when nothing can have been processed twice,
 * otherwise 502. */
px_step px_proxy_upstream_error(px_conn *c, int err);

/* proxy_resp.c: the response toward the client. */
/* Reads from the upstream and forwards: PX_AGAIN, PX_WAIT, or PX_CLOSE. */
px_step px_proxy_read_response(px_conn *c);
/* Forwards response bytes already read (a batch filled up, or the compressor's budget ran out). */
px_step px_proxy_forward_buffered(px_conn *c);
/* The response is through: the upstream connection goes back (pooled, pinned or closed), then the next request. */
px_step px_proxy_finish(px_conn *c);

/* tunnel.c: after 101 Switching Protocols. */
extern const px_handler px_tunnel_handler;
/* Sends the 101 head and switches the exchange to the tunnel. */
px_step px_tunnel_begin(px_conn *c, const http_response *resp, size_t head_len);

/* static.c */
extern const px_handler px_static_handler;
/* Answers GET/HEAD from the server's root. */
px_step px_static_respond(px_conn *c);
/* Answers 200 with the size bytes of file fd (taken: closed when the exchange ends), typed ctype; HEAD gets the
 * head only. PX_AGAIN or PX_CLOSE. */
px_step px_static_send_fd(px_conn *c, int fd, const char *ctype, uint64_t size);

/* status.c: Prometheus text on the [status] listener. */
px_step px_status_respond(px_conn *c);

/* auth_guard.c: failed logins counted and blocked (auth_guard). */
/* Before the upstream: 1 to go on; 0 when the account or the client is blocked and *step answers (429 or 401,
 * a pinned upstream connection closed). Reads the request's credentials into the exchange. */
int px_auth_guard_admit(px_conn *c, px_step *step);
/* The upstream's final response head: a 401 to credentials counts a failed login, a 2xx clears its pair. */
void px_auth_guard_response(px_conn *c, const http_response *resp);
/* /auth-guard on the status listener: GET lists the blocked, POST /auth-guard/clear?account=|client= lifts one. */
px_step px_auth_guard_status(px_conn *c);

/* gzip.c: compressing a proxied response as it streams. */
/* Whether this response is compressed for this request. */
int px_gzip_wanted(const px_conn *c, const http_response *resp);
/* Whether the response varies by Accept-Encoding (gzip_vary on and eligible). */
int px_gzip_vary(const px_conn *c, const http_response *resp);
/* Starts a compressor for the exchange. 0, or -1 (then the response goes uncompressed). */
int px_gzip_start(px_conn *c);
/* Input bytes one batch may take so that its output fits one block. */
size_t px_gzip_input_budget(const px_conn *c);
/* Compresses n bytes (finishing the stream when finish). 0, or -1 (logged): the client connection must close. */
int px_gzip_feed(px_conn *c, const char *p, size_t n, int finish);
/* The compressed bytes of this batch; the next batch starts empty. */
http_slice px_gzip_take(px_conn *c);
/* Frees the compressor, if any. */
void px_gzip_end(px_conn *c);

#endif
