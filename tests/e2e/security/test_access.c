/* End-to-end tests of per-client access (issue 17): allow/deny per [server] (403, or closed at accept before TLS
 * when every server on the address denies the client), the [status] listener's allow list, limit_conn (503 beyond
 * N requests in progress per client address) and limit_req (429 with Retry-After beyond the burst, recovery after
 * 1/rate, delaying without nodelay). Clients are curl and raw sockets bound to other loopback addresses (127.0.0.2 is
 * another client to proxyd). Every wait is bounded; no assertion is on an exact duration. */
#include "../ops/ops.h"

#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

static px_env env;

/* Two workers: limits are shared by every worker, whichever one the kernel gives a connection to. */
#define GLOBAL2 "[global]\nworkers = 2\nerror_log = @LOG@\nlog_level = info\npid_file = @DIR@/proxyd.pid\n"
#define UPSTREAM "[upstream o]\nserver = 127.0.0.1:@O0@\nkeepalive = 8\n"
#define GET(path) "GET " path " HTTP/1.1\r\nHost: h\r\n\r\n"
#define SLOW "/size/10?delay=1500" /* the origin holds the answer: a request in progress for 1.5 s */

/* Sends raw from src on a new connection and returns it, the answer not read yet. */
static int send_from(const char *src, int port, const char *raw)
{
    int fd = px_connect_from(src, port, NULL);
    ck_assert_int_eq(ts_send(fd, raw, strlen(raw)), 0);
    return fd;
}

static int read_status(int fd)
{
    ts_response r;
    ck_assert_msg(ts_read_response(fd, &r, 0) == 0, "no response");
    int status = r.status;
    ts_response_free(&r);
    return status;
}

/* One request from src on a new connection: the status. */
static int status_from(const char *src, int port, const char *raw)
{
    int fd = send_from(src, port, raw);
    int status = read_status(fd);
    close(fd);
    return status;
}

/* curl from src (--interface): "CODE" (000 when no HTTP answer came) and curl's exit status. args go before the
 * URL (headers, -k). out gets the code, the response head when -i is among args, then " EXIT=n". */
static int curl_from(const char *src, const char *args, const char *url, char *out, size_t cap)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "curl -s --max-time 10 --interface %s %s -w 'CODE=%%{http_code}' %s -o /dev/null", src,
             args, url);
    int rc = px_run(cmd, out, cap);
    size_t n = strlen(out);
    snprintf(out + n, cap - n, " EXIT=%d", rc);
    return rc;
}

static int curl_code(const char *src, const char *args, const char *url)
{
    char out[512];
    curl_from(src, args, url, out, sizeof out);
    const char *code = strstr(out, "CODE=");
    ck_assert_msg(code != NULL, "curl: %s", out);
    return atoi(code + 5);
}

/* ---------------------------------------------------------------- allow/deny */

#define TWO_SERVERS                                                                                                    \
    UPSTREAM "[server open]\nlisten = 127.0.0.1:@PORT@ default\nserver_name = open.test\nproxy_pass = o\n"             \
             "[server guarded]\nlisten = 127.0.0.1:@PORT@\nserver_name = guarded.test\nproxy_pass = o\n"               \
             "allow = 127.0.0.1\ndeny = all\n"

/* A server's list, decided per request once Host names the server: 403 for the denied client, 200 for the allowed
 * one, and the other server on the same address still serves the denied client. */
START_TEST(deny_per_server_403)
{
    char url[128];
    px_env_init(&env, 1);
    px_proxy_start(&env, PX_GLOBAL TWO_SERVERS);
    snprintf(url, sizeof url, "http://127.0.0.1:%d/size/10", env.port);
    ck_assert_int_eq(curl_code("127.0.0.2", "-H 'Host: guarded.test'", url), 403);
    ck_assert_int_eq(curl_code("127.0.0.1", "-H 'Host: guarded.test'", url), 200);
    ck_assert_int_eq(curl_code("127.0.0.2", "-H 'Host: open.test'", url), 200);
    ck_assert_int_eq(curl_code("127.0.0.2", "-H 'Host: guarded.test'", url), 403);
    /* A 403 keeps the connection (nginx does): the next request on it is answered. */
    int fd = send_from("127.0.0.2", env.port,
                       "GET / HTTP/1.1\r\nHost: guarded.test\r\n\r\nGET / HTTP/1.1\r\nHost: "
                       "open.test\r\n\r\n");
    ck_assert_int_eq(read_status(fd), 403);
    ck_assert_int_eq(read_status(fd), 200);
    close(fd);
    ck_assert(ops_file_has(env.log, "403: access forbidden by rule, client: 127.0.0.2, server: guarded", 2000));
    ck_assert_int_eq(ops_file_count(env.log, "access forbidden by rule"), 1); /* once per interval */
    px_env_done(&env);
}
END_TEST

/* A self-signed certificate for name in @DIR@/NAME.crt and .key. */
static void make_cert(const char *name)
{
    char cmd[1024], out[256];
    snprintf(cmd, sizeof cmd,
             "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 -subj /CN=%s "
             "-keyout %s/%s.key -out %s/%s.crt 2>&1",
             name, env.dir, name, env.dir, name);
    ck_assert_msg(px_run(cmd, out, sizeof out) == 0, "openssl req: %s", out);
}

/* Every server on the address denies 127.0.0.2: its connections are closed at accept, before any byte is read or a
 * TLS handshake begins; 127.0.0.1 is served on both listeners. */
START_TEST(deny_everywhere_closed_at_accept)
{
    char url[128], out[512];
    px_env_init(&env, 1);
    make_cert("a.test");
    px_proxy_start(&env, PX_GLOBAL UPSTREAM "[server a]\nlisten = 127.0.0.1:@PORT@\nlisten = 127.0.0.1:@PORT2@ tls\n"
                                            "tls_cert = @DIR@/a.test.crt\ntls_key = @DIR@/a.test.key\nproxy_pass = o\n"
                                            "deny = 127.0.0.2 127.0.0.3\n");
    int fd = px_connect_from("127.0.0.2", env.port, NULL); /* accepted by the kernel, then closed by proxyd */
    char b;
    ssize_t n = recv(fd, &b, 1, 0);
    ck_assert_msg(n == 0 || (n < 0 && errno == ECONNRESET), "recv: %zd (%s)", n, n < 0 ? strerror(errno) : "a byte");
    close(fd);
    snprintf(url, sizeof url, "https://127.0.0.1:%d/size/10", env.port2);
    int rc = curl_from("127.0.0.2", "-k", url, out, sizeof out);
    ck_assert_msg(rc != 0 && strstr(out, "CODE=000"), "TLS from a denied client: %s", out);
    ck_assert_int_eq(curl_code("127.0.0.1", "-k", url), 200);
    snprintf(url, sizeof url, "http://127.0.0.1:%d/size/10", env.port);
    ck_assert_int_eq(curl_code("127.0.0.1", "", url), 200);
    ck_assert_int_eq(curl_code("127.0.0.3", "", url), 0);
    ck_assert(ops_file_has(env.log, "connection refused: access forbidden by rule on 127.0.0.1:", 2000));
    ck_assert_int_eq(ops_file_count(env.log, "connection refused"), 1); /* three refusals, one line */
    ck_assert_int_eq(ops_file_count(env.log, "TLS handshake"), 0);
    px_env_done(&env);
}
END_TEST

/* The [status] listener with an explicit list: 403 for a client outside it, metrics for one inside; with no list it
 * answers loopback clients only (127.0.0.0/8 here, the rest is checked by the loader's unit test). */
START_TEST(status_allow_list)
{
    char url[128];
    px_env_init(&env, 1);
    px_proxy_start(&env, PX_GLOBAL UPSTREAM "[status]\nlisten = 127.0.0.1:@PORT2@\nallow = 127.0.0.1\ndeny = all\n"
                                            "[server s]\nlisten = 127.0.0.1:@PORT@\nproxy_pass = o\n");
    snprintf(url, sizeof url, "http://127.0.0.1:%d/metrics", env.port2);
    ck_assert_int_eq(curl_code("127.0.0.2", "", url), 403);
    ck_assert_int_eq(curl_code("127.0.0.1", "", url), 200);
    ck_assert(ops_metric(env.port2, "proxyd_requests_total") >= 2);
    ck_assert(ops_file_has(env.log, "access to the status listener forbidden by rule", 2000));
    ck_assert_int_eq(px_proxy_stop(&env), 0);
    px_proxy_start(&env, PX_GLOBAL UPSTREAM "[status]\nlisten = 127.0.0.1:@PORT2@\n"
                                            "[server s]\nlisten = 127.0.0.1:@PORT@\nproxy_pass = o\n");
    ck_assert_int_eq(curl_code("127.0.0.2", "", url), 200); /* loopback by default */
    px_env_done(&env);
}
END_TEST

/* ---------------------------------------------------------------- limit_conn */

/* limit_conn = 2: two requests in progress from one address, a third gets 503 while another address is served; an
 * idle keep-alive connection is not counted (nginx counts requests being processed); once the two end the client is
 * served again. */
START_TEST(limit_conn_503)
{
    char url[128];
    px_env_init(&env, 1);
    px_proxy_start(&env, GLOBAL2 UPSTREAM "[server s]\nlisten = 127.0.0.1:@PORT@\nproxy_pass = o\nlimit_conn = 2\n");
    ck_assert(ops_file_has(env.log, "limit table: 100032 entries (client address and [server])", 2000));
    int idle = send_from("127.0.0.1", env.port, GET("/size/10"));
    ck_assert_int_eq(read_status(idle), 200); /* kept alive, idle from now on */
    int a = send_from("127.0.0.1", env.port, GET(SLOW)), b = send_from("127.0.0.1", env.port, GET(SLOW));
    ops_sleep_ms(400); /* both heads reach proxyd well before the origin answers at 1.5 s */
    snprintf(url, sizeof url, "http://127.0.0.1:%d/size/10", env.port);
    ck_assert_int_eq(curl_code("127.0.0.1", "", url), 503);
    ck_assert_int_eq(status_from("127.0.0.1", env.port, GET("/size/10")), 503);
    ck_assert_int_eq(curl_code("127.0.0.2", "", url), 200);
    ck_assert_int_eq(read_status(a), 200);
    ck_assert_int_eq(read_status(b), 200);
    ck_assert_int_eq(curl_code("127.0.0.1", "", url), 200);
    ck_assert_int_eq(ts_send(idle, GET("/size/10"), strlen(GET("/size/10"))), 0);
    ck_assert_int_eq(read_status(idle), 200);
    close(a);
    close(b);
    close(idle);
    ck_assert(ops_file_has(env.log, "503: limiting connections (limit_conn)", 2000));
    ck_assert_int_eq(ops_file_count(env.log, "limiting connections"), 1); /* two refusals, one line */
    px_env_done(&env);
}
END_TEST

/* ---------------------------------------------------------------- limit_req */

/* 1r/s burst=2 nodelay: three requests at once pass (the first, then the burst), the fourth gets 429 with
 * Retry-After; after 1/rate one more passes. */
START_TEST(limit_req_429_then_recovers)
{
    char url[128], out[4096];
    px_env_init(&env, 1);
    px_proxy_start(&env, GLOBAL2 UPSTREAM "[server s]\nlisten = 127.0.0.1:@PORT@\nproxy_pass = o\n"
                                          "limit_req = 1r/s burst=2 nodelay\n");
    snprintf(url, sizeof url, "http://127.0.0.1:%d/size/10", env.port);
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(status_from("127.0.0.1", env.port, GET("/size/10")), 200);
    char cmd[512];
    snprintf(cmd, sizeof cmd, "curl -s -i --max-time 10 %s", url);
    px_run(cmd, out, sizeof out);
    ck_assert_msg(strncmp(out, "HTTP/1.1 429 Too Many Requests\r\n", 32) == 0, "%s", out);
    const char *ra = strstr(out, "\r\nRetry-After: ");
    ck_assert_msg(ra != NULL, "no Retry-After: %s", out);
    int secs = atoi(ra + 15);
    ck_assert_msg(secs >= 1 && secs <= 2, "Retry-After: %d", secs);
    ck_assert_int_eq(status_from("127.0.0.2", env.port, GET("/size/10")), 200); /* another client */
    ops_sleep_ms(1300);                                                         /* 1/rate, and some */
    ck_assert_int_eq(curl_code("127.0.0.1", "", url), 200);
    ck_assert(ops_file_has(env.log, "429: limiting requests (limit_req)", 2000));
    px_env_done(&env);
}
END_TEST

/* Per route: /admin has its own list (after the server's, which lets everyone in) and /api its own bucket
 * (1r/s, no burst), apart from the rest of the server, which has none. */
START_TEST(route_allow_and_limit_req)
{
    px_env_init(&env, 1);
    px_proxy_start(&env, GLOBAL2 UPSTREAM "[server s]\nlisten = 127.0.0.1:@PORT@\nproxy_pass = o\n"
                                          "route = /admin o allow=127.0.0.1,::1 deny=all\n"
                                          "route = /api o limit_req=1r/s,burst=0,nodelay\n");
    ck_assert_int_eq(status_from("127.0.0.2", env.port, GET("/admin/x")), 403);
    ck_assert_int_eq(status_from("127.0.0.1", env.port, GET("/admin/x")), 404); /* through: the origin's 404 */
    ck_assert_int_eq(status_from("127.0.0.2", env.port, GET("/size/10")), 200);
    ck_assert_int_eq(status_from("127.0.0.2", env.port, GET("/api")), 404);
    ck_assert_int_eq(status_from("127.0.0.2", env.port, GET("/api")), 429);
    ck_assert_int_eq(status_from("127.0.0.3", env.port, GET("/api")), 404); /* another client, its own bucket */
    for (int i = 0; i < 5; i++)                                             /* the rest of the server: no limit */
        ck_assert_int_eq(status_from("127.0.0.2", env.port, GET("/size/10")), 200);
    ck_assert(ops_file_has(env.log, "403: access forbidden by rule, client: 127.0.0.2", 2000));
    px_env_done(&env);
}
END_TEST

/* Without nodelay the excess waits its turn instead of being refused: 5r/s burst=3 and five requests at once give
 * four 200s, the last of them after at least most of 3/rate, and one 429 beyond the burst. */
START_TEST(limit_req_delays_without_nodelay)
{
    enum { N = 5 };
    int fds[N], ok = 0, refused = 0;
    px_env_init(&env, 1);
    px_proxy_start(&env, GLOBAL2 UPSTREAM "[server s]\nlisten = 127.0.0.1:@PORT@\nproxy_pass = o\n"
                                          "limit_req = 5r/s burst=3\n");
    int64_t start = ops_now_ms();
    for (int i = 0; i < N; i++)
        fds[i] = send_from("127.0.0.1", env.port, GET("/size/10"));
    for (int i = 0; i < N; i++) {
        int st = read_status(fds[i]);
        ok += st == 200;
        refused += st == 429;
        close(fds[i]);
    }
    int64_t took = ops_now_ms() - start;
    fprintf(stderr, "limit_req 5r/s burst=3, %d at once: %d answered 200, %d 429, in %lld ms\n", N, ok, refused,
            (long long)took);
    ck_assert_int_eq(ok, 4);
    ck_assert_int_eq(refused, 1);
    ck_assert_msg(took >= 300, "the excess was not delayed (%lld ms for 3 requests beyond 5r/s)", (long long)took);
    px_env_done(&env);
}
END_TEST

/* Under load from wrk (4 connections, keep-alive, 3 s): limit_req = 50r/s burst=10 nodelay lets through no more than
 * the rate allows over the run (the burst, then 50 a second) and refuses the rest with 429 without closing any
 * connection; a denied address gets nothing but 403. wrk is a third-party client that pipelines nothing and reuses
 * its connections, as a browser would. */
static void wrk_counts(int port, const char *path, long *total, long *non2xx, double *secs, long *sock_errors)
{
    char cmd[256], out[4096];
    snprintf(cmd, sizeof cmd, "wrk -t1 -c4 -d3s http://127.0.0.1:%d%s 2>&1", port, path);
    ck_assert_msg(px_run(cmd, out, sizeof out) == 0, "wrk: %s", out);
    const char *t = strstr(out, " requests in ");
    ck_assert_msg(t != NULL, "wrk: %s", out);
    while (t > out && t[-1] >= '0' && t[-1] <= '9')
        t--;
    *total = atol(t);
    *secs = atof(strstr(t, " requests in ") + 13);
    const char *n = strstr(out, "Non-2xx or 3xx responses: ");
    *non2xx = n ? atol(n + 26) : 0;
    const char *e = strstr(out, "Socket errors: ");
    *sock_errors = 0;
    if (e) {
        long c = 0, r = 0, w = 0, to = 0;
        sscanf(e, "Socket errors: connect %ld, read %ld, write %ld, timeout %ld", &c, &r, &w, &to);
        *sock_errors = c + r + w + to;
    }
}

START_TEST(limit_req_and_deny_under_wrk)
{
    long total, refused, errors;
    double secs;
    if (system("command -v wrk >/dev/null 2>&1") != 0) {
        fprintf(stderr, "limit_req_and_deny_under_wrk: wrk is not installed (test.sh installs it); skipped\n");
        return;
    }
    px_env_init(&env, 1);
    px_proxy_start(&env, GLOBAL2 UPSTREAM "[server s]\nlisten = 127.0.0.1:@PORT@\nproxy_pass = o\n"
                                          "limit_req = 50r/s burst=10 nodelay\n"
                                          "route = /closed o deny=127.0.0.1\n");
    wrk_counts(env.port, "/size/10", &total, &refused, &secs, &errors);
    long passed = total - refused;
    fprintf(stderr, "wrk under limit_req 50r/s burst=10: %ld requests in %.2f s, %ld passed, %ld refused\n", total,
            secs, passed, refused);
    ck_assert_msg(errors == 0, "%ld socket errors: a refusal closed connections", errors);
    ck_assert_msg(refused > passed, "wrk was not limited: %ld passed, %ld refused", passed, refused);
    /* At most the burst plus the rate over the run (and one for the first request at the bucket's start). */
    ck_assert_msg(passed <= 10 + 1 + (long)(50 * (secs + 0.5)), "%ld passed in %.2f s at 50r/s", passed, secs);
    ck_assert_msg(passed >= (long)(50 * (secs - 1.0)), "only %ld passed in %.2f s at 50r/s", passed, secs);
    wrk_counts(env.port, "/closed/x", &total, &refused, &secs, &errors);
    ck_assert_msg(total > 0 && refused == total && errors == 0, "deny: %ld of %ld refused, %ld socket errors", refused,
                  total, errors);
    ck_assert(ops_file_has(env.log, "403: access forbidden by rule, client: 127.0.0.1", 2000));
    px_env_done(&env);
}
END_TEST

static Suite *access_suite(void)
{
    Suite *s = suite_create("security_access");
    TCase *tc = tcase_create("access");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, deny_per_server_403);
    tcase_add_test(tc, deny_everywhere_closed_at_accept);
    tcase_add_test(tc, status_allow_list);
    tcase_add_test(tc, limit_conn_503);
    tcase_add_test(tc, limit_req_429_then_recovers);
    tcase_add_test(tc, limit_req_delays_without_nodelay);
    tcase_add_test(tc, route_allow_and_limit_req);
    tcase_add_test(tc, limit_req_and_deny_under_wrk);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(access_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
