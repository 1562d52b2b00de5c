/* proxyd runtime: everything built from one configuration (listening sockets, virtual-server tables, TLS
 * contexts, shared upstream health, per-worker pools), shared read-only by the workers and freed with its last user. */
#ifndef PROXYD_CORE_RUNTIME_H
#define PROXYD_CORE_RUNTIME_H

#include <stdatomic.h>
#include <stdint.h>

#include <http/http.h>
#include <tlsio/tlsio.h>
#include <wire/wire.h>

#include "common/authguard.h"
#include "common/limit.h"
#include "common/log.h"
#include "common/metrics.h"
#include "config/config.h"

typedef struct px_upconn px_upconn;

/* One listening address and the servers that share it. */
typedef struct px_bind {
    wire_addr addr;
    char text[64];
    int tls;
    px_server *servers[PX_MAX_BIND_SERVERS]; /* the loader refuses more (config_check.c) */
    int nservers;
    px_server *default_server;
    int *fds;                            /* [worker]: one SO_REUSEPORT socket each, -1 when closed */
    int status;                          /* the [status] listener: answers /metrics itself */
    int index;                           /* position in px_runtime.binds, for per-worker TLS contexts */
    tlsio_server_settings *tls_settings; /* certificates of every server on this address */
    int acl_at_accept;                   /* every server has allow/deny: a client all of them deny is refused at
                                          * accept, before TLS (px_bind_refuses) */
    int proxy_protocol;                  /* connections start with a PROXY header (http/conn.c, CS_PROXY) */
} px_bind;

/* Active health checks of one server, as the checker counts them (core/probe.c). */
typedef struct px_probe_state {
    int down; /* out of rotation by active checks */
    int good; /* good checks in a row while down */
    int bad;  /* bad checks in a row while up */
} px_probe_state;

/* Health of one upstream server, shared by all workers: passive (counted by the workers) and active (written by
 * the one checker thread, read by every worker). */
typedef struct px_health {
    atomic_uint_fast64_t down_until; /* ms (monotonic); 0: up */
    atomic_uint_fast64_t window_start;
    atomic_int fails;
    atomic_int active_down; /* 1: the active checks took it out of rotation */
    px_probe_state probe;   /* the checker thread's own counts: no other thread touches them */
} px_health;

/* Idle upstream connections of one upstream server, per worker (LIFO). */
typedef struct px_pool {
    px_upconn *head;
    unsigned count;
} px_pool;

/* A worker's state tied to one runtime: pools and counters indexed like px_runtime.health. Touched by that
 * worker's thread only. */
typedef struct px_wstate {
    px_pool *pools;
    unsigned *active;                              /* connections in use, for least_conn */
    int *rr_weight;                                /* smooth weighted round-robin state */
    tlsio_server_config *tls_server[PX_MAX_BINDS]; /* per bind */
    tlsio_client_config **tls_client;              /* per upstream (NULL when plain) */
    tlsio_session **sessions;                      /* per upstream server: resumption toward it */
    /* Buffer pools sized for this runtime (a reload may change the sizes); drained when the runtime is freed,
     * after the last connection using it gave its blocks back. */
    wire_pool in_pool;  /* input blocks: data, field array, exchange state */
    wire_pool out_pool; /* pending-output blocks: 2 * buf_size + PX_HEAD_EXTRA */
    /* Counters by [server], upstream and upstream server, read by the status endpoint from any worker; a reload
     * carries the previous runtime's counts into worker 0's (matched by name: core/runtime.c). */
    px_metrics metrics;
} px_wstate;

/* Why a client was refused; each kind is logged at most once per PX_REFUSAL_LOG_MS. */
typedef enum px_refusal {
    PX_REFUSED_ACCESS = 0, /* allow/deny: 403, or closed at accept */
    PX_REFUSED_CONN,       /* limit_conn: 503 */
    PX_REFUSED_REQ,        /* limit_req: 429 */
    PX_REFUSED_FULL,       /* the limit table had no entry to give: 503 */
    PX_REFUSED_AUTH,       /* auth_guard: the account or the client is blocked: 429 or 401 */
    PX_REFUSED_KINDS
} px_refusal;

typedef struct px_runtime {
    px_config *cfg;
    px_bind binds[PX_MAX_BINDS];
    int nbinds;
    px_health *health; /* [upstream][server] flattened: health_base[u] + s */
    int *health_base;
    int nhealth;
    px_wstate *ws; /* [worker] */
    unsigned nworkers;
    size_t buf_size;      /* request/response buffer block size */
    size_t fields_cap;    /* request fields kept after the buffer in each input block */
    size_t exchange_size; /* per-request state kept after the fields (http/exchange.h) */
    uint64_t conn_cap;    /* client connections per worker: max_connections, lowered so that each accepted
                           * client can still get its upstream descriptor under RLIMIT_NOFILE */
    atomic_int refs;
    px_server *status_server; /* limits for the [status] listener */
    unsigned generation;
    px_limit_table *limits; /* limit_conn/limit_req state of every worker; NULL when no server limits; carried over
                             * from the previous runtime while limit_table_size is unchanged */
    px_log_every refusals[PX_REFUSED_KINDS];
    px_ag_table *auth_guard; /* auth_guard state of every worker; NULL when no server uses it; carried over as
                              * the limit table */
} px_runtime;

/* Builds the runtime for cfg with one listening socket per worker and address, taking over old's sockets for
 * addresses both have. Takes cfg on success; on failure returns NULL with err set and cfg still the caller's.
 * exchange_size is the per-request state the client connections keep in each input block. Main thread. */
px_runtime *px_runtime_new(px_config *cfg, unsigned workers, size_t exchange_size, px_runtime *old, char *err,
                           size_t errlen);
/* Takes a reference. Any thread. */
void px_runtime_ref(px_runtime *rt);
/* Drops a reference; the last one frees the runtime (its sockets, contexts, pools, configuration). Any thread. */
void px_runtime_unref(px_runtime *rt);
/* Closes the listening sockets still open (addresses a reload dropped). Main thread, after every worker moved. */
void px_runtime_close_listeners(px_runtime *rt);
/* Bytes of an input block: data, the request's field array, then the exchange state. */
size_t px_runtime_in_block_size(const px_runtime *rt);
/* Whether every server on b denies ip (only meaningful when b->acl_at_accept). Pure. */
int px_bind_refuses(const px_bind *b, const px_ip *ip);
/* The health slot of server s of upstream up. */
static inline px_health *px_runtime_health(const px_runtime *rt, const px_upstream *up, int s)
{
    return &rt->health[rt->health_base[up->index] + s];
}

/* core/tls.c: the TLS contexts of a runtime (per bind and worker, per upstream and worker). 0, or -1 with err. */
int px_tls_runtime_init(px_runtime *rt, char *err, size_t errlen);
/* A client TLS context from up's settings (CA, verification, client certificate), for the health checker.
 * 0, or -1 with err. */
int px_tls_client_new(const px_upstream *up, tlsio_client_config **out, char *err, size_t errlen);
/* Frees what px_tls_runtime_init built (also after a partial init). */
void px_tls_runtime_free(px_runtime *rt);
/* -t: loads every certificate, key and CA file once; one line per problem to errfp (a FILE *). Returns the count. */
int px_tls_check(const px_config *cfg, void *errfp);

/* core/check.c: -t beyond syntax. Returns 0 when the configuration can start, else 1; one line per problem. */
int px_config_test(const px_config *cfg, void *errfp);
/* Refuses private keys other users can read. Returns the number of problems, each printed. */
int px_check_keys(const px_config *cfg, void *errfp);
/* Whether the pid file can be written where -s looks (by this user; as root, a missing folder is created). Returns
 * the number of problems, each printed. */
int px_check_pid_file(const px_config *cfg, void *errfp);
/* Started as root with `user`: whether that user can read what a reload re-reads (the configuration,
 * certificates, keys, CA files), checked as that user in a child process; warns when it cannot remove the pid
 * file at stop. Otherwise 0. Returns the number of problems, each printed. */
int px_check_user_access(const px_config *cfg, void *errfp);

#endif
