/* proxyd per-client limits: nginx's limit_req leaky bucket and limit_conn counter, kept in one fixed-size table
 * shared by every worker thread. The table is allocated once; a request only looks an entry up (least recently used
 * entries make room for new clients), so nothing is allocated and no system call is made per request. */
#ifndef PROXYD_COMMON_LIMIT_H
#define PROXYD_COMMON_LIMIT_H

#include <stddef.h>
#include <stdint.h>

#include "common/acl.h"

/* limit_req in nginx's units: the rate in requests per 1000 s (10r/s and 600r/m are both 10000), the burst in
 * requests. Excess is counted in thousandths of a request. */
typedef struct px_rate {
    uint32_t per_ks; /* 0: no limit */
    uint32_t burst;
    int nodelay; /* accepted excess is answered at once rather than spaced at the rate */
} px_rate;

/* One client's bucket: the excess over the rate (1/1000 request) at last_ms. */
typedef struct px_bucket {
    uint64_t last_ms;
    uint32_t excess;
} px_bucket;

typedef enum px_limit_rc {
    PX_LIMIT_OK = 0, /* counted */
    PX_LIMIT_BUSY,   /* over the limit */
    PX_LIMIT_FULL,   /* no entry could be made for the client: every one looked at holds requests */
} px_limit_rc;

/* nginx's ngx_http_limit_req_lookup for a bucket that already exists: leaks rate * elapsed, adds this request,
 * refuses beyond the burst. OK: accounted, *ms is the delay before answering (0 with nodelay or no excess). BUSY:
 * not accounted, *ms is the wait before a request would be accepted (at least 1). Pure. */
px_limit_rc px_bucket_take(px_bucket *b, const px_rate *r, uint64_t now_ms, uint64_t *ms);

typedef struct px_limit_table px_limit_table;

/* A table of about entries entries (rounded up to a multiple of stripes, a power of two: one lock each), hashed
 * with seed. NULL when out of memory. The caller holds the one reference. */
px_limit_table *px_limit_table_new(uint32_t entries, unsigned stripes, uint64_t seed);
/* Takes a reference (a runtime that carries the table over a reload). Any thread. */
void px_limit_table_ref(px_limit_table *t);
/* Drops a reference; the last one frees the table. Any thread. */
void px_limit_table_unref(px_limit_table *t);
/* Entries the table holds at most. */
uint32_t px_limit_table_capacity(const px_limit_table *t);
/* Bytes allocated for the table, all of it at creation. */
size_t px_limit_table_bytes(const px_limit_table *t);
/* Entries in use now (takes every lock: for tests and reports, not per request). */
uint32_t px_limit_table_count(px_limit_table *t);
/* Whether the client has an entry in zone, without touching it (tests). */
int px_limit_table_contains(px_limit_table *t, const px_ip *ip, uint32_t zone);

/* limit_req for the client's bucket in zone (a [server]): a new client is accepted without delay, as in nginx;
 * then px_bucket_take. FULL when no entry could be made. Any thread. */
px_limit_rc px_limit_req(px_limit_table *t, const px_ip *ip, uint32_t zone, const px_rate *r, uint64_t now_ms,
                         uint64_t *ms);
/* limit_conn: counts one more request in progress for the client in zone when fewer than max are, and sets *slot
 * for the release. BUSY at max; FULL when no entry could be made. An entry with requests in progress is never
 * evicted. Any thread. */
px_limit_rc px_limit_conn_acquire(px_limit_table *t, const px_ip *ip, uint32_t zone, uint32_t max, uint32_t *slot);
/* The request counted in slot has ended. Any thread. */
void px_limit_conn_release(px_limit_table *t, uint32_t slot);

#endif
