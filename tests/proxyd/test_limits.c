/* tests/proxyd: the per-client policy pieces of common/ — the CIDR matcher and allow/deny lists (nginx's
 * ngx_http_access_module semantics), nginx's limit_req leaky bucket on a fake clock, the shared limit table (least
 * recently used eviction, limit_conn counts, bounded memory under a million distinct clients, several threads), and
 * the once-per-interval log gate. */
#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

#include "common/acl.h"
#include "common/limit.h"
#include "common/log.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* A peer address as accept(2) would give it: "1.2.3.4" (AF_INET), "v6:..." (AF_INET6, mapped ones included) or
 * "unix" (AF_UNIX). */
static px_ip peer(const char *text)
{
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof(ss));
    if (strcmp(text, "unix") == 0)
        ss.ss_family = AF_UNIX;
    else if (strncmp(text, "v6:", 3) == 0) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
        a->sin6_family = AF_INET6;
        ck_assert_int_eq(inet_pton(AF_INET6, text + 3, &a->sin6_addr), 1);
    } else {
        struct sockaddr_in *a = (struct sockaddr_in *)&ss;
        a->sin_family = AF_INET;
        ck_assert_int_eq(inet_pton(AF_INET, text, &a->sin_addr), 1);
    }
    px_ip ip;
    px_ip_from_sockaddr(&ip, &ss);
    return ip;
}

/* ---------------------------------------------------------------- CIDR parsing */

static const struct {
    const char *text;
    int rc, family, bits;
    const char *addr; /* the block's address after masking, in its family's text form; NULL for all */
} parses[] = {
    {"10.0.0.0/8", 0, PX_IP_V4, 8, "10.0.0.0"},
    {"10.1.2.3/8", 1, PX_IP_V4, 8, "10.0.0.0"}, /* host bits cleared, reported */
    {"192.0.2.1", 0, PX_IP_V4, 32, "192.0.2.1"},
    {"192.0.2.1/32", 0, PX_IP_V4, 32, "192.0.2.1"},
    {"0.0.0.0/0", 0, PX_IP_V4, 0, "0.0.0.0"},
    {"2001:db8::/32", 0, PX_IP_V6, 32, "2001:db8::"},
    {"2001:db8::1/33", 1, PX_IP_V6, 33, "2001:db8::"},
    {"::1", 0, PX_IP_V6, 128, "::1"},
    {"::1/128", 0, PX_IP_V6, 128, "::1"},
    {"::/0", 0, PX_IP_V6, 0, "::"},
    {"::ffff:192.0.2.0/120", 0, PX_IP_V4, 24, "192.0.2.0"}, /* a mapped block is the IPv4 block */
    {"::ffff:192.0.2.7", 0, PX_IP_V4, 32, "192.0.2.7"},
    {"::ffff:0:0/96", 0, PX_IP_V4, 0, "0.0.0.0"},
    {"all", 0, 0, 0, NULL},
    {"unix:", 0, PX_CIDR_UNIX, 0, NULL},
};

START_TEST(cidr_parse_valid)
{
    px_cidr c;
    ck_assert_msg(px_cidr_parse(parses[_i].text, &c) == parses[_i].rc, "%s", parses[_i].text);
    ck_assert_int_eq(c.family, parses[_i].family);
    ck_assert_int_eq(c.bits, parses[_i].bits);
    if (!parses[_i].addr)
        return;
    char text[INET6_ADDRSTRLEN];
    inet_ntop(c.family == PX_IP_V4 ? AF_INET : AF_INET6, c.addr, text, sizeof(text));
    ck_assert_str_eq(text, parses[_i].addr);
}
END_TEST

static const char *const bad_cidrs[] = {
    "",
    "/8",
    "10.0.0.0/",
    "10.0.0.0/33",
    "::/129",
    "10.0.0/8",
    "10.0.0.0/8x",
    "10.0.0.0/-1",
    "10.0.0.0//8",
    "1.2.3.4.5",
    "256.0.0.1",
    "01.2.3.4",
    "fe80::1%eth0",
    "localhost",
    "ALL",
    "unix",
    "unix:/tmp/s",
    "10.0.0.0/ 8",
    "::1/0128x",
    "1.2.3.4/+8",
    "2001:db8::g",
    "*",
};

START_TEST(cidr_parse_invalid)
{
    px_cidr c;
    ck_assert_msg(px_cidr_parse(bad_cidrs[_i], &c) == -1, "\"%s\" accepted", bad_cidrs[_i]);
}
END_TEST

/* ---------------------------------------------------------------- matching */

static const struct {
    const char *rule, *client;
    int match;
} matches[] = {
    {"10.0.0.0/8", "10.255.1.1", 1},
    {"10.0.0.0/8", "11.0.0.1", 0},
    {"10.0.0.0/9", "10.127.255.255", 1}, /* a prefix that ends inside a byte */
    {"10.0.0.0/9", "10.128.0.0", 0},
    {"192.0.2.1/32", "192.0.2.1", 1},
    {"192.0.2.1/32", "192.0.2.2", 0},
    {"0.0.0.0/0", "203.0.113.9", 1},
    {"0.0.0.0/0", "v6:2001:db8::1", 0}, /* an IPv4 rule never matches IPv6 */
    {"::/0", "v6:2001:db8::1", 1},
    {"::/0", "10.0.0.1", 0},
    {"::1/128", "v6:::1", 1},
    {"::1", "v6:::2", 0},
    {"2001:db8::/33", "v6:2001:db8:7fff::1", 1},
    {"2001:db8::/33", "v6:2001:db8:8000::1", 0},
    {"2001:db8::/128", "v6:2001:db8::", 1},
    {"10.0.0.0/8", "v6:::ffff:10.1.2.3", 1}, /* a dual-stack socket's IPv4 client is IPv4 */
    {"::ffff:10.0.0.0/104", "10.2.3.4", 1},  /* and so is a mapped rule */
    {"::ffff:10.0.0.0/104", "v6:::ffff:10.2.3.4", 1},
    {"::/0", "v6:::ffff:10.2.3.4", 0}, /* as nginx: IPv6 rules do not see mapped clients */
    {"127.0.0.1", "v6:::ffff:127.0.0.1", 1},
    {"all", "10.0.0.1", 1},
    {"all", "v6:2001:db8::1", 1},
    {"all", "unix", 1},
    {"0.0.0.0/0", "unix", 0},
    {"::/0", "unix", 0},
    {"unix:", "unix", 1},
    {"unix:", "127.0.0.1", 0},
    {"unix:", "v6:::1", 0},
};

START_TEST(cidr_match)
{
    px_cidr c;
    ck_assert_int_ge(px_cidr_parse(matches[_i].rule, &c), 0);
    px_ip ip = peer(matches[_i].client);
    ck_assert_msg(px_cidr_match(&c, &ip) == matches[_i].match, "%s against %s", matches[_i].rule, matches[_i].client);
}
END_TEST

/* Builds a list from "allow X" / "deny Y" words. */
static px_acl acl_of(px_acl_rule *rules, const char *const *spec, int n)
{
    for (int i = 0; i < n; i++) {
        rules[i].allow = strncmp(spec[i], "allow ", 6) == 0;
        ck_assert_int_ge(px_cidr_parse(strchr(spec[i], ' ') + 1, &rules[i].net), 0);
    }
    return (px_acl){rules, n};
}

/* Rules in order, the first match decides, no match allows (ngx_http_access_module). */
START_TEST(acl_first_match_wins)
{
    static const char *const spec[] = {"allow 10.1.0.0/16", "deny 10.0.0.0/8", "allow 10.2.0.0/16",
                                       "deny 2001:db8::/32"};
    px_acl_rule rules[8];
    px_acl acl = acl_of(rules, spec, 4);
    px_ip a = peer("10.1.9.9"), b = peer("10.2.9.9"), c = peer("192.0.2.1"), d = peer("v6:2001:db8::5"),
          e = peer("v6:2001:db9::5"), u = peer("unix");
    ck_assert_int_eq(px_acl_allows(&acl, &a), 1);
    ck_assert_int_eq(px_acl_allows(&acl, &b), 0); /* the deny before the later allow wins */
    ck_assert_int_eq(px_acl_allows(&acl, &c), 1); /* no rule matches: allowed */
    ck_assert_int_eq(px_acl_allows(&acl, &d), 0);
    ck_assert_int_eq(px_acl_allows(&acl, &e), 1);
    ck_assert_int_eq(px_acl_allows(&acl, &u), 1);
    ck_assert_int_eq(px_acl_has_deny(&acl), 1);
    static const char *const closed[] = {"allow 127.0.0.0/8", "allow ::1", "deny all"};
    acl = acl_of(rules, closed, 3);
    px_ip lo = peer("127.0.0.2"), lo6 = peer("v6:::1"), mapped = peer("v6:::ffff:127.0.0.1");
    ck_assert_int_eq(px_acl_allows(&acl, &lo), 1);
    ck_assert_int_eq(px_acl_allows(&acl, &lo6), 1);
    ck_assert_int_eq(px_acl_allows(&acl, &mapped), 1);
    ck_assert_int_eq(px_acl_allows(&acl, &c), 0);
    ck_assert_int_eq(px_acl_allows(&acl, &e), 0);
    ck_assert_int_eq(px_acl_allows(&acl, &u), 0);
    static const char *const open[] = {"allow 10.0.0.0/8"};
    acl = acl_of(rules, open, 1);
    ck_assert_int_eq(px_acl_has_deny(&acl), 0);
    ck_assert_int_eq(px_acl_allows(&acl, &c), 1);
    px_acl empty = {NULL, 0};
    ck_assert_int_eq(px_acl_allows(&empty, &c), 1);
}
END_TEST

/* ---------------------------------------------------------------- the leaky bucket on a fake clock */

static px_limit_rc take(px_bucket *b, const px_rate *r, uint64_t now, uint64_t *ms)
{
    *ms = 12345; /* must be overwritten */
    return px_bucket_take(b, r, now, ms);
}

/* 1r/s, burst=2, nodelay: two requests beyond the rate pass at once, the third is refused until a whole request
 * has leaked (1 s after the last accounted one), then one passes per second. */
START_TEST(bucket_burst_nodelay)
{
    const uint64_t t0 = 1000000;
    px_rate r = {1000, 2, 1};
    px_bucket b = {t0, 0}; /* a new client: nginx starts it empty */
    uint64_t ms;
    ck_assert_int_eq(take(&b, &r, t0, &ms), PX_LIMIT_OK);
    ck_assert_uint_eq(ms, 0);
    ck_assert_uint_eq(b.excess, 1000);
    ck_assert_int_eq(take(&b, &r, t0, &ms), PX_LIMIT_OK);
    ck_assert_uint_eq(ms, 0); /* nodelay */
    ck_assert_uint_eq(b.excess, 2000);
    ck_assert_int_eq(take(&b, &r, t0, &ms), PX_LIMIT_BUSY);
    ck_assert_uint_eq(ms, 1000);
    ck_assert_uint_eq(b.excess, 2000); /* a refused request is not accounted */
    ck_assert_int_eq(take(&b, &r, t0 + 400, &ms), PX_LIMIT_BUSY);
    ck_assert_uint_eq(ms, 600);
    ck_assert_int_eq(take(&b, &r, t0 + 999, &ms), PX_LIMIT_BUSY);
    ck_assert_uint_eq(ms, 1);
    ck_assert_int_eq(take(&b, &r, t0 + 1000, &ms), PX_LIMIT_OK);
    ck_assert_uint_eq(b.excess, 2000);
    ck_assert_uint_eq(b.last_ms, t0 + 1000);
    ck_assert_int_eq(take(&b, &r, t0 + 1000, &ms), PX_LIMIT_BUSY);
    /* Idle long enough, the bucket is empty again: the whole burst is available. */
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(take(&b, &r, t0 + 60000, &ms), PX_LIMIT_OK);
    ck_assert_int_eq(take(&b, &r, t0 + 60000, &ms), PX_LIMIT_BUSY);
}
END_TEST

/* burst=0: one request per period exactly, as nginx. */
START_TEST(bucket_no_burst)
{
    px_rate r = {10000, 0, 0}; /* 10r/s */
    px_bucket b = {5000, 0};
    uint64_t ms;
    ck_assert_int_eq(take(&b, &r, 5000, &ms), PX_LIMIT_BUSY); /* an existing bucket at the same instant */
    ck_assert_uint_eq(ms, 100);
    ck_assert_int_eq(take(&b, &r, 5099, &ms), PX_LIMIT_BUSY);
    ck_assert_int_eq(take(&b, &r, 5100, &ms), PX_LIMIT_OK);
    ck_assert_uint_eq(ms, 0);
    ck_assert_uint_eq(b.excess, 0);
}
END_TEST

/* Without nodelay, accepted excess waits excess / rate: requests leave spaced at the rate. */
START_TEST(bucket_delay)
{
    px_rate r = {2000, 5, 0}; /* 2r/s burst=5 */
    px_bucket b = {0, 0};
    uint64_t ms;
    ck_assert_int_eq(take(&b, &r, 0, &ms), PX_LIMIT_OK);
    ck_assert_uint_eq(ms, 500);
    ck_assert_int_eq(take(&b, &r, 0, &ms), PX_LIMIT_OK);
    ck_assert_uint_eq(ms, 1000);
    ck_assert_int_eq(take(&b, &r, 250, &ms), PX_LIMIT_OK); /* 500 leaked: 2500 */
    ck_assert_uint_eq(ms, 1250);
    for (int i = 0; i < 2; i++)
        ck_assert_int_eq(take(&b, &r, 250, &ms), PX_LIMIT_OK);
    ck_assert_uint_eq(b.excess, 4500);
    ck_assert_int_eq(take(&b, &r, 250, &ms), PX_LIMIT_BUSY);
    ck_assert_uint_eq(ms, 250);
}
END_TEST

/* Workers' clocks differ by a loop iteration: a bucket slightly in the future counts as no time elapsed; one more
 * than a minute ahead is a jump and counts as 1 ms (nginx). A 600r/m rate is 10r/s. */
START_TEST(bucket_clock_and_units)
{
    px_rate r = {10000, 1, 1};
    px_bucket b = {100000, 1000};
    uint64_t ms;
    ck_assert_int_eq(take(&b, &r, 99900, &ms), PX_LIMIT_BUSY);
    ck_assert_uint_eq(b.last_ms, 100000);
    b = (px_bucket){200000, 1000};
    ck_assert_int_eq(take(&b, &r, 100000, &ms), PX_LIMIT_BUSY); /* 1 ms leaks 10: 1990 > 1000 */
    b = (px_bucket){UINT64_C(1) << 40, 0};
    ck_assert_int_eq(take(&b, &r, 0, &ms), PX_LIMIT_OK); /* far ahead: 1 ms, no overflow */
    b = (px_bucket){0, 1000000};
    ck_assert_int_eq(take(&b, &r, UINT64_C(1) << 50, &ms), PX_LIMIT_OK); /* a long idle: empty, no overflow */
    ck_assert_uint_eq(b.excess, 0);
}
END_TEST

/* ---------------------------------------------------------------- the table */

static px_ip key(uint32_t n)
{
    px_ip ip;
    memset(&ip, 0, sizeof(ip));
    ip.family = PX_IP_V6;
    memcpy(ip.addr, "\x20\x01\x0d\xb8", 4);
    memcpy(ip.addr + 12, &n, 4);
    return ip;
}

static const px_rate any_rate = {1000000, 1000000, 1};

static px_limit_rc touch_rc(px_limit_table *t, uint32_t n)
{
    uint64_t ms;
    px_ip ip = key(n);
    return px_limit_req(t, &ip, 1, &any_rate, 1000, &ms);
}

static void touch(px_limit_table *t, uint32_t n)
{
    ck_assert_int_eq(touch_rc(t, n), PX_LIMIT_OK);
}

static int has(px_limit_table *t, uint32_t n, uint32_t zone)
{
    px_ip ip = key(n);
    return px_limit_table_contains(t, &ip, zone);
}

/* One stripe of four entries: a new client takes the least recently used entry. */
START_TEST(table_lru_eviction)
{
    px_limit_table *t = px_limit_table_new(4, 1, 42);
    ck_assert_ptr_nonnull(t);
    ck_assert_uint_eq(px_limit_table_capacity(t), 4);
    for (uint32_t i = 0; i < 4; i++)
        touch(t, i);
    touch(t, 0); /* 0 is now the most recent; 1 the least */
    touch(t, 4);
    ck_assert(has(t, 0, 1) && !has(t, 1, 1) && has(t, 2, 1) && has(t, 3, 1) && has(t, 4, 1));
    touch(t, 5);
    ck_assert(!has(t, 2, 1) && has(t, 0, 1));
    ck_assert_uint_eq(px_limit_table_count(t), 4);
    ck_assert(!has(t, 0, 2)); /* another zone is another key */
    px_limit_table_unref(t);
}
END_TEST

/* A client evicted and back starts a new bucket, as a new client does in nginx. */
START_TEST(table_bucket_per_client_and_zone)
{
    px_limit_table *t = px_limit_table_new(64, 1, 7);
    px_rate r = {1000, 0, 1};
    px_ip a = key(1), b = key(2);
    uint64_t ms;
    ck_assert_int_eq(px_limit_req(t, &a, 9, &r, 5000, &ms), PX_LIMIT_OK);
    ck_assert_int_eq(px_limit_req(t, &a, 9, &r, 5000, &ms), PX_LIMIT_BUSY);
    ck_assert_uint_eq(ms, 1000);
    ck_assert_int_eq(px_limit_req(t, &b, 9, &r, 5000, &ms), PX_LIMIT_OK);  /* another client */
    ck_assert_int_eq(px_limit_req(t, &a, 10, &r, 5000, &ms), PX_LIMIT_OK); /* another server */
    ck_assert_int_eq(px_limit_req(t, &a, 9, &r, 6000, &ms), PX_LIMIT_OK);
    px_limit_table_unref(t);
}
END_TEST

/* limit_conn: at most max at once; a release makes room; an entry with requests in progress is never evicted, and
 * when every entry looked at holds requests the client is refused (FULL) rather than an entry lost. */
START_TEST(table_conn_counts)
{
    px_limit_table *t = px_limit_table_new(2, 1, 3);
    px_ip a = key(1), b = key(2), c = key(3);
    uint32_t s1, s2, s3, s4;
    ck_assert_int_eq(px_limit_conn_acquire(t, &a, 1, 2, &s1), PX_LIMIT_OK);
    ck_assert_int_eq(px_limit_conn_acquire(t, &a, 1, 2, &s2), PX_LIMIT_OK);
    ck_assert_uint_eq(s1, s2);
    ck_assert_int_eq(px_limit_conn_acquire(t, &a, 1, 2, &s3), PX_LIMIT_BUSY);
    px_limit_conn_release(t, s1);
    ck_assert_int_eq(px_limit_conn_acquire(t, &a, 1, 2, &s3), PX_LIMIT_OK);
    touch(t, 2); /* b, in zone 1: the table is full */
    touch(t, 3); /* evicts b, the only entry without requests, though a is less recently used */
    ck_assert(has(t, 1, 1) && !has(t, 2, 1) && has(t, 3, 1));
    ck_assert_int_eq(px_limit_conn_acquire(t, &c, 1, 5, &s4), PX_LIMIT_OK);
    ck_assert_int_eq(px_limit_conn_acquire(t, &b, 1, 5, &s1), PX_LIMIT_FULL);
    px_limit_conn_release(t, s4);
    ck_assert_int_eq(px_limit_conn_acquire(t, &b, 1, 5, &s1), PX_LIMIT_OK); /* c had nothing in progress */
    ck_assert(has(t, 1, 1) && !has(t, 3, 1));
    px_limit_table_unref(t);
}
END_TEST

/* A million distinct clients through a table sized for 100,000: every one is accepted (the least recently used
 * make room), the table never holds more than its capacity, its memory is what was allocated at creation, and the
 * most recent clients are the ones kept. */
START_TEST(table_bounded_under_a_million_keys)
{
    enum { CLIENTS = 1000000, SIZE = 100000 };
    px_limit_table *t = px_limit_table_new(SIZE, 64, 0x5eed);
    size_t bytes = px_limit_table_bytes(t);
    uint32_t cap = px_limit_table_capacity(t);
    ck_assert_uint_ge(cap, SIZE);
    ck_assert_uint_lt(cap, SIZE + 64);
    ck_assert_uint_lt(bytes, 64u * SIZE + 1024u * 1024u); /* under 64 bytes a client, plus the chains */
    uint32_t refused = 0; /* counted, not asserted each time: Check reports every assertion to its parent */
    for (uint32_t i = 0; i < CLIENTS; i++)
        refused += touch_rc(t, i) != PX_LIMIT_OK;
    ck_assert_uint_eq(refused, 0);
    ck_assert_uint_eq(px_limit_table_count(t), cap);
    ck_assert_uint_eq(px_limit_table_bytes(t), bytes);
    for (uint32_t i = CLIENTS - 1000; i < CLIENTS; i++)
        ck_assert_msg(has(t, i, 1), "recent client %u evicted", i);
    int old = 0;
    for (uint32_t i = 0; i < 1000; i++)
        old += has(t, i, 1);
    ck_assert_int_eq(old, 0);
    fprintf(stderr, "limit table: %u entries, %zu bytes, %u clients passed through\n", cap, bytes, CLIENTS);
    px_limit_table_unref(t);
}
END_TEST

/* Several threads counting the same clients: every acquire is released exactly once, so each client can then hold
 * exactly max again. */
enum { THREADS = 4, ROUNDS = 20000, HOT = 16, MAX = 3 };
static px_limit_table *shared;

static void *hammer(void *arg)
{
    uintptr_t id = (uintptr_t)arg;
    for (uint32_t i = 0; i < ROUNDS; i++) {
        px_ip ip = key((uint32_t)(i + id) % HOT);
        uint32_t slot;
        uint64_t ms;
        px_rate r = {1000, 10, 1};
        (void)px_limit_req(shared, &ip, 1, &r, i, &ms);
        if (px_limit_conn_acquire(shared, &ip, 1, MAX, &slot) == PX_LIMIT_OK)
            px_limit_conn_release(shared, slot);
        ip = key(1000 + i * THREADS + (uint32_t)id); /* distinct clients force evictions meanwhile */
        (void)px_limit_req(shared, &ip, 1, &r, i, &ms);
    }
    return NULL;
}

START_TEST(table_threads)
{
    pthread_t th[THREADS];
    shared = px_limit_table_new(256, 4, 99);
    for (uintptr_t k = 0; k < THREADS; k++)
        ck_assert_int_eq(pthread_create(&th[k], NULL, hammer, (void *)k), 0);
    for (int k = 0; k < THREADS; k++)
        pthread_join(th[k], NULL);
    ck_assert_uint_le(px_limit_table_count(shared), px_limit_table_capacity(shared));
    for (uint32_t n = 0; n < HOT; n++) {
        px_ip ip = key(n);
        uint32_t slot;
        for (int i = 0; i < MAX; i++)
            ck_assert_int_eq(px_limit_conn_acquire(shared, &ip, 1, MAX, &slot), PX_LIMIT_OK);
        ck_assert_int_eq(px_limit_conn_acquire(shared, &ip, 1, MAX, &slot), PX_LIMIT_BUSY);
    }
    px_limit_table_unref(shared);
}
END_TEST

START_TEST(table_refs)
{
    px_limit_table *t = px_limit_table_new(100, 64, 1);
    ck_assert_ptr_nonnull(t);
    ck_assert_uint_eq(px_limit_table_capacity(t), 128); /* rounded up to whole stripes */
    px_limit_table_ref(t);
    px_limit_table_unref(t);
    touch(t, 1); /* still alive */
    px_limit_table_unref(t);
    ck_assert_ptr_null(px_limit_table_new(100, 3, 1)); /* stripes must be a power of two */
    ck_assert_ptr_null(px_limit_table_new(0, 1, 1));
}
END_TEST

/* ---------------------------------------------------------------- the log gate */

START_TEST(log_once_per_interval)
{
    px_log_every e = {0};
    uint64_t held = 99;
    ck_assert_int_eq(px_log_every_due(&e, 5000, 1000, &held), 1);
    ck_assert_uint_eq(held, 0);
    for (int i = 0; i < 7; i++)
        ck_assert_int_eq(px_log_every_due(&e, 5000 + (uint64_t)i * 100, 1000, &held), 0);
    ck_assert_int_eq(px_log_every_due(&e, 6000, 1000, &held), 1);
    ck_assert_uint_eq(held, 7);
    ck_assert_int_eq(px_log_every_due(&e, 6500, 1000, &held), 0);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("proxyd_limits");
    TCase *acl = tcase_create("acl");
    tcase_add_loop_test(acl, cidr_parse_valid, 0, (int)N(parses));
    tcase_add_loop_test(acl, cidr_parse_invalid, 0, (int)N(bad_cidrs));
    tcase_add_loop_test(acl, cidr_match, 0, (int)N(matches));
    tcase_add_test(acl, acl_first_match_wins);
    suite_add_tcase(s, acl);
    TCase *bucket = tcase_create("bucket");
    tcase_add_test(bucket, bucket_burst_nodelay);
    tcase_add_test(bucket, bucket_no_burst);
    tcase_add_test(bucket, bucket_delay);
    tcase_add_test(bucket, bucket_clock_and_units);
    suite_add_tcase(s, bucket);
    TCase *table = tcase_create("table");
    tcase_set_timeout(table, 60);
    tcase_add_test(table, table_lru_eviction);
    tcase_add_test(table, table_bucket_per_client_and_zone);
    tcase_add_test(table, table_conn_counts);
    tcase_add_test(table, table_bounded_under_a_million_keys);
    tcase_add_test(table, table_threads);
    tcase_add_test(table, table_refs);
    tcase_add_test(table, log_once_per_interval);
    suite_add_tcase(s, table);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
