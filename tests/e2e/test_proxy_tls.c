/* End-to-end tests of proxyd over TLS, with certificates made by openssl at test time: a TLS listener checked
 * with curl, SNI choosing the certificate, and an https upstream verified by name (and refused when wrong). */
#include "px_harness.h"

#include <check.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static px_env env;

/* A self-signed P-256 certificate for name in @DIR@/NAME.crt and @DIR@/NAME.key. */
static void make_cert(const char *name)
{
    char cmd[1024], out[256];
    snprintf(cmd, sizeof cmd,
             "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 -subj /CN=%s "
             "-addext subjectAltName=DNS:%s -keyout %s/%s.key -out %s/%s.crt 2>&1",
             name, name, env.dir, name, env.dir, name);
    ck_assert_msg(px_run(cmd, out, sizeof out) == 0, "openssl req: %s", out);
}

/* curl over TLS with the CA file of name, resolving name to 127.0.0.1. Returns curl's exit status; out holds
 * the body followed by " HTTP=<status>". */
static int curl_get(const char *name, int port, const char *path, char *out, size_t cap)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd,
             "curl -s --max-time 10 --cacert %s/%s.crt --resolve %s:%d:127.0.0.1 -w ' HTTP=%%{http_code}' "
             "https://%s:%d%s",
             env.dir, name, name, port, name, port, path);
    return px_run(cmd, out, cap);
}

/* The subject of the certificate served for SNI name on port. */
static void served_subject(int port, const char *name, char *out, size_t cap)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd,
             "openssl s_client -connect 127.0.0.1:%d -servername %s </dev/null 2>/dev/null | "
             "openssl x509 -noout -subject 2>&1",
             port, name);
    px_run(cmd, out, cap);
}

#define TLS_FRONT                                                                                                      \
    "[upstream o]\nserver = 127.0.0.1:@O0@\n"                                                                          \
    "[server a]\nlisten = 127.0.0.1:@PORT@ tls default\nserver_name = a.test\n"                                        \
    "tls_cert = @DIR@/a.test.crt\ntls_key = @DIR@/a.test.key\nproxy_pass = o\n"                                        \
    "[server b]\nlisten = 127.0.0.1:@PORT@ tls\nserver_name = b.test\n"                                                \
    "tls_cert = @DIR@/b.test.crt\ntls_key = @DIR@/b.test.key\nproxy_pass = o\n"

/* 15. A TLS listener serves the body, and SNI picks each server's certificate. */
START_TEST(tls_listener_and_sni)
{
    char out[4096], want[160];
    px_env_init(&env, 1);
    make_cert("a.test");
    make_cert("b.test");
    px_proxy_start(&env, PX_GLOBAL TLS_FRONT);
    ck_assert_int_eq(curl_get("a.test", env.port, "/size/100", out, sizeof out), 0);
    memset(want, 'x', 100);
    strcpy(want + 100, " HTTP=200");
    ck_assert_str_eq(out, want);
    ck_assert_int_eq(curl_get("b.test", env.port, "/size/100", out, sizeof out), 0);
    ck_assert_str_eq(out, want);
    /* The request carries the https scheme. */
    ck_assert_int_eq(curl_get("b.test", env.port, "/echo", out, sizeof out), 0);
    ck_assert_msg(strstr(out, "X-Forwarded-Proto: https\r\n") != NULL, "%s", out);
    ck_assert_msg(strstr(out, "Host: b.test:") != NULL, "%s", out);
    served_subject(env.port, "a.test", out, sizeof out);
    ck_assert_msg(strstr(out, "CN = a.test") != NULL, "SNI a.test served: %s", out);
    served_subject(env.port, "b.test", out, sizeof out);
    ck_assert_msg(strstr(out, "CN = b.test") != NULL, "SNI b.test served: %s", out);
    /* An unknown name falls back to the default server's certificate. */
    served_subject(env.port, "other.test", out, sizeof out);
    ck_assert_msg(strstr(out, "CN = a.test") != NULL, "SNI other.test served: %s", out);
    px_env_done(&env);
}
END_TEST

/* proxyd in front of itself: a plain listener proxies to an https upstream (its own TLS listener). */
#define TLS_UPSTREAM(server_name) TLS_UPSTREAM_CA(server_name, "a.test")
#define TLS_UPSTREAM_CA(server_name, ca)                                                                               \
    "[upstream o]\nserver = 127.0.0.1:@O0@\n"                                                                          \
    "[upstream secure]\nserver = 127.0.0.1:@PORT2@\ntls = on\ntls_ca = @DIR@/" ca ".crt\n"                             \
    "tls_server_name = " server_name "\n"                                                                              \
    "[server front]\nlisten = 127.0.0.1:@PORT@\nproxy_pass = https://secure\n"                                         \
    "[server back]\nlisten = 127.0.0.1:@PORT2@ tls\nserver_name = a.test\n"                                            \
    "tls_cert = @DIR@/a.test.crt\ntls_key = @DIR@/a.test.key\nproxy_pass = o\n"

START_TEST(https_upstream)
{
    ts_response r;
    px_env_init(&env, 1);
    make_cert("a.test");
    px_proxy_start(&env, PX_GLOBAL TLS_UPSTREAM("a.test"));
    for (int i = 0; i < 3; i++) {
        px_req(env.port, "GET /size/5000 HTTP/1.1\r\nHost: h\r\n\r\n", &r);
        ck_assert_int_eq(r.status, 200);
        ck_assert_uint_eq(r.body_len, 5000);
        ts_response_free(&r);
    }
    px_req(env.port, "GET /echo HTTP/1.1\r\nHost: h\r\n\r\n", &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_msg(strstr(r.body, "X-Forwarded-Proto: https\r\n") != NULL, "%s", r.body); /* seen by the back */
    ts_response_free(&r);
    px_env_done(&env);
}
END_TEST

START_TEST(https_upstream_wrong_name)
{
    char want[64];
    ts_response r;
    px_env_init(&env, 1);
    make_cert("a.test");
    px_proxy_start(&env, PX_GLOBAL TLS_UPSTREAM("wrong.test"));
    px_req(env.port, "GET /size/10 HTTP/1.1\r\nHost: h\r\n\r\n", &r);
    ck_assert_int_eq(r.status, 502);
    ts_response_free(&r);
    ck_assert_int_eq(px_origin_requests(env.oport[0]), 0);
    char *log = px_read_file(env.log);
    snprintf(want, sizeof want, "upstream 127.0.0.1:%d", env.port2);
    ck_assert_msg(log && strstr(log, want), "error log does not name %s:\n%s", want, log);
    free(log);
    px_env_done(&env);
}
END_TEST

/* An upstream whose certificate the configured CA did not sign: 502, the origin sees nothing, and the error
 * log says why. */
START_TEST(https_upstream_untrusted)
{
    ts_response r;
    px_env_init(&env, 1);
    make_cert("a.test");
    make_cert("b.test");
    px_proxy_start(&env, PX_GLOBAL TLS_UPSTREAM_CA("a.test", "b.test"));
    px_req(env.port, "GET /size/10 HTTP/1.1\r\nHost: h\r\n\r\n", &r);
    ck_assert_int_eq(r.status, 502);
    ts_response_free(&r);
    ck_assert_int_eq(px_origin_requests(env.oport[0]), 0);
    char *log = px_read_file(env.log);
    ck_assert_msg(log && strstr(log, "TLS handshake with upstream") && strstr(log, "not trusted"),
                  "error log does not say the certificate is not trusted:\n%s", log);
    free(log);
    px_env_done(&env);
}
END_TEST

/* Whether the error log holds needle within timeout_ms. */
static int log_has(const char *needle, int timeout_ms)
{
    for (int waited = 0;; waited += 50) {
        char *log = px_read_file(env.log);
        int found = log && strstr(log, needle);
        free(log);
        if (found || waited >= timeout_ms)
            return found;
        usleep(50 * 1000);
    }
}

#define HEALTH_TLS(ca)                                                                                                 \
    "[upstream o]\nserver = 127.0.0.1:@O0@\n"                                                                          \
    "[upstream secure]\nserver = 127.0.0.1:@PORT2@\ntls = on\ntls_ca = @DIR@/" ca ".crt\ntls_server_name = a.test\n"   \
    "health_check = GET /size/0\nhealth_interval = 100ms\nhealth_fall = 1\nhealth_rise = 1\n"                          \
    "[server front]\nlisten = 127.0.0.1:@PORT@\nproxy_pass = https://secure\n"                                         \
    "[server back]\nlisten = 127.0.0.1:@PORT2@ tls\nserver_name = a.test\n"                                            \
    "tls_cert = @DIR@/a.test.crt\ntls_key = @DIR@/a.test.key\nproxy_pass = o\n"

/* Active health checks (issue 18.2) speak the upstream's TLS: its CA, its name (SNI and verification). Checks
 * that pass reach the origin behind the TLS listener; checks the CA refuses take the lone server down, and its
 * requests get 502 at once. */
START_TEST(https_upstream_health_checks)
{
    ts_response r;
    px_env_init(&env, 1);
    make_cert("a.test");
    make_cert("b.test");
    px_proxy_start(&env, PX_GLOBAL HEALTH_TLS("a.test"));
    ck_assert_msg(!log_has("marked down", 800), "a good TLS upstream was marked down");
    ck_assert_int_ge(px_origin_requests(env.oport[0]), 3); /* the checks went through the TLS listener */
    px_req(env.port, "GET /size/10 HTTP/1.1\r\nHost: h\r\n\r\n", &r);
    ck_assert_int_eq(r.status, 200);
    ts_response_free(&r);
    ck_assert_int_eq(px_proxy_stop(&env), 0);
    env.pid = 0;
    px_proxy_start(&env, PX_GLOBAL HEALTH_TLS("b.test"));
    ck_assert_msg(log_has("marked down: 1 failed check, last: TLS: ", 5000),
                  "an untrusted upstream was not marked down");
    px_req(env.port, "GET /size/10 HTTP/1.1\r\nHost: h\r\n\r\n", &r);
    ck_assert_int_eq(r.status, 502);
    ts_response_free(&r);
    px_env_done(&env);
}
END_TEST

/* ------------------------------------------------------------------ scheme and port disagree (issue 19.2) */

/* The seed's literal spelling: proxy_pass = https://NAME makes an upstream without `tls` a TLS one. */
START_TEST(https_scheme_makes_tls_upstream)
{
    ts_response r;
    px_env_init(&env, 1);
    make_cert("a.test");
    px_proxy_start(&env, PX_GLOBAL "[upstream o]\nserver = 127.0.0.1:@O0@\n"
                                   "[upstream secure]\nserver = 127.0.0.1:@PORT2@\ntls_ca = @DIR@/a.test.crt\n"
                                   "tls_server_name = a.test\n"
                                   "[server front]\nlisten = 127.0.0.1:@PORT@\nproxy_pass = https://secure\n"
                                   "[server back]\nlisten = 127.0.0.1:@PORT2@ tls\nserver_name = a.test\n"
                                   "tls_cert = @DIR@/a.test.crt\ntls_key = @DIR@/a.test.key\nproxy_pass = o\n");
    px_req(env.port, "GET /size/100 HTTP/1.1\r\nHost: h\r\n\r\n", &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_uint_eq(r.body_len, 100);
    ts_response_free(&r);
    px_env_done(&env);
}
END_TEST

/* A scheme that contradicts `tls` is refused by -t with what to write. */
START_TEST(scheme_contradiction_refused)
{
    char out[4096];
    px_env_init(&env, 1);
    int rc = px_check_config(&env,
                             PX_GLOBAL "[upstream secure]\nserver = 127.0.0.1:@O0@\ntls = off\n"
                                       "[server front]\nlisten = 127.0.0.1:@PORT@\nproxy_pass = https://secure\n",
                             out, sizeof out);
    ck_assert_msg(rc == 1, "proxyd -t accepted https:// with tls = off: %s", out);
    ck_assert_msg(strstr(out, "proxy_pass: https://secure, but [upstream secure] has tls = off (line 8): write "
                              "http://secure or secure alone, or set tls = on there"),
                  "%s", out);
    px_env_done(&env);
}
END_TEST

/* A fake upstream: answers every connection with one canned reply after the first bytes arrive, then closes. */
typedef struct fake_upstream {
    int lfd, port;
    const char *reply;
    size_t len;
    pthread_t thread;
} fake_upstream;

static void *fake_run(void *arg)
{
    fake_upstream *f = arg;
    char buf[4096];
    for (int fd; (fd = accept(f->lfd, NULL, NULL)) >= 0; close(fd))
        if (read(fd, buf, sizeof buf) > 0 && write(fd, f->reply, f->len) < 0)
            continue;
    return NULL;
}

static void fake_start(fake_upstream *f, const char *reply, size_t len)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof a;
    f->reply = reply;
    f->len = len;
    f->lfd = socket(AF_INET, SOCK_STREAM, 0);
    ck_assert_int_ge(f->lfd, 0);
    ck_assert_int_eq(bind(f->lfd, (struct sockaddr *)&a, sizeof a), 0);
    ck_assert_int_eq(listen(f->lfd, 16), 0);
    ck_assert_int_eq(getsockname(f->lfd, (struct sockaddr *)&a, &al), 0);
    f->port = ntohs(a.sin_port);
    ck_assert_int_eq(pthread_create(&f->thread, NULL, fake_run, f), 0);
}

static void fake_stop(fake_upstream *f)
{
    shutdown(f->lfd, SHUT_RDWR); /* accept() returns */
    pthread_join(f->thread, NULL);
    close(f->lfd);
}

/* The proxyd config with one upstream on port, its tls and proxy_pass as given. */
static char *mismatch_conf(int port, const char *tls, const char *pass)
{
    char tpl[1024];
    snprintf(tpl, sizeof tpl,
             PX_GLOBAL "[upstream fe]\nserver = 127.0.0.1:%d\n%stls_verify = off\n"
                       "[server s]\nlisten = 127.0.0.1:@PORT@\nproxy_pass = %s\n",
             port, tls, pass);
    return strdup(tpl);
}

/* GET through proxyd: 502, and the error log has each of the needles and not "upstream unreachable". */
static void expect_logged(const char *const needles[])
{
    ts_response r;
    px_req(env.port, "GET /x HTTP/1.1\r\nHost: h\r\n\r\n", &r);
    ck_assert_int_eq(r.status, 502);
    ts_response_free(&r);
    char *log = px_read_file(env.log);
    for (int i = 0; needles[i]; i++)
        ck_assert_msg(log && strstr(log, needles[i]), "the error log lacks \"%s\":\n%s", needles[i], log);
    ck_assert_msg(!strstr(log, "upstream unreachable"), "logged as unreachable:\n%s", log);
    /* One line per failure: a failed handshake is not logged a second time as "Protocol error (connect)". */
    ck_assert_msg(!strstr(log, "Protocol error (connect)"), "the handshake failure was logged twice:\n%s", log);
    free(log);
}

/* tls = on toward a plain HTTP server (it answers the ClientHello with 400, as nginx and IIS do). */
START_TEST(tls_upstream_answers_plain)
{
    static const char reply[] = "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
    fake_upstream f;
    fake_start(&f, reply, sizeof reply - 1);
    px_env_init(&env, 0);
    char *conf = mismatch_conf(f.port, "", "https://fe");
    px_proxy_start(&env, conf);
    free(conf);
    static const char *const needles[] = {"it answered in plain text (the peer sent plain HTTP instead of a TLS "
                                          "ServerHello): it does not speak TLS on this port; make [upstream fe] plain",
                                          "502: upstream speaks plain HTTP, not TLS", NULL};
    expect_logged(needles);
    px_env_done(&env);
    fake_stop(&f);
}
END_TEST

/* A plain request to a TLS server that answers with an alert record. */
START_TEST(plain_upstream_answers_tls)
{
    static const char alert[] = "\x15\x03\x03\x00\x02\x02\x46";
    fake_upstream f;
    fake_start(&f, alert, sizeof alert - 1);
    px_env_init(&env, 0);
    char *conf = mismatch_conf(f.port, "", "fe");
    px_proxy_start(&env, conf);
    free(conf);
    static const char *const needles[] = {"answered in TLS on a plain connection: it speaks https; write proxy_pass = "
                                          "https://fe or set tls = on in [upstream fe]",
                                          "502: upstream speaks TLS, not plain HTTP", NULL};
    expect_logged(needles);
    px_env_done(&env);
    fake_stop(&f);
}
END_TEST

/* A plain request to a TLS server that closes without a word (OpenSSL, IIS, proxyd itself): the likely cause is
 * named. */
START_TEST(plain_upstream_closed_by_tls_server)
{
    px_env_init(&env, 0);
    make_cert("a.test");
    px_proxy_start(&env, PX_GLOBAL "[upstream secure]\nserver = 127.0.0.1:@PORT2@\n"
                                   "[upstream none]\nserver = 127.0.0.1:@DEAD@\n"
                                   "[server front]\nlisten = 127.0.0.1:@PORT@\nproxy_pass = http://secure\n"
                                   "[server back]\nlisten = 127.0.0.1:@PORT2@ tls\nserver_name = a.test\n"
                                   "tls_cert = @DIR@/a.test.crt\ntls_key = @DIR@/a.test.key\nproxy_pass = none\n");
    char want[200];
    snprintf(want, sizeof want,
             "a TLS server does this to plain HTTP: if 127.0.0.1:%d speaks https, write proxy_pass = https://secure "
             "or tls = on in [upstream secure]",
             env.port2);
    const char *const needles[] = {want, "502: upstream closed a new connection without answering", NULL};
    expect_logged(needles);
    px_env_done(&env);
}
END_TEST

static Suite *tls_suite(void)
{
    Suite *s = suite_create("e2e_proxy_tls");
    TCase *tc = tcase_create("tls");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, tls_listener_and_sni);
    tcase_add_test(tc, https_upstream);
    tcase_add_test(tc, https_upstream_wrong_name);
    tcase_add_test(tc, https_upstream_untrusted);
    tcase_add_test(tc, https_upstream_health_checks);
    tcase_add_test(tc, https_scheme_makes_tls_upstream);
    tcase_add_test(tc, scheme_contradiction_refused);
    tcase_add_test(tc, tls_upstream_answers_plain);
    tcase_add_test(tc, plain_upstream_answers_tls);
    tcase_add_test(tc, plain_upstream_closed_by_tls_server);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(tls_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
