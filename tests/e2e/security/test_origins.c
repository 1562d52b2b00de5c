/* End-to-end tests of proxyd against failing and hostile origins: ambiguous or over-long responses, refused and
 * reset connections, garbage, a 200 MB response read slowly and an origin that stops reading an upload. */
#include "px_harness.h"
#include "recorder.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static px_env env;
static recorder rec;

#define SERVER "[server s]\nlisten = 127.0.0.1:@PORT@\nproxy_pass = o\n"
#define TO_REC PX_GLOBAL "[upstream o]\nserver = 127.0.0.1:@O0@\nkeepalive = 8\n" SERVER
#define MB (1024L * 1024L)

/* Starts the recorder and proxyd with an upstream pointing at it. */
static void start_with_recorder(const char *tpl)
{
    px_env_init(&env, 0);
    rec_start(&rec);
    env.oport[0] = rec.port;
    px_proxy_start(&env, tpl);
}

static void stop_all(void)
{
    px_env_done(&env);
    rec_stop(&rec);
}

/* A complete 200 "ok:<path>" from the recorder through a new connection. */
static void assert_fresh_ok(const char *path)
{
    char raw[256], want[256];
    ts_response r;
    snprintf(raw, sizeof raw, "GET %s HTTP/1.1\r\nHost: h\r\n\r\n", path);
    snprintf(want, sizeof want, "ok:%s", path);
    px_req(env.port, raw, &r);
    ck_assert_msg(r.status == 200 && strcmp(r.body, want) == 0, "%s: %d '%s'", path, r.status, r.body);
    ts_response_free(&r);
}

/* VmRSS of pid in bytes, or -1. */
static long vm_rss(pid_t pid)
{
    char path[64], line[256];
    long kb = -1;
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *fp = fopen(path, "r");
    if (!fp)
        return -1;
    while (fgets(line, sizeof line, fp))
        if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
            break;
    fclose(fp);
    return kb < 0 ? -1 : kb * 1024;
}

static const char *const hostile[] = {"/h/clte", "/h/twocl", "/h/trailing"};

/* The recorder index of the connection that carried path (the last such request), or -1. */
static int conn_of(const char *path)
{
    int c = -1;
    pthread_mutex_lock(&rec.mu);
    for (int i = 0; i < rec.nreqs; i++)
        if (strcmp(rec.reqs[i].path, path) == 0)
            c = rec.reqs[i].conn;
    pthread_mutex_unlock(&rec.mu);
    return c;
}

/* A hostile response: the client sees one answer (the 200 without the smuggled part, or a 502), the next request
 * on the same client connection gets its own answer, and the hostile upstream connection is not reused. */
START_TEST(hostile_origin)
{
    const char *path = hostile[_i];
    char raw[128];
    ts_response r;
    start_with_recorder(TO_REC);
    int fd = ts_connect(env.port);
    ck_assert_int_ge(fd, 0);
    snprintf(raw, sizeof raw, "GET %s HTTP/1.1\r\nHost: h\r\n\r\n", path);
    ck_assert_int_eq(ts_send(fd, raw, strlen(raw)), 0);
    ck_assert_msg(ts_read_response(fd, &r, 0) == 0, "%s: no response", path);
    ck_assert_msg(r.status == 502 || r.status == 200, "%s: status %d", path, r.status);
    ck_assert_msg(!strstr(r.body, "smuggled"), "%s: smuggled bytes in the body: %s", path, r.body);
    fprintf(stderr, "hostile %s: client got %d (%zu body bytes)%s\n", path, r.status, r.body_len,
            r.closed ? ", closed" : "");
    int closed = r.closed;
    ts_response_free(&r);
    if (closed) {
        close(fd);
        fd = ts_connect(env.port);
        ck_assert_int_ge(fd, 0);
    }
    const char *next = "GET /next HTTP/1.1\r\nHost: h\r\n\r\n";
    if (ts_send(fd, next, strlen(next)) < 0 || ts_read_response(fd, &r, 0) < 0) {
        close(fd); /* proxyd closed the client connection after the bad response: fine, use a new one */
        fd = ts_connect(env.port);
        ck_assert_int_eq(ts_send(fd, next, strlen(next)), 0);
        ck_assert_int_eq(ts_read_response(fd, &r, 0), 0);
    }
    ck_assert_msg(r.status == 200 && strcmp(r.body, "ok:/next") == 0, "%s: the next request got %d '%s'", path,
                  r.status, r.body);
    ts_response_free(&r);
    close(fd);
    int hc = conn_of(path), nc = conn_of("/next");
    ck_assert_int_ge(hc, 0);
    ck_assert_msg(nc != hc, "%s: the upstream connection that sent it was reused for the next request", path);
    ck_assert_int_ge(rec_nconns(&rec), 2);
    stop_all();
}
END_TEST

/* Framing that once went wrong: 120 one-byte chunks (more than one write batch: the rest waited for input that
 * never came, until read_timeout), a 204 carrying Content-Length (never forwarded on a 204), 120 fields (over
 * libhttp's default limit, within proxyd's array), and an answer before the upload was complete (proxyd will
 * close, so the head must say Connection: close). */
START_TEST(unusual_framing)
{
    start_with_recorder(PX_GLOBAL "[upstream o]\nserver = 127.0.0.1:@O0@\nkeepalive = 8\nread_timeout = 3s\n" SERVER);
    ts_response r;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    px_req(env.port, "GET /manychunks HTTP/1.1\r\nHost: h\r\n\r\n", &r);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    ck_assert_int_eq(r.status, 200);
    ck_assert_msg(r.body_len == 120 && r.body[0] == 'a' && r.body[119] == 'a' + 119 % 26, "%zu bytes", r.body_len);
    ck_assert_msg(t1.tv_sec - t0.tv_sec < 2, "took %ld s", (long)(t1.tv_sec - t0.tv_sec));
    ts_response_free(&r);

    px_req(env.port, "GET /204cl HTTP/1.1\r\nHost: h\r\n\r\n", &r);
    ck_assert_int_eq(r.status, 204);
    ck_assert_ptr_null(ts_header(&r, "Content-Length"));
    ts_response_free(&r);

    px_req(env.port, "GET /manyfields HTTP/1.1\r\nHost: h\r\n\r\n", &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_ptr_nonnull(ts_header(&r, "X-F-119"));
    ts_response_free(&r);

    int fd = ts_connect(env.port);
    ck_assert_int_ge(fd, 0);
    const char *early = "POST /early HTTP/1.1\r\nHost: h\r\nContent-Length: 5000\r\n\r\n0123456789";
    ck_assert_int_eq(ts_send(fd, early, strlen(early)), 0);
    ck_assert_int_eq(ts_read_response(fd, &r, 0), 0);
    ck_assert_int_eq(r.status, 401);
    const char *conn = ts_header(&r, "Connection");
    ck_assert_msg(conn && strcasecmp(conn, "close") == 0, "Connection: %s", conn ? conn : "(none)");
    ts_response_free(&r);
    close(fd);
    assert_fresh_ok("/after");
    stop_all();
}
END_TEST

/* How many requests for path the recorder received. */
static int count_path(const char *path)
{
    int n = 0;
    pthread_mutex_lock(&rec.mu);
    for (int i = 0; i < rec.nreqs; i++)
        n += strcmp(rec.reqs[i].path, path) == 0;
    pthread_mutex_unlock(&rec.mu);
    return n;
}

/* A server that takes the request and resets before answering: an idempotent GET goes on to the next server
 * (nginx's proxy_next_upstream error), a POST is never sent twice; and such failures add up to max_fails
 * (they were reset by the successful connect before). */
START_TEST(reset_before_answer)
{
    px_env_init(&env, 1);
    rec_start(&rec);
    env.oport[1] = rec.port;
    px_proxy_start(&env, PX_GLOBAL "[upstream o]\nserver = 127.0.0.1:@O1@ max_fails=3 fail_timeout=30s\n"
                                   "server = 127.0.0.1:@O0@\nkeepalive = 0\n" SERVER);
    char raw[128];
    ts_response r;
    for (int i = 0; i < 6; i++) {
        snprintf(raw, sizeof raw, "GET /rst/g%d HTTP/1.1\r\nHost: h\r\n\r\n", i);
        px_req(env.port, raw, &r);
        ck_assert_msg(r.status != 502, "GET %d: 502 instead of the next server's answer", i);
        ts_response_free(&r);
    }
    int before = rec_nreqs(&rec);
    ck_assert_int_eq(before, 3); /* the third failure marked it down: later requests skip it */
    char *log = px_read_file(env.log);
    ck_assert_msg(log && strstr(log, "marked down"), "%s", log ? log : "(no log)");
    free(log);
    px_proxy_stop(&env);
    rec_stop(&rec);
    px_env_done(&env);

    px_env_init(&env, 1);
    rec_start(&rec);
    env.oport[1] = rec.port;
    px_proxy_start(&env, PX_GLOBAL "[upstream o]\nserver = 127.0.0.1:@O1@ max_fails=0\nserver = 127.0.0.1:@O0@\n"
                                   "keepalive = 0\n" SERVER);
    int got502 = 0;
    for (int i = 0; i < 4; i++) {
        const char *post = "POST /rst/p HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n\r\nhi";
        px_req(env.port, post, &r);
        got502 += r.status == 502;
        ts_response_free(&r);
    }
    ck_assert_int_eq(count_path("/rst/p"), got502); /* each POST that reached the bad server: once, then 502 */
    ck_assert_int_gt(got502, 0);
    stop_all();
}
END_TEST

/* proxy_ignore_client_abort = on: a client that half-closes after its request still gets the response. */
START_TEST(half_close_ignored)
{
    start_with_recorder(TO_REC "proxy_ignore_client_abort = on\n");
    for (int i = 0; i < 20; i++) {
        int fd = ts_connect(env.port);
        ck_assert_int_ge(fd, 0);
        const char *req = "GET /half HTTP/1.1\r\nHost: h\r\n\r\n";
        ck_assert_int_eq(ts_send(fd, req, strlen(req)), 0);
        shutdown(fd, SHUT_WR);
        ts_response r;
        ck_assert_msg(ts_read_response(fd, &r, 0) == 0, "round %d: no response", i);
        ck_assert_msg(r.status == 200 && strcmp(r.body, "ok:/half") == 0, "round %d: %d", i, r.status);
        ts_response_free(&r);
        close(fd);
    }
    stop_all();
}
END_TEST

/* A refused connection: the next server answers; with no other server, 502. */
START_TEST(refused_next_server)
{
    start_with_recorder(PX_GLOBAL "[upstream o]\nserver = 127.0.0.1:@DEAD@\nserver = 127.0.0.1:@O0@\n"
                                  "[upstream d]\nserver = 127.0.0.1:@DEAD@\n"
                                  "[server s]\nlisten = 127.0.0.1:@PORT@\nproxy_pass = o\nroute = /dead d\n");
    for (int i = 0; i < 4; i++)
        assert_fresh_ok("/x");
    ts_response r;
    px_req(env.port, "GET /dead HTTP/1.1\r\nHost: h\r\n\r\n", &r);
    ck_assert_int_eq(r.status, 502);
    ts_response_free(&r);
    stop_all();
}
END_TEST

/* A reset in the middle of a response: the client connection ends without a complete response, and nothing of the
 * broken response is ever delivered as the answer to a following request. */
START_TEST(reset_mid_response)
{
    ts_response r;
    start_with_recorder(TO_REC);
    int fd = ts_connect(env.port);
    ck_assert_int_ge(fd, 0);
    const char *req = "GET /reset HTTP/1.1\r\nHost: h\r\n\r\n";
    ck_assert_int_eq(ts_send(fd, req, strlen(req)), 0);
    int rc = ts_read_response(fd, &r, 0);
    if (rc == 0) /* proxyd answered 502 before forwarding any of it: also correct */
        ck_assert_msg(r.status == 502, "reset: a complete %d response", r.status);
    ts_response_free(&r);
    const char *next = "GET /next HTTP/1.1\r\nHost: h\r\n\r\n";
    if (rc < 0 && ts_send(fd, next, strlen(next)) == 0) {
        char buf[512];
        ssize_t n = recv(fd, buf, sizeof buf, 0);
        ck_assert_msg(n <= 0, "reset: %zd bytes on the broken connection after the reset: %.*s", n,
                      (int)(n > 0 ? n : 0), buf);
    }
    close(fd);
    assert_fresh_ok("/after");
    stop_all();
}
END_TEST

START_TEST(garbage_response)
{
    ts_response r;
    start_with_recorder(TO_REC);
    px_req(env.port, "GET /garbage HTTP/1.1\r\nHost: h\r\n\r\n", &r);
    ck_assert_int_eq(r.status, 502);
    ts_response_free(&r);
    assert_fresh_ok("/after");
    stop_all();
}
END_TEST

/* 200 MB from the origin read slowly by the client: proxyd's resident memory stays within 64 MB of its level
 * after a warm-up request. */
START_TEST(large_response_bounded)
{
    ts_response r;
    px_env_init(&env, 1);
    px_proxy_start(&env, PX_GLOBAL "[upstream o]\nserver = 127.0.0.1:@O0@\n" SERVER);
    px_req(env.port, "GET /size/1000000 HTTP/1.1\r\nHost: h\r\n\r\n", &r);
    ts_response_free(&r);
    long base = vm_rss(env.pid), peak = base;
    int fd = ts_connect(env.port), rcvbuf = 65536;
    ck_assert_int_ge(fd, 0);
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    const char *req = "GET /size/200000000 HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n";
    ck_assert_int_eq(ts_send(fd, req, strlen(req)), 0);
    static char buf[65536];
    long total = 0;
    for (long reads = 0;; reads++) {
        ssize_t n = recv(fd, buf, sizeof buf, 0);
        ck_assert_msg(n >= 0, "recv: %s after %ld bytes", strerror(errno), total);
        if (n == 0)
            break;
        total += n;
        if (reads % 64 == 0) {
            long rss = vm_rss(env.pid);
            peak = rss > peak ? rss : peak;
            struct timespec ts = {0, 2 * 1000 * 1000}; /* the slow reader */
            nanosleep(&ts, NULL);
        }
    }
    close(fd);
    ck_assert_msg(total > 200000000L, "only %ld bytes", total);
    fprintf(stderr, "large response: %ld bytes, proxyd VmRSS %ld kB before, peak %ld kB (+%ld kB)\n", total,
            base / 1024, peak / 1024, (peak - base) / 1024);
    ck_assert_msg(peak - base < 64 * MB, "VmRSS grew by %ld kB", (peak - base) / 1024);
    px_env_done(&env);
}
END_TEST

/* Sends as much of a 200 MB upload as proxyd takes until it answers or closes; returns the status (0: closed
 * without an answer, -1: nothing within 20 s). */
static int upload_until_answer(int fd, long *sent, long *peak)
{
    static char buf[65536];
    memset(buf, 'u', sizeof buf);
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    for (int ms = 0; ms < 20000; ms += 50) {
        struct pollfd p = {.fd = fd, .events = POLLIN | POLLOUT};
        poll(&p, 1, 50);
        long rss = vm_rss(env.pid);
        *peak = rss > *peak ? rss : *peak;
        if (p.revents & (POLLIN | POLLHUP | POLLERR)) {
            ts_response r;
            fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
            if (ts_read_response(fd, &r, 0) < 0)
                return 0;
            int st = r.status;
            ts_response_free(&r);
            return st;
        }
        while (*sent < 200000000L) {
            ssize_t n = send(fd, buf, sizeof buf, MSG_NOSIGNAL);
            if (n <= 0)
                break;
            *sent += n;
        }
    }
    return -1;
}

/* An origin that stops reading a large upload: send_timeout ends it, memory stays bounded, proxyd keeps serving. */
START_TEST(origin_stops_reading_upload)
{
    start_with_recorder(PX_GLOBAL "[upstream o]\nserver = 127.0.0.1:@O0@\nsend_timeout = 2s\n" SERVER
                                  "client_max_body_size = 0\n");
    assert_fresh_ok("/warm");
    long base = vm_rss(env.pid), peak = base, sent = 0;
    int fd = ts_connect(env.port);
    ck_assert_int_ge(fd, 0);
    const char *head = "POST /noread HTTP/1.1\r\nHost: h\r\nContent-Length: 200000000\r\n\r\n";
    ck_assert_int_eq(ts_send(fd, head, strlen(head)), 0);
    int st = upload_until_answer(fd, &sent, &peak);
    close(fd);
    fprintf(stderr, "stalled upload: %ld bytes taken, answer %d, VmRSS %ld kB before, peak %ld kB\n", sent, st,
            base / 1024, peak / 1024);
    ck_assert_msg(st == 0 || st >= 500, "stalled upload: answer %d", st);
    ck_assert_msg(st != -1, "stalled upload: neither answered nor closed within 20 s");
    ck_assert_msg(sent < 200000000L, "proxyd took the whole upload");
    ck_assert_msg(peak - base < 64 * MB, "VmRSS grew by %ld kB", (peak - base) / 1024);
    assert_fresh_ok("/after");
    stop_all();
}
END_TEST

static Suite *origins_suite(void)
{
    Suite *s = suite_create("security_origins");
    TCase *tc = tcase_create("origins");
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, hostile_origin, 0, (int)(sizeof hostile / sizeof hostile[0]));
    tcase_add_test(tc, refused_next_server);
    tcase_add_test(tc, unusual_framing);
    tcase_add_test(tc, half_close_ignored);
    tcase_add_test(tc, reset_before_answer);
    tcase_add_test(tc, reset_mid_response);
    tcase_add_test(tc, garbage_response);
    tcase_add_test(tc, large_response_bounded);
    tcase_add_test(tc, origin_stops_reading_upload);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(origins_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
