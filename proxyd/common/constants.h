/* proxyd's fixed numbers: every tuning constant the daemon uses, each with the reason for its value. Limits an
 * administrator may want to change are configuration keys instead (config/config.h); these are not. */
#ifndef PROXYD_COMMON_CONSTANTS_H
#define PROXYD_COMMON_CONSTANTS_H

/* One writev per batch; 64 iovecs hold 20 re-encoded chunks (size line, data, CRLF each) with room to spare,
 * and stay far below IOV_MAX (1024). */
#define PX_IOV_MAX 64

/* Room a forwarded head may grow by: the fields proxyd adds (X-Forwarded-*, Via, Server, add_header). A head that
 * still does not fit is refused (431 toward the origin, 502 toward the client), never cut. */
#define PX_HEAD_EXTRA 4096

/* An idle TLS connection gives back its record buffers (about 33 KB) at once when the worker holds many
 * connections (memory matters then), else only after PX_TLS_TRIM_MS: freeing and re-allocating them between
 * every two keep-alive requests of a busy connection cost more than half of all instructions. */
#define PX_TLS_TRIM_MS 1000
#define PX_TLS_TRIM_CONNS 256

/* Lingering close (nginx's lingering_time): long enough for the client's in-flight bytes to arrive and be
 * discarded so that our FIN is not turned into a reset that destroys the response, short enough to free the
 * connection soon. */
#define PX_LINGER_MS 2000

/* Accepts per readiness event (nginx's multi_accept), and the pause after EMFILE/ENFILE before trying again:
 * a worker out of descriptors must not spin. */
#define PX_ACCEPT_BATCH 64
#define PX_ACCEPT_PAUSE_MS 100

/* listen(2) backlog: nginx's default; the kernel clamps it to net.core.somaxconn. */
#define PX_LISTEN_BACKLOG 511

/* Descriptors that are not client or upstream connections: the logs, epoll, eventfds and standard streams. The
 * listening sockets are counted on top (one per address and worker). */
#define PX_FD_RESERVE 16

/* Free blocks each pool keeps for reuse before giving memory back: enough for a burst of connections without a
 * malloc each, small enough that an idle worker holds little (conn and upstream structs are ~1 KB; input blocks
 * are the configured buffer size; output blocks about twice that). */
#define PX_CONN_POOL_CACHE 1024
#define PX_UP_POOL_CACHE 1024
#define PX_IN_POOL_CACHE 256
#define PX_OUT_POOL_CACHE 64

/* Fields of one upstream response head: more than any origin sends (IIS sends about 15); a head with more is
 * refused with 502, as too large. */
#define PX_RESP_FIELDS_MAX 128

/* Access log: each worker formats lines into a buffer written with one write(2) when fewer than
 * PX_ALOG_LINE_MAX bytes are free (the longest line escaped fields allow) or every PX_ALOG_FLUSH_MS. */
#define PX_ALOG_BUF 65536
#define PX_ALOG_LINE_MAX 3072
#define PX_ALOG_FLUSH_MS 1000

/* Log lines quote at most this much of a request target: enough to recognise it, bounded for the log. */
#define PX_LOG_TARGET_MAX 200

/* Upstream retries (nginx's proxy_next_upstream): after a connect or send error every server may be tried about
 * twice (a pooled connection the origin closed costs nothing), after a connect timeout each server once. */
#define PX_RETRIES_ON_ERROR(nservers) (2 * (nservers) + 1)
#define PX_RETRIES_ON_TIMEOUT(nservers) (nservers)

/* Room after the largest request head in an input block, so a request body always moves. */
#define PX_BODY_ROOM 4096

/* Latency histograms of /metrics (docs/metrics.md): bucket upper bounds in ms (Prometheus `le`, then +Inf), from a
 * cached answer (5 ms) to a Lync long poll (its timeout is under 60 s); the same for request and upstream
 * response times, and fixed, so that the histograms of every proxyd of a fleet add up. */
#define PX_HIST_BOUNDS_MS                                                                                              \
    {                                                                                                                  \
        5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000                                            \
    }
#define PX_HIST_FINITE 13

/* Prometheus text on the status listener: the buffer a scrape starts with; it grows as the tables need. */
#define PX_STATUS_TEXT_START 16384
/* /auth-guard's list must fit one output block; this much is kept free for the head. */
#define PX_STATUS_HEAD_ROOM 2048
/* An upstream server's "host:port" as written: a DNS name has at most 253 bytes (a longer one never resolves, so
 * the loader refuses it), a bracketed IPv6 address fewer, and ":port" 6; with room to spare. */
#define PX_ADDR_TEXT_MAX 300

/* The per-client limit table (common/limit.c): one spin lock per stripe, enough stripes that workers rarely meet on
 * one (a power of two); a new client looks at this many least recently used entries for one without requests in
 * progress before it is refused (bounded work under the lock). */
#define PX_LIMIT_STRIPES 64
#define PX_LIMIT_EVICT_SCAN 8

/* Clients refused by allow/deny, limit_conn or limit_req: one error log line per kind and interval, counting the
 * others, so that a flood of refused requests cannot flood the log. */
#define PX_REFUSAL_LOG_MS 10000

/* auth_guard (common/credential.c): the bytes of an NTLM user name or of a Basic user read at most (longer names
 * are cut to PX_CRED_ACCOUNT_MAX: no directory account is that long), and how far into a Negotiate token the
 * NTLMSSP signature is looked for (SPNEGO wraps it within its first hundred bytes). */
#define PX_CRED_FIELD_MAX 256
#define PX_CRED_SCAN_MAX 4096
/* auth_guard's table (common/authguard.c): stripes as the limit table's; entries looked at past blocked ones
 * before the least recently used blocked entry is given up (counted in proxyd_auth_guard_evicted_blocked_total). */
#define PX_AG_STRIPES 64
#define PX_AG_EVICT_SCAN 8
/* Blocked accounts and clients /auth-guard lists in one answer, which must fit one output block (the rest is
 * counted in the answer). */
#define PX_AG_LIST_MAX 200

#endif
