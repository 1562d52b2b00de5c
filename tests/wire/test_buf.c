/* test_buf.c: block pools and byte buffers (buf.c): reuse, the max_free bound, alignment, consume/compact. */
#include <stdint.h>
#include <string.h>

#include "wire_test.h"

START_TEST(test_pool_reuse_and_bound)
{
    wire_pool p;
    wire_pool_init(&p, 16384, 2);
    void *a = wire_pool_get(&p);
    ck_assert_ptr_nonnull(a);
    ck_assert_uint_eq((uintptr_t)a % 64, 0);
    memset(a, 0xab, 16384);
    ck_assert_uint_eq(p.in_use, 1);
    wire_pool_put(&p, a);
    ck_assert_uint_eq(p.in_use, 0);
    ck_assert_uint_eq(p.free_count, 1);
    ck_assert_ptr_eq(wire_pool_get(&p), a); /* warm: the same block comes back */
    void *blocks[5] = {a};
    for (int i = 1; i < 5; i++)
        ck_assert_ptr_nonnull(blocks[i] = wire_pool_get(&p));
    ck_assert_uint_eq(p.in_use, 5);
    for (int i = 0; i < 5; i++)
        wire_pool_put(&p, blocks[i]);
    ck_assert_uint_eq(p.in_use, 0);
    ck_assert_uint_eq(p.free_count, 2); /* the rest went back to malloc */
    wire_pool_put(&p, NULL);
    ck_assert_uint_eq(p.in_use, 0);
    wire_pool_drain(&p);
    ck_assert_uint_eq(p.free_count, 0);
    ck_assert_ptr_null(p._free);
}
END_TEST

START_TEST(test_pool_small_blocks)
{
    wire_pool p;
    wire_pool_init(&p, 1, 8); /* smaller than the free-list link */
    void *a = wire_pool_get(&p), *b = wire_pool_get(&p);
    ck_assert_ptr_nonnull(a);
    ck_assert_ptr_ne(a, b);
    wire_pool_put(&p, a);
    wire_pool_put(&p, b);
    ck_assert_ptr_eq(wire_pool_get(&p), b); /* LIFO: the hottest block first */
    wire_pool_put(&p, b);
    wire_pool_drain(&p);
    ck_assert_uint_eq(p.free_count, 0);
}
END_TEST

START_TEST(test_buf_consume_compact)
{
    char block[16];
    wire_buf b = {.base = block, .cap = sizeof block};
    memcpy(wire_buf_tail(&b), "hello world", 11);
    b.end += 11;
    ck_assert_uint_eq(wire_buf_len(&b), 11);
    ck_assert_uint_eq(wire_buf_room(&b), 5);
    wire_buf_consume(&b, 6);
    ck_assert_uint_eq(wire_buf_len(&b), 5);
    ck_assert_int_eq(memcmp(wire_buf_data(&b), "world", 5), 0);
    wire_buf_compact(&b);
    ck_assert_uint_eq(b.start, 0);
    ck_assert_uint_eq(wire_buf_room(&b), 11);
    ck_assert_int_eq(memcmp(wire_buf_data(&b), "world", 5), 0);
    wire_buf_compact(&b); /* already compact */
    ck_assert_uint_eq(wire_buf_len(&b), 5);
    wire_buf_consume(&b, 100); /* more than held: empty and reset */
    ck_assert_uint_eq(b.start, 0);
    ck_assert_uint_eq(b.end, 0);
    ck_assert_uint_eq(wire_buf_room(&b), 16);
    wire_buf empty = {0};
    wire_buf_compact(&empty);
    wire_buf_consume(&empty, 0);
    ck_assert_uint_eq(wire_buf_len(&empty), 0);
}
END_TEST

static Suite *buf_suite(void)
{
    Suite *s = suite_create("wire_buf");
    TCase *tc = tcase_create("buf");
    tcase_add_test(tc, test_pool_reuse_and_bound);
    tcase_add_test(tc, test_pool_small_blocks);
    tcase_add_test(tc, test_buf_consume_compact);
    suite_add_tcase(s, tc);
    return s;
}

WIRE_TEST_MAIN(buf_suite)
