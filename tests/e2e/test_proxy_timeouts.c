/* End-to-end tests of the upstream timeouts: header_timeout (request sent to the first response byte) apart from
 * read_timeout (between reads), both overridden per route, and a hung (SIGSTOPped) server among two, which a
 * header timeout counts against while an idempotent request goes on to the other server. Timings are upper bounds
 * with wide margins; the origin's ?delay holds the whole response, head included. */
#include "px_harness.h"

#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static px_env env;

/* Far below the 3 s the origin holds a head, far above the 1 s header_timeout. */
#define HEADER_TIMEOUT_BOUND_MS 2500

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* GET path with curl (a third-party client): the status, the body size in *size, the time taken in *took_ms. */
static int curl_get(const char *path, long *size, long long *took_ms)
{
    char cmd[512], out[256];
    int code = 0;
    snprintf(cmd, sizeof cmd,
             "curl -s -o /dev/null --max-time 20 -w '%%{http_code} %%{size_download}' 'http://127.0.0.1:%d%s'",
             env.port, path);
    long long t0 = now_ms();
    px_run(cmd, out, sizeof out);
    *took_ms = now_ms() - t0;
    ck_assert_msg(sscanf(out, "%d %ld", &code, size) == 2, "curl %s printed \"%s\"", path, out);
    return code;
}

/* One request on a new client connection; returns the status and the time it took. */
static int timed_req(const char *raw, long long *took_ms)
{
    ts_response r;
    long long t0 = now_ms();
    px_req(env.port, raw, &r);
    *took_ms = now_ms() - t0;
    int st = r.status;
    ts_response_free(&r);
    return st;
}

static void assert_log_has(const char *needle)
{
    char *log = px_read_file(env.log);
    ck_assert_msg(log && strstr(log, needle), "the error log lacks \"%s\":\n%s", needle, log ? log : "(none)");
    free(log);
}

static int log_count(const char *needle)
{
    char *log = px_read_file(env.log);
    int n = 0;
    for (const char *p = log ? strstr(log, needle) : NULL; p; p = strstr(p + 1, needle))
        n++;
    free(log);
    return n;
}

/* One upstream, read_timeout 2 s; /status/ gives up on a head after 1 s, /size/ waits 10 s between reads. */
#define ROUTES                                                                                                         \
    PX_GLOBAL "[upstream o]\nserver = 127.0.0.1:@O0@\nkeepalive = 8\nread_timeout = 2s\n"                              \
              "[server s]\nlisten = 127.0.0.1:@PORT@\nproxy_pass = o\n"                                                \
              "route = /status/ o header_timeout=1s\nroute = /size/ o read_timeout=10s\n"

/* A head held 3 s: 504 in about 1 s on the header_timeout route, logged as a header timeout; the same wait on the
 * read_timeout=10s route is a long poll answered 200, although it outlives the upstream's own read_timeout (2 s),
 * which still governs the routes that do not override it. */
START_TEST(route_header_timeout)
{
    long size;
    long long took;
    px_env_init(&env, 1);
    px_proxy_start(&env, ROUTES);
    int st = curl_get("/status/200?delay=3000", &size, &took);
    ck_assert_int_eq(st, 504);
    ck_assert_msg(took < HEADER_TIMEOUT_BOUND_MS, "504 after %lld ms with header_timeout=1s", took);
    assert_log_has("upstream header timeout: no response byte within 1000ms, no other server to try");
    assert_log_has("request: \"GET /status/200?delay=3000\"");

    st = curl_get("/size/10?delay=3000", &size, &took);
    ck_assert_msg(st == 200 && size == 10, "long poll on the read_timeout=10s route: %d, %ld bytes", st, size);
    ck_assert_msg(took >= 2900, "answered after %lld ms: before the origin's delay?", took);

    st = curl_get("/?delay=3000", &size, &took);
    ck_assert_int_eq(st, 504);
    ck_assert_msg(took < HEADER_TIMEOUT_BOUND_MS + 500, "504 after %lld ms with the upstream's read_timeout 2s", took);
    assert_log_has("upstream read timeout");
    ck_assert_int_eq(log_count("upstream header timeout:"), 1);
    px_env_done(&env);
}
END_TEST

/* A one-shot origin that starts its answer at once but sends it slowly: the status line, the rest of the head
 * SLOW_GAP_MS later, the body SLOW_GAP_MS after that. */
#define SLOW_GAP_MS 1500

typedef struct slow_origin {
    int lfd, port;
    pthread_t thread;
} slow_origin;

static void send_str(int fd, const char *s)
{
    ck_assert_int_eq(ts_send(fd, s, strlen(s)), 0);
}

static void *slow_serve(void *arg)
{
    slow_origin *o = arg;
    char buf[4096];
    size_t len = 0;
    int fd = accept(o->lfd, NULL, NULL);
    if (fd < 0)
        return NULL;
    while (len < sizeof buf - 1) { /* the request head */
        ssize_t n = recv(fd, buf + len, sizeof buf - 1 - len, 0);
        if (n <= 0)
            break;
        len += (size_t)n;
        buf[len] = 0;
        if (strstr(buf, "\r\n\r\n"))
            break;
    }
    send_str(fd, "HTTP/1.1 200 OK\r\n");
    usleep(SLOW_GAP_MS * 1000);
    send_str(fd, "Content-Length: 10\r\nConnection: close\r\n\r\n");
    usleep(SLOW_GAP_MS * 1000);
    send_str(fd, "0123456789");
    close(fd);
    return NULL;
}

static void slow_start(slow_origin *o)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t sl = sizeof sa;
    o->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ck_assert_int_ge(o->lfd, 0);
    ck_assert_int_eq(bind(o->lfd, (struct sockaddr *)&sa, sizeof sa), 0);
    ck_assert_int_eq(listen(o->lfd, 4), 0);
    ck_assert_int_eq(getsockname(o->lfd, (struct sockaddr *)&sa, &sl), 0);
    o->port = ntohs(sa.sin_port);
    ck_assert_int_eq(pthread_create(&o->thread, NULL, slow_serve, o), 0);
}

/* header_timeout ends with the first response byte: afterwards only read_timeout applies, between reads, so a
 * response whose head and body come in pieces further apart than header_timeout (1 s) goes through. And a route's
 * header_timeout=off awaits the head for read_timeout, as when no header_timeout is set. */
START_TEST(header_timeout_until_first_byte)
{
    long size;
    long long took;
    char tpl[1024];
    slow_origin slow;
    slow_start(&slow);
    px_env_init(&env, 1);
    snprintf(tpl, sizeof tpl,
             PX_GLOBAL
             "[upstream slow]\nserver = 127.0.0.1:%d\nheader_timeout = 1s\nread_timeout = 5s\n"
             "[upstream o]\nserver = 127.0.0.1:@O0@\nheader_timeout = 1s\nread_timeout = 10s\n"
             "[server s]\nlisten = 127.0.0.1:@PORT@\nproxy_pass = slow\nroute = /size/ o header_timeout=off\n",
             slow.port);
    px_proxy_start(&env, tpl);
    int st = curl_get("/slowly", &size, &took);
    ck_assert_msg(st == 200 && size == 10, "a response sent in slow pieces: %d, %ld bytes", st, size);
    ck_assert_msg(took >= 2 * SLOW_GAP_MS - 100, "answered after %lld ms: before the origin's pauses?", took);
    st = curl_get("/size/10?delay=2000", &size, &took);
    ck_assert_msg(st == 200 && size == 10, "header_timeout=off route: %d, %ld bytes", st, size);
    ck_assert_int_eq(log_count("upstream header timeout:"), 0);
    pthread_join(slow.thread, NULL);
    close(slow.lfd);
    px_env_done(&env);
}
END_TEST

/* The incident: one of two front ends frozen (SIGSTOP) while the pool holds connections to it. A header
 * timeout counts against it (max_fails=1 takes it out of rotation) and each GET goes on to the other server, so no
 * request waits more than about one header_timeout, and only one ever meets the frozen server. A POST (not
 * idempotent, with a body) is not sent twice: 504. */
#define TWO_FRONT_ENDS                                                                                                 \
    PX_GLOBAL "[upstream fe]\nserver = 127.0.0.1:@O0@ max_fails=1 fail_timeout=30s\n"                                  \
              "server = 127.0.0.1:@O1@ max_fails=1 fail_timeout=30s\nkeepalive = 8\nread_timeout = 30s\n"              \
              "header_timeout = 1s\n"                                                                                  \
              "[upstream post]\nserver = 127.0.0.1:@O0@ max_fails=0\nserver = 127.0.0.1:@O1@ max_fails=0\n"            \
              "header_timeout = 1s\n"                                                                                  \
              "[server s]\nlisten = 127.0.0.1:@PORT@\nproxy_pass = fe\nroute = /echo post\n"

START_TEST(hung_server_failover)
{
    long long took;
    const char *get = "GET /size/10 HTTP/1.1\r\nHost: h\r\n\r\n";
    const char *post = "POST /echo HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello";
    px_env_init(&env, 2);
    px_proxy_start(&env, TWO_FRONT_ENDS);
    for (int i = 0; i < 4; i++) /* both servers get pooled connections */
        ck_assert_int_eq(timed_req(get, &took), 200);
    px_origin_freeze(&env, 0);
    for (int i = 0; i < 6; i++) {
        int st = timed_req(get, &took);
        ck_assert_msg(st == 200 && took < HEADER_TIMEOUT_BOUND_MS, "GET %d with a frozen server: %d after %lld ms", i,
                      st, took);
    }
    ck_assert_int_eq(log_count("upstream header timeout: no response byte within 1000ms, trying the next server"), 1);
    assert_log_has("marked down");
    int statuses[2];
    for (int i = 0; i < 2; i++) { /* round robin: one to each server */
        statuses[i] = timed_req(post, &took);
        ck_assert_msg(took < HEADER_TIMEOUT_BOUND_MS, "POST %d answered %d after %lld ms", i, statuses[i], took);
    }
    ck_assert_msg((statuses[0] == 504) + (statuses[1] == 504) == 1 && (statuses[0] == 200 || statuses[1] == 200),
                  "POSTs answered %d and %d, expected one 504 (not retried) and one 200", statuses[0], statuses[1]);
    assert_log_has("not retried (the request is not idempotent or has a body)");
    ck_assert_int_eq(kill(env.opid[0], SIGCONT), 0);
    px_env_done(&env);
}
END_TEST

/* proxyd -t: an unknown or malformed route option names the line and key; the options themselves pass. */
START_TEST(route_option_errors)
{
    char out[4096];
    const char *base = "[upstream o]\nserver = 127.0.0.1:1\n[server s]\nlisten = 127.0.0.1:@PORT@\nproxy_pass = o\n";
    char tpl[512];
    px_env_init(&env, 0);
    snprintf(tpl, sizeof tpl, "%sroute = /ucwa o read_timout=1800s\n", base);
    ck_assert_int_eq(px_check_config(&env, tpl, out, sizeof out), 1);
    ck_assert_msg(strstr(out, ":6: [server s] route: unknown route option") != NULL, "%s", out);
    snprintf(tpl, sizeof tpl, "%sroute = /ucwa o header_timeout=soon\n", base);
    ck_assert_int_eq(px_check_config(&env, tpl, out, sizeof out), 1);
    ck_assert_msg(strstr(out, ":6: [server s] route: header_timeout: expected off or a duration") != NULL, "%s", out);
    snprintf(tpl, sizeof tpl, "%sroute = /ucwa o read_timeout=1800s header_timeout=1800s\n", base);
    ck_assert_msg(px_check_config(&env, tpl, out, sizeof out) == 0, "%s", out);
    px_env_done(&env);
}
END_TEST

static Suite *timeouts_suite(void)
{
    Suite *s = suite_create("e2e_proxy_timeouts");
    TCase *tc = tcase_create("timeouts");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, route_header_timeout);
    tcase_add_test(tc, header_timeout_until_first_byte);
    tcase_add_test(tc, hung_server_failover);
    tcase_add_test(tc, route_option_errors);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(timeouts_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
