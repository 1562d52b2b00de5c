/* proxyd auth_guard table: fixed entries keyed by account, client address or (account, client), in stripes with a
 * spin lock, hash chains and a least recently used list each (common/stripes.c). Windows are aligned to multiples
 * of their length, so a pair's counts line up with its account's; the count in a window slides (Cloudflare's
 * approximation: the previous window weighted by how much of it is still inside). */
#include "common/authguard.h"

#include <stdlib.h>
#include <string.h>

#include "common/constants.h"
#include "common/stripes.h"

#define NIL PX_STRIPES_NIL

enum { K_ACCOUNT = 1, K_CLIENT, K_PAIR };

typedef struct entry {
    px_stripes_node node; /* node.hash: the low half of the key's hash */
    uint64_t start_ms;    /* the current window began (a multiple of its length) */
    uint64_t until_ms;    /* blocked until then; 0: not blocked */
    uint32_t prev, cur;
    uint32_t hash_hi; /* the high half: a pair is known by the full 64-bit hash alone */
    uint8_t kind;
    union {
        char name[PX_CRED_ACCOUNT_MAX + 1];
        px_ip ip;
    } id;
} entry;

struct px_ag_table {
    px_stripes st;
    uint64_t seed[4]; /* per kind of key, mixed from the table's seed */
    px_ag_stats stats;
};

/* ---------------------------------------------------------------- hashing */

static uint64_t hash_bytes(uint64_t h, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i += 8) {
        uint64_t w = 0;
        memcpy(&w, b + i, n - i < 8 ? n - i : 8);
        h = px_stripes_mix(h ^ w ^ (uint64_t)(n - i) << 56);
    }
    return h;
}

/* Seeded: a sprayer choosing account names or IPv6 addresses cannot aim them at one chain. */
static uint64_t key_of(const px_ag_table *t, int kind, const char *account, const px_ip *ip)
{
    uint64_t h = t->seed[kind];
    if (account)
        h = hash_bytes(h, account, strlen(account));
    if (ip) {
        uint64_t a, b;
        memcpy(&a, ip->addr, 8);
        memcpy(&b, ip->addr + 8, 8);
        h = px_stripes_mix(px_stripes_mix(h ^ a) ^ b ^ (uint64_t)ip->family << 56);
    }
    return h;
}

/* ---------------------------------------------------------------- the table */

px_ag_table *px_ag_table_new(uint32_t entries, unsigned stripes, uint64_t seed)
{
    px_ag_table *t = calloc(1, sizeof(*t));
    if (!t)
        return NULL;
    if (px_stripes_init(&t->st, entries, stripes, sizeof(entry)) < 0) {
        free(t);
        return NULL;
    }
    for (int k = 0; k < 4; k++)
        t->seed[k] = px_stripes_mix(seed ^ (uint64_t)k);
    return t;
}

void px_ag_table_ref(px_ag_table *t)
{
    px_stripes_ref(&t->st);
}

void px_ag_table_unref(px_ag_table *t)
{
    if (t && px_stripes_unref(&t->st))
        free(t);
}

uint32_t px_ag_table_capacity(const px_ag_table *t)
{
    return px_stripes_capacity(&t->st);
}

size_t px_ag_table_bytes(const px_ag_table *t)
{
    return sizeof(*t) + px_stripes_bytes(&t->st);
}

px_ag_stats *px_ag_table_stats(px_ag_table *t)
{
    return &t->stats;
}

uint32_t px_ag_table_count(px_ag_table *t)
{
    return px_stripes_count(&t->st);
}

/* ---------------------------------------------------------------- one stripe, its lock held */

static entry *at(const px_ag_table *t, const px_stripe *s, uint32_t i)
{
    return px_stripes_at(&t->st, s, i);
}

static int same(const entry *e, uint64_t h, int kind, const char *account, const px_ip *ip)
{
    if (e->node.hash != (uint32_t)h || e->hash_hi != (uint32_t)(h >> 32) || e->kind != kind)
        return 0;
    if (kind == K_ACCOUNT)
        return strcmp(e->id.name, account) == 0;
    if (kind == K_CLIENT)
        return e->id.ip.family == ip->family && memcmp(e->id.ip.addr, ip->addr, sizeof(ip->addr)) == 0;
    return 1; /* a pair: the 64-bit seeded hash */
}

static uint32_t find(const px_ag_table *t, const px_stripe *s, uint64_t h, int kind, const char *account,
                     const px_ip *ip)
{
    for (uint32_t i = px_stripes_chain(&t->st, s, (uint32_t)h); i != NIL; i = at(t, s, i)->node.hnext)
        if (same(at(t, s, i), h, kind, account, ip))
            return i;
    return NIL;
}

static int blocked(const void *e, const void *now)
{
    return ((const entry *)e)->until_ms > *(const uint64_t *)now;
}

/* The entry for the key, made when missing and create is set; at the head of the list. A new key takes the least
 * recently used entry that is not blocked, or, when the scan meets only blocked ones, the least recently used of
 * those (counted: the table is too small for the attack). */
static entry *obtain(px_ag_table *t, px_stripe *s, uint64_t h, int kind, const char *account, const px_ip *ip,
                     int create, uint64_t now)
{
    uint32_t i = find(t, s, h, kind, account, ip);
    if (i != NIL) {
        px_stripes_touch(&t->st, s, i);
        return at(t, s, i);
    }
    if (!create)
        return NULL;
    px_stripes_evict rule = {blocked, &now, PX_AG_EVICT_SCAN, 1};
    int forced;
    i = px_stripes_take(&t->st, s, (uint32_t)h, &rule, &forced);
    if (forced)
        atomic_fetch_add_explicit(&t->stats.evicted_blocked, 1, memory_order_relaxed);
    if (i == NIL)
        return NULL;
    entry *e = at(t, s, i);
    e->hash_hi = (uint32_t)(h >> 32);
    e->kind = (uint8_t)kind;
    if (kind == K_ACCOUNT)
        strncpy(e->id.name, account, PX_CRED_ACCOUNT_MAX);
    else if (kind == K_CLIENT)
        e->id.ip = *ip;
    return e;
}

/* ---------------------------------------------------------------- windows */

/* Moves the entry's windows to the one holding now: the current becomes the previous when adjacent. */
static void roll(entry *e, uint64_t now, uint64_t w)
{
    uint64_t ws = now - now % w;
    if (ws <= e->start_ms)
        return; /* the same window, or a worker whose clock is a little behind */
    e->prev = ws - e->start_ms == w ? e->cur : 0;
    e->cur = 0;
    e->start_ms = ws;
}

/* Failures within the last w: the current window and the part of the previous one still inside. */
static uint32_t count(const entry *e, uint64_t now, uint64_t w)
{
    uint64_t d = now > e->start_ms ? now - e->start_ms : 0;
    if (d >= w)
        return e->cur;
    return e->cur + (uint32_t)((uint64_t)e->prev * (w - d) / w);
}

/* A block whose time is over is lifted, with a fresh window: what led to it is not counted twice. */
static int expire(entry *e, uint64_t now)
{
    if (!e->until_ms || now < e->until_ms)
        return 0;
    e->until_ms = 0;
    e->prev = e->cur = 0;
    return 1;
}

/* ---------------------------------------------------------------- operations */

enum { OP_CHECK, OP_FAIL };

/* One account or client entry: checked, or one more failure counted. */
static void step(px_ag_table *t, int kind, const char *account, const px_ip *ip, const px_ag_limit *lim, uint64_t now,
                 int op, px_ag_verdict *v)
{
    uint64_t h = key_of(t, kind, account, ip);
    px_stripe *s = px_stripes_of(&t->st, h);
    unsigned bit = kind == K_ACCOUNT ? PX_AG_BY_ACCOUNT : PX_AG_BY_CLIENT;
    uint32_t n = 0;
    pthread_spin_lock(&s->lock);
    entry *e = obtain(t, s, h, kind, account, ip, op == OP_FAIL, now);
    if (e) {
        if (expire(e, now))
            v->ended |= bit;
        roll(e, now, lim->window_ms);
        if (op == OP_FAIL)
            e->cur++;
        n = count(e, now, lim->window_ms);
        if (op == OP_FAIL && !e->until_ms && n >= lim->max) {
            e->until_ms = now + lim->window_ms;
            v->started |= bit;
        }
        if (e->until_ms) {
            v->blocked |= bit;
            if (e->until_ms - now > v->retry_ms)
                v->retry_ms = e->until_ms - now;
        }
    }
    pthread_spin_unlock(&s->lock);
    *(kind == K_ACCOUNT ? &v->account_fails : &v->client_fails) = n;
}

/* Counts the blocks a call started and lifted. */
static void tally(px_ag_table *t, const px_ag_verdict *v)
{
    for (int k = 0; k < 2; k++) {
        unsigned bit = k ? PX_AG_BY_CLIENT : PX_AG_BY_ACCOUNT;
        if (v->started & bit)
            atomic_fetch_add_explicit(&t->stats.blocks[k], 1, memory_order_relaxed);
        if (v->ended & bit)
            atomic_fetch_add_explicit(&t->stats.unblocks[k], 1, memory_order_relaxed);
    }
}

void px_ag_check(px_ag_table *t, const char *account, const px_ip *ip, const px_ag_limit *acc, const px_ag_limit *cli,
                 uint64_t now_ms, px_ag_verdict *v)
{
    memset(v, 0, sizeof(*v));
    if (ip->family)
        step(t, K_CLIENT, NULL, ip, cli, now_ms, OP_CHECK, v);
    if (account[0])
        step(t, K_ACCOUNT, account, NULL, acc, now_ms, OP_CHECK, v);
    tally(t, v);
}

/* The pair's entry: one more failure (add 1), or its failures taken (add 0: *prev and *cur set, entry zeroed). */
static void pair_step(px_ag_table *t, const char *account, const px_ip *ip, const px_ag_limit *acc, uint64_t now,
                      int add, uint32_t *prev, uint32_t *cur)
{
    uint64_t h = key_of(t, K_PAIR, account, ip);
    px_stripe *s = px_stripes_of(&t->st, h);
    *prev = *cur = 0;
    pthread_spin_lock(&s->lock);
    entry *e = obtain(t, s, h, K_PAIR, account, ip, add, now);
    if (e) {
        roll(e, now, acc->window_ms);
        if (add)
            e->cur++;
        else {
            *prev = e->prev;
            *cur = e->cur;
            e->prev = e->cur = 0;
        }
    }
    pthread_spin_unlock(&s->lock);
}

void px_ag_fail(px_ag_table *t, const char *account, const px_ip *ip, const px_ag_limit *acc, const px_ag_limit *cli,
                uint64_t now_ms, px_ag_verdict *v)
{
    memset(v, 0, sizeof(*v));
    atomic_fetch_add_explicit(&t->stats.failures, 1, memory_order_relaxed);
    if (ip->family)
        step(t, K_CLIENT, NULL, ip, cli, now_ms, OP_FAIL, v);
    if (account[0])
        step(t, K_ACCOUNT, account, NULL, acc, now_ms, OP_FAIL, v);
    if (account[0] && ip->family) {
        uint32_t p, c;
        pair_step(t, account, ip, acc, now_ms, 1, &p, &c);
    }
    tally(t, v);
}

/* Takes prev and cur failures off an account or client entry (never below zero). */
static void forgive(px_ag_table *t, int kind, const char *account, const px_ip *ip, const px_ag_limit *lim,
                    uint64_t now, uint32_t prev, uint32_t cur)
{
    uint64_t h = key_of(t, kind, account, ip);
    px_stripe *s = px_stripes_of(&t->st, h);
    pthread_spin_lock(&s->lock);
    entry *e = obtain(t, s, h, kind, account, ip, 0, now);
    if (e) {
        roll(e, now, lim->window_ms);
        uint32_t all = prev + cur, c = all < e->cur ? all : e->cur; /* the current window first */
        e->cur -= c;
        all -= c;
        e->prev -= all < e->prev ? all : e->prev;
    }
    pthread_spin_unlock(&s->lock);
}

void px_ag_succeed(px_ag_table *t, const char *account, const px_ip *ip, const px_ag_limit *acc, const px_ag_limit *cli,
                   uint64_t now_ms)
{
    uint32_t prev, cur;
    if (!account[0] || !ip->family)
        return;
    pair_step(t, account, ip, acc, now_ms, 0, &prev, &cur);
    if (!prev && !cur)
        return;
    atomic_fetch_add_explicit(&t->stats.successes, 1, memory_order_relaxed);
    forgive(t, K_ACCOUNT, account, NULL, acc, now_ms, prev, cur);
    forgive(t, K_CLIENT, NULL, ip, cli, now_ms, prev, cur);
}

int px_ag_clear(px_ag_table *t, const char *account, const px_ip *ip, uint64_t now_ms)
{
    int kind = account ? K_ACCOUNT : K_CLIENT, rc = -1;
    uint64_t h = key_of(t, kind, account, account ? NULL : ip);
    px_stripe *s = px_stripes_of(&t->st, h);
    pthread_spin_lock(&s->lock);
    entry *e = obtain(t, s, h, kind, account, account ? NULL : ip, 0, now_ms);
    if (e) {
        rc = e->until_ms > now_ms;
        e->until_ms = 0;
        e->prev = e->cur = 0;
    }
    pthread_spin_unlock(&s->lock);
    if (rc == 1)
        atomic_fetch_add_explicit(&t->stats.unblocks[kind == K_CLIENT], 1, memory_order_relaxed);
    return rc;
}

uint32_t px_ag_list_blocked(px_ag_table *t, uint64_t now_ms, px_ag_visit visit, void *arg)
{
    uint32_t n = 0;
    for (unsigned k = 0; k < t->st.nstripes; k++) {
        px_stripe *s = &t->st.stripes[k];
        pthread_spin_lock(&s->lock);
        for (uint32_t i = 0; i < s->used; i++) {
            const entry *e = at(t, s, i);
            if (e->kind == K_PAIR || e->until_ms <= now_ms)
                continue;
            n++;
            if (visit)
                visit(arg, e->kind == K_ACCOUNT ? e->id.name : NULL, e->kind == K_CLIENT ? &e->id.ip : NULL,
                      e->cur + e->prev, e->until_ms - now_ms);
        }
        pthread_spin_unlock(&s->lock);
    }
    return n;
}
