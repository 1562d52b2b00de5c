/* proxyd striped tables: a fixed array of entries shared by every worker thread, split into stripes that each have
 * their own spin lock, hash chains and least recently used list (common/limit.c and common/authguard.c use it). */
#ifndef PROXYD_COMMON_STRIPES_H
#define PROXYD_COMMON_STRIPES_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#define PX_STRIPES_NIL UINT32_MAX /* no entry: ends a list or a chain */

/* The start of every entry: its links, stripe-local indexes, and the hash bits that chose its chain. */
typedef struct px_stripes_node {
    uint32_t lprev, lnext; /* least recently used list of the stripe (head: most recent) */
    uint32_t hnext;        /* hash chain */
    uint32_t hash;         /* low 32 bits of the key's hash: low bits choose the chain */
} px_stripes_node;

typedef struct px_stripe {
    _Alignas(64) pthread_spinlock_t lock; /* a cache line each: workers on different stripes do not contend */
    uint32_t head, tail;
    uint32_t used;    /* entries handed out; the rest are never used yet */
    unsigned char *e; /* per_stripe entries of esize bytes, each beginning with a px_stripes_node */
    uint32_t *chains;
} px_stripe;

/* Embedded in the table that owns it; its fields are read by that table, changed only here. */
typedef struct px_stripes {
    atomic_int refs;
    unsigned nstripes;
    uint32_t per_stripe, chain_mask;
    uint32_t esize;
    px_stripe *stripes;
    unsigned char *entries;
    uint32_t *chains;
} px_stripes;

/* How a full stripe makes room: the least recently used entry that keep does not hold back, looking at scan
 * entries at most (those held back move to the head); with last_resort, the least recently used one then. */
typedef struct px_stripes_evict {
    int (*keep)(const void *entry, const void *arg);
    const void *arg;
    int scan;
    int last_resort;
} px_stripes_evict;

/* About entries entries of esize bytes (rounded up to a multiple of nstripes, a power of two), all allocated
 * now, with one reference. 0, or -1 for bad sizes or out of memory. */
int px_stripes_init(px_stripes *st, uint32_t entries, unsigned nstripes, size_t esize);
/* Takes a reference. Any thread. */
void px_stripes_ref(px_stripes *st);
/* Drops a reference: 1 when it was the last (the arrays are freed; the caller frees what embeds st). */
int px_stripes_unref(px_stripes *st);
/* Entries held at most; bytes of the arrays (not st itself); entries in use (takes every lock: not per request). */
uint32_t px_stripes_capacity(const px_stripes *st);
size_t px_stripes_bytes(const px_stripes *st);
uint32_t px_stripes_count(px_stripes *st);
/* Checks every stripe's list and chains against its count of entries in use (takes every lock: tests). 0 when
 * consistent, else -1. */
int px_stripes_validate(px_stripes *st);

/* Inside one stripe, its lock held. Moves entry i to the head of the list (just used). */
void px_stripes_touch(const px_stripes *st, px_stripe *s, uint32_t i);
/* A zeroed entry for a new key with hash, linked into its chain and at the head of the list: a never-used one or
 * one evicted by ev (*forced set when by last resort). PX_STRIPES_NIL when none could be had. */
uint32_t px_stripes_take(const px_stripes *st, px_stripe *s, uint32_t hash, const px_stripes_evict *ev, int *forced);

/* A 64-bit finalizer (MurmurHash3's), for the tables' seeded key hashes. */
static inline uint64_t px_stripes_mix(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    x ^= x >> 33;
    return x;
}

/* The stripe of a key: the high half of its hash (the low half chooses the chain). */
static inline px_stripe *px_stripes_of(const px_stripes *st, uint64_t h)
{
    return &st->stripes[(h >> 32) & (st->nstripes - 1)];
}

static inline void *px_stripes_at(const px_stripes *st, const px_stripe *s, uint32_t i)
{
    return s->e + (size_t)i * st->esize;
}

/* The first entry of the chain for hash; the next ones follow px_stripes_node.hnext. */
static inline uint32_t px_stripes_chain(const px_stripes *st, const px_stripe *s, uint32_t hash)
{
    return s->chains[hash & st->chain_mask];
}

#endif
