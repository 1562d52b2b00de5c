/* proxyd striped tables: allocation, references, and inside a stripe the least recently used list and the hash
 * chains, with eviction by the owner's rule. The owners keep their keys, hashing and policy. */
#include "common/stripes.h"

#include <stdlib.h>
#include <string.h>

static uint32_t pow2_at_least(uint32_t n)
{
    uint32_t p = 1;
    while (p < n)
        p <<= 1;
    return p;
}

int px_stripes_init(px_stripes *st, uint32_t entries, unsigned nstripes, size_t esize)
{
    memset(st, 0, sizeof(*st));
    if (!entries || !nstripes || (nstripes & (nstripes - 1)) || esize < sizeof(px_stripes_node) || esize > UINT32_MAX)
        return -1;
    atomic_init(&st->refs, 1);
    st->nstripes = nstripes;
    st->per_stripe = (uint32_t)(((uint64_t)entries + nstripes - 1) / nstripes);
    st->chain_mask = pow2_at_least(st->per_stripe) - 1;
    st->esize = (uint32_t)esize;
    size_t nent = (size_t)st->per_stripe * nstripes, nchains = ((size_t)st->chain_mask + 1) * nstripes;
    st->stripes = aligned_alloc(64, nstripes * sizeof(px_stripe)); /* sizeof(px_stripe) is a multiple of 64 */
    st->entries = calloc(nent, esize);
    st->chains = malloc(nchains * sizeof(uint32_t));
    if (!st->stripes || !st->entries || !st->chains) {
        free(st->stripes);
        free(st->entries);
        free(st->chains);
        return -1;
    }
    memset(st->chains, 0xff, nchains * sizeof(uint32_t)); /* PX_STRIPES_NIL */
    for (unsigned k = 0; k < nstripes; k++) {
        px_stripe *s = &st->stripes[k];
        memset(s, 0, sizeof(*s));
        pthread_spin_init(&s->lock, PTHREAD_PROCESS_PRIVATE);
        s->head = s->tail = PX_STRIPES_NIL;
        s->e = st->entries + (size_t)k * st->per_stripe * esize;
        s->chains = st->chains + (size_t)k * (st->chain_mask + 1);
    }
    return 0;
}

void px_stripes_ref(px_stripes *st)
{
    atomic_fetch_add(&st->refs, 1);
}

int px_stripes_unref(px_stripes *st)
{
    if (atomic_fetch_sub(&st->refs, 1) != 1)
        return 0;
    for (unsigned k = 0; k < st->nstripes; k++)
        pthread_spin_destroy(&st->stripes[k].lock);
    free(st->stripes);
    free(st->entries);
    free(st->chains);
    return 1;
}

uint32_t px_stripes_capacity(const px_stripes *st)
{
    return st->per_stripe * st->nstripes;
}

size_t px_stripes_bytes(const px_stripes *st)
{
    size_t nent = (size_t)st->per_stripe * st->nstripes, nchains = ((size_t)st->chain_mask + 1) * st->nstripes;
    return st->nstripes * sizeof(px_stripe) + nent * st->esize + nchains * sizeof(uint32_t);
}

uint32_t px_stripes_count(px_stripes *st)
{
    uint32_t n = 0;
    for (unsigned k = 0; k < st->nstripes; k++) {
        pthread_spin_lock(&st->stripes[k].lock);
        n += st->stripes[k].used;
        pthread_spin_unlock(&st->stripes[k].lock);
    }
    return n;
}

/* ---------------------------------------------------------------- inside one stripe, its lock held */

static px_stripes_node *node(const px_stripes *st, const px_stripe *s, uint32_t i)
{
    return px_stripes_at(st, s, i);
}

static void lru_unlink(const px_stripes *st, px_stripe *s, uint32_t i)
{
    px_stripes_node *n = node(st, s, i);
    if (n->lprev != PX_STRIPES_NIL)
        node(st, s, n->lprev)->lnext = n->lnext;
    else
        s->head = n->lnext;
    if (n->lnext != PX_STRIPES_NIL)
        node(st, s, n->lnext)->lprev = n->lprev;
    else
        s->tail = n->lprev;
}

static void lru_push_head(const px_stripes *st, px_stripe *s, uint32_t i)
{
    px_stripes_node *n = node(st, s, i);
    n->lprev = PX_STRIPES_NIL;
    n->lnext = s->head;
    if (s->head != PX_STRIPES_NIL)
        node(st, s, s->head)->lprev = i;
    s->head = i;
    if (s->tail == PX_STRIPES_NIL)
        s->tail = i;
}

static void chain_unlink(const px_stripes *st, px_stripe *s, uint32_t i)
{
    uint32_t *p = &s->chains[node(st, s, i)->hash & st->chain_mask];
    while (*p != i)
        p = &node(st, s, *p)->hnext;
    *p = node(st, s, i)->hnext;
}

void px_stripes_touch(const px_stripes *st, px_stripe *s, uint32_t i)
{
    lru_unlink(st, s, i);
    lru_push_head(st, s, i);
}

/* Entries held back that the scan meets move to the head (they are in use), so the scan is bounded and the next
 * one looks further. Unlinked from list and chain. */
static uint32_t evict(const px_stripes *st, px_stripe *s, const px_stripes_evict *ev, int *forced)
{
    uint32_t i = PX_STRIPES_NIL;
    for (int n = 0; n < ev->scan && s->tail != PX_STRIPES_NIL; n++) {
        i = s->tail;
        lru_unlink(st, s, i);
        if (!ev->keep(px_stripes_at(st, s, i), ev->arg)) {
            chain_unlink(st, s, i);
            return i;
        }
        lru_push_head(st, s, i);
    }
    if (i == PX_STRIPES_NIL || !ev->last_resort)
        return PX_STRIPES_NIL;
    i = s->tail;
    lru_unlink(st, s, i);
    chain_unlink(st, s, i);
    *forced = 1;
    return i;
}

uint32_t px_stripes_take(const px_stripes *st, px_stripe *s, uint32_t hash, const px_stripes_evict *ev, int *forced)
{
    int last = 0;
    uint32_t i = s->used < st->per_stripe ? s->used++ : evict(st, s, ev, &last);
    if (forced)
        *forced = last;
    if (i == PX_STRIPES_NIL)
        return PX_STRIPES_NIL;
    px_stripes_node *n = node(st, s, i);
    memset(n, 0, st->esize);
    n->hash = hash;
    n->hnext = s->chains[hash & st->chain_mask];
    s->chains[hash & st->chain_mask] = i;
    lru_push_head(st, s, i);
    return i;
}

/* ---------------------------------------------------------------- invariants */

/* The list holds each entry in use once, in both directions; each chain holds only entries of its hash. */
static int stripe_valid(const px_stripes *st, const px_stripe *s)
{
    uint32_t n = 0, prev = PX_STRIPES_NIL;
    for (uint32_t i = s->head; i != PX_STRIPES_NIL; prev = i, i = node(st, s, i)->lnext)
        if (i >= s->used || node(st, s, i)->lprev != prev || ++n > s->used)
            return 0;
    if (n != s->used || s->tail != prev)
        return 0;
    n = 0;
    for (uint32_t c = 0; c <= st->chain_mask; c++)
        for (uint32_t i = s->chains[c]; i != PX_STRIPES_NIL; i = node(st, s, i)->hnext)
            if (i >= s->used || (node(st, s, i)->hash & st->chain_mask) != c || ++n > s->used)
                return 0;
    return n == s->used;
}

int px_stripes_validate(px_stripes *st)
{
    int ok = 1;
    for (unsigned k = 0; k < st->nstripes; k++) {
        pthread_spin_lock(&st->stripes[k].lock);
        ok &= stripe_valid(st, &st->stripes[k]);
        pthread_spin_unlock(&st->stripes[k].lock);
    }
    return ok ? 0 : -1;
}
