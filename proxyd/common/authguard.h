/* proxyd auth_guard state: failed logins per account, per client address and per (account, client) pair in
 * sliding windows, and the blocks that follow, in one fixed-size table shared by every worker thread. */
#ifndef PROXYD_COMMON_AUTHGUARD_H
#define PROXYD_COMMON_AUTHGUARD_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "common/acl.h"
#include "common/credential.h"

/* A threshold: max failures within window_ms block for window_ms. */
typedef struct px_ag_limit {
    uint32_t max;
    uint64_t window_ms;
} px_ag_limit;

enum { PX_AG_BY_ACCOUNT = 1, PX_AG_BY_CLIENT = 2 };

/* What one call found or did, for the log lines and the answer. */
typedef struct px_ag_verdict {
    unsigned blocked;                     /* PX_AG_BY_*: blocked now (after this call) */
    unsigned started;                     /* PX_AG_BY_*: blocks this call started */
    unsigned ended;                       /* PX_AG_BY_*: blocks whose time was over, lifted by this call */
    uint32_t account_fails, client_fails; /* failures in the windows after this call */
    uint64_t retry_ms;                    /* blocked: until the longest block ends */
} px_ag_verdict;

/* Counters since the table was made (relaxed atomics: read by /metrics). */
typedef struct px_ag_stats {
    _Atomic uint64_t failures;        /* failed logins counted */
    _Atomic uint64_t successes;       /* logins after credentials that cleared their pair's failures */
    _Atomic uint64_t refused;         /* credential-bearing requests answered by proxyd because of a block */
    _Atomic uint64_t blocks[2];       /* blocks started: [0] accounts, [1] clients */
    _Atomic uint64_t unblocks[2];     /* blocks ended (time over or cleared) */
    _Atomic uint64_t evicted_blocked; /* blocked entries given up to make room: the table is too small */
} px_ag_stats;

typedef struct px_ag_table px_ag_table;

/* A table of about entries entries (rounded up to a multiple of stripes, a power of two), hashed with seed.
 * Allocated once; NULL when out of memory. The caller holds the one reference. */
px_ag_table *px_ag_table_new(uint32_t entries, unsigned stripes, uint64_t seed);
void px_ag_table_ref(px_ag_table *t);
/* Drops a reference; the last one frees the table. Any thread. */
void px_ag_table_unref(px_ag_table *t);
uint32_t px_ag_table_capacity(const px_ag_table *t);
size_t px_ag_table_bytes(const px_ag_table *t);
/* Entries in use (takes every lock: tests and reports). */
uint32_t px_ag_table_count(px_ag_table *t);
px_ag_stats *px_ag_table_stats(px_ag_table *t);

/* Before a request with credentials goes upstream: whether account ("" when unknown) or client is blocked; a
 * block whose time is over is lifted (v->ended). Any thread; no allocation. */
void px_ag_check(px_ag_table *t, const char *account, const px_ip *ip, const px_ag_limit *acc, const px_ag_limit *cli,
                 uint64_t now_ms, px_ag_verdict *v);
/* A failed login: one more failure for the account (when known), the client and their pair; a count that reaches
 * its max starts a block (v->started). Any thread. */
void px_ag_fail(px_ag_table *t, const char *account, const px_ip *ip, const px_ag_limit *acc, const px_ag_limit *cli,
                uint64_t now_ms, px_ag_verdict *v);
/* A login that succeeded: the pair's failures are taken off the account's and the client's counts. Blocks
 * stay. Any thread. */
void px_ag_succeed(px_ag_table *t, const char *account, const px_ip *ip, const px_ag_limit *acc, const px_ag_limit *cli,
                   uint64_t now_ms);
/* Lifts the block and forgets the failures of an account (account set) or a client (ip set). 1 when it was
 * blocked, 0 when known but not blocked, -1 when unknown. */
int px_ag_clear(px_ag_table *t, const char *account, const px_ip *ip, uint64_t now_ms);

/* Calls visit for each account (ip NULL) and client (account NULL) blocked at now_ms, under a stripe lock (visit
 * must not call the table). Returns how many are blocked. */
typedef void (*px_ag_visit)(void *arg, const char *account, const px_ip *ip, uint32_t fails, uint64_t left_ms);
uint32_t px_ag_list_blocked(px_ag_table *t, uint64_t now_ms, px_ag_visit visit, void *arg);

#endif
