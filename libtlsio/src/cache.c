/* libtlsio session-id cache: a fixed-size table shared by all workers, split in shards with one mutex each;
 * sessions are stored serialised (mbedtls_ssl_session_save), evicted FIFO and expired after the timeout. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "internal.h"

#define NSHARDS 16
#define BLOB_MAX 200 /* a server session without client certificate serialises to about 120 bytes */

struct entry {
    int64_t expires; /* monotonic seconds; 0 when the slot is free */
    int32_t next;    /* next slot in the bucket chain, -1 ends */
    uint16_t blob_len;
    uint8_t id_len;
    uint8_t ems; /* its full handshake used extended master secret (abort.c: RFC 7627 §5.3) */
    uint8_t id[32];
    unsigned char blob[BLOB_MAX];
};

struct shard {
    pthread_mutex_t lock;
    struct entry *slots;
    int32_t *heads; /* nbuckets chain heads */
    uint32_t cap, nbuckets, fifo;
};

struct tlsio__cache {
    unsigned timeout;
    struct shard shards[NSHARDS];
};

static int64_t now_sec(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec;
}

static uint32_t hash_id(const unsigned char *id, size_t len)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < len; i++)
        h = (h ^ id[i]) * 16777619u;
    return h;
}

static int shard_init(struct shard *sh, uint32_t cap)
{
    sh->cap = cap;
    sh->nbuckets = 1;
    while (sh->nbuckets < cap)
        sh->nbuckets <<= 1;
    sh->slots = calloc(cap, sizeof *sh->slots);
    sh->heads = malloc(sh->nbuckets * sizeof *sh->heads);
    if (sh->slots == NULL || sh->heads == NULL)
        return TLSIO_ENOMEM;
    memset(sh->heads, 0xff, sh->nbuckets * sizeof *sh->heads);
    return pthread_mutex_init(&sh->lock, NULL) == 0 ? TLSIO_OK : TLSIO_ENOMEM;
}

struct tlsio__cache *tlsio__cache_new(size_t bytes, unsigned timeout)
{
    struct tlsio__cache *c = calloc(1, sizeof *c);
    if (c == NULL)
        return NULL;
    c->timeout = timeout;
    size_t total = bytes / sizeof(struct entry);
    uint32_t per = (uint32_t)(total / NSHARDS > 0 ? (total / NSHARDS > 1u << 24 ? 1u << 24 : total / NSHARDS) : 1);
    for (int i = 0; i < NSHARDS; i++) {
        if (shard_init(&c->shards[i], per) != TLSIO_OK) {
            c->shards[i].cap = 0; /* marks the lock as not initialised for free */
            free(c->shards[i].slots);
            free(c->shards[i].heads);
            c->shards[i].slots = NULL;
            c->shards[i].heads = NULL;
            tlsio__cache_free(c);
            return NULL;
        }
    }
    return c;
}

void tlsio__cache_free(struct tlsio__cache *c)
{
    if (c == NULL)
        return;
    for (int i = 0; i < NSHARDS; i++) {
        struct shard *sh = &c->shards[i];
        if (sh->cap > 0)
            pthread_mutex_destroy(&sh->lock);
        free(sh->slots);
        free(sh->heads);
    }
    free(c);
}

size_t tlsio__cache_capacity(const struct tlsio__cache *c)
{
    return (size_t)c->shards[0].cap * NSHARDS;
}

static int32_t *find(struct shard *sh, const unsigned char *id, size_t len, uint32_t h)
{
    int32_t *link = &sh->heads[h & (sh->nbuckets - 1)];
    while (*link >= 0) {
        struct entry *e = &sh->slots[*link];
        if (e->id_len == len && memcmp(e->id, id, len) == 0)
            return link;
        link = &e->next;
    }
    return link;
}

static void unlink_slot(struct shard *sh, uint32_t slot)
{
    struct entry *e = &sh->slots[slot];
    int32_t *link = find(sh, e->id, e->id_len, hash_id(e->id, e->id_len));
    if (*link == (int32_t)slot)
        *link = e->next;
    e->expires = 0;
}

/* mbedTLS f_get_cache: 0 and the session filled in when found and fresh, 1 otherwise. */
int tlsio__cache_get(void *cache, const unsigned char *id, size_t id_len, mbedtls_ssl_session *session)
{
    struct tlsio__cache *c = cache;
    if (id_len == 0 || id_len > 32)
        return 1;
    uint32_t h = hash_id(id, id_len);
    struct shard *sh = &c->shards[(h >> 24) % NSHARDS];
    unsigned char blob[BLOB_MAX];
    size_t blob_len = 0;
    int ems = 0;
    pthread_mutex_lock(&sh->lock);
    int32_t *link = find(sh, id, id_len, h);
    if (*link >= 0) {
        struct entry *e = &sh->slots[*link];
        if (e->expires > now_sec()) {
            blob_len = e->blob_len;
            memcpy(blob, e->blob, blob_len);
            ems = e->ems;
        }
    }
    pthread_mutex_unlock(&sh->lock);
    if (blob_len == 0 || tlsio__ems_refused(ems))
        return 1;
    /* Deserialise outside the lock; the session's id is restored from the blob. */
    return mbedtls_ssl_session_load(session, blob, blob_len) == 0 ? 0 : 1;
}

/* mbedTLS f_set_cache: stores (or replaces) the session; sessions too large for a slot are not cached. */
int tlsio__cache_set(void *cache, const unsigned char *id, size_t id_len, const mbedtls_ssl_session *session)
{
    struct tlsio__cache *c = cache;
    unsigned char blob[BLOB_MAX];
    size_t blob_len = 0;
    if (id_len == 0 || id_len > 32)
        return 1;
    if (mbedtls_ssl_session_save(session, blob, sizeof blob, &blob_len) != 0)
        return 1;
    uint32_t h = hash_id(id, id_len);
    struct shard *sh = &c->shards[(h >> 24) % NSHARDS];
    pthread_mutex_lock(&sh->lock);
    int32_t *link = find(sh, id, id_len, h);
    uint32_t slot;
    if (*link >= 0) {
        slot = (uint32_t)*link;
    } else {
        slot = sh->fifo;
        sh->fifo = (sh->fifo + 1) % sh->cap;
        if (sh->slots[slot].expires != 0)
            unlink_slot(sh, slot);
        link = find(sh, id, id_len, h); /* the unlink may have changed the chain */
        sh->slots[slot].next = -1;
        *link = (int32_t)slot;
    }
    struct entry *e = &sh->slots[slot];
    e->expires = now_sec() + c->timeout;
    e->id_len = (uint8_t)id_len;
    e->ems = (uint8_t)tlsio__ems_stamp();
    memcpy(e->id, id, id_len);
    e->blob_len = (uint16_t)blob_len;
    memcpy(e->blob, blob, blob_len);
    pthread_mutex_unlock(&sh->lock);
    return 0;
}
