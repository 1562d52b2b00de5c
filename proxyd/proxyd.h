/* proxyd internals shared by the daemon's files: the runtime built from one configuration, the per-worker state,
 * and the client and upstream connection structs whose state machines live in conn.c and upstream.c. */
#ifndef PROXYD_PROXYD_H
#define PROXYD_PROXYD_H

#include <stdatomic.h>
#include <stdint.h>

#include <http/http.h>
#include <tlsio/tlsio.h>
#include <wire/wire.h>

#include "config.h"

#define PX_VERSION "0.1.0"
#define PX_MAX_WORKERS 256
#define PX_MAX_BINDS 32
#define PX_IOV_MAX 64
#define PX_HEAD_EXTRA 4096 /* room for fields proxyd adds to a forwarded head */
/* An idle TLS connection gives back its record buffers (about 33 KB) at once when the worker holds many
 * connections (memory matters then), else only after PX_TLS_TRIM_MS: freeing and re-allocating them between
 * every two keep-alive requests of a busy connection cost more than half of all instructions. */
#define PX_TLS_TRIM_MS 1000
#define PX_TLS_TRIM_CONNS 256

typedef struct px_worker px_worker;
typedef struct px_daemon px_daemon;
typedef struct px_conn px_conn;
typedef struct px_upconn px_upconn;

/* Fields proxyd treats specially (fields.c). */
typedef enum px_field_kind {
    PF_OTHER = 0, PF_HOST, PF_CONNECTION, PF_KEEP_ALIVE, PF_PROXY_CONNECTION, PF_TE, PF_TRANSFER_ENCODING,
    PF_UPGRADE, PF_PROXY_AUTHENTICATE, PF_PROXY_AUTHORIZATION, PF_TRAILER, PF_CONTENT_LENGTH, PF_EXPECT,
    PF_X_REAL_IP, PF_X_FORWARDED_FOR, PF_X_FORWARDED_PROTO, PF_SERVER, PF_LOCATION, PF_REFRESH, PF_ETAG, PF_VIA,
    PF_AUTHORIZATION, PF_WWW_AUTHENTICATE, PF_ACCEPT_ENCODING,
} px_field_kind;

/* A literal as a slice initializer, without strlen at run time. */
#define PX_LIT(s) {"" s, sizeof(s) - 1}

/* One listening address and the servers that share it. */
typedef struct px_bind {
    wire_addr addr;
    char text[64];
    int tls;
    px_server *servers[64];
    int nservers;
    px_server *default_server;
    int fds[PX_MAX_WORKERS]; /* one SO_REUSEPORT socket per worker */
    int status;              /* the [status] listener: answers /metrics itself */
    int index;
    tlsio_server_settings *tls_settings; /* certificates of every server on this address */
} px_bind;

/* Passive health of one upstream server, shared by all workers. */
typedef struct px_health {
    atomic_uint_fast64_t down_until; /* ms (monotonic); 0: up */
    atomic_uint_fast64_t window_start;
    atomic_int fails;
} px_health;

/* A worker's state tied to one runtime: pools and counters indexed like px_runtime.health. */
typedef struct px_wstate {
    struct px_pool *pools;
    unsigned *active;   /* connections in use, for least_conn */
    int *rr_weight;     /* smooth weighted round-robin state */
    tlsio_server_config *tls_server[PX_MAX_BINDS]; /* per bind */
    tlsio_client_config **tls_client;              /* per upstream (NULL when plain) */
    tlsio_session **sessions;                      /* per upstream server: resumption toward it */
    /* Buffer pools sized for this runtime (a reload may change the sizes): used by this worker's thread only;
     * drained when the runtime is freed, after the last connection using it gave its blocks back. */
    wire_pool in_pool;  /* input blocks: data, field array, exchange state */
    wire_pool out_pool; /* pending-output blocks: 2 * buf_size + PX_HEAD_EXTRA */
} px_wstate;

/* Everything built from one configuration: shared read-only by the workers, freed when the last
 * connection that uses it is gone. */
typedef struct px_runtime {
    px_config *cfg;
    px_bind binds[PX_MAX_BINDS];
    int nbinds;
    px_health *health;     /* [upstream][server] flattened: health_base[u] + s */
    int *health_base;
    int nhealth;
    px_wstate *ws;         /* [worker] */
    unsigned nworkers;
    size_t buf_size;       /* request/response buffer block size */
    size_t fields_cap;     /* request fields kept after the buffer in each input block */
    uint64_t conn_cap;     /* client connections per worker: max_connections, lowered so that each accepted
                            * client can still get its upstream descriptor under RLIMIT_NOFILE */
    atomic_int refs;
    px_server *status_server; /* limits for the [status] listener */
    unsigned generation;
} px_runtime;

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
    _Atomic uint64_t conns;     /* open client connections */
    _Atomic uint64_t by_state[3]; /* of them: reading a head, in an exchange, idle keep-alive (px_gauge) */
} px_stats;

/* A single writer needs no locked instruction: relaxed load and store keep readers from tearing. */
#define PX_ADD(field, n)                                                                                          \
    atomic_store_explicit(&(field), atomic_load_explicit(&(field), memory_order_relaxed) + (uint64_t)(n),       \
                          memory_order_relaxed)
#define PX_GET(field) atomic_load_explicit(&(field), memory_order_relaxed)

/* Idle upstream connections of one upstream server, per worker (LIFO). */
typedef struct px_pool {
    px_upconn *head;
    unsigned count;
} px_pool;

struct px_worker {
    unsigned id;
    wire_loop *loop;
    wire_worker thread;
    wire_async wake;
    px_runtime *rt;
    wire_listener listeners[PX_MAX_BINDS];
    px_bind *listener_bind[PX_MAX_BINDS];
    int nlisteners;
    wire_pool conn_pool;  /* px_conn structs */
    wire_pool up_pool;    /* px_upconn structs */
    px_conn *conns;       /* all client connections of this worker */
    uint64_t nconns;
    int stopping;         /* 1: graceful, 2: fast */
    int held;             /* accepting paused at the connection cap */
    struct px_daemon *daemon;
    wire_timer grace;
    px_stats stats;
    char alog[65536];     /* access log lines waiting for one write(2) */
    size_t alog_len;
    wire_timer alog_timer;
    char *scratch;        /* 2 * buf_size + PX_HEAD_EXTRA: a forwarded head is built here, then written */
    size_t scratch_size;
    http_field resp_fields[128];
};

/* The process: the current runtime and what the main thread asks of the workers. */
struct px_daemon {
    _Atomic(px_runtime *) rt;
    atomic_int stopping; /* 1: graceful, 2: fast */
    atomic_int acks;
    atomic_int ready;
    uint64_t grace_ms;
    px_worker *workers;
    unsigned nworkers;
    wire_loop *loop;
    const char *conf_path;
    _Atomic uint64_t reloads;
};

/* Pending output: bytes that a write could not take, kept until the socket is writable. */
typedef struct px_out {
    char *buf; /* block from out_pool, NULL when empty */
    size_t off, len;
} px_out;

typedef enum px_up_state {
    UP_CONNECTING = 0,
    UP_HANDSHAKE, /* TLS toward an https upstream */
    UP_ACTIVE,
    UP_IDLE,   /* in the pool */
    UP_PINNED, /* kept by its NTLM/Negotiate client between requests: not pooled, not counted active */
} px_up_state;

struct px_upconn {
    wire_io io;
    tlsio_conn *tls;
    int tkind; /* px_timer_kind: T_SEND (request going out), T_READ (awaiting response bytes) or T_NONE */
    wire_timer timer;
    px_up_state state;
    int ready_read, ready_write, eof, hup;
    int hidx;      /* health index of its server */
    px_upstream *up;
    int server;    /* index in up->servers */
    px_runtime *rt;
    px_worker *w;
    px_conn *owner;
    px_upconn *next, *prev; /* pool links */
    wire_buf in;
    px_out out;
    unsigned requests;
    int reused;
};

typedef enum px_conn_state {
    CS_HANDSHAKE = 0, /* TLS handshake with the client */
    CS_HEAD,   /* reading a request head (or idle between requests) */
    CS_UPSTREAM,   /* forwarding the request and the response */
    CS_LOCAL,      /* sending a response made by proxyd itself */
    CS_TUNNEL,     /* after 101 Switching Protocols: bytes both ways */
    CS_FILE,       /* sending a static file */
    CS_CLOSING,    /* flushing the last bytes before closing */
} px_conn_state;

typedef enum px_timer_kind {
    T_NONE = 0,
    T_HEADER,    /* client_header_timeout: whole head */
    T_KEEPALIVE, /* keepalive_timeout: idle between requests */
    T_BODY,      /* client_body_timeout: between body reads */
    T_SEND,      /* send_timeout: between writes to the client */
    T_TUNNEL,    /* upstream read_timeout: idle tunnel */
    T_LINGER,    /* lingering close */
    T_READ,      /* upstream read_timeout: awaiting response bytes */
    T_TRIM,      /* keep-alive idle long enough to give back TLS record buffers (then T_KEEPALIVE) */
} px_timer_kind;

/* What the status endpoint reports a connection as doing. */
typedef enum px_gauge { G_READING = 0, G_ACTIVE, G_IDLE } px_gauge;

typedef enum px_body_state {
    BODY_DONE = 0,
    BODY_LENGTH,
    BODY_CHUNKED,
    BODY_CLOSE,
} px_body_state;

struct px_conn {
    wire_io io;
    tlsio_conn *tls;
    wire_timer timer;
    px_timer_kind tkind;
    px_conn_state state;
    int ready_read, ready_write, eof, hup;
    int progress;            /* something moved in this run (re-arms send/body timers) */
    px_gauge gauge;          /* counted in stats.by_state under this */
    int reset;               /* close with RST (reset_timedout_connection) */
    int trim_due;            /* give back the TLS record buffers at the next empty read */
    px_worker *w;
    px_runtime *rt;
    px_bind *bind;
    px_server *server;
    px_conn *prev, *next; /* worker's list */
    char peer[48];           /* client address as text (IPv4, IPv6 or unix), formatted once at accept */
    wire_buf in;             /* block: [head + body bytes] then the field array */
    size_t head_len;         /* bytes of the current request head kept at in.start */
    size_t body_off;         /* next unprocessed body byte, relative to in.base */
    size_t last_len;         /* parse resume hint */
    struct px_exchange *x;   /* per-request state, inside the input block: gone while the connection idles */
    px_out out;
    px_upconn *up;
    px_upconn *pinned;       /* NTLM/Negotiate: the upstream connection this client owns */
    px_upstream *upstream;
    int tries;
    uint64_t tried;          /* servers already tried for this request */
    int head_sent;           /* the request head went to the upstream */
    int pin;                 /* NTLM/Negotiate seen: keep the upstream connection */
    int req_aborted;
    /* request body toward the upstream */
    px_body_state req_body;
    uint64_t req_remaining;
    /* response body toward the client */
    px_body_state resp_body;
    int resp_chunk_out;      /* re-encode the response body as chunked */
    int resp_head_sent;
    int resp_done;
    int resp_error;
    int up_reusable;
    size_t resp_last_len;
    int resp_status;
    uint64_t resp_remaining;
    uint64_t resp_bytes;
    struct px_gzip_state *gz; /* compressing this response */
    int file_fd;             /* static file being sent, or -1 */
    off_t file_off;
    uint64_t file_left;
    int keep_alive;          /* answer keeps the client connection */
    unsigned requests;
    uint64_t started_ms;
    uint64_t up_ms;          /* upstream response time (head received) */
    const char *up_addr;     /* upstream server that answered, for the access log */
};

/* What a request needs only while it is being served. It lives at the end of the connection's input block
 * (after the data and the field array), so an idle keep-alive connection carries none of it. */
typedef struct px_exchange {
    http_request req;
    http_chunked req_chunked;
    http_chunked resp_chunked;
} px_exchange;

/* Bytes of an input block: data, the request's field array, then the exchange state. */
size_t px_in_block_size(const px_runtime *rt);

/* The worker's pools and pooled state for the runtime a connection lives in. */
#define PX_WS(conn) (&(conn)->rt->ws[(conn)->w->id])

/* conn.c */
void px_conn_accept(px_worker *w, px_bind *bind, int fd, const wire_addr *peer);
void px_conn_close(px_conn *c);
void px_conn_run(px_conn *c);
void px_conn_next(px_conn *c);
int px_conn_linger(px_conn *c);
int px_conn_alloc_in(px_conn *c);
ssize_t px_conn_read(px_conn *c);
void px_conn_set_timer(px_conn *c, px_timer_kind kind, uint64_t ms);
void px_conn_update_timer(px_conn *c);
void px_conn_timeout(px_conn *c);
void px_conn_gauge(px_conn *c, px_gauge g);
const char *px_conn_peer(px_conn *c);

/* route.c */
int px_request_begin(px_conn *c);
px_server *px_select_server(const px_bind *b, http_slice host);

/* respond.c: the one place where errors become statuses and log lines */
int px_respond_error(px_conn *c, int status, const char *why);
const char *px_log_context(const px_conn *c);
int px_respond_return(px_conn *c);
int px_respond_body(px_conn *c, int status, const char *content_type, const char *body, size_t len);
int px_respond_head(px_conn *c, int status, const char *location, const char *ctype, uint64_t content_length,
                    const char *body, size_t body_len);
void px_write_common_fields(px_conn *c, http_writer *hw, int status);
size_t px_var_expand(const px_conn *c, px_var v, char *out, size_t cap);
size_t px_tpl_expand(const px_conn *c, const px_tpl *t, char *out, size_t cap);

/* proxy.c, proxy_resp.c, tunnel.c */
int px_proxy_step(px_conn *c);
void px_proxy_update_timer(px_conn *c, int progress);
int px_proxy_forward_buffered(px_conn *c);
int px_proxy_read_response(px_conn *c);
int px_proxy_finish(px_conn *c);
void px_proxy_abort(px_conn *c);
int px_proxy_client_gone(px_conn *c);
int px_proxy_upstream_error(px_conn *c, int err);
void px_proxy_upstream_timeout(px_conn *c);
int px_tunnel_begin(px_conn *c, const http_response *resp, size_t head_len);
int px_tunnel_step(px_conn *c);

/* upstream.c */
int px_upstream_acquire(px_conn *c, px_upstream *up);
void px_upstream_release(px_worker *w, px_upconn *u, int reusable);
void px_upstream_close(px_worker *w, px_upconn *u);
int px_upstream_alloc_in(px_upconn *u);
void px_upstream_pin(px_worker *w, px_upconn *u);
/* Counts a failure (refused, reset, invalid response) toward max_fails within fail_timeout. */
void px_upstream_failed(px_upconn *u);
void px_upstream_succeeded(px_upconn *u);

/* runtime.c */
px_runtime *px_runtime_new(px_config *cfg, unsigned workers, px_runtime *old, char *err, size_t errlen);
void px_runtime_ref(px_runtime *rt);
void px_runtime_unref(px_runtime *rt);
void px_runtime_close_listeners(px_runtime *rt);

/* worker.c */
int px_worker_start(px_worker *w, px_daemon *d, unsigned id, px_runtime *rt);
void px_worker_wake(px_worker *w);
void px_worker_hold(px_worker *w, int hold);
void px_worker_conn_closed(px_worker *w);

/* access.c */
int px_access_open(const char *path);
int px_access_reopen(void);
void px_access_log(px_conn *c);
void px_access_flush(px_worker *w);

/* status.c: Prometheus metrics on the [status] listener */
int px_status_respond(px_conn *c);

/* tls.c: TLS contexts of a runtime, and the handshakes */
int px_tls_runtime_init(px_runtime *rt, char *err, size_t errlen);
void px_tls_runtime_free(px_runtime *rt);
int px_tls_check(const px_config *cfg, void *errfp);
int px_tls_client_start(px_upconn *u);
int px_tls_upstream_handshake(px_upconn *u);

/* static.c */
int px_static_respond(px_conn *c);
int px_static_step(px_conn *c);

/* gzip.c */
int px_gzip_wanted(const px_conn *c, const http_response *resp);
int px_gzip_vary(const px_conn *c, const http_response *resp);
int px_gzip_start(px_conn *c);
size_t px_gzip_input_budget(const px_conn *c);
int px_gzip_feed(px_conn *c, const char *p, size_t n, int finish);
http_slice px_gzip_take(px_conn *c);
void px_gzip_end(px_conn *c);

/* fields.c */
px_field_kind px_field_classify(http_slice name);
int px_field_hop_by_hop(px_field_kind k);
int px_connection_names_fields(const http_field *f, size_t n);
void px_copy_field(http_writer *hw, const http_field *f);
void px_peer_text(const wire_addr *a, char *out, size_t cap);

/* notify.c: systemd's NOTIFY_SOCKET protocol */
void px_notify_ready(void);
void px_notify(const char *state);

/* check.c: -t beyond syntax (certificates, keys) */
int px_config_test(const px_config *cfg, void *errfp);
int px_check_keys(const px_config *cfg, void *errfp);

#endif
