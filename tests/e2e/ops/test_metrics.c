/* End-to-end tests of the [status] listener: /metrics counters equal to the requests sent (by status class),
 * upstream connections opened versus reused through the keep-alive pool, reloads, and per-server health. */
#include "ops.h"

#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static px_env env;

#define METRICS_STATUS "[status]\nlisten = 127.0.0.1:@PORT2@\n"

static void assert_metric(const char *name, long want)
{
    long got = ops_metric(env.port2, name);
    ck_assert_msg(got == want, "%s = %ld, expected %ld", name, got, want);
}

/* Checks several samples of one scrape: names[i] must equal want[i]. */
static void assert_scrape(const char *const *names, const long *want, size_t n)
{
    char *text = ops_scrape(env.port2);
    ck_assert_msg(text != NULL, "no answer from /metrics");
    for (size_t i = 0; i < n; i++) {
        long got = ops_sample(text, names[i]);
        ck_assert_msg(got == want[i], "%s = %ld, expected %ld\n%s", names[i], got, want[i], text);
    }
    free(text);
}

/* One worker so that each count is deterministic: 20 requests on one client connection (15 answered 200 by the
 * origin, 5 answered 404), then scrapes. A scrape counts as a request when it arrives and as a 2xx response
 * once answered, so the first scrape sees itself in requests_total only. Accepted connections: the harness's
 * readiness probe, the client, and each scrape. */
START_TEST(counters_match)
{
    char raw[128];
    ts_response r;
    size_t sent = 0;
    px_env_init(&env, 1);
    px_proxy_start(&env, PX_GLOBAL METRICS_STATUS "[upstream o]\nserver = 127.0.0.1:@O0@\nkeepalive = 8\n"
                                                  "[server s]\nlisten = 127.0.0.1:@PORT@\nproxy_pass = o\n");
    int fd = ts_connect(env.port);
    ck_assert_int_ge(fd, 0);
    for (int i = 0; i < 20; i++) {
        int nf = i % 4 == 3;
        snprintf(raw, sizeof raw,
                 nf ? "GET /status/404 HTTP/1.1\r\nHost: m\r\n\r\n" : "GET /size/100 HTTP/1.1\r\nHost: m\r\n\r\n");
        sent += strlen(raw);
        ck_assert_int_eq(ts_send(fd, raw, strlen(raw)), 0);
        ck_assert_int_eq(ts_read_response(fd, &r, 0), 0);
        ck_assert_int_eq(r.status, nf ? 404 : 200);
        ts_response_free(&r);
    }
    close(fd);
    ops_sleep_ms(100); /* the client's close is processed: the gauge then counts the scrape alone */
    static const char *const first[] = {"proxyd_requests_total",
                                        "proxyd_responses_total{class=\"2xx\"}",
                                        "proxyd_responses_total{class=\"4xx\"}",
                                        "proxyd_responses_total{class=\"5xx\"}",
                                        "proxyd_connections_accepted_total",
                                        "proxyd_upstream_connections_opened_total",
                                        "proxyd_upstream_connections_reused_total",
                                        "proxyd_reloads_total",
                                        "proxyd_connections"};
    static const long first_want[] = {21, 15, 5, 0, 3, 1, 19, 0, 1};
    assert_scrape(first, first_want, 9);
    /* The second scrape sees the first one answered: one more request, 2xx response and connection. */
    static const long second_want[] = {22, 16, 5, 0, 4, 1, 19, 0, 1};
    ops_sleep_ms(100);
    assert_scrape(first, second_want, 9);
    long in = ops_metric(env.port2, "proxyd_bytes_received_total");
    ck_assert_msg(in >= (long)sent, "bytes_received_total %ld < %zu sent", in, sent);
    long out = ops_metric(env.port2, "proxyd_bytes_sent_total");
    ck_assert_msg(out >= 15 * 100, "bytes_sent_total %ld", out);
    char up[160];
    snprintf(up, sizeof up, "proxyd_upstream_server_up{upstream=\"o\",server=\"127.0.0.1:%d\"}", env.oport[0]);
    assert_metric(up, 1);
    /* A reload is counted (the config is unchanged). */
    ck_assert_int_eq(kill(env.pid, SIGHUP), 0);
    ck_assert_msg(ops_file_has(env.log, "reloaded", 3000), "no reload logged");
    assert_metric("proxyd_reloads_total", 1);
    ck_assert_int_eq(kill(env.pid, SIGHUP), 0);
    int64_t deadline = ops_now_ms() + 3000;
    while (ops_file_count(env.log, "reloaded") < 2 && ops_now_ms() < deadline)
        ops_sleep_ms(20);
    assert_metric("proxyd_reloads_total", 2);
    px_env_done(&env);
}
END_TEST

/* A server that refuses connections is reported down after max_fails failures (a lone server never is, as in
 * nginx, so the upstream has a live one too), GETs fail over, and 5xx answers are counted. */
START_TEST(health_and_5xx)
{
    ts_response r;
    char dead[160], live[160];
    px_env_init(&env, 1);
    px_proxy_start(&env,
                   PX_GLOBAL METRICS_STATUS "[upstream d]\nserver = 127.0.0.1:@DEAD@ max_fails=1 fail_timeout=60s\n"
                                            "server = 127.0.0.1:@O0@\n"
                                            "[server s]\nlisten = 127.0.0.1:@PORT@\nproxy_pass = d\n");
    snprintf(dead, sizeof dead, "proxyd_upstream_server_up{upstream=\"d\",server=\"127.0.0.1:%d\"}", env.dead);
    snprintf(live, sizeof live, "proxyd_upstream_server_up{upstream=\"d\",server=\"127.0.0.1:%d\"}", env.oport[0]);
    assert_metric(dead, 1);
    for (int i = 0; i < 2; i++) { /* round robin tries the dead server within two requests */
        px_req(env.port, "GET /size/1 HTTP/1.1\r\nHost: m\r\n\r\n", &r);
        ck_assert_int_eq(r.status, 200);
        ts_response_free(&r);
    }
    assert_metric(dead, 0);
    assert_metric(live, 1);
    px_req(env.port, "GET /status/503 HTTP/1.1\r\nHost: m\r\n\r\n", &r);
    ck_assert_int_eq(r.status, 503);
    ts_response_free(&r);
    assert_metric("proxyd_responses_total{class=\"5xx\"}", 1);
    px_env_done(&env);
}
END_TEST

/* The status listener answers /metrics, /healthz and /readyz, and 404 to anything else. */
START_TEST(status_other_paths)
{
    ts_response r;
    px_env_init(&env, 1);
    px_proxy_start(&env, PX_GLOBAL METRICS_STATUS "[upstream o]\nserver = 127.0.0.1:@O0@\n"
                                                  "[server s]\nlisten = 127.0.0.1:@PORT@\nproxy_pass = o\n");
    px_req(env.port2, "GET /metrics HTTP/1.1\r\nHost: m\r\n\r\n", &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_msg(strncmp(ts_header(&r, "Content-Type"), "text/plain", 10) == 0, "content type");
    ck_assert_msg(strstr(r.body, "# TYPE proxyd_requests_total counter\n") != NULL, "%s", r.body);
    ts_response_free(&r);
    px_req(env.port2, "GET /other HTTP/1.1\r\nHost: m\r\n\r\n", &r);
    ck_assert_int_eq(r.status, 404);
    ts_response_free(&r);
    px_env_done(&env);
}
END_TEST

/* /healthz and /readyz on a running proxyd: 200 "ok" (curl as a load balancer's check would ask; HEAD too). */
START_TEST(status_probes)
{
    char cmd[256], out[256];
    ts_response r;
    px_env_init(&env, 1);
    px_proxy_start(&env, PX_GLOBAL METRICS_STATUS "[upstream o]\nserver = 127.0.0.1:@O0@\n"
                                                  "[server s]\nlisten = 127.0.0.1:@PORT@\nproxy_pass = o\n");
    static const char *const paths[] = {"/healthz", "/readyz", "/healthz?from=lb"};
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
        snprintf(cmd, sizeof cmd, "curl -s --max-time 5 -w ' %%{http_code}' 'http://127.0.0.1:%d%s'", env.port2,
                 paths[i]);
        ck_assert_int_eq(px_run(cmd, out, sizeof out), 0);
        ck_assert_msg(strcmp(out, "ok\n 200") == 0, "%s: \"%s\"", paths[i], out);
    }
    px_req(env.port2, "HEAD /readyz HTTP/1.1\r\nHost: m\r\n\r\n", &r);
    ck_assert_int_eq(r.status, 200);
    ts_response_free(&r);
    px_req(env.port2, "GET /healthzz HTTP/1.1\r\nHost: m\r\n\r\n", &r);
    ck_assert_int_eq(r.status, 404);
    ts_response_free(&r);
    px_env_done(&env);
}
END_TEST

static Suite *metrics_suite(void)
{
    Suite *s = suite_create("e2e_ops_metrics");
    TCase *tc = tcase_create("metrics");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, counters_match);
    tcase_add_test(tc, health_and_5xx);
    tcase_add_test(tc, status_other_paths);
    tcase_add_test(tc, status_probes);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(metrics_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
