/* tests/proxyd: common/: field classification, Connection options, the underscore rule, log escaping, and the
 * log reopen that must keep the descriptor's number (another thread may be writing to it). */
#include <check.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/fields.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/stripes.h"

static http_slice S(const char *s)
{
    return http_slice_of(s, strlen(s));
}

static const struct {
    const char *name;
    px_field_kind kind;
} kinds[] = {
    {"Host", PF_HOST},
    {"content-length", PF_CONTENT_LENGTH},
    {"Transfer-Encoding", PF_TRANSFER_ENCODING},
    {"TRANSFER-ENCODING", PF_TRANSFER_ENCODING},
    {"Transfer_Encoding", PF_OTHER},
    {"Transfer-Encodings", PF_OTHER},
    {"X-Forwarded-For", PF_X_FORWARDED_FOR},
    {"Proxy-Authorization", PF_PROXY_AUTHORIZATION},
    {"te", PF_TE},
    {"t", PF_OTHER},
    {"", PF_OTHER},
    {"WWW-Authenticate", PF_WWW_AUTHENTICATE},
};

START_TEST(classify)
{
    ck_assert_int_eq(px_field_classify(S(kinds[_i].name)), kinds[_i].kind);
}
END_TEST

static const struct {
    const char *value;
    int names;
} connections[] = {
    {"close", 0},
    {"keep-alive", 0},
    {"Upgrade", 0},
    {"keep-alive, Upgrade", 0},
    {" close ,\tkeep-alive ", 0},
    {"X-Secret", 1},
    {"close, X-Secret", 1},
    {"keep-alive,,x", 1},
    {"", 0},
};

START_TEST(connection_names_fields)
{
    http_field f[2] = {{S("Accept"), S("*/*")}, {S("Connection"), S(connections[_i].value)}};
    ck_assert_msg(px_connection_names_fields(f, 2) == connections[_i].names, "Connection: %s", connections[_i].value);
}
END_TEST

START_TEST(underscore)
{
    ck_assert(px_field_has_underscore(S("Transfer_Encoding")));
    ck_assert(px_field_has_underscore(S("_")));
    ck_assert(!px_field_has_underscore(S("X-Custom")));
    ck_assert(!px_field_has_underscore(S("")));
}
END_TEST

START_TEST(copy_field_bounded)
{
    char buf[16];
    http_writer hw;
    http_field f = {S("X-A"), S("12345")};
    http_writer_init(&hw, buf, sizeof(buf));
    px_copy_field(&hw, &f);
    ck_assert_int_eq((int)hw.len, 12);
    ck_assert(memcmp(buf, "X-A: 12345\r\n", 12) == 0);
    px_copy_field(&hw, &f); /* does not fit: overflow, nothing half-written */
    ck_assert(hw.overflow);
    ck_assert_int_eq((int)hw.len, 12);
}
END_TEST

START_TEST(escape)
{
    static const char raw[] = "GET /a\r\n2026/01/01 [error] forged\"\\\x80";
    char out[64];
    px_log_escape(raw, sizeof(raw) - 1, out, sizeof(out));
    ck_assert_str_eq(out, "GET /a\\x0D\\x0A2026/01/01 [error] forged\\x22\\x5C\\x80");
    ck_assert(!strchr(out, '\n'));
    char small[8];
    size_t n = px_log_escape("\n\n\n\n", 4, small, sizeof(small)); /* stops before an escape would not fit */
    ck_assert_uint_eq(n, 4);
    ck_assert_str_eq(small, "\\x0A");
}
END_TEST

static char *readlink_fd(int fd)
{
    static char target[256];
    char link[64];
    snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, target, sizeof(target) - 1);
    ck_assert_int_gt(n, 0);
    target[n] = 0;
    return target;
}

/* Defect: a reopen closed the old descriptor while workers may still write to it; accept4 could then hand the
 * number to a client and log lines would go to that client. The number must stay and point at the new file. */
START_TEST(swap_keeps_number)
{
    char a[] = "/tmp/pxlog-a-XXXXXX", b[] = "/tmp/pxlog-b-XXXXXX";
    int fa = mkstemp(a), fb = mkstemp(b);
    ck_assert(fa >= 0 && fb >= 0);
    atomic_int slot = fa;
    ck_assert_int_eq(px_log_swap_fd(&slot, fb, 3), 0);
    ck_assert_int_eq(atomic_load(&slot), fa);
    ck_assert_str_eq(readlink_fd(fa), b);
    ck_assert_int_lt(fcntl(fb, F_GETFD), 0);           /* the new descriptor was folded into the old number */
    ck_assert_int_eq(px_log_swap_fd(&slot, -1, 0), 0); /* logging off: the number stays, pointed at /dev/null */
    ck_assert_int_eq(atomic_load(&slot), -1);
    ck_assert_str_eq(readlink_fd(fa), "/dev/null");
    close(fa);
    unlink(a);
    unlink(b);
}
END_TEST

/* Each code counted alone has its own slot and maps back to itself; others fall into their class's "other". */
START_TEST(metric_code_slots)
{
    static const int alone[] = {200, 404, 499, 502, 504, 101, 431};
    for (size_t i = 0; i < sizeof(alone) / sizeof(alone[0]); i++) {
        unsigned s = px_code_slot(alone[i]);
        ck_assert_uint_ge(s, PX_CODE_FIRST);
        ck_assert_uint_lt(s, PX_CODE_SLOTS);
        ck_assert_int_eq(px_code_of_slot(s), alone[i]);
    }
    ck_assert_uint_eq(px_code_slot(418), PX_CODE_OTHER_BASE + 3);
    ck_assert_uint_eq(px_code_slot(299), PX_CODE_OTHER_BASE + 1);
    ck_assert_uint_eq(px_code_slot(599), PX_CODE_OTHER_BASE + 4);
    ck_assert_uint_eq(px_code_slot(102), PX_CODE_OTHER_BASE);
    ck_assert_int_eq(px_code_of_slot(PX_CODE_OTHER_BASE + 3), 0);
    /* every slot past the "other" ones is some code's, and no two codes share one */
    for (unsigned s = PX_CODE_FIRST; s < PX_CODE_SLOTS; s++)
        ck_assert_uint_eq(px_code_slot(px_code_of_slot(s)), s);
}
END_TEST

/* Bucket bounds are inclusive upper bounds (Prometheus le), and a duration past the last goes to +Inf. */
START_TEST(metric_hist_buckets)
{
    ck_assert_uint_eq(px_hist_slot(0), 0);
    ck_assert_uint_eq(px_hist_slot(5), 0);
    ck_assert_uint_eq(px_hist_slot(6), 1);
    ck_assert_uint_eq(px_hist_slot(1000), 7);
    ck_assert_uint_eq(px_hist_slot(1001), 8);
    ck_assert_uint_eq(px_hist_slot(60000), PX_HIST_FINITE - 1);
    ck_assert_uint_eq(px_hist_slot(60001), PX_HIST_FINITE);
    for (unsigned i = 1; i < PX_HIST_FINITE; i++)
        ck_assert_uint_gt(px_hist_bound(i), px_hist_bound(i - 1));
    px_hist h;
    memset(&h, 0, sizeof(h));
    px_hist_add(&h, 7);
    px_hist_add(&h, 70000);
    ck_assert_uint_eq(px_metric_get(&h.bucket[1]), 1);
    ck_assert_uint_eq(px_metric_get(&h.bucket[PX_HIST_FINITE]), 1);
    ck_assert_uint_eq(px_metric_get(&h.sum_ms), 70007);
}
END_TEST

/* Label values: backslash, double quote and newline escaped as the text format says; the rest as is; a cut
 * never leaves half an escape. */
START_TEST(metric_label_escape)
{
    char out[64];
    ck_assert_str_eq(px_prom_escape("a\"b\\c\nd", out, sizeof(out)), "a\\\"b\\\\c\\nd");
    ck_assert_str_eq(px_prom_escape("10.0.0.1:443", out, sizeof(out)), "10.0.0.1:443");
    ck_assert_str_eq(px_prom_escape("\"\"\"", out, 6), "\\\"\\\"");
    ck_assert_str_eq(px_up_error_name(PX_UPERR_HEADER_TIMEOUT), "header_timeout");
    ck_assert_str_eq(px_up_error_name(PX_UPERR_HTTP_5XX), "http_5xx");
}
END_TEST

/* ---------------------------------------------------------------- the striped table */

typedef struct item {
    px_stripes_node node;
    uint32_t key;
    int pinned; /* the eviction rule keeps it */
} item;

static int pinned(const void *e, const void *arg)
{
    (void)arg;
    return ((const item *)e)->pinned;
}

/* Keys share one chain (their hashes differ above chain_mask), so unlinking from a chain's middle is exercised. */
static uint32_t hash_of(uint32_t key)
{
    return key << 8;
}

static item *lookup(px_stripes *st, uint32_t key)
{
    px_stripe *s = &st->stripes[0];
    for (uint32_t i = px_stripes_chain(st, s, hash_of(key)); i != PX_STRIPES_NIL;) {
        item *e = px_stripes_at(st, s, i);
        if (e->node.hash == hash_of(key) && e->key == key)
            return e;
        i = e->node.hnext;
    }
    return NULL;
}

static uint32_t add(px_stripes *st, uint32_t key, int last_resort, int *forced)
{
    px_stripes_evict rule = {pinned, NULL, 8, last_resort};
    uint32_t i = px_stripes_take(st, &st->stripes[0], hash_of(key), &rule, forced);
    if (i != PX_STRIPES_NIL) {
        item *e = px_stripes_at(st, &st->stripes[0], i);
        ck_assert(e->key == 0 && !e->pinned); /* zeroed */
        e->key = key;
    }
    ck_assert_int_eq(px_stripes_validate(st), 0);
    return i;
}

START_TEST(stripes_sizes_and_refs)
{
    px_stripes st;
    ck_assert_int_lt(px_stripes_init(&st, 0, 4, sizeof(item)), 0);
    ck_assert_int_lt(px_stripes_init(&st, 10, 3, sizeof(item)), 0); /* stripes: a power of two */
    ck_assert_int_lt(px_stripes_init(&st, 10, 4, 4), 0);            /* smaller than the node */
    ck_assert_int_eq(px_stripes_init(&st, 10, 4, sizeof(item)), 0);
    ck_assert_uint_eq(px_stripes_capacity(&st), 12); /* whole stripes of 3, chains of 4 */
    ck_assert_uint_eq(px_stripes_bytes(&st), 4 * sizeof(px_stripe) + 12 * sizeof(item) + 16 * sizeof(uint32_t));
    ck_assert_uint_eq(px_stripes_count(&st), 0);
    ck_assert_int_eq(px_stripes_validate(&st), 0);
    px_stripes_ref(&st);
    ck_assert_int_eq(px_stripes_unref(&st), 0);
    ck_assert_int_eq(px_stripes_unref(&st), 1);
}
END_TEST

/* One stripe of four: the least recently used entry goes, entries the rule keeps move to the head, and only the
 * last resort takes a kept one. */
START_TEST(stripes_eviction)
{
    px_stripes st;
    int forced = -1;
    ck_assert_int_eq(px_stripes_init(&st, 4, 1, sizeof(item)), 0);
    for (uint32_t k = 1; k <= 4; k++)
        ck_assert_uint_ne(add(&st, k, 0, &forced), PX_STRIPES_NIL);
    ck_assert_int_eq(forced, 0);
    item *one = lookup(&st, 1);
    px_stripes_touch(&st, &st.stripes[0], (uint32_t)(one - (item *)(void *)st.stripes[0].e)); /* 2 least recent */
    add(&st, 5, 0, &forced);
    ck_assert(lookup(&st, 1) && !lookup(&st, 2) && lookup(&st, 3) && lookup(&st, 4) && lookup(&st, 5));
    lookup(&st, 3)->pinned = lookup(&st, 4)->pinned = 1; /* the two least recent now */
    add(&st, 6, 0, &forced);
    ck_assert(!lookup(&st, 1) && lookup(&st, 3) && lookup(&st, 4) && lookup(&st, 5) && lookup(&st, 6));
    lookup(&st, 5)->pinned = lookup(&st, 6)->pinned = 1; /* order now 6 4 3 5, all kept */
    ck_assert_uint_eq(add(&st, 7, 0, &forced), PX_STRIPES_NIL);
    ck_assert_int_eq(forced, 0);
    ck_assert_uint_eq(px_stripes_count(&st), 4);
    ck_assert_uint_ne(add(&st, 7, 1, &forced), PX_STRIPES_NIL); /* eight looked at: the order is back, 5 goes */
    ck_assert_int_eq(forced, 1);
    ck_assert(!lookup(&st, 5) && lookup(&st, 3) && lookup(&st, 4) && lookup(&st, 6) && lookup(&st, 7));
    ck_assert_int_eq(px_stripes_unref(&st), 1);
}
END_TEST

#define N(a) ((int)(sizeof(a) / sizeof((a)[0])))

int main(void)
{
    Suite *s = suite_create("proxyd_common");
    TCase *tc = tcase_create("common");
    tcase_add_loop_test(tc, classify, 0, N(kinds));
    tcase_add_loop_test(tc, connection_names_fields, 0, N(connections));
    tcase_add_test(tc, underscore);
    tcase_add_test(tc, copy_field_bounded);
    tcase_add_test(tc, escape);
    tcase_add_test(tc, swap_keeps_number);
    tcase_add_test(tc, metric_code_slots);
    tcase_add_test(tc, metric_hist_buckets);
    tcase_add_test(tc, metric_label_escape);
    tcase_add_test(tc, stripes_sizes_and_refs);
    tcase_add_test(tc, stripes_eviction);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
