/* proxyd per-client limits: one fixed array of entries keyed by (client address, zone), split into stripes that
 * each have their own spin lock (held for a hash lookup, never across a system call), hash chains and least
 * recently used list. A new client takes a never-used entry or the least recently used one without requests in
 * progress; the table never grows. */
#include "common/limit.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "common/constants.h"

#define NIL UINT32_MAX
#define EXCESS_PER_REQUEST 1000 /* nginx counts excess in thousandths of a request */
#define CLOCK_BACK_MS 60000     /* nginx: a bucket more than a minute in the future is a clock jump, taken as 1 ms */
#define LEAK_MAX_MS 1000000000u /* longer than any bucket takes to empty; bounds rate * elapsed in 64 bits */

/* ---------------------------------------------------------------- the leaky bucket */

px_limit_rc px_bucket_take(px_bucket *b, const px_rate *r, uint64_t now_ms, uint64_t *ms)
{
    int64_t elapsed = (int64_t)(now_ms - b->last_ms); /* workers' clocks differ by a loop iteration */
    if (elapsed < -CLOCK_BACK_MS)
        elapsed = 1;
    else if (elapsed < 0)
        elapsed = 0;
    int64_t leak = elapsed >= LEAK_MAX_MS ? INT64_MAX / 2 : (int64_t)r->per_ks * elapsed / 1000;
    int64_t excess = (int64_t)b->excess - leak + EXCESS_PER_REQUEST;
    if (excess < 0)
        excess = 0;
    int64_t burst = (int64_t)r->burst * EXCESS_PER_REQUEST;
    if (excess > burst) {
        /* The time until the bucket has leaked enough for one more request, from its last accounted state. */
        int64_t need = (int64_t)b->excess + EXCESS_PER_REQUEST - burst;
        int64_t total = (need * 1000 + r->per_ks - 1) / r->per_ks;
        *ms = total > elapsed ? (uint64_t)(total - elapsed) : 1;
        return PX_LIMIT_BUSY;
    }
    b->excess = (uint32_t)excess;
    if (elapsed)
        b->last_ms = now_ms;
    *ms = r->nodelay ? 0 : (uint64_t)excess * 1000 / r->per_ks;
    return PX_LIMIT_OK;
}

/* ---------------------------------------------------------------- the table */

typedef struct entry { /* 56 bytes: the widest field first, the byte last */
    uint64_t last_ms;
    uint8_t addr[16];
    uint32_t zone;
    uint32_t hash;  /* low bits choose the chain */
    uint32_t conns; /* limit_conn: requests in progress; the entry is not evicted while > 0 */
    uint32_t excess;
    uint32_t prev, next; /* least recently used list of the stripe (head: most recent), stripe-local indexes */
    uint32_t hnext;      /* hash chain */
    uint8_t family;
} entry;

typedef struct stripe {
    _Alignas(64) pthread_spinlock_t lock; /* a cache line each: workers on different stripes do not contend */
    uint32_t head, tail;
    uint32_t used; /* entries handed out; the rest are never used yet */
    entry *e;
    uint32_t *chains;
} stripe;

struct px_limit_table {
    atomic_int refs;
    unsigned nstripes;
    uint32_t per_stripe;
    uint32_t chain_mask;
    uint64_t seed;
    size_t bytes;
    stripe *stripes;
    entry *entries;
    uint32_t *chains;
};

static uint64_t mix(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    x ^= x >> 33;
    return x;
}

/* Seeded, so that a client choosing its addresses (an IPv6 /64 has many) cannot aim them at one chain. */
static uint64_t key_hash(const px_limit_table *t, const px_ip *ip, uint32_t zone)
{
    uint64_t a, b;
    memcpy(&a, ip->addr, 8);
    memcpy(&b, ip->addr + 8, 8);
    uint64_t h = mix(t->seed ^ a);
    h = mix(h ^ b);
    return mix(h ^ ((uint64_t)zone << 8 | ip->family));
}

static stripe *stripe_of(px_limit_table *t, uint64_t h)
{
    return &t->stripes[(h >> 32) & (t->nstripes - 1)];
}

static uint32_t pow2_at_least(uint32_t n)
{
    uint32_t p = 1;
    while (p < n)
        p <<= 1;
    return p;
}

px_limit_table *px_limit_table_new(uint32_t entries, unsigned stripes, uint64_t seed)
{
    if (!entries || !stripes || (stripes & (stripes - 1)))
        return NULL;
    px_limit_table *t = calloc(1, sizeof(*t));
    if (!t)
        return NULL;
    atomic_init(&t->refs, 1);
    t->nstripes = stripes;
    t->per_stripe = (uint32_t)(((uint64_t)entries + stripes - 1) / stripes);
    t->chain_mask = pow2_at_least(t->per_stripe) - 1;
    t->seed = seed;
    size_t nent = (size_t)t->per_stripe * stripes, nchains = ((size_t)t->chain_mask + 1) * stripes;
    t->stripes = aligned_alloc(64, stripes * sizeof(stripe)); /* sizeof(stripe) is a multiple of 64 */
    t->entries = calloc(nent, sizeof(entry));
    t->chains = malloc(nchains * sizeof(uint32_t));
    if (!t->stripes || !t->entries || !t->chains) {
        free(t->stripes);
        free(t->entries);
        free(t->chains);
        free(t);
        return NULL;
    }
    memset(t->chains, 0xff, nchains * sizeof(uint32_t)); /* NIL */
    for (unsigned k = 0; k < stripes; k++) {
        stripe *s = &t->stripes[k];
        memset(s, 0, sizeof(*s));
        pthread_spin_init(&s->lock, PTHREAD_PROCESS_PRIVATE);
        s->head = s->tail = NIL;
        s->e = t->entries + (size_t)k * t->per_stripe;
        s->chains = t->chains + (size_t)k * (t->chain_mask + 1);
    }
    t->bytes = sizeof(*t) + stripes * sizeof(stripe) + nent * sizeof(entry) + nchains * sizeof(uint32_t);
    return t;
}

void px_limit_table_ref(px_limit_table *t)
{
    atomic_fetch_add(&t->refs, 1);
}

void px_limit_table_unref(px_limit_table *t)
{
    if (!t || atomic_fetch_sub(&t->refs, 1) != 1)
        return;
    for (unsigned k = 0; k < t->nstripes; k++)
        pthread_spin_destroy(&t->stripes[k].lock);
    free(t->stripes);
    free(t->entries);
    free(t->chains);
    free(t);
}

uint32_t px_limit_table_capacity(const px_limit_table *t)
{
    return t->per_stripe * t->nstripes;
}

size_t px_limit_table_bytes(const px_limit_table *t)
{
    return t->bytes;
}

/* ---------------------------------------------------------------- inside one stripe, its lock held */

static void lru_unlink(stripe *s, uint32_t i)
{
    entry *e = &s->e[i];
    if (e->prev != NIL)
        s->e[e->prev].next = e->next;
    else
        s->head = e->next;
    if (e->next != NIL)
        s->e[e->next].prev = e->prev;
    else
        s->tail = e->prev;
}

static void lru_push_head(stripe *s, uint32_t i)
{
    entry *e = &s->e[i];
    e->prev = NIL;
    e->next = s->head;
    if (s->head != NIL)
        s->e[s->head].prev = i;
    s->head = i;
    if (s->tail == NIL)
        s->tail = i;
}

static void chain_unlink(const px_limit_table *t, stripe *s, uint32_t i)
{
    uint32_t *p = &s->chains[s->e[i].hash & t->chain_mask];
    while (*p != i)
        p = &s->e[*p].hnext;
    *p = s->e[i].hnext;
}

static uint32_t find(const px_limit_table *t, const stripe *s, const px_ip *ip, uint32_t zone, uint32_t h)
{
    for (uint32_t i = s->chains[h & t->chain_mask]; i != NIL; i = s->e[i].hnext) {
        const entry *e = &s->e[i];
        if (e->hash == h && e->zone == zone && e->family == ip->family && memcmp(e->addr, ip->addr, 16) == 0)
            return i;
    }
    return NIL;
}

/* The least recently used entry without requests in progress, unlinked; those with requests met on the way
 * move to the head (they are in use), so the scan is bounded and the next one looks further. NIL: none found. */
static uint32_t evict(const px_limit_table *t, stripe *s)
{
    for (int n = 0; n < PX_LIMIT_EVICT_SCAN && s->tail != NIL; n++) {
        uint32_t i = s->tail;
        lru_unlink(s, i);
        if (s->e[i].conns == 0) {
            chain_unlink(t, s, i);
            return i;
        }
        lru_push_head(s, i);
    }
    return NIL;
}

/* The client's entry, made when missing (*fresh set), at the head of the list. NIL when none could be made. */
static uint32_t obtain(const px_limit_table *t, stripe *s, const px_ip *ip, uint32_t zone, uint32_t h, int *fresh)
{
    uint32_t i = find(t, s, ip, zone, h);
    *fresh = i == NIL;
    if (i != NIL) {
        lru_unlink(s, i);
        lru_push_head(s, i);
        return i;
    }
    i = s->used < t->per_stripe ? s->used++ : evict(t, s);
    if (i == NIL)
        return NIL;
    entry *e = &s->e[i];
    memset(e, 0, sizeof(*e));
    memcpy(e->addr, ip->addr, 16);
    e->family = ip->family;
    e->zone = zone;
    e->hash = h;
    e->hnext = s->chains[h & t->chain_mask];
    s->chains[h & t->chain_mask] = i;
    lru_push_head(s, i);
    return i;
}

/* ---------------------------------------------------------------- limits */

px_limit_rc px_limit_req(px_limit_table *t, const px_ip *ip, uint32_t zone, const px_rate *r, uint64_t now_ms,
                         uint64_t *ms)
{
    uint64_t h = key_hash(t, ip, zone);
    stripe *s = stripe_of(t, h);
    int fresh;
    px_limit_rc rc = PX_LIMIT_FULL;
    *ms = 0;
    pthread_spin_lock(&s->lock);
    uint32_t i = obtain(t, s, ip, zone, (uint32_t)h, &fresh);
    if (i != NIL) {
        entry *e = &s->e[i];
        px_bucket b = {fresh ? now_ms : e->last_ms, fresh ? 0 : e->excess};
        rc = fresh ? PX_LIMIT_OK : px_bucket_take(&b, r, now_ms, ms); /* nginx: a new client starts empty */
        e->last_ms = b.last_ms;
        e->excess = b.excess;
    }
    pthread_spin_unlock(&s->lock);
    return rc;
}

px_limit_rc px_limit_conn_acquire(px_limit_table *t, const px_ip *ip, uint32_t zone, uint32_t max, uint32_t *slot)
{
    uint64_t h = key_hash(t, ip, zone);
    stripe *s = stripe_of(t, h);
    int fresh;
    px_limit_rc rc = PX_LIMIT_FULL;
    pthread_spin_lock(&s->lock);
    uint32_t i = obtain(t, s, ip, zone, (uint32_t)h, &fresh);
    if (i != NIL && s->e[i].conns >= max)
        rc = PX_LIMIT_BUSY;
    else if (i != NIL) {
        s->e[i].conns++;
        *slot = (uint32_t)(s - t->stripes) * t->per_stripe + i;
        rc = PX_LIMIT_OK;
    }
    pthread_spin_unlock(&s->lock);
    return rc;
}

void px_limit_conn_release(px_limit_table *t, uint32_t slot)
{
    stripe *s = &t->stripes[slot / t->per_stripe];
    pthread_spin_lock(&s->lock);
    entry *e = &s->e[slot % t->per_stripe];
    if (e->conns) /* never below zero, whatever a caller does */
        e->conns--;
    pthread_spin_unlock(&s->lock);
}

/* ---------------------------------------------------------------- inspection */

uint32_t px_limit_table_count(px_limit_table *t)
{
    uint32_t n = 0;
    for (unsigned k = 0; k < t->nstripes; k++) {
        pthread_spin_lock(&t->stripes[k].lock);
        n += t->stripes[k].used;
        pthread_spin_unlock(&t->stripes[k].lock);
    }
    return n;
}

int px_limit_table_contains(px_limit_table *t, const px_ip *ip, uint32_t zone)
{
    uint64_t h = key_hash(t, ip, zone);
    stripe *s = stripe_of(t, h);
    pthread_spin_lock(&s->lock);
    int found = find(t, s, ip, zone, (uint32_t)h) != NIL;
    pthread_spin_unlock(&s->lock);
    return found;
}
