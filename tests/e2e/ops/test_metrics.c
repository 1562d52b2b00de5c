/* End-to-end tests of the [status] listener: /metrics counters equal to the requests sent (by status class, and by
 * [server] and code), upstream connections opened versus reused through the keep-alive pool, reloads, per-server
 * health, per upstream and upstream server requests, errors by kind and response time histograms; every scrape
 * passes a strict text-format check (promtext.c). */
#include "ops.h"
#include "promtext.h"

#include <check.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static px_env env;

#define METRICS_STATUS "[status]\nlisten = 127.0.0.1:@PORT2@\n"

/* The strict format check of a scrape; on failure the scrape goes to stderr (too long for a check message). */
static void check_text(const char *text)
{
    char *bad = prom_check(text);
    if (bad)
        fprintf(stderr, "---- the scrape\n%s----\n", text);
    ck_assert_msg(bad == NULL, "/metrics is not valid text format: %s", bad);
}

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
    check_text(text);
    for (size_t i = 0; i < n; i++) {
        long got = ops_sample(text, names[i]);
        if (got != want[i])
            fprintf(stderr, "---- the scrape\n%s----\n", text);
        ck_assert_msg(got == want[i], "%s = %ld, expected %ld", names[i], got, want[i]);
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

/* The checker itself fails on what it must refuse: a scrape passing it means something. */
START_TEST(checker_rejects)
{
    static const char *const good =
        "# HELP a_total A count\n# TYPE a_total counter\na_total{x=\"q\\\"\\\\\\n\"} 1\n"
        "# HELP h Time\n# TYPE h histogram\nh_bucket{s=\"1\",le=\"0.1\"} 1\nh_bucket{s=\"1\",le=\"+Inf\"} 2\n"
        "h_sum{s=\"1\"} 0.3\nh_count{s=\"1\"} 2\n";
    char *err = prom_check(good);
    ck_assert_msg(err == NULL, "%s", err);
    static const char *const bad[] = {
        "# HELP a_total A\na_total 1\n",                                                      /* no TYPE */
        "# HELP a_total A\n# TYPE a_total counter\nb_total 1\n",                              /* outside its family */
        "# HELP a_total A\n# TYPE a_total counter\na_total{x=\"\\q\"} 1\n",                   /* bad escape */
        "# HELP a_total A\n# TYPE a_total counter\na_total{x=\"1\"} 1\na_total{x=\"1\"} 2\n", /* twice */
        "# HELP a_total A\n# TYPE a_total counter\na_total 1",                                /* no final newline */
        "# HELP a_total A\n# TYPE a_total counter\na_total -1\n",                             /* negative count */
        "# HELP a_total A\n# TYPE a_total counter\na_total one\n",                            /* not a number */
        "# HELP h T\n# TYPE h histogram\nh_bucket{le=\"0.1\"} 2\nh_bucket{le=\"+Inf\"} 1\nh_sum 1\nh_count 1\n",
        "# HELP h T\n# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_bucket{le=\"0.5\"} 1\nh_bucket{le=\"+Inf\"} 1\n"
        "h_sum 1\nh_count 1\n",
        "# HELP h T\n# TYPE h histogram\nh_bucket{le=\"+Inf\"} 2\nh_sum 1\nh_count 3\n", /* +Inf != _count */
        "# HELP h T\n# TYPE h histogram\nh_bucket{le=\"0.1\"} 2\nh_sum 1\nh_count 2\n",  /* no +Inf */
        "# HELP a_total A\n# TYPE a_total counter\n# HELP a_total A\n# TYPE a_total counter\n",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err = prom_check(bad[i]);
        ck_assert_msg(err != NULL, "accepted bad text %zu:\n%s", i, bad[i]);
        free(err);
    }
}
END_TEST

/* Known requests on two [server]s and three upstreams (one worker, so the counts are exact), then one scrape:
 * responses by [server] and code (an uncounted code as "other"), request time histograms, and per upstream and
 * upstream server the requests, responses by class, errors by kind (a 5xx, a refused connect, a header timeout,
 * no live server) and response time histograms. */
#define BY_SERVER                                                                                                      \
    PX_GLOBAL METRICS_STATUS "[upstream o]\nserver = 127.0.0.1:@O0@\nkeepalive = 8\n"                                  \
                             "[upstream d]\nserver = 127.0.0.1:@DEAD@ max_fails=1 fail_timeout=60s\n"                  \
                             "server = 127.0.0.1:@DEAD@ max_fails=1 fail_timeout=60s\n"                                \
                             "[upstream h]\nserver = 127.0.0.1:@O1@\n"                                                 \
                             "[server a]\nlisten = 127.0.0.1:@PORT@\nserver_name = a.test\nproxy_pass = o\n"           \
                             "route = /dead/ d\nroute = /chunked/ h header_timeout=1s\n"                               \
                             "[server b]\nlisten = 127.0.0.1:@PORT@\nserver_name = b.test\nproxy_pass = o\n"           \
                             "auth_guard = on\n" /* its metrics appear, for the docs check */

static void expect(const char *text, const char *series, double want)
{
    double got = prom_value(text, series);
    if (got != want) /* the whole scrape to stderr: too long for a check message */
        fprintf(stderr, "---- the scrape\n%s----\n", text);
    ck_assert_msg(got == want, "%s = %g, expected %g", series, got, want);
}

/* expect() with the series written by a format (labels that carry ports). */
static void expectf(const char *text, double want, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void expectf(const char *text, double want, const char *fmt, ...)
{
    char series[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(series, sizeof series, fmt, ap);
    va_end(ap);
    ck_assert_int_lt(n, (int)sizeof series);
    expect(text, series, want);
}

static void send_expect(const char *host, const char *target, int status)
{
    char raw[256];
    ts_response r;
    snprintf(raw, sizeof raw, "GET %s HTTP/1.1\r\nHost: %s\r\n\r\n", target, host);
    px_req(env.port, raw, &r);
    ck_assert_msg(r.status == status, "%s%s: %d, expected %d", host, target, r.status, status);
    ts_response_free(&r);
}

/* Scrapes until series reads want (an exchange is counted when it ends, just after its answer left, or when the
 * client's close reaches proxyd), for at most 3 s; returns the last scrape (the caller frees), checked. */
static char *scrape_when(const char *series, double want)
{
    char *text = NULL;
    for (int64_t until = ops_now_ms() + 3000; !text || (prom_value(text, series) != want && ops_now_ms() < until);) {
        free(text);
        if (until - ops_now_ms() < 3000)
            ops_sleep_ms(20);
        text = ops_scrape(env.port2);
        ck_assert_msg(text != NULL, "no answer from /metrics");
    }
    check_text(text);
    return text;
}

/* Every family a scrape declares is in docs/metrics.md, and every metric the page lists is in the scrape. */
static void docs_match(const char *text)
{
    const char *src = getenv("PROXYD_SRC");
    ck_assert_msg(src != NULL, "PROXYD_SRC is not set (meson sets it)");
    char path[512], name[128], quoted[140];
    snprintf(path, sizeof path, "%s/docs/metrics.md", src);
    char *doc = px_read_file(path);
    ck_assert_msg(doc != NULL, "cannot read %s", path);
    for (const char *t = strstr(text, "# TYPE "); t; t = strstr(t + 1, "# TYPE ")) {
        ck_assert_int_eq(sscanf(t + 7, "%127s", name), 1);
        snprintf(quoted, sizeof quoted, "`%s`", name);
        ck_assert_msg(strstr(doc, quoted) != NULL, "%s is not in docs/metrics.md", name);
    }
    for (const char *d = strstr(doc, "`proxyd_"); d; d = strstr(d + 1, "`proxyd_")) {
        ck_assert_int_eq(sscanf(d + 1, "%127[a-z0-9_]", name), 1);
        snprintf(quoted, sizeof quoted, "# TYPE %s ", name);
        ck_assert_msg(strstr(text, quoted) != NULL, "docs/metrics.md lists %s, which /metrics does not have", name);
    }
    free(doc);
}

START_TEST(by_server_and_upstream)
{
    char o[200], d[200], h[200];
    px_env_init(&env, 2);
    px_proxy_start(&env, BY_SERVER);
    for (int i = 0; i < 3; i++)
        send_expect("a.test", "/size/10", 200);
    for (int i = 0; i < 2; i++)
        send_expect("a.test", "/status/404", 404);
    send_expect("a.test", "/dead/1", 502); /* both servers refuse: each marked down */
    send_expect("a.test", "/dead/2", 502); /* none left to try */
    send_expect("a.test", "/chunked/10?delay=3000", 504);
    send_expect("b.test", "/size/10", 200);
    send_expect("b.test", "/status/503", 503);
    send_expect("b.test", "/status/418", 418);
    char *text = scrape_when("proxyd_server_request_duration_seconds_count{server=\"b\"}", 3);
    docs_match(text);
    expect(text, "proxyd_server_responses_total{server=\"a\",class=\"2xx\",code=\"200\"}", 3);
    expect(text, "proxyd_server_responses_total{server=\"a\",class=\"4xx\",code=\"404\"}", 2);
    expect(text, "proxyd_server_responses_total{server=\"a\",class=\"5xx\",code=\"502\"}", 2);
    expect(text, "proxyd_server_responses_total{server=\"a\",class=\"5xx\",code=\"504\"}", 1);
    expect(text, "proxyd_server_responses_total{server=\"b\",class=\"2xx\",code=\"200\"}", 1);
    expect(text, "proxyd_server_responses_total{server=\"b\",class=\"5xx\",code=\"503\"}", 1);
    expect(text, "proxyd_server_responses_total{server=\"b\",class=\"4xx\",code=\"other\"}", 1);
    expect(text, "proxyd_server_responses_total{server=\"b\",class=\"4xx\",code=\"404\"}", -1); /* none: absent */
    expect(text, "proxyd_responses_total{class=\"5xx\"}", 4);
    expect(text, "proxyd_server_request_duration_seconds_count{server=\"a\"}", 8);
    expect(text, "proxyd_server_request_duration_seconds_bucket{server=\"a\",le=\"+Inf\"}", 8);
    expect(text, "proxyd_server_request_duration_seconds_count{server=\"b\"}", 3);
    expect(text, "proxyd_server_request_duration_seconds_count{server=\"[status]\"}", 0);
    /* the 504 waited header_timeout (1 s) at least: it cannot be in a bucket below 1 s */
    ck_assert_double_le(prom_value(text, "proxyd_server_request_duration_seconds_bucket{server=\"a\",le=\"0.5\"}"), 7);
    ck_assert_double_ge(prom_value(text, "proxyd_server_request_duration_seconds_sum{server=\"a\"}"), 1.0);
    snprintf(o, sizeof o, "upstream=\"o\",server=\"127.0.0.1:%d\"", env.oport[0]);
    snprintf(d, sizeof d, "upstream=\"d\",server=\"127.0.0.1:%d\"", env.dead);
    snprintf(h, sizeof h, "upstream=\"h\",server=\"127.0.0.1:%d\"", env.oport[1]);
    expectf(text, 8, "proxyd_upstream_server_requests_total{%s}", o);
    expectf(text, 4, "proxyd_upstream_server_responses_total{%s,class=\"2xx\"}", o);
    expectf(text, 3, "proxyd_upstream_server_responses_total{%s,class=\"4xx\"}", o);
    expectf(text, 1, "proxyd_upstream_server_responses_total{%s,class=\"5xx\"}", o);
    expectf(text, 1, "proxyd_upstream_server_errors_total{%s,kind=\"http_5xx\"}", o);
    expectf(text, 0, "proxyd_upstream_server_errors_total{%s,kind=\"reset\"}", o);
    expectf(text, 0, "proxyd_upstream_server_active_connections{%s}", o);
    expectf(text, 8, "proxyd_upstream_server_response_duration_seconds_count{%s}", o);
    expectf(text, 8, "proxyd_upstream_server_response_duration_seconds_bucket{%s,le=\"+Inf\"}", o);
    expect(text, "proxyd_upstream_requests_total{upstream=\"o\"}", 8);
    expect(text, "proxyd_upstream_response_duration_seconds_count{upstream=\"o\"}", 8);
    /* d: two servers, both refused once, then marked down; the second request found none */
    expectf(text, 1, "proxyd_upstream_server_requests_total{%s}", d);
    /* the same address twice in one upstream: two servers, two series (the second labelled #2) */
    expectf(text, 1, "proxyd_upstream_server_errors_total{upstream=\"d\",server=\"127.0.0.1:%d#2\",kind=\"refused\"}",
            env.dead);
    expectf(text, 0, "proxyd_upstream_server_up{upstream=\"d\",server=\"127.0.0.1:%d#2\"}", env.dead);
    expect(text, "proxyd_upstream_requests_total{upstream=\"d\"}", 2);
    expect(text, "proxyd_upstream_errors_total{upstream=\"d\",kind=\"refused\"}", 2);
    expect(text, "proxyd_upstream_errors_total{upstream=\"d\",kind=\"no_live_server\"}", 1);
    expect(text, "proxyd_upstream_errors_total{upstream=\"d\",kind=\"connect\"}", 0);
    expect(text, "proxyd_upstream_servers_up{upstream=\"d\"}", 0);
    expect(text, "proxyd_upstream_servers_up{upstream=\"o\"}", 1);
    expect(text, "proxyd_upstream_active_connections{upstream=\"o\"}", 0);
    expect(text, "proxyd_upstream_response_duration_seconds_count{upstream=\"d\"}", 0);
    expectf(text, 1, "proxyd_upstream_server_errors_total{%s,kind=\"header_timeout\"}", h);
    expectf(text, 1, "proxyd_upstream_server_requests_total{%s}", h);
    expectf(text, 0, "proxyd_upstream_server_response_duration_seconds_count{%s}", h);
    expect(text, "proxyd_upstream_errors_total{upstream=\"h\",kind=\"header_timeout\"}", 1);
    free(text);
    /* A reload carries the counts over by name (the first scrape is now counted for [status] too). */
    ck_assert_int_eq(kill(env.pid, SIGHUP), 0);
    ck_assert_msg(ops_file_has(env.log, "reloaded", 3000), "no reload logged");
    text = ops_scrape(env.port2);
    ck_assert_msg(text != NULL, "no answer from /metrics after the reload");
    check_text(text);
    expect(text, "proxyd_server_responses_total{server=\"a\",class=\"2xx\",code=\"200\"}", 3);
    expect(text, "proxyd_server_responses_total{server=\"b\",class=\"4xx\",code=\"other\"}", 1);
    expect(text, "proxyd_server_responses_total{server=\"[status]\",class=\"2xx\",code=\"200\"}", 1);
    expect(text, "proxyd_server_request_duration_seconds_count{server=\"a\"}", 8);
    expect(text, "proxyd_upstream_requests_total{upstream=\"o\"}", 8);
    expect(text, "proxyd_upstream_errors_total{upstream=\"d\",kind=\"no_live_server\"}", 1);
    expectf(text, 1, "proxyd_upstream_server_errors_total{upstream=\"d\",server=\"127.0.0.1:%d#2\",kind=\"refused\"}",
            env.dead);
    expectf(text, 8, "proxyd_upstream_server_response_duration_seconds_count{%s}", o);
    free(text);
    px_env_done(&env);
}
END_TEST

/* Section names may hold a double quote or a backslash: label values escape them as the text format says (the
 * strict check would refuse them raw). */
START_TEST(labels_escaped)
{
    px_env_init(&env, 1);
    px_proxy_start(&env, PX_GLOBAL METRICS_STATUS "[upstream o\"q\\x]\nserver = 127.0.0.1:@O0@\n"
                                                  "[server s\"1]\nlisten = 127.0.0.1:@PORT@\nproxy_pass = o\"q\\x\n");
    send_expect("m", "/size/1", 200);
    char *text = scrape_when("proxyd_upstream_requests_total{upstream=\"o\\\"q\\\\x\"}", 1);
    expect(text, "proxyd_server_responses_total{server=\"s\\\"1\",class=\"2xx\",code=\"200\"}", 1);
    expect(text, "proxyd_upstream_requests_total{upstream=\"o\\\"q\\\\x\"}", 1);
    char up[160];
    snprintf(up, sizeof up, "proxyd_upstream_server_up{upstream=\"o\\\"q\\\\x\",server=\"127.0.0.1:%d\"}",
             env.oport[0]);
    expect(text, up, 1);
    free(text);
    px_env_done(&env);
}
END_TEST

/* A WebSocket upgrade (Lync's UCWA events): the 101 counts as a response of the [server] (when the tunnel ends) and
 * of the upstream server (when its head comes), with its upstream response time. */
START_TEST(upgrade_counted)
{
    char head[2048] = "", series[200];
    px_env_init(&env, 1);
    px_proxy_start(&env, PX_GLOBAL METRICS_STATUS "[upstream o]\nserver = 127.0.0.1:@O0@\n"
                                                  "[server s]\nlisten = 127.0.0.1:@PORT@\nproxy_pass = o\n");
    int fd = ts_connect(env.port);
    ck_assert_int_ge(fd, 0);
    static const char req[] = "GET /ws HTTP/1.1\r\nHost: m\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
                              "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n";
    ck_assert_int_eq(ts_send(fd, req, strlen(req)), 0);
    size_t n = 0;
    while (n + 1 < sizeof head && !strstr(head, "\r\n\r\n")) {
        ssize_t r = read(fd, head + n, sizeof head - 1 - n);
        ck_assert_int_gt(r, 0);
        n += (size_t)r;
        head[n] = 0;
    }
    ck_assert_msg(strncmp(head, "HTTP/1.1 101 ", 13) == 0, "%s", head);
    close(fd);
    char *text = scrape_when("proxyd_server_request_duration_seconds_count{server=\"s\"}", 1); /* the tunnel ended */
    expect(text, "proxyd_server_responses_total{server=\"s\",class=\"1xx\",code=\"101\"}", 1);
    snprintf(series, sizeof series,
             "proxyd_upstream_server_responses_total{upstream=\"o\",server=\"127.0.0.1:%d\",class=\"1xx\"}",
             env.oport[0]);
    expect(text, series, 1);
    expect(text, "proxyd_upstream_response_duration_seconds_count{upstream=\"o\"}", 1);
    free(text);
    px_env_done(&env);
}
END_TEST

/* While a response is awaited, its upstream connection is in use (the gauges say 1); once answered, pooled and
 * idle (0 again). */
START_TEST(active_gauge)
{
    ts_response r;
    char series[200];
    px_env_init(&env, 1);
    px_proxy_start(&env, PX_GLOBAL METRICS_STATUS "[upstream o]\nserver = 127.0.0.1:@O0@\nkeepalive = 4\n"
                                                  "[server s]\nlisten = 127.0.0.1:@PORT@\nproxy_pass = o\n");
    snprintf(series, sizeof series, "proxyd_upstream_server_active_connections{upstream=\"o\",server=\"127.0.0.1:%d\"}",
             env.oport[0]);
    int fd = ts_connect(env.port);
    ck_assert_int_ge(fd, 0);
    static const char req[] = "GET /size/10?delay=1500 HTTP/1.1\r\nHost: m\r\n\r\n";
    ck_assert_int_eq(ts_send(fd, req, strlen(req)), 0);
    /* the origin holds the answer 1.5 s: the connection is in use from when proxyd forwards the request on */
    char *text = scrape_when(series, 1);
    expect(text, series, 1);
    expect(text, "proxyd_upstream_active_connections{upstream=\"o\"}", 1);
    free(text);
    ck_assert_int_eq(ts_read_response(fd, &r, 0), 0);
    ck_assert_int_eq(r.status, 200);
    ts_response_free(&r);
    close(fd);
    text = scrape_when(series, 0);
    expect(text, series, 0);
    free(text);
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
    tcase_add_test(tc, checker_rejects);
    tcase_add_test(tc, by_server_and_upstream);
    tcase_add_test(tc, labels_escaped);
    tcase_add_test(tc, upgrade_counted);
    tcase_add_test(tc, active_gauge);
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
