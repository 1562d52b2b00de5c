/* proxyd exchanges: everything one request needs while it is served, in one struct cleared in one place
 * (http/conn.c, exchange_start) when a request head begins; and the handler table every answer goes through. */
#ifndef PROXYD_HTTP_EXCHANGE_H
#define PROXYD_HTTP_EXCHANGE_H

#include <stdint.h>
#include <sys/types.h>

#include <http/http.h>
#include <wire/wire.h>

#include "common/step.h"
#include "config/config.h"

/* The longest X-Request-ID kept from a client (longer ones are replaced by proxyd's own). */
#define PX_REQUEST_ID_MAX 128

typedef struct px_conn px_conn;
typedef struct px_upconn px_upconn;
struct px_gzip_state;

/* Who answers a request. The client connection drives it through these pointers only: handlers never free a
 * connection; they return PX_CLOSE and the connection frees itself. */
typedef struct px_handler {
    const char *name;
    /* CS_HANDLER: moves what can move. PX_AGAIN on progress, PX_WAIT, or PX_CLOSE. */
    px_step (*step)(px_conn *c);
    /* Optional: arms the timers for what the handler now waits on (progress: something moved). */
    void (*update_timer)(px_conn *c, int progress);
    /* Optional: releases what the exchange holds (upstream, file, compressor) when it ends, however it ends. */
    void (*end)(px_conn *c);
} px_handler;

typedef enum px_body_state {
    BODY_DONE = 0,
    BODY_LENGTH,
    BODY_CHUNKED,
    BODY_CLOSE,
} px_body_state;

/* Lives at the end of the connection's input block (after the data and the field array), so an idle keep-alive
 * connection carries none of it. Valid from the first byte of a head to the end of the answer. */
typedef struct px_exchange {
    http_request req;          /* slices into the input block; the head stays there until the exchange ends */
    const px_handler *handler; /* NULL until routed, and for proxyd's own answers */
    size_t head_len;           /* bytes of the request head at the start of the input block */
    size_t body_off;           /* next unprocessed body byte, relative to the block */
    int keep_alive;            /* the answer keeps the client connection */
    uint64_t started_ms;
    /* admission (handler/route.c): limit_req, then limit_conn */
    int delayed;          /* limit_req accounted the request and made it wait; it is routed again after */
    uint64_t delay_until; /* the loop's clock, ms */
    uint32_t limit_slot;  /* the limit table slot counting this request for limit_conn, plus one; 0: none */
    uint32_t retry_after; /* seconds, sent as Retry-After with proxyd's own answer; 0: none */
    /* auth_guard (handler/auth_guard.c): the credentials the request carried, until the response counts them */
    uint8_t ag_kind;                          /* px_cred_kind; PX_CRED_NONE: nothing to count */
    char ag_account[PX_CRED_ACCOUNT_MAX + 1]; /* the account key; "" when unknown */
    /* request body toward the upstream */
    px_body_state req_body;
    uint64_t req_remaining;
    http_chunked req_chunked;
    int req_aborted;
    /* the upstream side */
    const px_route *route;       /* the route chosen: its upstream and timeouts */
    const px_upstream *upstream; /* the route's upstream */
    px_upconn *up;               /* the connection serving this exchange */
    int tries;
    uint64_t tried;      /* servers already tried (bit per index) */
    int head_sent;       /* the request head went to the upstream */
    int resp_started;    /* a response byte came: header_timeout no longer applies */
    int up_reusable;     /* the response allows reusing the upstream connection */
    const char *up_addr; /* the server that answered, for the access log */
    uint64_t up_ms;      /* upstream response time (head received) */
    int up_status;       /* the upstream's status (before any rewrite), for $upstream_status; 0: none */
    /* the response toward the client */
    int resp_status; /* 0 until an answer is chosen; logged once */
    int resp_head_sent;
    int resp_done;
    int resp_error;
    int resp_chunk_out; /* re-encode the response body as chunked */
    int resp_gzip;      /* the head says gzip: x->gz compresses the body, or a HEAD mirrors what GET would get */
    px_body_state resp_body;
    uint64_t resp_remaining;
    uint64_t resp_bytes;
    size_t resp_last_len; /* response head parse resume hint */
    http_chunked resp_chunked;
    struct px_gzip_state *gz; /* compressing this response */
    /* a static file */
    int file_fd; /* -1 when none */
    off_t file_off;
    uint64_t file_left;
    /* $request_id and X-Request-ID (http/vars.c, px_request_id): chosen on first use */
    size_t request_id_len;
    char request_id[PX_REQUEST_ID_MAX + 1];
    /* a tunnel (after 101): the client-to-upstream buffer, after the head, which stays intact for the logs */
    wire_buf tunnel_in;
} px_exchange;

#endif
