/* proxyd upstream connections: server choice (weighted round robin, least_conn, backups, passive health), the
 * per-worker keep-alive pools, non-blocking connects and TLS toward origins. An upstream connection reports to
 * its owner only through the px_upconn_ops it was given; it never calls up. */
#ifndef PROXYD_UPSTREAM_UPSTREAM_H
#define PROXYD_UPSTREAM_UPSTREAM_H

#include <stdint.h>

#include "common/proxyproto.h"
#include "common/stream.h"
#include "core/worker.h"

typedef enum px_up_state {
    UP_CONNECTING = 0,
    UP_HANDSHAKE, /* TLS toward an https upstream */
    UP_ACTIVE,
    UP_IDLE,   /* in the pool */
    UP_PINNED, /* kept by its NTLM/Negotiate client between requests: not pooled, not counted active */
} px_up_state;

/* What an upstream connection tells its owner. Each is called from the connection's own callbacks, on the
 * worker's thread; the owner may close the upstream connection inside any of them. */
typedef struct px_upconn_ops {
    /* Connected (and TLS done), or readable/writable while active: the owner runs its exchange. */
    void (*ready)(void *owner);
    /* The connect or the TLS handshake failed (-errno); not counted against the server yet. */
    void (*failed)(void *owner, int err);
    /* The timer the owner armed (upconn.timer through px_upconn_arm), or the connect timeout, expired. */
    void (*timeout)(void *owner);
    /* A pinned connection (px_upstream_pin) was closed by the origin or sent unasked bytes; it is freed already. */
    void (*lost)(void *owner);
    /* The tail of a log line naming the owner's exchange (", client: ..."); a static buffer. */
    const char *(*log_context)(const void *owner);
} px_upconn_ops;

/* UT_HEADER: the request is out and no response byte has come (header_timeout); UT_READ: between two reads. */
typedef enum px_up_timer { UT_NONE = 0, UT_SEND, UT_READ, UT_HEADER } px_up_timer;

struct px_upconn {
    px_stream s;
    wire_timer timer;
    px_up_timer tkind; /* what the owner's armed timer measures: sending the request, awaiting the response */
    uint64_t read_ms;  /* UT_READ and UT_HEADER durations: the owner's (a route may override the upstream's) */
    uint64_t header_ms;
    px_up_state state;
    int hidx;   /* health and pool index of its server */
    int server; /* index in up->servers */
    const px_upstream *up;
    px_runtime *rt;
    px_worker *w;
    void *owner; /* NULL while pooled */
    const px_upconn_ops *ops;
    px_upconn *next, *prev; /* pool links */
    unsigned requests;
    int reused;           /* came from the pool: a failure may be a stale connection, not the server's fault */
    const char *fail_why; /* why the TLS handshake failed, for the client's 502 (static text), or NULL */
    /* proxy_protocol: the PROXY v2 header this connection began with. It describes one client connection, so
     * the connection is reused only by an owner asking for the same bytes (HAProxy's rule: the header is part of
     * what a reused connection must match). */
    uint8_t pp_len;
    unsigned char pp[PX_PP_V2_OUT_MAX];
};

/* What the caller of px_upstream_acquire asks for. */
typedef struct px_acquire {
    void *owner;
    const px_upconn_ops *ops;
    px_upconn *pinned;  /* the owner's pinned connection, used when it belongs to this upstream */
    int fresh;          /* a new connection only (an NTLM handshake must not ride a pooled one) */
    uint64_t *tried;    /* servers already tried (bit per index); updated when a connect fails at once */
    uint64_t read_ms;   /* what UT_READ arms */
    uint64_t header_ms; /* what UT_HEADER arms */
    /* up->proxy_protocol: the PROXY v2 header for the owner's client (px_pp_write_v2), sent first on a new
     * connection; a pooled connection is taken only when it began with these same bytes. NULL otherwise. */
    const unsigned char *pp;
    size_t pp_len;
} px_acquire;

/* Gives the owner a connection to a server of up: its pinned one, a pooled one, or a new one (connecting; ops->ready
 * follows). Returns it, or NULL (*err = -EHOSTUNREACH when no server is left, or -errno). Worker's thread. */
px_upconn *px_upstream_acquire(px_worker *w, px_runtime *rt, const px_upstream *up, const px_acquire *a, int *err);
/* Gives the connection back: pooled when reusable and there is room, else closed. Worker's thread. */
void px_upstream_release(px_upconn *u, int reusable);
/* Keeps the connection for its NTLM/Negotiate owner between requests: not pooled, not counted active. */
void px_upstream_pin(px_upconn *u);
/* Closes and frees the connection, whatever its state. Worker's thread. */
void px_upstream_close(px_upconn *u);
/* Closes every pooled connection of runtime rt in this worker (a reload or a stop). */
void px_upstream_close_pools(px_worker *w, px_runtime *rt);
/* (Re)arms the connection's timer for what the owner waits on: the upstream's send_timeout, or the read_ms or
 * header_ms the owner acquired it with; UT_NONE stops it. */
void px_upconn_arm(px_upconn *u, px_up_timer kind);
/* The connection's input block, taken when its first bytes are awaited. 0 or -ENOMEM. */
int px_upconn_alloc_in(px_upconn *u);

/* health.c: passive health. A failure (refused, reset, invalid response) counts toward max_fails within
 * fail_timeout; a valid response head clears the count. Worker's thread; the state is shared by all workers. */
void px_upstream_failed(px_upconn *u);
void px_upstream_succeeded(px_upconn *u);
/* Whether server s of up is in rotation at now (ms). A lone server always is. */
int px_upstream_server_up(const px_runtime *rt, const px_upstream *up, int s, uint64_t now);
/* Counts a failure of server si at now; logs when it marks the server down. */
void px_upstream_mark_failure(px_runtime *rt, const px_upstream *up, int si, uint64_t now);

/* The counters of u's server in its worker's tables (common/metrics.h). */
static inline px_upserver_metrics *px_upconn_metrics(const px_upconn *u)
{
    return &u->rt->ws[u->w->id].metrics.upservers[u->hidx];
}
/* Counts an error of kind against u's server (proxyd_upstream_server_errors_total). Worker's thread. */
static inline void px_upconn_count_error(const px_upconn *u, px_up_error kind)
{
    px_metric_add(&px_upconn_metrics(u)->errors[kind], 1);
}

/* balance.c: the balancer's state of one upstream as seen by one worker. */
typedef struct px_balance_view {
    const px_upstream *up;
    unsigned *active;  /* [server]: connections in use */
    int *rr_weight;    /* [server]: smooth weighted round-robin state */
    const int *up_now; /* [server]: 1 when in rotation */
} px_balance_view;
/* Picks a server among the backups (backup = 1) or the others, skipping those in tried and those down: smooth
 * weighted round robin, or least connections per weight with round robin among equals. Returns its index or -1.
 * Updates the round-robin state. Pure apart from that state. */
int px_balance_choose(px_balance_view *v, int backup, uint64_t tried);

#endif
