/* End-to-end tests of proxyd's client-side limits and errors: 413, malformed requests (400, 414/431, 501, 505)
 * answered then closed, Expect: 100-continue, keep-alive timing, and configuration errors reported by -t. */
#include "px_harness.h"

#include <check.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static px_env env;

#define ONE_ORIGIN                                                                                                     \
    "[upstream o]\nserver = 127.0.0.1:@O0@\n"                                                                          \
    "[server s]\nlisten = 127.0.0.1:@PORT@\nproxy_pass = o\n"

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits up to ms for the peer to close fd (after discarding any bytes). Returns 1 when it did. */
static int closed_within(int fd, int ms)
{
    char buf[4096];
    long long deadline = now_ms() + ms;
    for (;;) {
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        long long left = deadline - now_ms();
        if (left <= 0 || poll(&pfd, 1, (int)left) <= 0)
            return 0;
        ssize_t n = recv(fd, buf, sizeof buf, 0);
        if (n == 0 || (n < 0 && errno == ECONNRESET))
            return 1;
        if (n < 0 && errno != EINTR)
            return 0;
    }
}

/* 8. Content-Length over client_max_body_size: 413 and nothing forwarded; under it: forwarded. */
START_TEST(body_too_large)
{
    char raw[4096];
    ts_response r;
    px_env_init(&env, 1);
    px_proxy_start(&env, PX_GLOBAL "client_max_body_size = 1k\n" ONE_ORIGIN);
    int n = snprintf(raw, sizeof raw, "POST /echo HTTP/1.1\r\nHost: h\r\nContent-Length: 2000\r\n\r\n");
    memset(raw + n, 'b', 2000);
    int fd = ts_connect(env.port);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(ts_send(fd, raw, (size_t)n), 0); /* the head alone: the answer must not wait for the body */
    ck_assert_int_eq(ts_read_response(fd, &r, 0), 0);
    ck_assert_int_eq(r.status, 413);
    ts_response_free(&r);
    close(fd);
    ck_assert_int_eq(px_origin_requests(env.oport[0]), 0);
    /* A chunked body that grows over the limit is cut: 413 (or a close), never a 200 from the origin. */
    const char *head = "POST /echo HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n";
    fd = ts_connect(env.port);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(ts_send(fd, head, strlen(head)), 0);
    n = 0;
    for (int i = 0; i < 4; i++) {
        n += sprintf(raw + n, "200\r\n");
        memset(raw + n, 'c', 512);
        n += 512;
        n += sprintf(raw + n, "\r\n");
    }
    n += sprintf(raw + n, "0\r\n\r\n");
    ts_send(fd, raw, (size_t)n); /* may fail once proxyd has answered and closed */
    if (ts_read_response(fd, &r, 0) == 0) {
        ck_assert_int_eq(r.status, 413);
        ts_response_free(&r);
    }
    close(fd);
    /* Under the limit, the body arrives whole. */
    n = snprintf(raw, sizeof raw, "POST /echo HTTP/1.1\r\nHost: h\r\nContent-Length: 1000\r\n\r\n");
    memset(raw + n, 'd', 1000);
    raw[n + 1000] = 0;
    px_req(env.port, raw, &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_uint_ge(r.body_len, 1000);
    ck_assert_int_eq(memcmp(r.body + r.body_len - 1000, raw + n, 1000), 0);
    ts_response_free(&r);
    px_env_done(&env);
}
END_TEST

/* 12. Each malformed request gets its status, then the connection is closed, and the origin sees none. */
START_TEST(bad_requests)
{
    static char long_line[3000], long_field[3000], many[1024];
    strcpy(long_line, "GET /");
    memset(long_line + 5, 'a', 2000);
    strcpy(long_line + 2005, " HTTP/1.1\r\nHost: h\r\n\r\n");
    strcpy(long_field, "GET / HTTP/1.1\r\nHost: h\r\nX-Big: ");
    size_t k = strlen(long_field);
    memset(long_field + k, 'v', 2000);
    strcpy(long_field + k + 2000, "\r\n\r\n");
    k = (size_t)sprintf(many, "GET / HTTP/1.1\r\nHost: h\r\n");
    for (int i = 0; i < 12; i++)
        k += (size_t)sprintf(many + k, "X-F%d: %d\r\n", i, i);
    strcpy(many + k, "\r\n");
    const struct {
        const char *what, *raw;
        int status, alt;
    } cases[] = {
        {"bare LF", "GET / HTTP/1.1\nHost: h\n\n", 400, 400},
        {"bare LF after a field", "GET / HTTP/1.1\r\nHost: h\nX: y\r\n\r\n", 400, 400},
        {"space in a field name", "GET / HTTP/1.1\r\nHost: h\r\nBad Name: x\r\n\r\n", 400, 400},
        {"space before the colon", "GET / HTTP/1.1\r\nHost: h\r\nX-A : x\r\n\r\n", 400, 400},
        {"two Host", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400, 400},
        {"no Host", "GET / HTTP/1.1\r\nX: y\r\n\r\n", 400, 400},
        {"long request line", long_line, 414, 431},
        {"long head", long_field, 431, 414},
        {"too many fields", many, 431, 431},
        /* RFC 9112 6.3 wants 400 when chunked is not final; nginx answers 501: either. */
        {"Transfer-Encoding: gzip", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip\r\n\r\n", 501, 400},
        {"Transfer-Encoding: gzip, chunked",
         "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", 501, 501},
        {"HTTP/2.0", "GET / HTTP/2.0\r\nHost: h\r\n\r\n", 505, 505},
        {"two Content-Length", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab", 400,
         400},
    };
    ts_response r;
    px_env_init(&env, 1);
    px_proxy_start(&env, PX_GLOBAL "client_header_buffer_size = 1k\nmax_header_fields = 10\n" ONE_ORIGIN);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int fd = ts_connect(env.port);
        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(ts_send(fd, cases[i].raw, strlen(cases[i].raw)), 0);
        ck_assert_msg(ts_read_response(fd, &r, 0) == 0, "%s: no response", cases[i].what);
        ck_assert_msg(r.status == cases[i].status || r.status == cases[i].alt, "%s: status %d, want %d", cases[i].what,
                      r.status, cases[i].status);
        ck_assert_msg(r.closed || closed_within(fd, 2000), "%s: connection left open", cases[i].what);
        ts_response_free(&r);
        close(fd);
    }
    ck_assert_int_eq(px_origin_requests(env.oport[0]), 0);
    /* The limits leave an ordinary request alone. */
    px_req(env.port, "GET /size/2 HTTP/1.1\r\nHost: h\r\n\r\n", &r);
    ck_assert_int_eq(r.status, 200);
    ts_response_free(&r);
    px_env_done(&env);
}
END_TEST

/* Reads exactly n bytes (each wait bounded by the socket's receive timeout). Returns 0, or -1 on timeout or close. */
static int recv_all(int fd, char *buf, size_t n)
{
    while (n > 0) {
        ssize_t k = recv(fd, buf, n, 0);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return -1;
        buf += k;
        n -= (size_t)k;
    }
    return 0;
}

/* Whether the Connection field of r lists "close". */
static int announces_close(const ts_response *r)
{
    const char *v = ts_header(r, "Connection");
    return v && strcasestr(v, "close") != NULL;
}

/* Connects, sends head and reads the interim response proxyd sends before any body byte. Returns the fd. */
static int expect_start(const char *head)
{
    ts_response r;
    int fd = ts_connect(env.port);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(ts_send(fd, head, strlen(head)), 0);
    ck_assert_int_eq(ts_read_response(fd, &r, 0), 0);
    ck_assert_int_eq(r.status, 100);
    ck_assert_msg(strncmp(r.head, "HTTP/1.1 100 Continue\r\n", 23) == 0, "%s", r.head);
    ts_response_free(&r);
    return fd;
}

/* On a kept connection: the next request gets its own response, not a second interim one. */
static void assert_next_request(int fd)
{
    ts_response r;
    const char *next = "GET /size/3 HTTP/1.1\r\nHost: h\r\n\r\n";
    ck_assert_int_eq(ts_send(fd, next, strlen(next)), 0);
    ck_assert_int_eq(ts_read_response(fd, &r, 0), 0);
    ck_assert_int_eq(r.status, 200);
    ck_assert_uint_eq(r.body_len, 3);
    ts_response_free(&r);
}

#define EXPECT_CL "POST /echo HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n"

/* Expect: 100-continue, the body sent as soon as the interim response is in. The origin's /echo answers when the
 * head arrives, so whether proxyd has read the body by then is a race it does not control: an answer before the body
 * is done makes it close (RFC 9112 9.6). Either way the 200 says what proxyd then does, and the body reaches the
 * origin (it is echoed). */
START_TEST(expect_continue)
{
    ts_response r;
    px_env_init(&env, 1);
    px_proxy_start(&env, PX_GLOBAL ONE_ORIGIN);
    int fd = expect_start(EXPECT_CL);
    ck_assert_int_eq(ts_send(fd, "hello", 5), 0);
    ck_assert_int_eq(ts_read_response(fd, &r, 0), 0);
    ck_assert_int_eq(r.status, 200);
    ck_assert_uint_ge(r.body_len, 5);
    ck_assert_str_eq(r.body + r.body_len - 5, "hello");
    int closing = announces_close(&r);
    fprintf(stderr, "expect_continue: the 200 %s\n", closing ? "announced the close" : "kept the connection");
    if (closing) /* ts_read_response awaited the close; a byte instead (a second response) fails this too */
        ck_assert_msg(r.closed, "Connection: close announced, connection left open:\n%s", r.head);
    else
        ck_assert_msg(!r.closed, "closed without announcing it:\n%s", r.head);
    ts_response_free(&r);
    if (!closing)
        assert_next_request(fd);
    close(fd);
    px_env_done(&env);
}
END_TEST

/* The origin's answer reaches the client before the body is sent: proxyd announces the close in that head, still
 * forwards the body (the origin echoes it into the rest of its answer), then closes. */
START_TEST(expect_continue_early_answer)
{
    char body[4096];
    ts_response r;
    px_env_init(&env, 1);
    px_proxy_start(&env, PX_GLOBAL ONE_ORIGIN);
    int fd = expect_start(EXPECT_CL);
    ck_assert_int_eq(ts_read_response(fd, &r, 1), 0); /* the head only: its body cannot end before ours is sent */
    ck_assert_int_eq(r.status, 200);
    ck_assert_msg(announces_close(&r), "an answer before the body without Connection: close:\n%s", r.head);
    const char *cl = ts_header(&r, "Content-Length");
    ck_assert_ptr_nonnull(cl);
    size_t len = strtoul(cl, NULL, 10);
    ck_assert_uint_ge(len, 5);
    ck_assert_uint_lt(len, sizeof body);
    ts_response_free(&r);
    ck_assert_int_eq(ts_send(fd, "hello", 5), 0);
    ck_assert_msg(recv_all(fd, body, len) == 0, "the echoed body did not arrive whole");
    ck_assert_int_eq(memcmp(body + len - 5, "hello", 5), 0);
    ck_assert_msg(closed_within(fd, TS_IO_TIMEOUT_MS), "Connection: close announced, connection left open");
    close(fd);
    px_env_done(&env);
}
END_TEST

/* A chunked body: the origin's /echo answers only after the last chunk, which proxyd forwards only once it has read
 * it, so no answer can come early and the connection stays open for the next request. */
START_TEST(expect_continue_chunked)
{
    ts_response r;
    px_env_init(&env, 1);
    px_proxy_start(&env, PX_GLOBAL ONE_ORIGIN);
    int fd = expect_start("POST /echo HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n"
                          "Expect: 100-continue\r\n\r\n");
    ck_assert_int_eq(ts_send(fd, "5\r\nhello\r\n0\r\n\r\n", 15), 0);
    ck_assert_int_eq(ts_read_response(fd, &r, 0), 0);
    ck_assert_int_eq(r.status, 200);
    ck_assert_uint_ge(r.body_len, 5);
    ck_assert_str_eq(r.body + r.body_len - 5, "hello");
    ck_assert_msg(!announces_close(&r) && !r.closed, "an answer after the whole body closed the connection:\n%s",
                  r.head);
    ts_response_free(&r);
    assert_next_request(fd);
    close(fd);
    px_env_done(&env);
}
END_TEST

/* 16. An idle keep-alive client is closed after keepalive_timeout; a long poll is not. */
START_TEST(keepalive_timeout)
{
    ts_response r;
    px_env_init(&env, 1);
    px_proxy_start(&env, PX_GLOBAL "keepalive_timeout = 1s\n"
                                   "[upstream o]\nserver = 127.0.0.1:@O0@\nread_timeout = 10s\n"
                                   "[server s]\nlisten = 127.0.0.1:@PORT@\nproxy_pass = o\n");
    int fd = ts_connect(env.port);
    ck_assert_int_ge(fd, 0);
    const char *req = "GET /size/3 HTTP/1.1\r\nHost: h\r\n\r\n";
    ck_assert_int_eq(ts_send(fd, req, strlen(req)), 0);
    ck_assert_int_eq(ts_read_response(fd, &r, 0), 0);
    ck_assert_int_eq(r.status, 200);
    ts_response_free(&r);
    long long t0 = now_ms();
    ck_assert_msg(closed_within(fd, 3000), "idle client not closed within 3 s");
    long long took = now_ms() - t0;
    ck_assert_msg(took >= 800, "closed after %lld ms, before keepalive_timeout", took);
    close(fd);
    /* A request waiting 2.5 s on the upstream outlives the 1 s client timer. */
    fd = ts_connect(env.port);
    ck_assert_int_ge(fd, 0);
    req = "GET /size/3?delay=2500 HTTP/1.1\r\nHost: h\r\n\r\n";
    ck_assert_int_eq(ts_send(fd, req, strlen(req)), 0);
    ck_assert_int_eq(ts_read_response(fd, &r, 0), 0);
    ck_assert_int_eq(r.status, 200);
    ck_assert_uint_eq(r.body_len, 3);
    ts_response_free(&r);
    close(fd);
    px_env_done(&env);
}
END_TEST

/* 14. proxyd -t: one line per error naming file, line and key; exit 1 (0 for a valid file). */
START_TEST(config_errors)
{
    const struct {
        const char *what, *tpl;
        int line;
        const char *key;
    } cases[] = {
        {"unknown key", "[global]\nworkers = 1\nbogus_key = 1\n", 3, "bogus_key"},
        {"unknown section", "[global]\nworkers = 1\n[frobnicate x]\nfoo = 1\n", 3, "frobnicate"},
        {"bad duration", "[global]\nkeepalive_timeout = 10 parsecs\n", 2, "keepalive_timeout"},
        {"bad size", "[global]\n\nclient_max_body_size = lots\n", 3, "client_max_body_size"},
        {"bad switch", "[global]\nserver_tokens = maybe\n", 2, "server_tokens"},
        {"missing upstream", "[global]\n[server s]\nlisten = 127.0.0.1:@PORT@\nproxy_pass = nowhere\n", 4,
         "proxy_pass"},
        {"missing listen", "[upstream o]\nserver = 127.0.0.1:1\n[server s]\nproxy_pass = o\n", 3, "listen"},
        {"duplicate key", "[global]\nworkers = 1\nworkers = 2\n", 3, "workers"},
        {"key in the wrong section", "[upstream o]\nserver = 127.0.0.1:1\nlisten = 127.0.0.1:80\n", 3, "listen"},
    };
    char out[4096], want[160];
    px_env_init(&env, 0);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int rc = px_check_config(&env, cases[i].tpl, out, sizeof out);
        ck_assert_msg(rc == 1, "%s: exit %d, want 1; stderr:\n%s", cases[i].what, rc, out);
        snprintf(want, sizeof want, "%s:%d:", env.conf, cases[i].line);
        ck_assert_msg(strstr(out, want) != NULL, "%s: no \"%s\" in:\n%s", cases[i].what, want, out);
        ck_assert_msg(strstr(out, cases[i].key) != NULL, "%s: key %s not named in:\n%s", cases[i].what, cases[i].key,
                      out);
    }
    int rc = px_check_config(&env,
                             PX_GLOBAL "keepalive_timeout = 500ms\nclient_max_body_size = 10m\n"
                                       "[upstream o]\nserver = 127.0.0.1:@DEAD@ weight=2\n"
                                       "[server s]\nlisten = 127.0.0.1:@PORT@\nproxy_pass = o\n",
                             out, sizeof out);
    ck_assert_msg(rc == 0, "valid configuration: exit %d:\n%s", rc, out);
    px_env_done(&env);
}
END_TEST

/* An upstream that fails while the request waits for its answer (a long poll) is logged as failing "while reading
 * the response header", not "while sending the request" (issue 19 item 7). */
START_TEST(failure_while_waiting_is_reading)
{
    ts_response r;
    px_env_init(&env, 1);
    px_proxy_start(&env, PX_GLOBAL "[upstream o]\nserver = 127.0.0.1:@O0@\n"
                                   "[server s]\nlisten = 127.0.0.1:@PORT@\nproxy_pass = o\n");
    int fd = ts_connect(env.port);
    ck_assert_int_ge(fd, 0);
    const char *req = "GET /size/10?delay=20000 HTTP/1.1\r\nHost: h\r\n\r\n";
    ck_assert_int_eq(ts_send(fd, req, strlen(req)), 0);
    int seen = 0; /* the origin holds the request: its /stats counts it */
    for (int i = 0; i < 200 && !seen; i++) {
        ck_assert_int_eq(ts_request(env.oport[0], "GET /stats HTTP/1.1\r\nHost: o\r\n\r\n", &r), 0);
        seen = strstr(r.body, "\"requests\":1") != NULL;
        ts_response_free(&r);
        if (!seen)
            usleep(20000);
    }
    ck_assert_msg(seen, "the origin never got the request");
    ck_assert_int_eq(kill(env.opid[0], SIGKILL), 0); /* the connection dies under the waiting request */
    ck_assert_int_eq(waitpid(env.opid[0], NULL, 0), env.opid[0]);
    env.opid[0] = 0;
    ck_assert_int_eq(ts_read_response(fd, &r, 0), 0);
    ck_assert_int_eq(r.status, 502);
    ts_response_free(&r);
    close(fd);
    char *log = px_read_file(env.log);
    ck_assert_msg(log && strstr(log, "while reading the response header from upstream"), "%s", log);
    ck_assert_msg(!strstr(log, "while sending the request"), "%s", log);
    free(log);
    px_env_done(&env);
}
END_TEST

static Suite *errors_suite(void)
{
    Suite *s = suite_create("e2e_proxy_errors");
    TCase *tc = tcase_create("errors");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, body_too_large);
    tcase_add_test(tc, bad_requests);
    tcase_add_test(tc, expect_continue);
    tcase_add_test(tc, failure_while_waiting_is_reading);
    tcase_add_test(tc, expect_continue_early_answer);
    tcase_add_test(tc, expect_continue_chunked);
    tcase_add_test(tc, keepalive_timeout);
    tcase_add_test(tc, config_errors);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(errors_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
