/* libwire: one epoll event loop per thread, O(1) timers, sockets, fixed-size buffer pools, worker threads.
 * Public API (prefix wire_). Errors are negative errno values; wire_strerror() names them. Nothing here prints. */
#ifndef WIRE_WIRE_H
#define WIRE_WIRE_H

#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct wire_loop wire_loop;
typedef struct wire_io wire_io;
typedef struct wire_timer wire_timer;
typedef struct wire_async wire_async;

/* Returns a static description of a negative errno-style code (or of a positive errno). */
const char *wire_strerror(int err);

/* ---------------------------------------------------------------- loop */

/* Creates a loop. Returns 0 and sets *out, or -errno. Free with wire_loop_free() from the thread that runs it. */
int wire_loop_new(wire_loop **out);

/* Frees the loop. Every io, timer and async must be stopped first; returns -EBUSY (and frees nothing) otherwise. */
int wire_loop_free(wire_loop *loop);

/* Runs until wire_loop_stop(). Returns 0, or -errno if epoll_wait fails for a reason other than EINTR. */
int wire_loop_run(wire_loop *loop);

/* Runs one iteration, waiting at most timeout_ms (-1: until an event or the next timer). Returns events handled. */
int wire_loop_run_once(wire_loop *loop, int timeout_ms);

/* Makes wire_loop_run() return after the current iteration. Thread-safe (wakes the loop through an eventfd). */
void wire_loop_stop(wire_loop *loop);

/* Monotonic milliseconds, read once per loop iteration (cheap: no system call). */
uint64_t wire_now(const wire_loop *loop);

/* Re-reads the monotonic clock into the loop's cached value. */
void wire_update_time(wire_loop *loop);

/* Number of active io watchers + timers + asyncs; 0 means the loop holds nothing. */
size_t wire_loop_alive(const wire_loop *loop);

/* User pointer carried by the loop (per-worker state for callbacks). */
void wire_loop_set_data(wire_loop *loop, void *data);
void *wire_loop_data(const wire_loop *loop);

/* ---------------------------------------------------------------- io watchers */

/* Event bits, both for interest and for what the callback receives. */
enum {
    WIRE_READ = 0x001,   /* EPOLLIN */
    WIRE_WRITE = 0x004,  /* EPOLLOUT */
    WIRE_ERROR = 0x008,  /* EPOLLERR (received only) */
    WIRE_HUP = 0x010,    /* EPOLLHUP (received only) */
    WIRE_RDHUP = 0x2000, /* EPOLLRDHUP: peer shut down its writing side */
};
/* EPOLLET: edge-triggered; the owner reads/writes until EAGAIN or a short count. A macro, not an enumerator:
 * ISO C limits enumerators to int and 1u << 31 does not fit (-Wpedantic -Werror rejects it). */
#define WIRE_EDGE (1u << 31)

typedef void (*wire_io_cb)(wire_loop *loop, wire_io *io, unsigned events);

/* An fd watcher, embedded in the struct that owns it (recover the owner with wire_container_of). */
struct wire_io {
    int fd;          /* read-only after start */
    unsigned events; /* read-only: current interest */
    wire_io_cb cb;
    void *data; /* free for the owner */
    /* private */
    int _active;
};

/* Prepares an io watcher; touches no loop. */
void wire_io_init(wire_io *io, int fd, wire_io_cb cb, void *data);

/* Registers the fd with the given interest (WIRE_READ|WIRE_WRITE|WIRE_RDHUP|WIRE_EDGE). 0 or -errno. */
int wire_io_start(wire_loop *loop, wire_io *io, unsigned events);

/* Changes the interest of a started watcher (skips the system call when unchanged). 0 or -errno. */
int wire_io_modify(wire_loop *loop, wire_io *io, unsigned events);

/* Unregisters the watcher; safe to call on a stopped one. Events already fetched for it in this iteration are
 * dropped, so the owner may free itself right after (even from inside its own callback). Does not close the fd. */
void wire_io_stop(wire_loop *loop, wire_io *io);

/* ---------------------------------------------------------------- timers */

typedef void (*wire_timer_cb)(wire_loop *loop, wire_timer *t);

/* A one-shot timer embedded in its owner. Insert and cancel are O(1) (hashed timer wheel). A callback may
 * re-arm or stop its own timer, and may free the owner. */
struct wire_timer {
    wire_timer_cb cb;
    void *data;
    /* private */
    uint64_t _due;
    wire_timer *_next, *_prev;
    int _active;
};

void wire_timer_init(wire_timer *t, wire_timer_cb cb, void *data);

/* Arms (or re-arms) the timer to fire once, ms milliseconds after wire_now(). */
void wire_timer_start(wire_loop *loop, wire_timer *t, uint64_t ms);

/* Disarms the timer; safe on an inactive one. */
void wire_timer_stop(wire_loop *loop, wire_timer *t);

static inline int wire_timer_active(const wire_timer *t)
{
    return t->_active;
}

/* ---------------------------------------------------------------- cross-thread wake-ups and signals */

typedef void (*wire_async_cb)(wire_loop *loop, wire_async *a);

/* An eventfd-backed wake-up: wire_async_send() from any thread makes cb run once on the loop's thread
 * (several sends before the loop runs are coalesced into one call). */
struct wire_async {
    wire_async_cb cb;
    void *data;
    /* private */
    wire_io _io;
    wire_loop *_loop;
};

int wire_async_start(wire_loop *loop, wire_async *a, wire_async_cb cb, void *data);
void wire_async_send(wire_async *a); /* thread-safe, async-signal-safe */
void wire_async_stop(wire_loop *loop, wire_async *a);

typedef void (*wire_signal_cb)(wire_loop *loop, int signo, void *data);

/* Blocks the given signals in the calling thread (call before starting other threads so they inherit the mask)
 * and delivers them to cb on this loop through a signalfd. One signal watcher per loop. 0 or -errno. */
int wire_signal_start(wire_loop *loop, const sigset_t *set, wire_signal_cb cb, void *data);
void wire_signal_stop(wire_loop *loop);

/* ---------------------------------------------------------------- sockets */

typedef struct wire_addr {
    struct sockaddr_storage ss;
    socklen_t len;
} wire_addr;

/* Parses "1.2.3.4:80", "[::1]:443", "*:80" (IPv4 any), "[::]:80" or "unix:/path" into addr. Host names are
 * resolved with getaddrinfo (blocking: configuration time only). 0 or -EINVAL / -ENOENT. */
int wire_addr_parse(const char *text, wire_addr *addr);

/* Formats addr as "1.2.3.4:80", "[::1]:443" or "unix:/path" into buf (always NUL-terminated). Returns buf. */
char *wire_addr_format(const wire_addr *addr, char *buf, size_t size);

/* Formats only the host part ("1.2.3.4", "::1"). Returns buf. */
char *wire_addr_host(const wire_addr *addr, char *buf, size_t size);

enum {
    WIRE_LISTEN_REUSEPORT = 1, /* SO_REUSEPORT: one listening socket per worker */
    WIRE_LISTEN_V6ONLY = 2,
    WIRE_LISTEN_PROBE = 4, /* bind only, never listen: tells whether the address is free without ever accepting */
};

/* Creates a non-blocking, close-on-exec listening socket (SO_REUSEADDR always). Returns the fd or -errno. */
int wire_listen(const wire_addr *addr, int backlog, unsigned flags);

/* accept4 with SOCK_NONBLOCK|SOCK_CLOEXEC, retried on EINTR. Returns the fd or -errno (-EAGAIN when none). */
int wire_accept(int lfd, wire_addr *peer);

/* Starts a non-blocking connect. Returns the fd (the connection may still be in progress: wait for WIRE_WRITE
 * then call wire_connect_result) or -errno. */
int wire_connect(const wire_addr *addr);

/* After a connect completes: 0 when connected, or the -errno of the failure (getsockopt SO_ERROR). */
int wire_connect_result(int fd);

int wire_set_nodelay(int fd);
/* SO_LINGER 0: close() then sends RST and frees the socket at once (reset_timedout_connection). */
int wire_set_linger0(int fd);
/* Local address of a socket (e.g. to learn the port bound for ":0"). */
int wire_sockname(int fd, wire_addr *addr);

/* read/readv/writev retried on EINTR. Return the byte count, 0 at end of file (read only), or -errno. */
ssize_t wire_read(int fd, void *buf, size_t len);
ssize_t wire_writev(int fd, const struct iovec *iov, int iovcnt);
ssize_t wire_write(int fd, const void *buf, size_t len);

/* sendfile(2) from a file at *offset, advancing it. Returns bytes sent or -errno. */
ssize_t wire_sendfile(int out_fd, int in_fd, off_t *offset, size_t count);

/* ---------------------------------------------------------------- listener with batched accept */

typedef struct wire_listener wire_listener;

/* Receives each accepted fd (non-blocking, close-on-exec); the callee owns it. The callback may hold, release or
 * stop the listener, but must not free it: the listener is touched again after the callback returns. */
typedef void (*wire_accept_cb)(wire_listener *l, int fd, const wire_addr *peer);

/* Accepts up to `batch` connections per readiness event (nginx's multi_accept). On EMFILE/ENFILE/ENOBUFS/ENOMEM
 * it stops watching the socket and retries after pause_ms, so running out of descriptors never spins. */
struct wire_listener {
    wire_accept_cb cb;
    void *data;
    unsigned batch;    /* default 64 */
    unsigned pause_ms; /* default 100 */
    /* read-only */
    int fd;
    uint64_t accepted;     /* connections handed to cb */
    uint64_t paused_count; /* times accept was paused for lack of descriptors */
    /* private */
    wire_io _io;
    wire_timer _resume;
    wire_loop *_loop;
    int _paused; /* by resource shortage */
    int _held;   /* by wire_listener_hold() */
};

/* Starts accepting on a listening fd (not owned: wire_listener_stop does not close it). 0 or -errno. */
int wire_listener_start(wire_loop *loop, wire_listener *l, int fd, wire_accept_cb cb, void *data);
/* Stops accepting temporarily (e.g. the worker reached max_connections) and resumes. */
void wire_listener_hold(wire_listener *l);
void wire_listener_release(wire_listener *l);
void wire_listener_stop(wire_listener *l);

/* ---------------------------------------------------------------- buffers */

/* A pool of fixed-size blocks for one worker (not thread-safe). Freed blocks are kept for reuse up to max_free;
 * the hot path therefore allocates nothing once warm. */
typedef struct wire_pool {
    size_t block_size;
    size_t max_free;
    /* read-only statistics */
    size_t in_use;
    size_t free_count;
    /* private */
    void *_free;
} wire_pool;

void wire_pool_init(wire_pool *p, size_t block_size, size_t max_free);
/* Returns a block of block_size bytes, or NULL when out of memory. */
void *wire_pool_get(wire_pool *p);
void wire_pool_put(wire_pool *p, void *block);
/* Frees every cached block (blocks in use stay the caller's and must be put back first). */
void wire_pool_drain(wire_pool *p);

/* A byte buffer over a caller-provided block: data lives in [start, end) of base[0..cap). */
typedef struct wire_buf {
    char *base;
    size_t cap;
    size_t start;
    size_t end;
} wire_buf;

static inline size_t wire_buf_len(const wire_buf *b)
{
    return b->end - b->start;
}
static inline size_t wire_buf_room(const wire_buf *b)
{
    return b->cap - b->end;
}
static inline char *wire_buf_data(const wire_buf *b)
{
    return b->base + b->start;
}
static inline char *wire_buf_tail(const wire_buf *b)
{
    return b->base + b->end;
}
/* Drops n bytes from the front; resets to empty when everything is consumed. */
void wire_buf_consume(wire_buf *b, size_t n);
/* Moves the data to the front of the block so that room is maximal. */
void wire_buf_compact(wire_buf *b);

/* ---------------------------------------------------------------- workers and limits */

typedef struct wire_worker wire_worker;
typedef void (*wire_worker_fn)(wire_worker *w);

/* A thread that owns one loop. */
struct wire_worker {
    unsigned id;
    int cpu; /* CPU to pin to, or -1 */
    wire_worker_fn fn;
    void *data;
    /* private */
    pthread_t _thread;
    int _started;
};

/* Starts fn(w) on a new thread (pinned to w->cpu when >= 0). 0 or -errno. */
int wire_worker_start(wire_worker *w, wire_worker_fn fn, void *data);
/* Waits for the thread to return. 0 or -errno. */
int wire_worker_join(wire_worker *w);

/* Online CPUs (at least 1). */
unsigned wire_cpu_count(void);

/* Raises RLIMIT_NOFILE (soft, and hard when permitted) to want. Returns the soft limit in force afterwards,
 * or -errno. */
long wire_raise_nofile(long want);

#define wire_container_of(ptr, type, member) ((type *)(void *)((char *)(ptr)-offsetof(type, member)))

#ifdef __cplusplus
}
#endif
#endif
