/* proxyd metric tables: the per-worker counters by [server], upstream and upstream server (sized when a runtime is
 * built, written by one worker thread without locks), the fixed latency buckets, and Prometheus label escaping. */
#ifndef PROXYD_COMMON_METRICS_H
#define PROXYD_COMMON_METRICS_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "common/constants.h"

/* Status codes counted one by one (what proxyd answers itself and what origins commonly send); any other code is
 * counted as "other" of its class. Written by hand, since clang-format settles on no layout for this list. */
/* clang-format off */
#define PX_METRIC_CODES(X) \
    X(100) X(101) \
    X(200) X(201) X(202) X(204) X(206) \
    X(301) X(302) X(303) X(304) X(307) X(308) \
    X(400) X(401) X(403) X(404) X(405) X(408) X(409) X(410) X(411) X(412) X(413) X(414) X(415) X(416) X(417) \
    X(421) X(426) X(429) X(431) X(499) \
    X(500) X(501) X(502) X(503) X(504) X(505)
/* clang-format on */

/* Code slots: 0..4 are "other" of 1xx..5xx, then one per code above. */
enum {
    PX_CODE_OTHER_BASE = 0,
    PX_CODE_FIRST = 5,
#define PX_CODE_ENUM(c) PX_CODE_SLOT_##c,
    PX_CODE_BEFORE_FIRST = PX_CODE_FIRST - 1,
    PX_METRIC_CODES(PX_CODE_ENUM) PX_CODE_SLOTS
#undef PX_CODE_ENUM
};

/* Latency buckets: PX_HIST_BOUNDS_MS (common/constants.h), then +Inf. */
#define PX_HIST_SLOTS (PX_HIST_FINITE + 1)

/* Why an exchange failed toward one upstream server (proxyd_upstream_server_errors_total{kind}). */
typedef enum px_up_error {
    PX_UPERR_REFUSED = 0,     /* connect refused */
    PX_UPERR_CONNECT,         /* another connect error (unreachable, no route) */
    PX_UPERR_CONNECT_TIMEOUT, /* connect (or TLS handshake) within connect_timeout did not finish */
    PX_UPERR_TLS,             /* TLS handshake failed, or a plain/TLS mismatch */
    PX_UPERR_RESET,           /* the connection reset or closed before the response ended */
    PX_UPERR_HEADER_TIMEOUT,  /* no response byte within header_timeout */
    PX_UPERR_READ_TIMEOUT,    /* read_timeout (or send_timeout) between two reads */
    PX_UPERR_INVALID,         /* an invalid response head or body */
    PX_UPERR_HTTP_5XX,        /* a response with a 5xx status */
    PX_UPERR_KINDS
} px_up_error;

/* A histogram: counts per bucket (not cumulative; the scrape accumulates) and the sum in ms. */
typedef struct px_hist {
    _Atomic uint64_t bucket[PX_HIST_SLOTS];
    _Atomic uint64_t sum_ms;
} px_hist;

/* One [server] (or the status listener), one worker. */
typedef struct px_server_metrics {
    _Atomic uint64_t codes[PX_CODE_SLOTS]; /* responses by px_code_slot */
    px_hist request_time;                  /* head received to answer logged */
} px_server_metrics;

/* One upstream server, one worker. */
typedef struct px_upserver_metrics {
    _Atomic uint64_t requests;     /* exchanges sent to it (each try counts) */
    _Atomic uint64_t responses[6]; /* response heads by class, [0] unused */
    _Atomic uint64_t errors[PX_UPERR_KINDS];
    _Atomic uint64_t active; /* connections serving an exchange now (a gauge) */
    px_hist response_time;   /* request head received to the response head (upstream_response_time) */
} px_upserver_metrics;

/* One upstream, one worker: what belongs to no server of it. */
typedef struct px_upstream_metrics {
    _Atomic uint64_t no_server; /* 502: no live server left to try */
} px_upstream_metrics;

/* A worker's tables for one runtime; allocated with it (px_metrics_alloc), indexed like the configuration. */
typedef struct px_metrics {
    px_server_metrics *servers;     /* [nservers + 1]: the last is the status listener */
    px_upserver_metrics *upservers; /* [upstream server], flattened like px_runtime.health */
    px_upstream_metrics *upstreams; /* [upstream] */
} px_metrics;

/* Single writer: a relaxed load and store, no locked instruction; readers never see a torn value. */
static inline void px_metric_add(_Atomic uint64_t *v, uint64_t n)
{
    atomic_store_explicit(v, atomic_load_explicit(v, memory_order_relaxed) + n, memory_order_relaxed);
}
static inline uint64_t px_metric_get(const _Atomic uint64_t *v)
{
    return atomic_load_explicit((_Atomic uint64_t *)(uintptr_t)v, memory_order_relaxed);
}

/* The slot counting status (100..599; anything else: PX_CODE_OTHER_BASE). Pure. */
unsigned px_code_slot(int status);
/* The status a slot counts (0 for the "other" slots). Pure. */
int px_code_of_slot(unsigned slot);
/* The bucket of a duration in ms. Pure. */
unsigned px_hist_slot(uint64_t ms);
/* The upper bound in ms of bucket i (i < PX_HIST_FINITE). Pure. */
uint64_t px_hist_bound(unsigned i);
/* Counts one duration. Worker's thread. */
void px_hist_add(px_hist *h, uint64_t ms);
/* The label text of a kind: "refused", "connect_timeout"... Pure. */
const char *px_up_error_name(px_up_error kind);

/* Adds src's counts into dst (the histograms too; not the active gauge, which belongs to the connections of the
 * runtime that counts them). For a reload that carries a [server]'s or server's counts over; dst's writer must not
 * run yet. */
void px_server_metrics_add(px_server_metrics *dst, const px_server_metrics *src);
void px_upserver_metrics_add(px_upserver_metrics *dst, const px_upserver_metrics *src);

/* Allocates zeroed tables (nservers + 1 server slots). 0, or -1 when out of memory. */
int px_metrics_alloc(px_metrics *m, int nservers, int nupservers, int nupstreams);
void px_metrics_free(px_metrics *m);

/* Escapes a Prometheus label value (backslash, double quote, newline) into out, NUL-terminated and cut to fit.
 * Returns out. Pure. */
const char *px_prom_escape(const char *s, char *out, size_t cap);

#endif
