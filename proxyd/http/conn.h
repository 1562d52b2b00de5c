/* proxyd client connections: accept, TLS with the client, reading request heads, keep-alive, timeouts, and the one
 * function that frees a connection. Whatever answers a request is a px_handler (http/exchange.h) driven from here. */
#ifndef PROXYD_HTTP_CONN_H
#define PROXYD_HTTP_CONN_H

#include <sys/types.h>

#include "common/stream.h"
#include "core/worker.h"
#include "http/exchange.h"

typedef enum px_conn_state {
    CS_HANDSHAKE = 0, /* TLS handshake with the client */
    CS_HEAD,          /* reading a request head (or idle between requests) */
    CS_HANDLER,       /* x->handler answers: proxying, a tunnel, a static file */
    CS_LOCAL,         /* flushing an answer, then the next request */
    CS_CLOSING,       /* flushing the last bytes, then a lingering close */
    CS_PROXY,         /* a proxy_protocol listener: reading the PROXY header, before TLS and the first head */
} px_conn_state;

typedef enum px_timer_kind {
    T_NONE = 0,
    T_HEADER,    /* client_header_timeout: whole head */
    T_KEEPALIVE, /* keepalive_timeout: idle between requests */
    T_BODY,      /* client_body_timeout: between body reads */
    T_SEND,      /* send_timeout: between writes to the client */
    T_TUNNEL,    /* upstream read_timeout: idle tunnel */
    T_LINGER,    /* lingering close */
    T_TRIM,      /* keep-alive idle long enough to give back TLS record buffers (then T_KEEPALIVE) */
    T_DELAY,     /* limit_req: the request waits for its turn (handler/route.c), then runs again */
} px_timer_kind;

/* What the status endpoint reports a connection as doing. */
typedef enum px_gauge { G_READING = 0, G_ACTIVE, G_IDLE } px_gauge;

struct px_conn {
    px_stream s; /* socket, TLS, input block ([head + body bytes][field array][exchange]), pending output */
    wire_timer timer;
    px_timer_kind tkind;
    px_conn_state state;
    int progress;   /* something moved in this run (re-arms send/body timers) */
    px_gauge gauge; /* counted in stats.by_state under this */
    int reset;      /* close with RST (reset_timedout_connection) */
    int trim_due;   /* give back the TLS record buffers at the next empty read */
    int pin;        /* NTLM/Negotiate seen: the connection keeps its upstream connection */
    px_worker *w;
    px_runtime *rt; /* the runtime it was accepted under, referenced until it closes */
    px_bind *bind;
    px_server *server;    /* chosen by Host for each request; the bind's default before */
    px_conn *prev, *next; /* worker's list */
    char peer[48];        /* client address as text, formatted once at accept (or from the PROXY header) */
    px_ip peer_ip;        /* and as matched by allow/deny and counted by limits */
    px_ip local_ip;       /* the address the client reached (a PROXY header's destination, else getsockname) */
    uint16_t peer_port, local_port; /* host order; for the PROXY header sent upstream (upstream proxy_protocol) */
    uint8_t local_known;            /* local_ip/local_port are set (read lazily: only proxy_protocol needs them) */
    size_t last_len;                /* head parse resume hint */
    unsigned requests;
    px_exchange *x;    /* per-request state, inside the input block: NULL while the connection idles */
    px_upconn *pinned; /* NTLM/Negotiate: the upstream connection this client owns between requests */
};

/* The worker's pools for the runtime the connection lives in. */
#define PX_WS(conn) (&(conn)->rt->ws[(conn)->w->id])

/* px_hooks.accept: a new client connection on bind b; takes fd (closed when refused). Worker's thread. */
void px_conn_accept(px_worker *w, px_bind *b, int fd, const wire_addr *peer);
/* px_hooks.close_conns: closes all of the worker's client connections, or only those idle between requests. */
void px_conn_close_all(px_worker *w, int all);
/* Runs the state machine until it waits; frees the connection when a step says PX_CLOSE. I/O callbacks. */
void px_conn_run(px_conn *c);
/* For callbacks that computed a step outside the run loop (upstream events, timers): PX_CLOSE frees the
 * connection, anything else runs it. c must not be used afterwards. */
void px_conn_continue(px_conn *c, px_step step);
/* Arms the connection's timer for kind (T_NONE stops it). */
void px_conn_set_timer(px_conn *c, px_timer_kind kind, uint64_t ms);
/* Reads what the client sent into the input block: bytes (> 0), 0 when nothing is ready or no room, -1 at end of
 * stream or on an error. */
ssize_t px_conn_read(px_conn *c);
/* Writes a batch toward the client (pending when the socket is full). Bytes written now, or -errno. */
ssize_t px_conn_write(px_conn *c, const px_batch *b);
/* The answer is complete once pending output is flushed: then the next request, or a close. Returns PX_AGAIN. */
px_step px_conn_answered(px_conn *c);

#endif
