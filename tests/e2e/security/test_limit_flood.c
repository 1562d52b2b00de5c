/* End-to-end test of the limit table under a flood of distinct client addresses (issue 17): PROXY protocol v2 headers
 * written by hand give every connection another IPv4 address; the table stays at limit_table_size entries (proxyd's
 * resident memory does not grow with the clients), the least recently used addresses are evicted and the recent ones
 * kept. PX_FLOOD_CLIENTS (default 20,000) and PX_FLOOD_TABLE (default 1,000) scale it: the figures in
 * docs/security.md come from 1,000,000 clients through the default table. */
#include "../ops/ops.h"

#include <arpa/inet.h>
#include <check.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static px_env env;

#define THREADS 4

static long env_long(const char *name, long dflt)
{
    const char *v = getenv(name);
    return v && *v ? atol(v) : dflt;
}

/* A PROXY v2 header (TCP over IPv4) from 10.a.b.c, client number n, to 127.0.0.1. */
static size_t pp2_header(unsigned char *h, uint32_t n)
{
    static const unsigned char sig[12] = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};
    memcpy(h, sig, 12);
    h[12] = 0x21; /* version 2, PROXY */
    h[13] = 0x11; /* TCP over IPv4 */
    h[14] = 0, h[15] = 12;
    uint32_t src = htonl(0x0A000000u | (n & 0xFFFFFF)), dst = htonl(0x7F000001u);
    memcpy(h + 16, &src, 4);
    memcpy(h + 20, &dst, 4);
    h[24] = 0x30, h[25] = 0x39, h[26] = 0x01, h[27] = 0xBB;
    return 28;
}

/* One request as client n: the status (0 when no answer came). */
static int request_as(uint32_t n)
{
    static const char req[] = "GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n";
    unsigned char buf[256];
    size_t k = pp2_header(buf, n);
    memcpy(buf + k, req, sizeof(req) - 1);
    int fd = ts_connect(env.port), status = 0;
    if (fd < 0)
        return 0;
    ts_response r;
    if (ts_send(fd, buf, k + sizeof(req) - 1) == 0 && ts_read_response(fd, &r, 0) == 0) {
        status = r.status;
        ts_response_free(&r);
    }
    close(fd);
    return status;
}

typedef struct flood_arg {
    uint32_t first, count;
    long failures;
} flood_arg;

static void *flood_main(void *p)
{
    flood_arg *a = p;
    for (uint32_t i = 0; i < a->count; i++)
        if (request_as(a->first + i) != 200)
            a->failures++;
    return NULL;
}

static long rss_kb(pid_t pid)
{
    char path[64], *text;
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    text = px_read_file(path);
    ck_assert_ptr_nonnull(text);
    const char *v = strstr(text, "VmRSS:");
    long kb = v ? atol(v + 6) : -1;
    free(text);
    return kb;
}

/* limit_req = 1r/m burst=0 nodelay: each address gets one request a minute, so a second request tells whether the
 * table still holds the address (429) or evicted it (200, a new client). */
START_TEST(million_addresses_bounded)
{
    long clients = env_long("PX_FLOOD_CLIENTS", 20000), table = env_long("PX_FLOOD_TABLE", 1000);
    char tpl[1024];
    snprintf(tpl, sizeof tpl,
             PX_GLOBAL "limit_table_size = %ld\nproxy_protocol_from = 127.0.0.1\nmax_connections = 512\n"
                       "[server s]\nlisten = 127.0.0.1:@PORT@ proxy_protocol\nreturn = 200 ok\n"
                       "limit_req = 1r/m burst=0 nodelay\n",
             table);
    px_env_init(&env, 0);
    px_proxy_start(&env, tpl);
    ck_assert_int_eq(request_as(0xFFFFFF), 200); /* warm: the first client and its buffers */
    long before = rss_kb(env.pid);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    pthread_t th[THREADS];
    flood_arg a[THREADS];
    for (int i = 0; i < THREADS; i++) {
        a[i] = (flood_arg){(uint32_t)(clients * i / THREADS),
                           (uint32_t)(clients * (i + 1) / THREADS - clients * i / THREADS), 0};
        ck_assert_int_eq(pthread_create(&th[i], NULL, flood_main, &a[i]), 0);
    }
    long failures = 0;
    for (int i = 0; i < THREADS; i++) {
        pthread_join(th[i], NULL);
        failures += a[i].failures;
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    long after = rss_kb(env.pid);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    fprintf(stderr,
            "flood: %ld clients through a %ld-entry table in %.1f s (%.0f/s), %ld refused; RSS %ld kB -> %ld kB\n",
            clients, table, secs, (double)clients / secs, failures, before, after);
    ck_assert_msg(failures == 0, "%ld of %ld new clients refused", failures, clients);
    /* Then 100 more, one after another: the most recent of all, so still counted (the threads ended in any order,
     * so their own last clients need not be); the first of each thread, a table's worth of clients ago, evicted. */
    for (uint32_t n = 0; n < 100; n++)
        ck_assert_int_eq(request_as((uint32_t)clients + n), 200);
    for (uint32_t n = 0; n < 100; n++)
        ck_assert_msg(request_as((uint32_t)clients + n) == 429, "client %ld evicted, though among the most recent",
                      clients + (long)n);
    for (int i = 0; i < THREADS; i++)
        ck_assert_msg(request_as(a[i].first) == 200, "client %u still held after %ld others", a[i].first, clients);
    /* Memory: the table was allocated at start; what the flood adds is noise (allocator, sanitizer), not entries. */
    ck_assert_msg(after - before < 32 * 1024, "RSS grew by %ld kB over %ld clients", after - before, clients);
    ck_assert(ops_file_has(env.log, "limit table: ", 0));
    ck_assert_int_eq(px_proxy_stop(&env), 0);
    px_env_done(&env);
}
END_TEST

static Suite *flood_suite(void)
{
    Suite *s = suite_create("security_limit_flood");
    TCase *tc = tcase_create("flood");
    tcase_set_timeout(tc, (double)env_long("PX_FLOOD_TIMEOUT", 110));
    tcase_add_test(tc, million_addresses_bounded);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(flood_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
