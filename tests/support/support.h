/* tests/support: helpers for end-to-end Check tests: free ports, spawning and stopping daemons, raw HTTP/1.1
 * client calls that read exactly one response (pipelining-safe), and conveniences for the origin server. */
#ifndef TESTS_SUPPORT_H
#define TESTS_SUPPORT_H

#include <stddef.h>
#include <sys/types.h>

/* Per-call I/O timeout of the client helpers (connect, send, each wait for response bytes). */
#define TS_IO_TIMEOUT_MS 5000

/* Ports for daemons that cannot listen on :0: a pool from TS_PORT_MIN up to just below the kernel's ephemeral
 * range, each port reserved by a lock file TS_PORT_LOCK_DIR/PORT held (flock) for the life of the process. */
#define TS_PORT_MIN 20000
#define TS_PORT_LOCK_DIR "/tmp/proxyd-test-ports"

/* A port on 127.0.0.1 that is free and stays reserved for this process until it exits: no parallel test process
 * (nor a second call here) gets it, and no bind(:0) or outgoing connection takes it. Returns -1 when none is left. */
int ts_free_port(void);

/* Starts argv[0] (a path) with argv, stdout piped and stderr inherited, and waits up to timeout_ms for a stdout
 * line starting with wait_line_prefix. Copies that line (no newline, NUL-terminated, truncated to cap) into
 * first_line_out when not NULL. Later stdout is forwarded to stderr by a background thread, so the child never
 * blocks on a full pipe. Returns the pid, or -1 (the child, if any, is killed and reaped). */
pid_t ts_spawn(const char *const argv[], const char *wait_line_prefix, char *first_line_out, size_t cap,
               int timeout_ms);

/* Starts argv (stdout and stderr inherited) and waits until a TCP connect to 127.0.0.1:port succeeds.
 * Returns the pid, or -1 (child killed and reaped) on timeout or early exit, or when something listened on the
 * port before the child was started (the connect would not prove that the child is ready). */
pid_t ts_spawn_port(const char *const argv[], int port, int timeout_ms);

/* Sends sig and waits up to timeout_ms; then SIGKILL. Returns the exit status, 128+signal when killed by one
 * (128+SIGKILL when the timeout ran out), or -1 when pid cannot be waited for. */
int ts_stop(pid_t pid, int sig, int timeout_ms);

/* Blocking TCP connection to 127.0.0.1:port with TS_IO_TIMEOUT_MS send/receive timeouts and TCP_NODELAY.
 * Returns the fd (caller closes) or -1. */
int ts_connect(int port);

/* Sends all n bytes. Returns 0, or -1 (error, timeout, or peer gone). */
int ts_send(int fd, const void *p, size_t n);

typedef struct ts_response {
    int status;
    char head[8192]; /* status line and fields with the final CRLF, NUL-terminated */
    size_t head_len;
    char *body; /* decoded body, malloc'd, NUL-terminated (not counted in body_len); free: ts_response_free */
    size_t body_len;
    int closed; /* the peer closed after the response (awaited when the response announced close) */
} ts_response;

/* Largest body ts_read_response accepts. */
#define TS_MAX_BODY (64u * 1024 * 1024)

/* Reads exactly one response from fd (bytes of a following pipelined response stay in the socket): the head,
 * then a Content-Length, chunked (decoded) or close-delimited body; none for HEAD (head_request != 0), 1xx, 204
 * and 304 (1xx responses are returned like any other). Overwrites *r without freeing it. Returns 0, or -1 on
 * timeout, parse error, or a close before the response was complete (r->body is then NULL). */
int ts_read_response(int fd, ts_response *r, int head_request);

/* Frees r->body; r may be reused afterwards. */
void ts_response_free(ts_response *r);

/* Connects, sends the raw request (strlen(raw) bytes), reads one response (a HEAD request when raw starts
 * with "HEAD "), closes. Returns 0 or -1. */
int ts_request(int port, const char *raw, ts_response *r);

/* The value of the first field called name (case-insensitive) in r->head, in a thread-local copy valid until the
 * next call, or NULL when absent. */
const char *ts_header(const ts_response *r, const char *name);

/* Starts $PROXYD_ORIGIN (-l 127.0.0.1:0 -w 1 -q) and waits for its "origin: listening on" line. Sets *port_out
 * and *pid_out. Returns "127.0.0.1:PORT" (malloc'd: the caller frees), or NULL on failure. Stop the origin with
 * ts_stop(pid, SIGTERM, ...). */
char *ts_origin_start(int *port_out, pid_t *pid_out);

/* GET /stats on the origin: connections that carried a request other than /stats since start or /stats/reset
 * (the /stats connection itself is not counted). Returns the count or -1. */
int ts_count_connections(int origin_port);

/* POSTs /stats/reset to the origin. Returns 0 or -1. */
int ts_reset_stats(int origin_port);

#endif
