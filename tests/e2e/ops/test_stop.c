/* End-to-end tests of stopping and readiness: SIGQUIT finishes a slow in-flight request while refusing new
 * connections and closing idle ones, shutdown_timeout bounds it, drain_delay first turns /healthz to 503 while
 * everything still serves, SIGTERM stops at once, and READY=1 reaches $NOTIFY_SOCKET. */
#include "ops.h"

#include <check.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static px_env env;

#define STOP_SERVER                                                                                                    \
    "[upstream o]\nserver = 127.0.0.1:@O0@\nkeepalive = 8\n"                                                           \
    "[server s]\nlisten = 127.0.0.1:@PORT@\nproxy_pass = o\n"

/* A keep-alive connection that has been answered once (so proxyd has accepted it) and is now idle. */
static int idle_conn(void)
{
    ts_response r;
    const char *req = "GET /size/1 HTTP/1.1\r\nHost: stop\r\n\r\n";
    int fd = ts_connect(env.port);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(ts_send(fd, req, strlen(req)), 0);
    ck_assert_int_eq(ts_read_response(fd, &r, 0), 0);
    ck_assert_int_eq(r.status, 200);
    ck_assert_int_eq(r.closed, 0);
    ts_response_free(&r);
    return fd;
}

/* Sends a request that the origin answers after delay_ms, without reading the answer. */
static int slow_request(int delay_ms)
{
    char raw[128];
    int fd = ts_connect(env.port);
    ck_assert_int_ge(fd, 0);
    snprintf(raw, sizeof raw, "GET /size/10?delay=%d HTTP/1.1\r\nHost: stop\r\n\r\n", delay_ms);
    ck_assert_int_eq(ts_send(fd, raw, strlen(raw)), 0);
    return fd;
}

/* 1 when the peer closes fd within the socket's receive timeout, without sending anything. */
static int closed_by_peer(int fd)
{
    char c;
    return recv(fd, &c, 1, 0) == 0;
}

START_TEST(graceful_quit)
{
    ts_response r;
    px_env_init(&env, 1);
    px_proxy_start(
        &env, "[global]\nworkers = 2\nerror_log = @LOG@\nlog_level = info\npid_file = @DIR@/proxyd.pid\n" STOP_SERVER);
    int idle = idle_conn();
    int slow = slow_request(1500);
    ops_sleep_ms(300); /* the request reaches the origin */
    int64_t t0 = ops_now_ms();
    ck_assert_int_eq(kill(env.pid, SIGQUIT), 0);
    ck_assert_msg(closed_by_peer(idle), "an idle keep-alive connection was not closed by SIGQUIT");
    ops_sleep_ms(100);
    int fresh = ts_connect(env.port); /* asserted last, so that the in-flight checks run either way */
    ck_assert_msg(ts_read_response(slow, &r, 0) == 0, "the in-flight request was not finished");
    int64_t answered = ops_now_ms() - t0;
    ck_assert_int_eq(r.status, 200);
    ck_assert_uint_eq(r.body_len, 10);
    ts_response_free(&r);
    ck_assert_msg(answered >= 900, "answered %lld ms after SIGQUIT: before the origin's delay?", (long long)answered);
    int st = ops_reap(env.pid, 5000);
    env.pid = 0;
    ck_assert_msg(st == 0, "proxyd exit status %d after SIGQUIT", st);
    close(idle);
    close(slow);
    if (fresh >= 0)
        close(fresh);
    px_env_done(&env);
    /* A connection the kernel completes on a listening socket proxyd no longer serves is never answered (it
     * is reset at exit); refusing it lets a client or load balancer go elsewhere at once. */
    ck_assert_msg(fresh < 0, "a new connection was accepted (TCP handshake completed) after SIGQUIT");
}
END_TEST

/* shutdown_timeout bounds the graceful stop: a request slower than it does not keep proxyd alive. */
START_TEST(graceful_quit_bounded)
{
    px_env_init(&env, 1);
    px_proxy_start(&env, PX_GLOBAL "shutdown_timeout = 1s\n" STOP_SERVER);
    int slow = slow_request(8000);
    ops_sleep_ms(200);
    int64_t t0 = ops_now_ms();
    ck_assert_int_eq(kill(env.pid, SIGQUIT), 0);
    int st = ops_reap(env.pid, 4000);
    int64_t took = ops_now_ms() - t0;
    if (st < 0)
        kill(env.pid, SIGKILL), ops_reap(env.pid, 2000);
    env.pid = 0;
    ck_assert_msg(st >= 0, "proxyd still running 4 s after SIGQUIT with shutdown_timeout = 1s");
    ck_assert_msg(took >= 900, "proxyd stopped after %lld ms, before shutdown_timeout", (long long)took);
    ck_assert_msg(st == 0, "proxyd exit status %d", st);
    ck_assert_msg(closed_by_peer(slow), "the unfinished request's connection was not closed");
    close(slow);
    px_env_done(&env);
}
END_TEST

/* The status of GET path on port, asked with curl (a load balancer's health check stands behind it); 0 when curl
 * got no answer. */
static int curl_status(int port, const char *path)
{
    char cmd[256], out[64];
    snprintf(cmd, sizeof cmd, "curl -s -o /dev/null --max-time 5 -w '%%{http_code}' 'http://127.0.0.1:%d%s'", port,
             path);
    px_run(cmd, out, sizeof out);
    return atoi(out);
}

/* Polls path on port until it answers want, for up to timeout_ms. Returns 1 when it did. */
static int status_becomes(int port, const char *path, int want, int timeout_ms)
{
    int64_t deadline = ops_now_ms() + timeout_ms;
    while (curl_status(port, path) != want)
        if (ops_now_ms() >= deadline)
            return 0;
        else
            ops_sleep_ms(50);
    return 1;
}

/* proxyd -s quit, through the pid file of the running configuration. */
static void send_quit(void)
{
    char cmd[300], out[512];
    snprintf(cmd, sizeof cmd, "'%s' -s quit -c '%s' 2>&1", getenv("PROXYD_BIN"), env.conf);
    ck_assert_msg(px_run(cmd, out, sizeof out) == 0, "proxyd -s quit: %s", out);
}

/* Polls until a connection to port is refused, for up to timeout_ms. Returns 1 when one was. */
static int refused_within(int port, int timeout_ms)
{
    int64_t deadline = ops_now_ms() + timeout_ms;
    for (;;) {
        int fd = ts_connect(port);
        if (fd < 0)
            return 1;
        close(fd);
        if (ops_now_ms() >= deadline)
            return 0;
        ops_sleep_ms(50);
    }
}

#define DRAIN_MS 3000
/* drain_delay: after `proxyd -s quit`, /healthz and /readyz answer 503 at once while the server port still accepts
 * and answers; only after the delay are new connections refused, while the request in flight (longer than the
 * delay) still runs; it is answered, then proxyd exits 0. */
START_TEST(drain_delay_quit)
{
    ts_response r;
    px_env_init(&env, 1);
    px_proxy_start(&env, "[global]\nworkers = 2\nerror_log = @LOG@\nlog_level = info\n"
                         "pid_file = @DIR@/proxyd.pid\ndrain_delay = 3s\n"
                         "[status]\nlisten = 127.0.0.1:@PORT2@\n" STOP_SERVER);
    ck_assert_int_eq(curl_status(env.port2, "/healthz"), 200);
    ck_assert_int_eq(curl_status(env.port2, "/readyz"), 200);
    int slow = slow_request(8000);
    const char *get = "GET /size/5 HTTP/1.1\r\nHost: stop\r\n\r\n";
    int ka = ts_connect(env.port); /* a keep-alive client from before the quit */
    ck_assert_int_ge(ka, 0);
    ck_assert_int_eq(ts_send(ka, get, strlen(get)), 0);
    ck_assert_int_eq(ts_read_response(ka, &r, 0), 0);
    ck_assert_ptr_null(ts_header(&r, "Connection"));
    ts_response_free(&r);
    ops_sleep_ms(300); /* the request reaches the origin */
    int64_t t0 = ops_now_ms();
    send_quit();
    ck_assert_msg(status_becomes(env.port2, "/healthz", 503, 2000), "/healthz still not 503 after SIGQUIT");
    ck_assert_int_eq(curl_status(env.port2, "/readyz"), 503);
    /* During the drain a keep-alive client is answered, told to reconnect (Connection: close), and closed, so that
     * an L4 balancer can send its next connection elsewhere. */
    ck_assert_int_eq(ts_send(ka, get, strlen(get)), 0);
    ck_assert_int_eq(ts_read_response(ka, &r, 0), 0);
    ck_assert_int_eq(r.status, 200);
    ck_assert_ptr_nonnull(ts_header(&r, "Connection"));
    ck_assert_str_eq(ts_header(&r, "Connection"), "close");
    ck_assert_int_eq(r.closed, 1);
    ts_response_free(&r);
    close(ka);
    px_req(env.port, "GET /size/5 HTTP/1.1\r\nHost: stop\r\n\r\n", &r); /* still served during the delay */
    ck_assert_int_eq(r.status, 200);
    ck_assert_uint_eq(r.body_len, 5);
    ts_response_free(&r);
    ck_assert_msg(refused_within(env.port, 6000), "new connections still accepted 6 s after SIGQUIT");
    int64_t refused_at = ops_now_ms() - t0;
    char c;
    ck_assert_msg(recv(slow, &c, 1, MSG_PEEK | MSG_DONTWAIT) < 0, "the in-flight request ended before accepting did");
    ck_assert_msg(refused_at >= DRAIN_MS - 200, "refused %lld ms after SIGQUIT, within drain_delay (3 s)",
                  (long long)refused_at);
    ck_assert_msg(ts_read_response(slow, &r, 0) == 0, "the in-flight request was not finished");
    ck_assert_int_eq(r.status, 200);
    ck_assert_uint_eq(r.body_len, 10);
    ts_response_free(&r);
    int st = ops_reap(env.pid, 5000);
    env.pid = 0;
    ck_assert_msg(st == 0, "proxyd exit status %d after the drain", st);
    close(slow);
    ck_assert_msg(ops_file_count(env.log, "draining for 3000ms") == 1, "no drain line in the log");
    px_env_done(&env);
}
END_TEST

/* During a long drain_delay, a second SIGQUIT ends it (graceful stop now) and SIGTERM stops at once. */
START_TEST(drain_delay_cut_short)
{
    const int second[] = {SIGQUIT, SIGTERM};
    for (size_t i = 0; i < 2; i++) {
        px_env_init(&env, 1);
        px_proxy_start(&env, PX_GLOBAL "drain_delay = 60s\n[status]\nlisten = 127.0.0.1:@PORT2@\n" STOP_SERVER);
        ck_assert_int_eq(kill(env.pid, SIGQUIT), 0);
        ck_assert_msg(status_becomes(env.port2, "/healthz", 503, 2000), "/healthz still not 503 after SIGQUIT");
        ck_assert_int_eq(kill(env.pid, second[i]), 0);
        int st = ops_reap(env.pid, 5000);
        if (st < 0)
            kill(env.pid, SIGKILL), ops_reap(env.pid, 2000);
        env.pid = 0;
        ck_assert_msg(st == 0, "signal %d during drain_delay: exit %d (still running: -1)", second[i], st);
        px_env_done(&env);
    }
}
END_TEST

START_TEST(fast_stop)
{
    const int sigs[] = {SIGTERM, SIGINT};
    for (size_t i = 0; i < 2; i++) {
        px_env_init(&env, 1);
        px_proxy_start(&env, PX_GLOBAL STOP_SERVER);
        int idle = idle_conn();
        int64_t t0 = ops_now_ms();
        ck_assert_int_eq(kill(env.pid, sigs[i]), 0);
        int st = ops_reap(env.pid, 2000);
        int64_t took = ops_now_ms() - t0;
        if (st < 0)
            kill(env.pid, SIGKILL), ops_reap(env.pid, 2000);
        env.pid = 0;
        ck_assert_msg(st == 0, "signal %d with an idle client: exit %d after %lld ms", sigs[i], st, (long long)took);
        close(idle);
        px_env_done(&env);
    }
}
END_TEST

/* Binds a datagram socket at path (a leading '@': abstract), with a 5 s receive timeout. */
static int notify_socket(const char *path)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    size_t n = strlen(path);
    ck_assert_uint_lt(n, sizeof sa.sun_path);
    memcpy(sa.sun_path, path, n);
    if (path[0] == '@')
        sa.sun_path[0] = 0;
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    ck_assert_int_ge(fd, 0);
    ck_assert_msg(bind(fd, (struct sockaddr *)&sa, (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n)) == 0,
                  "bind %s: %s", path, strerror(errno));
    struct timeval tv = {5, 0};
    ck_assert_int_eq(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv), 0);
    return fd;
}

/* Starts proxyd with NOTIFY_SOCKET=path (a leading '@': abstract) and expects READY=1 on it. */
static void expect_ready(const char *path)
{
    char msg[256];
    int fd = notify_socket(path);
    ck_assert_int_eq(setenv("NOTIFY_SOCKET", path, 1), 0);
    px_proxy_start(&env, PX_GLOBAL STOP_SERVER);
    unsetenv("NOTIFY_SOCKET");
    ssize_t n = recv(fd, msg, sizeof msg - 1, 0);
    ck_assert_msg(n > 0, "nothing arrived on NOTIFY_SOCKET %s in 5 s", path);
    msg[n] = 0;
    ck_assert_msg(strstr(msg, "READY=1") != NULL, "notify message: %s", msg);
    close(fd);
}

START_TEST(sd_notify_ready)
{
    char path[128];
    px_env_init(&env, 1);
    snprintf(path, sizeof path, "%s/notify.sock", env.dir);
    expect_ready(path);
    ck_assert_int_eq(px_proxy_stop(&env), 0);
    snprintf(path, sizeof path, "@pxops-notify-%d", (int)getpid());
    expect_ready(path);
    px_env_done(&env);
}
END_TEST

static Suite *stop_suite(void)
{
    Suite *s = suite_create("e2e_ops_stop");
    TCase *tc = tcase_create("stop");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, graceful_quit);
    tcase_add_test(tc, graceful_quit_bounded);
    tcase_add_test(tc, drain_delay_quit);
    tcase_add_test(tc, drain_delay_cut_short);
    tcase_add_test(tc, fast_stop);
    tcase_add_test(tc, sd_notify_ready);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(stop_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
