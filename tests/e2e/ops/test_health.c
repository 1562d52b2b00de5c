/* End-to-end tests of active health checks (issue 18.2): a frozen origin (SIGSTOP) is marked down by the checks
 * once, whatever the worker count, reported by /metrics and given no requests; thawed, it is back up once and
 * serves again; a reload keeps its state. One checker per instance: the probe rate does not grow with the workers. */
#include "ops.h"
#include "px_harness.h"

#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static px_env env;

#define HEALTH_STATUS "[status]\nlisten = 127.0.0.1:@PORT2@\n"
#define HEALTH_GLOBAL(workers)                                                                                         \
    "[global]\nworkers = " workers "\nerror_log = @LOG@\nlog_level = info\npid_file = @DIR@/proxyd.pid\n"

/* One request through proxyd; returns its status and how long it took (ms). */
static int timed_get(int port, long *ms)
{
    ts_response r;
    int64_t t0 = ops_now_ms();
    int rc = ts_request(port, "GET /size/10 HTTP/1.1\r\nHost: h\r\n\r\n", &r);
    *ms = (long)(ops_now_ms() - t0);
    if (rc < 0)
        return -1;
    int st = r.status;
    ts_response_free(&r);
    return st;
}

START_TEST(frozen_origin_marked_down_once)
{
    char up1[160], up0[160];
    px_env_init(&env, 2);
    px_proxy_start(&env, HEALTH_GLOBAL("2") HEALTH_STATUS
                   "[upstream o]\nserver = 127.0.0.1:@O0@\nserver = 127.0.0.1:@O1@\nread_timeout = 3s\n"
                   "health_check = GET /size/0\nhealth_interval = 200ms\nhealth_timeout = 300ms\n"
                   "health_fall = 2\nhealth_rise = 2\n"
                   "[server s]\nlisten = 127.0.0.1:@PORT@\nproxy_pass = o\n");
    snprintf(up0, sizeof up0, "proxyd_upstream_server_up{upstream=\"o\",server=\"127.0.0.1:%d\"}", env.oport[0]);
    snprintf(up1, sizeof up1, "proxyd_upstream_server_up{upstream=\"o\",server=\"127.0.0.1:%d\"}", env.oport[1]);
    ck_assert_int_eq(ops_metric(env.port2, up1), 1);
    px_origin_freeze(&env, 1);
    /* interval * fall + timeout is 700ms; a generous bound for loaded machines */
    ck_assert_msg(ops_file_has(env.log, "marked down: 2 failed checks, last: timeout after 300ms", 8000),
                  "the frozen origin was not marked down");
    ops_sleep_ms(600); /* more failed checks: still one event */
    ck_assert_int_eq(ops_file_count(env.log, "marked down"), 1);
    ck_assert_int_eq(ops_metric(env.port2, up1), 0);
    ck_assert_int_eq(ops_metric(env.port2, up0), 1);
    for (int i = 0; i < 20; i++) { /* none to the frozen origin: none waits for its read_timeout */
        long ms;
        ck_assert_int_eq(timed_get(env.port, &ms), 200);
        ck_assert_msg(ms < 1000, "request %d took %ldms", i, ms);
    }
    /* A reload hands the checker the new runtime: the server stays down, with no second event. */
    ck_assert_int_eq(kill(env.pid, SIGHUP), 0);
    ck_assert_msg(ops_file_has(env.log, "reloaded", 5000), "no reload logged");
    ck_assert_int_eq(ops_metric(env.port2, up1), 0);
    ops_sleep_ms(500);
    ck_assert_int_eq(ops_file_count(env.log, "marked down"), 1);
    ck_assert_int_eq(ops_metric(env.port2, up1), 0);
    ck_assert_int_eq(kill(env.opid[1], SIGCONT), 0);
    ck_assert_msg(ops_file_has(env.log, "back up after 2 good checks", 8000), "the thawed origin did not come back");
    ops_sleep_ms(500);
    ck_assert_int_eq(ops_file_count(env.log, "back up"), 1);
    ck_assert_int_eq(ops_metric(env.port2, up1), 1);
    int before = px_origin_requests(env.oport[1]);
    for (int i = 0; i < 20; i++) {
        long ms;
        ck_assert_int_eq(timed_get(env.port, &ms), 200);
    }
    int after = px_origin_requests(env.oport[1]);
    ck_assert_msg(after - before >= 8, "the origin back up got %d of 20 requests", after - before);
    px_env_done(&env);
}
END_TEST

/* health_check = tcp: a refused connect fails the check, a connect is good; the lone live server stays up. */
START_TEST(tcp_check_refused)
{
    char dead[160], live[160];
    px_env_init(&env, 1);
    px_proxy_start(&env, PX_GLOBAL HEALTH_STATUS
                   "[upstream o]\nserver = 127.0.0.1:@DEAD@\nserver = 127.0.0.1:@O0@\nhealth_check = tcp\n"
                   "health_interval = 100ms\nhealth_fall = 2\n"
                   "[server s]\nlisten = 127.0.0.1:@PORT@\nproxy_pass = o\n");
    snprintf(dead, sizeof dead, "proxyd_upstream_server_up{upstream=\"o\",server=\"127.0.0.1:%d\"}", env.dead);
    snprintf(live, sizeof live, "proxyd_upstream_server_up{upstream=\"o\",server=\"127.0.0.1:%d\"}", env.oport[0]);
    ck_assert_msg(ops_file_has(env.log, "marked down: 2 failed checks, last: connection refused", 5000),
                  "the refusing server was not marked down");
    ck_assert_int_eq(ops_metric(env.port2, dead), 0);
    ck_assert_int_eq(ops_metric(env.port2, live), 1);
    ck_assert_int_eq(ops_file_count(env.log, "marked down"), 1);
    ck_assert_int_eq(px_origin_requests(env.oport[0]), 0); /* tcp checks send no request */
    px_env_done(&env);
}
END_TEST

/* Probe requests one origin receives per second with this many workers (nothing else is sent to it). */
static double probe_rate(const char *global)
{
    char tpl[1024];
    snprintf(tpl, sizeof tpl,
             "%s[upstream o]\nserver = 127.0.0.1:@O0@\nhealth_check = GET /size/0\nhealth_interval = 100ms\n"
             "[server s]\nlisten = 127.0.0.1:@PORT@\nproxy_pass = o\n",
             global);
    px_env_init(&env, 1);
    px_proxy_start(&env, tpl);
    ops_sleep_ms(300);
    int before = px_origin_requests(env.oport[0]);
    int64_t t0 = ops_now_ms();
    ops_sleep_ms(1500);
    int after = px_origin_requests(env.oport[0]);
    int64_t spent = ops_now_ms() - t0;
    px_env_done(&env);
    ck_assert_int_ge(before, 0);
    ck_assert_int_ge(after, before);
    return (after - before - 1) * 1000.0 / (double)spent; /* the first /stats may be counted */
}

START_TEST(one_checker_per_instance)
{
    double one = probe_rate(HEALTH_GLOBAL("1"));
    double four = probe_rate(HEALTH_GLOBAL("4"));
    /* 100ms: about 10 per second; four checkers would make about 40 */
    ck_assert_msg(one >= 3 && one <= 15, "workers = 1: %.1f checks per second", one);
    ck_assert_msg(four <= one * 1.6 + 2, "workers = 4: %.1f checks per second, workers = 1: %.1f", four, one);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("e2e_ops_health");
    TCase *tc = tcase_create("health");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, frozen_origin_marked_down_once);
    tcase_add_test(tc, one_checker_per_instance);
    tcase_add_test(tc, tcp_check_refused);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
