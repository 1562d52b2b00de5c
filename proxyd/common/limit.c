/* proxyd per-client limits: one fixed array of entries keyed by (client address, zone), split into stripes that
 * each have their own spin lock (held for a hash lookup, never across a system call), hash chains and least
 * recently used list (common/stripes.c). A new client takes a never-used entry or the least recently used one without
 * requests in progress; the table never grows. */
#include "common/limit.h"

#include <stdlib.h>
#include <string.h>

#include "common/constants.h"
#include "common/stripes.h"

#define NIL PX_STRIPES_NIL
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

typedef struct entry {    /* 56 bytes: the node and the widest fields first, the byte last */
    px_stripes_node node; /* node.hash: the low half of the key's hash */
    uint64_t last_ms;
    uint8_t addr[16];
    uint32_t zone;
    uint32_t conns; /* limit_conn: requests in progress; the entry is not evicted while > 0 */
    uint32_t excess;
    uint8_t family;
} entry;

struct px_limit_table {
    px_stripes st;
    uint64_t seed;
};

/* Seeded, so that a client choosing its addresses (an IPv6 /64 has many) cannot aim them at one chain. */
static uint64_t key_hash(const px_limit_table *t, const px_ip *ip, uint32_t zone)
{
    uint64_t a, b;
    memcpy(&a, ip->addr, 8);
    memcpy(&b, ip->addr + 8, 8);
    uint64_t h = px_stripes_mix(t->seed ^ a);
    h = px_stripes_mix(h ^ b);
    return px_stripes_mix(h ^ ((uint64_t)zone << 8 | ip->family));
}

px_limit_table *px_limit_table_new(uint32_t entries, unsigned stripes, uint64_t seed)
{
    px_limit_table *t = calloc(1, sizeof(*t));
    if (!t)
        return NULL;
    if (px_stripes_init(&t->st, entries, stripes, sizeof(entry)) < 0) {
        free(t);
        return NULL;
    }
    t->seed = seed;
    return t;
}

void px_limit_table_ref(px_limit_table *t)
{
    px_stripes_ref(&t->st);
}

void px_limit_table_unref(px_limit_table *t)
{
    if (t && px_stripes_unref(&t->st))
        free(t);
}

uint32_t px_limit_table_capacity(const px_limit_table *t)
{
    return px_stripes_capacity(&t->st);
}

size_t px_limit_table_bytes(const px_limit_table *t)
{
    return sizeof(*t) + px_stripes_bytes(&t->st);
}

/* ---------------------------------------------------------------- inside one stripe, its lock held */

static entry *at(const px_limit_table *t, const px_stripe *s, uint32_t i)
{
    return px_stripes_at(&t->st, s, i);
}

static uint32_t find(const px_limit_table *t, const px_stripe *s, const px_ip *ip, uint32_t zone, uint32_t h)
{
    for (uint32_t i = px_stripes_chain(&t->st, s, h); i != NIL; i = at(t, s, i)->node.hnext) {
        const entry *e = at(t, s, i);
        if (e->node.hash == h && e->zone == zone && e->family == ip->family && memcmp(e->addr, ip->addr, 16) == 0)
            return i;
    }
    return NIL;
}

static int in_use(const void *e, const void *arg)
{
    (void)arg;
    return ((const entry *)e)->conns > 0;
}

/* A new client takes the least recently used entry without requests in progress (none: NIL). */
static const px_stripes_evict evict_rule = {in_use, NULL, PX_LIMIT_EVICT_SCAN, 0};

/* The client's entry, made when missing (*fresh set), at the head of the list. NIL when none could be made. */
static uint32_t obtain(const px_limit_table *t, px_stripe *s, const px_ip *ip, uint32_t zone, uint32_t h, int *fresh)
{
    uint32_t i = find(t, s, ip, zone, h);
    *fresh = i == NIL;
    if (i != NIL) {
        px_stripes_touch(&t->st, s, i);
        return i;
    }
    i = px_stripes_take(&t->st, s, h, &evict_rule, NULL);
    if (i == NIL)
        return NIL;
    entry *e = at(t, s, i);
    memcpy(e->addr, ip->addr, 16);
    e->family = ip->family;
    e->zone = zone;
    return i;
}

/* ---------------------------------------------------------------- limits */

px_limit_rc px_limit_req(px_limit_table *t, const px_ip *ip, uint32_t zone, const px_rate *r, uint64_t now_ms,
                         uint64_t *ms)
{
    uint64_t h = key_hash(t, ip, zone);
    px_stripe *s = px_stripes_of(&t->st, h);
    int fresh;
    px_limit_rc rc = PX_LIMIT_FULL;
    *ms = 0;
    pthread_spin_lock(&s->lock);
    uint32_t i = obtain(t, s, ip, zone, (uint32_t)h, &fresh);
    if (i != NIL) {
        entry *e = at(t, s, i);
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
    px_stripe *s = px_stripes_of(&t->st, h);
    int fresh;
    px_limit_rc rc = PX_LIMIT_FULL;
    pthread_spin_lock(&s->lock);
    uint32_t i = obtain(t, s, ip, zone, (uint32_t)h, &fresh);
    if (i != NIL && at(t, s, i)->conns >= max)
        rc = PX_LIMIT_BUSY;
    else if (i != NIL) {
        at(t, s, i)->conns++;
        *slot = (uint32_t)(s - t->st.stripes) * t->st.per_stripe + i;
        rc = PX_LIMIT_OK;
    }
    pthread_spin_unlock(&s->lock);
    return rc;
}

void px_limit_conn_release(px_limit_table *t, uint32_t slot)
{
    px_stripe *s = &t->st.stripes[slot / t->st.per_stripe];
    pthread_spin_lock(&s->lock);
    entry *e = at(t, s, slot % t->st.per_stripe);
    if (e->conns) /* never below zero, whatever a caller does */
        e->conns--;
    pthread_spin_unlock(&s->lock);
}

/* ---------------------------------------------------------------- inspection */

uint32_t px_limit_table_count(px_limit_table *t)
{
    return px_stripes_count(&t->st);
}

int px_limit_table_contains(px_limit_table *t, const px_ip *ip, uint32_t zone)
{
    uint64_t h = key_hash(t, ip, zone);
    px_stripe *s = px_stripes_of(&t->st, h);
    pthread_spin_lock(&s->lock);
    int found = find(t, s, ip, zone, (uint32_t)h) != NIL;
    pthread_spin_unlock(&s->lock);
    return found;
}
