/* End-to-end tests of bench/origin through tests/support: framing (length, chunked, HEAD, 204/304), keep-alive,
 * pipelining, /echo, ?delay, errors, /stats, and a leak-free exit on SIGTERM (checked in the teardown). */
#include "support.h"

#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static int port;
static pid_t pid;
static char *addr;

static void setup(void)
{
    addr = ts_origin_start(&port, &pid);
    ck_assert_msg(addr != NULL, "origin did not start (is PROXYD_ORIGIN set?)");
}

/* The origin must exit 0 on SIGTERM: a sanitizer build exits non-zero on a leak or error. */
static void teardown(void)
{
    ck_assert_int_eq(ts_stop(pid, SIGTERM, 5000), 0);
    free(addr);
}

static int all_bytes(const char *p, size_t n, char ch)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != ch)
            return 0;
    return 1;
}

/* Reads one response from fd and checks its status and body length. */
static void expect(int fd, int head_request, int status, size_t body_len)
{
    ts_response r;
    ck_assert_int_eq(ts_read_response(fd, &r, head_request), 0);
    ck_assert_int_eq(r.status, status);
    ck_assert_uint_eq(r.body_len, body_len);
    ts_response_free(&r);
}

START_TEST(size_body)
{
    ts_response r;
    ck_assert_int_eq(ts_request(port, "GET /size/100 HTTP/1.1\r\nHost: o\r\n\r\n", &r), 0);
    ck_assert_int_eq(r.status, 200);
    ck_assert_uint_eq(r.body_len, 100);
    ck_assert(all_bytes(r.body, r.body_len, 'x'));
    ck_assert_str_eq(ts_header(&r, "content-length"), "100");
    ck_assert_str_eq(ts_header(&r, "Content-Type"), "text/plain");
    ck_assert_str_eq(ts_header(&r, "Server"), "origin");
    ck_assert_int_eq(r.closed, 0);
    ts_response_free(&r);
    ck_assert_int_eq(ts_request(port, "GET / HTTP/1.1\r\nHost: o\r\n\r\n", &r), 0);
    ck_assert_uint_eq(r.body_len, 100);
    ts_response_free(&r);
}
END_TEST

/* A body far larger than the output block streams from the pattern. */
START_TEST(large_body)
{
    ts_response r;
    ck_assert_int_eq(ts_request(port, "GET /size/3000000 HTTP/1.1\r\nHost: o\r\n\r\n", &r), 0);
    ck_assert_int_eq(r.status, 200);
    ck_assert_uint_eq(r.body_len, 3000000);
    ck_assert(all_bytes(r.body, r.body_len, 'x'));
    ts_response_free(&r);
}
END_TEST

START_TEST(keepalive_stats)
{
    const char *req = "GET / HTTP/1.1\r\nHost: o\r\n\r\n";
    ck_assert_int_eq(ts_reset_stats(port), 0);
    int fd = ts_connect(port);
    ck_assert_int_ge(fd, 0);
    for (int i = 0; i < 100; i++) {
        ck_assert_int_eq(ts_send(fd, req, strlen(req)), 0);
        expect(fd, 0, 200, 100);
    }
    ck_assert_int_eq(ts_count_connections(port), 1);
    ts_response r;
    ck_assert_int_eq(ts_request(port, "GET /stats HTTP/1.1\r\nHost: o\r\n\r\n", &r), 0);
    ck_assert_msg(strstr(r.body, "\"requests\":100") != NULL, "stats: %s", r.body);
    ck_assert_str_eq(ts_header(&r, "Content-Type"), "application/json");
    ts_response_free(&r);
    close(fd);
    /* A second connection counts too. */
    ck_assert_int_eq(ts_request(port, req, &r), 0);
    ts_response_free(&r);
    ck_assert_int_eq(ts_count_connections(port), 2);
}
END_TEST

START_TEST(echo_raw_head)
{
    const char *req = "GET /echo?a=1 HTTP/1.1\r\nHost: example\r\nX-Odd-CASE:  spaced value \r\nAccept: */*\r\n\r\n";
    ts_response r;
    ck_assert_int_eq(ts_request(port, req, &r), 0);
    ck_assert_int_eq(r.status, 200);
    ck_assert_uint_eq(r.body_len, strlen(req));
    ck_assert_mem_eq(r.body, req, strlen(req));
    ts_response_free(&r);
}
END_TEST

START_TEST(echo_chunked_body)
{
    const char *head = "POST /echo HTTP/1.1\r\nHost: o\r\nTransfer-Encoding: chunked\r\n\r\n";
    const char *body = "5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nTrailer-X: 1\r\n\r\n";
    char want[256];
    int fd = ts_connect(port);
    ck_assert_int_ge(fd, 0);
    snprintf(want, sizeof want, "%shello world", head);
    ck_assert_int_eq(ts_send(fd, head, strlen(head)), 0);
    usleep(20000); /* the body arrives separately */
    ck_assert_int_eq(ts_send(fd, body, strlen(body)), 0);
    ts_response r;
    ck_assert_int_eq(ts_read_response(fd, &r, 0), 0);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(r.body, want);
    ck_assert_int_eq(atoi(ts_header(&r, "Content-Length")), (int)strlen(want));
    ts_response_free(&r);
    /* The connection is still usable. */
    ck_assert_int_eq(ts_send(fd, "GET /size/7 HTTP/1.1\r\nHost: o\r\n\r\n", 33), 0);
    expect(fd, 0, 200, 7);
    close(fd);
}
END_TEST

/* A Content-Length body larger than both connection blocks is echoed in pieces. */
START_TEST(echo_large_length_body)
{
    size_t n = 300000;
    char head[128];
    char *body = malloc(n);
    ck_assert_ptr_nonnull(body);
    for (size_t i = 0; i < n; i++)
        body[i] = (char)('a' + i % 26);
    int hl = snprintf(head, sizeof head, "POST /echo HTTP/1.1\r\nHost: o\r\nContent-Length: %zu\r\n\r\n", n);
    int fd = ts_connect(port);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(ts_send(fd, head, (size_t)hl), 0);
    ck_assert_int_eq(ts_send(fd, body, n), 0);
    ts_response r;
    ck_assert_int_eq(ts_read_response(fd, &r, 0), 0);
    ck_assert_uint_eq(r.body_len, (size_t)hl + n);
    ck_assert_mem_eq(r.body, head, (size_t)hl);
    ck_assert(memcmp(r.body + hl, body, n) == 0);
    ts_response_free(&r);
    free(body);
    close(fd);
}
END_TEST

START_TEST(chunked_response)
{
    ts_response r;
    ck_assert_int_eq(ts_request(port, "GET /chunked/1000?chunks=7 HTTP/1.1\r\nHost: o\r\n\r\n", &r), 0);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(ts_header(&r, "Transfer-Encoding"), "chunked");
    ck_assert_ptr_null(ts_header(&r, "Content-Length"));
    ck_assert_uint_eq(r.body_len, 1000);
    ck_assert(all_bytes(r.body, r.body_len, 'x'));
    ts_response_free(&r);
    ck_assert_int_eq(ts_request(port, "GET /chunked/200000 HTTP/1.1\r\nHost: o\r\n\r\n", &r), 0);
    ck_assert_uint_eq(r.body_len, 200000);
    ts_response_free(&r);
}
END_TEST

static long elapsed_ms(const struct timespec *t0)
{
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (t1.tv_sec - t0->tv_sec) * 1000 + (t1.tv_nsec - t0->tv_nsec) / 1000000;
}

START_TEST(delay)
{
    struct timespec t0;
    ts_response r;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    ck_assert_int_eq(ts_request(port, "GET /size/10?delay=300 HTTP/1.1\r\nHost: o\r\n\r\n", &r), 0);
    long ms = elapsed_ms(&t0);
    ck_assert_int_eq(r.status, 200);
    ck_assert_uint_eq(r.body_len, 10);
    ck_assert_int_ge(ms, 290);
    ck_assert_int_lt(ms, 3000);
    ts_response_free(&r);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    ck_assert_int_eq(ts_request(port, "GET /size/10 HTTP/1.1\r\nHost: o\r\n\r\n", &r), 0);
    ck_assert_int_lt(elapsed_ms(&t0), 250);
    ts_response_free(&r);
}
END_TEST

START_TEST(pipelined)
{
    const char *two = "GET /size/10 HTTP/1.1\r\nHost: o\r\n\r\nGET /size/20?delay=50 HTTP/1.1\r\nHost: o\r\n\r\n"
                      "GET /status/404 HTTP/1.1\r\nHost: o\r\n\r\n";
    int fd = ts_connect(port);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(ts_send(fd, two, strlen(two)), 0);
    expect(fd, 0, 200, 10);
    expect(fd, 0, 200, 20);
    expect(fd, 0, 404, strlen("404 Not Found\n"));
    close(fd);
}
END_TEST

START_TEST(malformed)
{
    static const char *const bad[] = {
        "GET / HTTP/1.1\nHost: o\n\n",           /* bare LF */
        "G(T / HTTP/1.1\r\nHost: o\r\n\r\n",     /* method not a token */
        "GET / HTTP/1.1\r\nBad Name: 1\r\n\r\n", /* space in a field name */
        "GET / HTTP/1.1\r\n\r\n",                /* HTTP/1.1 without Host */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ts_response r;
        ck_assert_msg(ts_request(port, bad[i], &r) == 0, "case %zu", i);
        ck_assert_msg(r.status == 400, "case %zu: %d", i, r.status);
        ck_assert_msg(r.closed, "case %zu: not closed", i);
        ck_assert_str_eq(ts_header(&r, "Connection"), "close");
        ts_response_free(&r);
    }
}
END_TEST

START_TEST(head_has_no_body)
{
    int fd = ts_connect(port);
    ck_assert_int_ge(fd, 0);
    const char *req = "HEAD /size/500 HTTP/1.1\r\nHost: o\r\n\r\nGET /size/3 HTTP/1.1\r\nHost: o\r\n\r\n";
    ck_assert_int_eq(ts_send(fd, req, strlen(req)), 0);
    ts_response r;
    ck_assert_int_eq(ts_read_response(fd, &r, 1), 0);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(ts_header(&r, "Content-Length"), "500");
    ck_assert_uint_eq(r.body_len, 0);
    ts_response_free(&r);
    /* Had a body been sent, this would read 'x' bytes as a status line. */
    expect(fd, 0, 200, 3);
    close(fd);
}
END_TEST

START_TEST(no_body_statuses)
{
    int fd = ts_connect(port);
    ck_assert_int_ge(fd, 0);
    const char *req = "GET /status/204 HTTP/1.1\r\nHost: o\r\n\r\nGET /status/304 HTTP/1.1\r\nHost: o\r\n\r\n"
                      "GET /status/503 HTTP/1.1\r\nHost: o\r\n\r\nGET /size/4 HTTP/1.1\r\nHost: o\r\n\r\n";
    ck_assert_int_eq(ts_send(fd, req, strlen(req)), 0);
    expect(fd, 0, 204, 0);
    expect(fd, 0, 304, 0);
    expect(fd, 0, 503, strlen("503 Service Unavailable\n"));
    expect(fd, 0, 200, 4);
    close(fd);
}
END_TEST

START_TEST(header_and_type)
{
    ts_response r;
    ck_assert_int_eq(ts_request(port,
                                "GET /header?name=Location&value=http%3A%2F%2F127.0.0.1%3A1%2Fx%20y&status=302 "
                                "HTTP/1.1\r\nHost: o\r\n\r\n",
                                &r),
                     0);
    ck_assert_int_eq(r.status, 302);
    ck_assert_str_eq(ts_header(&r, "Location"), "http://127.0.0.1:1/x y");
    ts_response_free(&r);
    ck_assert_int_eq(ts_request(port, "GET /header?name=X&value=%0d%0a HTTP/1.1\r\nHost: o\r\n\r\n", &r), 0);
    ck_assert_int_eq(r.status, 400); /* CR LF must not reach the head */
    ts_response_free(&r);
    ck_assert_int_eq(ts_request(port, "GET /type/text_html/2000 HTTP/1.1\r\nHost: o\r\n\r\n", &r), 0);
    ck_assert_str_eq(ts_header(&r, "Content-Type"), "text/html");
    ck_assert_uint_eq(r.body_len, 2000);
    ck_assert(strncmp(r.body, "The quick brown fox", 19) == 0);
    ts_response_free(&r);
    ck_assert_int_eq(ts_request(port, "GET /nope HTTP/1.1\r\nHost: o\r\n\r\n", &r), 0);
    ck_assert_int_eq(r.status, 404);
    ts_response_free(&r);
}
END_TEST

START_TEST(close_endpoint)
{
    ts_response r;
    ck_assert_int_eq(ts_request(port, "GET /close HTTP/1.1\r\nHost: o\r\n\r\n", &r), 0);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(ts_header(&r, "Connection"), "close");
    ck_assert_int_eq(r.closed, 1);
    ts_response_free(&r);
    /* HTTP/1.0 without keep-alive closes too; with keep-alive it stays open. */
    ck_assert_int_eq(ts_request(port, "GET / HTTP/1.0\r\n\r\n", &r), 0);
    ck_assert_int_eq(r.closed, 1);
    ts_response_free(&r);
    ck_assert_int_eq(ts_request(port, "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", &r), 0);
    ck_assert_int_eq(r.closed, 0);
    ck_assert_str_eq(ts_header(&r, "Connection"), "keep-alive");
    ts_response_free(&r);
}
END_TEST

/* The support helpers themselves: a fixed free port, readiness by connect, stop status. */
START_TEST(spawn_by_port)
{
    char listen[64];
    int p = ts_free_port();
    ck_assert_int_gt(p, 0);
    snprintf(listen, sizeof listen, "127.0.0.1:%d", p);
    const char *const argv[] = {getenv("PROXYD_ORIGIN"), "-l", listen, "-q", NULL};
    pid_t other = ts_spawn_port(argv, p, 10000);
    ck_assert_int_gt(other, 0);
    ts_response r;
    ck_assert_int_eq(ts_request(p, "GET /size/1 HTTP/1.1\r\nHost: o\r\n\r\n", &r), 0);
    ck_assert_str_eq(r.body, "x");
    ts_response_free(&r);
    ck_assert_int_eq(ts_stop(other, SIGINT, 5000), 0);
    const char *const bad[] = {getenv("PROXYD_ORIGIN"), "-l", "nonsense", NULL};
    ck_assert_int_eq(ts_spawn(bad, "origin: listening", NULL, 0, 2000), -1);
}
END_TEST

/* ts_free_port: distinct ports outside the kernel's ephemeral range (no bind(:0) or connect() elsewhere takes them),
 * locked against every other open of their lock file (another test process); ts_spawn_port will not take an
 * existing listener for its child. */
START_TEST(free_port_reserved)
{
    char path[64], listen_on[64];
    int lo = 32768, hi = 60999, p = ts_free_port(), q = ts_free_port();
    FILE *fp = fopen("/proc/sys/net/ipv4/ip_local_port_range", "r");
    if (fp) {
        ck_assert_int_eq(fscanf(fp, "%d %d", &lo, &hi), 2);
        fclose(fp);
    }
    ck_assert_int_gt(p, 0);
    ck_assert_int_gt(q, 0);
    ck_assert_int_ne(p, q);
    if (lo - TS_PORT_MIN >= 1000) /* the pool lies below the ephemeral range whenever there is room for it */
        ck_assert_msg(p >= TS_PORT_MIN && p < lo && q >= TS_PORT_MIN && q < lo, "ports %d %d not in %d-%d", p, q,
                      TS_PORT_MIN, lo - 1);
    snprintf(path, sizeof path, TS_PORT_LOCK_DIR "/%d", p);
    int fd = open(path, O_RDWR | O_CLOEXEC);
    ck_assert_int_ge(fd, 0);
    ck_assert_msg(flock(fd, LOCK_EX | LOCK_NB) < 0 && errno == EWOULDBLOCK, "port %d is not locked", p);
    close(fd);
    struct sockaddr_in sa = {
        .sin_family = AF_INET, .sin_port = htons((uint16_t)p), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ck_assert_int_ge(lfd, 0);
    ck_assert_int_eq(bind(lfd, (struct sockaddr *)&sa, sizeof sa), 0); /* free for a plain bind */
    ck_assert_int_eq(listen(lfd, 4), 0);
    snprintf(listen_on, sizeof listen_on, "127.0.0.1:%d", p);
    const char *const argv[] = {getenv("PROXYD_ORIGIN"), "-l", listen_on, "-q", NULL};
    ck_assert_int_eq(ts_spawn_port(argv, p, 2000), -1);
    close(lfd);
}
END_TEST

static Suite *origin_suite(void)
{
    Suite *s = suite_create("e2e_origin");
    TCase *tc = tcase_create("origin");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, size_body);
    tcase_add_test(tc, large_body);
    tcase_add_test(tc, keepalive_stats);
    tcase_add_test(tc, echo_raw_head);
    tcase_add_test(tc, echo_chunked_body);
    tcase_add_test(tc, echo_large_length_body);
    tcase_add_test(tc, chunked_response);
    tcase_add_test(tc, delay);
    tcase_add_test(tc, pipelined);
    tcase_add_test(tc, malformed);
    tcase_add_test(tc, head_has_no_body);
    tcase_add_test(tc, no_body_statuses);
    tcase_add_test(tc, header_and_type);
    tcase_add_test(tc, close_endpoint);
    tcase_add_test(tc, spawn_by_port);
    tcase_add_test(tc, free_port_reserved);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(origin_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
