/* buf.c: fixed-size block pools (an intrusive free list with a bounded cache) and wire_buf front/compact.
 * A pool serves one worker and is not thread-safe; blocks of 64 bytes or more are cache-line aligned. */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

#define WIRE__CACHE_LINE 64

void wire_pool_init(wire_pool *p, size_t block_size, size_t max_free)
{
    p->block_size = block_size;
    p->max_free = max_free;
    p->in_use = 0;
    p->free_count = 0;
    p->_free = NULL;
}

static void *pool_alloc(const wire_pool *p)
{
    size_t size = p->block_size < sizeof(void *) ? sizeof(void *) : p->block_size;
    if (size < WIRE__CACHE_LINE)
        return malloc(size);
    if (size > SIZE_MAX - (WIRE__CACHE_LINE - 1))
        return NULL;
    size = (size + WIRE__CACHE_LINE - 1) & ~(size_t)(WIRE__CACHE_LINE - 1); /* aligned_alloc wants a multiple */
    return aligned_alloc(WIRE__CACHE_LINE, size);
}

void *wire_pool_get(wire_pool *p)
{
    void *block = p->_free;
    if (block) {
        memcpy(&p->_free, block, sizeof(void *)); /* the first word of a free block links to the next */
        p->free_count--;
    } else {
        block = pool_alloc(p);
        if (!block)
            return NULL;
    }
    p->in_use++;
    return block;
}

void wire_pool_put(wire_pool *p, void *block)
{
    if (!block)
        return;
    p->in_use--;
    if (p->free_count >= p->max_free) {
        free(block);
        return;
    }
    memcpy(block, &p->_free, sizeof(void *));
    p->_free = block;
    p->free_count++;
}

void wire_pool_drain(wire_pool *p)
{
    while (p->_free) {
        void *block = p->_free;
        memcpy(&p->_free, block, sizeof(void *));
        free(block);
    }
    p->free_count = 0;
}

void wire_buf_consume(wire_buf *b, size_t n)
{
    if (n >= b->end - b->start) {
        b->start = b->end = 0;
        return;
    }
    b->start += n;
}

void wire_buf_compact(wire_buf *b)
{
    size_t len = b->end - b->start;
    if (b->start == 0)
        return;
    if (len)
        memmove(b->base, b->base + b->start, len);
    b->start = 0;
    b->end = len;
}
