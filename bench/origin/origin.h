/* origin: a small, fast HTTP/1.1 origin server used by the end-to-end tests and the benchmarks.
 * Shared declarations of main.c (arguments, signals, workers), conn.c (connection state machine), routes.c,
 * ntlm.c (/ntlm) and ws.c (/ws). */
#ifndef ORIGIN_H
#define ORIGIN_H

#include <http/http.h>
#include <wire/wire.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#define ORIGIN_MAX_LISTEN 16
#define ORIGIN_IN_SIZE (64 * 1024)  /* per-connection input block: never grows */
#define ORIGIN_OUT_SIZE (64 * 1024) /* per-connection output block: large bodies stream from static patterns */
#define ORIGIN_MAX_HEAD (32 * 1024) /* request head limit: an /echo head always fits the output block */
#define ORIGIN_MAX_FIELDS 100
#define ORIGIN_ROUTE_ROOM 8192  /* output room a response head plus a small inline body needs */
#define ORIGIN_ECHO_RESERVE 256 /* room kept in front of a chunked /echo for its head, written last */
#define ORIGIN_MAX_DELAY_MS 600000u

/* Totals since start (or /stats/reset), shared by all workers. /stats requests and connections that carried
 * only /stats requests are not counted, so asking does not disturb the figures. */
typedef struct origin_stats {
    _Atomic uint64_t connections;
    _Atomic uint64_t requests;
} origin_stats;

extern origin_stats origin_totals;

struct conn;

/* One thread, one loop, one SO_REUSEPORT listening socket per address. */
typedef struct origin_worker {
    wire_worker thread;
    pthread_mutex_t lock; /* guards `loop` between the signal handler (stop) and the thread (free) */
    wire_loop *loop;      /* NULL once the thread has freed it */
    int fds[ORIGIN_MAX_LISTEN];
    wire_listener listeners[ORIGIN_MAX_LISTEN];
    size_t nfds;
    wire_pool in_pool;
    wire_pool out_pool;
    struct conn *conns; /* every open connection, to free them at shutdown */
    int err;            /* why the loop ended early, or 0 */
} origin_worker;

/* Where a response body comes from when it does not fit the output block: a static repeating pattern,
 * optionally cut into chunks. Pattern bytes go out after everything already in the output block. */
typedef struct body_gen {
    const char *pat;
    size_t period;
    size_t off;      /* position in the pattern */
    uint64_t left;   /* pattern bytes of the current piece still to send */
    uint64_t rest;   /* chunked: body bytes not yet framed */
    uint64_t chunks; /* chunked: chunks not yet framed */
    unsigned chunked : 1;
    unsigned more : 1; /* chunked: framing (CRLF, next chunk, last chunk) still to emit */
    unsigned crlf : 1; /* chunked: a chunk's data ended and its CRLF is owed */
} body_gen;

typedef enum conn_state {
    CONN_HEAD,    /* waiting for or parsing a request head */
    CONN_BODY,    /* consuming the request body (discarded, or copied for /echo) */
    CONN_WAIT,    /* request read, response held until the ?delay timer fires */
    CONN_SEND,    /* streaming a generated response body */
    CONN_CLOSING, /* flushing the last response before closing */
    CONN_LINGER,  /* write side shut: discarding input briefly so the peer gets our response, not a reset */
    CONN_WS,      /* after a 101 on /ws: echoing WebSocket frames */
} conn_state;

/* /ntlm: where the connection-based handshake of this connection stands. */
typedef enum ntlm_state {
    NTLM_NONE,       /* no credentials yet (or a failed attempt) */
    NTLM_CHALLENGED, /* a type 2 challenge went out on this connection */
    NTLM_AUTHED,     /* a type 3 answered this connection's challenge: later requests need no Authorization */
} ntlm_state;

typedef struct conn {
    wire_io io;
    wire_timer timer; /* ?delay, then the linger bound */
    origin_worker *w;
    struct conn *prev, *next;
    conn_state state;
    wire_buf in;
    wire_buf out;
    size_t parse_last;  /* bytes already scanned for the current head */
    http_body body;     /* framing of the current request body */
    uint64_t body_left; /* HTTP_BODY_LENGTH: bytes still to read */
    http_chunked chunked;
    body_gen gen;
    unsigned readable : 1; /* the socket may hold input (edge seen, no EAGAIN since) */
    unsigned writable : 1;
    unsigned eof : 1;   /* peer finished sending */
    unsigned rdhup : 1; /* peer shut down or error seen: read until 0, a short read proves nothing */
    unsigned keep_alive : 1;
    unsigned counted : 1;      /* counted in origin_totals.connections */
    unsigned echo : 1;         /* copy the request body into the response */
    unsigned echo_chunked : 1; /* ... whose length is known only at the end */
    unsigned hold_delay : 1;   /* output held until the delay timer fires */
    unsigned hold_echo : 1;    /* output held until the chunked body's length is known */
    unsigned ws : 1;           /* a 101 went out: frames follow the response */
    ntlm_state ntlm_state;
    unsigned char ntlm_challenge[8]; /* the server challenge sent on this connection */
    char ntlm_user[33];              /* the authenticated user, from the type 3 message */
} conn;

/* What a request asks for, decided from the head alone (no side effects). */
typedef enum route_kind {
    ROUTE_SIZE,
    ROUTE_CHUNKED,
    ROUTE_ECHO,
    ROUTE_STATUS,
    ROUTE_STATS,
    ROUTE_STATS_RESET,
    ROUTE_HEADER,
    ROUTE_CLOSE,
    ROUTE_TYPE,
    ROUTE_NTLM,
    ROUTE_BASIC,
    ROUTE_ATTEMPTS,
    ROUTE_WS,
    ROUTE_NOT_FOUND,
    ROUTE_BAD, /* malformed number, status or query: 400 */
} route_kind;

typedef struct route_plan {
    route_kind kind;
    uint64_t n;      /* body bytes */
    uint64_t chunks; /* ROUTE_CHUNKED */
    int status;
    uint32_t delay_ms;
    http_slice type;  /* ROUTE_TYPE: content type with '_' for '/' */
    http_slice query; /* after '?', for /header */
    const char *why;  /* ROUTE_BAD: reason for the body */
} route_plan;

/* Fills the static body patterns; call once before any worker starts. */
void routes_init(void);

/* Decides what the request asks for. */
void route_plan_request(const http_request *req, route_plan *p);

/* Output room the response needs before route_write may run; 0 means the output block must be empty. */
size_t route_room(const route_plan *p, const http_request *req);

/* Writes the response head (and any inline body) to c->out, sets c->gen, c->echo*, c->keep_alive and starts the
 * delay. `head` is the raw request head (for /echo). Returns 0, or -1 when the head did not fit (a bug). */
int route_write(conn *c, const route_plan *p, const http_request *req, const char *head, size_t head_len);

/* Writes a complete error response with Connection: close. Returns 0 or -1 when it did not fit. */
int route_error(conn *c, int status, const char *why);

/* Writes the head of a chunked /echo in front of its buffered body once the length is known. */
void route_echo_finish(conn *c);

/* Emits chunked framing into c->out when the current piece is done. Returns 0, or -1 when out of room. */
int gen_step(conn *c);

/* Accepted-connection entry point (wire_accept_cb) and shutdown. */
void conn_accept(wire_listener *l, int fd, const wire_addr *peer);
void conn_free_all(origin_worker *w);

/* What the /ntlm route answers (ntlm.c). */
typedef struct ntlm_reply {
    int status;          /* 200, or 401 */
    char challenge[256]; /* 401 with a type 2 message: the WWW-Authenticate value; else empty (offer both schemes) */
    char body[64];
} ntlm_reply;

/* Advances c's NTLM handshake with the request's Authorization field and says what to answer. */
void ntlm_step(conn *c, const http_request *req, ntlm_reply *r);

/* /ws opening handshake: returns 101 with the Sec-WebSocket-Accept value in accept, 426 when the request is not a
 * WebSocket version 13 upgrade, 400 when the key is malformed. */
int ws_handshake(const http_request *req, char accept[32]);

typedef enum ws_result {
    WS_PROGRESS,   /* one frame handled */
    WS_NEED_INPUT, /* the next frame is incomplete */
    WS_NEED_ROOM,  /* the output block must drain first */
    WS_CLOSING,    /* a close frame was answered (or a protocol error reported): flush, then close */
    WS_CLOSE_NOW,  /* close without a word */
} ws_result;

/* CONN_WS: handles the next client frame from c->in, writing the echo, pong or close into c->out. */
ws_result ws_echo(conn *c);

/* The delay timer callback (conn.c) starts a wait the route asked for. */
void conn_start_delay(conn *c, uint32_t ms);

#endif
