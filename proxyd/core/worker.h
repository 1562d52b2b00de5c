/* proxyd workers and the daemon: one thread and one event loop per worker, accepting on its own SO_REUSEPORT
 * sockets; the main thread's signal loop (reload, reopen, stop). The layers above reach in only through px_hooks. */
#ifndef PROXYD_CORE_WORKER_H
#define PROXYD_CORE_WORKER_H

#include <stdatomic.h>
#include <stdint.h>

#include "common/constants.h"
#include "common/log.h"
#include "common/step.h"
#include "core/runtime.h"

typedef struct px_worker px_worker;
typedef struct px_daemon px_daemon;
typedef struct px_conn px_conn;

/* What the layers above give the workers (main.c fills it): the only way core calls up. */
typedef struct px_hooks {
    size_t conn_size;     /* sizeof the client connection (http/conn.h): the worker pools them */
    size_t upconn_size;   /* sizeof an upstream connection (upstream/upstream.h) */
    size_t exchange_size; /* per-request state kept in each input block (http/exchange.h) */
    /* http: a client connection accepted on bind b; takes fd. */
    void (*accept)(px_worker *w, px_bind *b, int fd, const wire_addr *peer);
    /* http: closes this worker's client connections, all of them or only those idle between requests. */
    void (*close_conns)(px_worker *w, int all);
    /* upstream: closes this worker's pooled upstream connections of runtime rt. */
    void (*close_pools)(px_worker *w, px_runtime *rt);
    /* handler: decides who answers a parsed request head (the router). */
    px_step (*route)(px_conn *c);
} px_hooks;

/* What one worker counts; written by its thread only, read by the status endpoint from any worker. */
typedef struct px_stats {
    _Atomic uint64_t accepted;
    _Atomic uint64_t requests;
    _Atomic uint64_t status[6]; /* 1xx..5xx, [0] unused */
    _Atomic uint64_t up_opened;
    _Atomic uint64_t up_reused;
    _Atomic uint64_t bytes_in;
    _Atomic uint64_t bytes_out;
    _Atomic uint64_t tls_handshakes;
    _Atomic uint64_t tls_resumed;
    _Atomic uint64_t conns;       /* open client connections */
    _Atomic uint64_t by_state[3]; /* of them: reading a head, in an exchange, idle keep-alive (px_gauge) */
} px_stats;

/* A single writer needs no locked instruction: relaxed load and store keep readers from tearing. */
#define PX_ADD(field, n)                                                                                               \
    atomic_store_explicit(&(field), atomic_load_explicit(&(field), memory_order_relaxed) + (uint64_t)(n),              \
                          memory_order_relaxed)
#define PX_GET(field) atomic_load_explicit(&(field), memory_order_relaxed)

/* Per-worker state. Every field belongs to the worker's thread, except stats (read by any worker). */
struct px_worker {
    unsigned id;
    wire_loop *loop;
    wire_worker thread;
    wire_async wake;
    px_runtime *rt; /* the runtime new connections get; older ones keep theirs until they close */
    px_daemon *daemon;
    wire_listener listeners[PX_MAX_BINDS];
    px_bind *listener_bind[PX_MAX_BINDS];
    int nlisteners;
    wire_pool conn_pool; /* client connection structs */
    wire_pool up_pool;   /* upstream connection structs */
    px_conn *conns;      /* all client connections of this worker (http/conn.c links them) */
    uint64_t nconns;
    int stopping; /* 1: graceful, 2: fast */
    int held;     /* accepting paused at the connection cap */
    wire_timer grace;
    px_stats stats;
    px_alog alog;  /* access log lines waiting for one write(2) */
    char *scratch; /* 2 * buf_size + PX_HEAD_EXTRA: a forwarded head is built here, then written */
    size_t scratch_size;
    http_field resp_fields[PX_RESP_FIELDS_MAX]; /* the upstream response head being parsed */
};

/* The process: the current runtime and what the main thread asks of the workers. */
struct px_daemon {
    _Atomic(px_runtime *) rt;
    atomic_int stopping; /* 1: graceful, 2: fast */
    atomic_int draining; /* a graceful stop was asked: /healthz and /readyz answer 503 (first for drain_delay) */
    atomic_int acks;
    atomic_int ready;
    uint64_t grace_ms;
    px_worker *workers;
    unsigned nworkers;
    wire_loop *loop;
    wire_timer drain; /* drain_delay after SIGQUIT, on the main loop */
    const char *conf_path;
    _Atomic uint64_t reloads;
    const px_hooks *hooks;
    struct px_prober *prober; /* the active health checker (core/probe.c) */
};

/* Opens each [server]'s own access_log (px_access_sink_open) and records its sink in the server, before any worker
 * sees cfg. 0, or -1 with the reason in err. Main thread. */
int px_open_server_logs(px_config *cfg, char *err, size_t cap);

/* Runs proxyd on cfg (taken) until a stop signal: workers, reloads on SIGHUP, log reopening on SIGUSR1. Returns
 * the exit status. Main thread. */
int px_daemon_run(px_daemon *d, px_config *cfg);

/* Starts worker id's thread on rt. 0 or -errno. Main thread. */
int px_worker_start(px_worker *w, px_daemon *d, unsigned id, px_runtime *rt);
/* Asks the worker to look at the daemon's runtime and stop request. Any thread. */
void px_worker_wake(px_worker *w);
/* Pauses (hold = 1) or resumes accepting. Worker's thread. */
void px_worker_hold(px_worker *w, int hold);
/* Counts a new client connection; pauses accepting at the cap. Worker's thread. */
void px_worker_conn_opened(px_worker *w);
/* Tells the worker a client connection ended: resumes accepting below the cap, ends a stopping loop. Worker's
 * thread. */
void px_worker_conn_closed(px_worker *w);

#endif
