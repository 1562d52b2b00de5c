/* tests/tls interoperability: curl and openssl s_client against the threaded libtlsio test server: SNI,
 * ALPN, resumption by ticket and by session id, refused legacy versions and CBC suites, garbage over TCP. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tls_test.h"

static char out[65536];

static int s_client(struct tls_server *s, const char *extra)
{
    return tls_run(out, sizeof out, "timeout 20 openssl s_client -connect 127.0.0.1:%d -CAfile '%s' %s </dev/null 2>&1",
                   s->port, tls_path("ca.pem"), extra);
}

START_TEST(curl_gets_response_with_alpn)
{
    struct tls_server s;
    tls_server_start(&s, tls_settings(0, 0));
    int st = tls_run(out, sizeof out,
                     "timeout 20 curl -sS -v --max-time 15 --cacert '%s' --resolve a.test:%d:127.0.0.1 "
                     "-w 'HTTPCODE=%%{http_code}\\n' https://a.test:%d/ 2>&1",
                     tls_path("ca.pem"), s.port, s.port);
    ck_assert_msg(st == 0, "curl %d:\n%s", st, out);
    ck_assert_msg(strstr(out, "ok\nHTTPCODE=200") != NULL, "%s", out);
    ck_assert_msg(strstr(out, "ALPN: server accepted http/1.1") != NULL ||
                      strstr(out, "ALPN, server accepted to use http/1.1") != NULL,
                  "%s", out);
    tls_server_stop(&s);
    ck_assert_int_ge(s.handshakes, 1);
    ck_assert_str_eq(s.last_sni, "a.test");
    ck_assert_str_eq(s.last_alpn, "http/1.1");
    tlsio_server_settings_free(s.settings);
}
END_TEST

START_TEST(openssl_sni_picks_subject)
{
    struct tls_server s;
    tls_server_start(&s, tls_settings(0, 0));
    ck_assert_int_eq(s_client(&s, "-servername b.test -verify_return_error"), 0);
    ck_assert_msg(strstr(out, "subject=CN = b.test") != NULL, "%s", out);
    ck_assert_msg(strstr(out, "Verify return code: 0 (ok)") != NULL, "%s", out);
    ck_assert_int_eq(s_client(&s, "-servername a.test -alpn http/1.1 -verify_return_error"), 0);
    ck_assert_msg(strstr(out, "subject=CN = a.test") != NULL, "%s", out);
    ck_assert_msg(strstr(out, "ALPN protocol: http/1.1") != NULL, "%s", out);
    ck_assert_int_eq(s_client(&s, "-noservername"), 0); /* no SNI: the first certificate */
    ck_assert_msg(strstr(out, "subject=CN = a.test") != NULL, "%s", out);
    tls_server_stop(&s);
    tlsio_server_settings_free(s.settings);
}
END_TEST

/* TLS 1.2 ticket, TLS 1.2 session-id cache, TLS 1.3 ticket (TLS 1.3 has no session ids). A request is sent and
 * its answer read, so that s_client has the TLS 1.3 NewSessionTicket (sent after the handshake) when it saves. */
static const char *const resume_flags[] = {"-tls1_2", "-tls1_2 -no_ticket", "-tls1_3"};

START_TEST(openssl_reuses_session)
{
    struct tls_server s;
    tls_server_start(&s, tls_settings(0, 0));
    const char *version = _i < 2 ? "TLSv1.2" : "TLSv1.3";
    char extra[512], want[64];
    snprintf(extra, sizeof extra, "-servername a.test %s -sess_out '%s'", resume_flags[_i], tls_path("sess"));
    ck_assert_int_eq(tls_run(out, sizeof out,
                             "printf 'GET / HTTP/1.0\\r\\n\\r\\n' | timeout 20 openssl s_client -ign_eof -connect "
                             "127.0.0.1:%d -CAfile '%s' %s 2>&1",
                             s.port, tls_path("ca.pem"), extra),
                     0);
    snprintf(want, sizeof want, "New, %s", version);
    ck_assert_msg(strstr(out, want) != NULL, "%s", out);
    if (_i != 1)
        ck_assert_msg(strstr(out, "TLS session ticket lifetime hint") != NULL, "%s", out);
    snprintf(extra, sizeof extra, "-servername a.test %s -sess_in '%s'", resume_flags[_i], tls_path("sess"));
    ck_assert_int_eq(s_client(&s, extra), 0);
    snprintf(want, sizeof want, "Reused, %s", version);
    ck_assert_msg(strstr(out, want) != NULL, "%s", out);
    tls_server_stop(&s);
    ck_assert_int_eq(s.resumed, 1);
    tlsio_server_settings_free(s.settings);
}
END_TEST

static const char *const refused[] = {
    "-tls1_1 -cipher DEFAULT:@SECLEVEL=0",
    "-tls1 -cipher DEFAULT:@SECLEVEL=0",
    "-tls1_2 -cipher ECDHE-RSA-AES128-SHA256",
    "-tls1_2 -cipher ECDHE-ECDSA-AES128-SHA",
    "-tls1_2 -cipher AES128-GCM-SHA256", /* static RSA: no forward secrecy */
    "-tls1_2 -curves secp521r1",
};

START_TEST(openssl_refused_policy)
{
    struct tls_server s;
    tls_server_start(&s, tls_settings(0, 0));
    char extra[256];
    snprintf(extra, sizeof extra, "-servername b.test %s", refused[_i]);
    int st = s_client(&s, extra);
    ck_assert_msg(st != 0 && strstr(out, "Cipher is (NONE)") != NULL, "status %d:\n%s", st, out);
    /* The server stays healthy. */
    ck_assert_int_eq(s_client(&s, "-servername b.test"), 0);
    tls_server_stop(&s);
    ck_assert_int_eq(s.handshakes, 1);
    tlsio_server_settings_free(s.settings);
}
END_TEST

static int tcp_connect(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {
        .sin_family = AF_INET, .sin_port = htons((uint16_t)port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    ck_assert_int_eq(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    return fd;
}

START_TEST(tcp_garbage_closed)
{
    struct tls_server s;
    tls_server_start(&s, tls_settings(0, 0));
    int fd = tcp_connect(s.port);
    static const char junk[] = "\x16\x03\x01\x00\x30garbage-garbage-garbage-garbage-garbage-garbage!";
    ck_assert_int_eq(write(fd, junk, sizeof junk - 1), (ssize_t)(sizeof junk - 1));
    struct pollfd p = {.fd = fd, .events = POLLIN};
    ck_assert_int_eq(poll(&p, 1, 10000), 1); /* the server answers (alert) and closes */
    char buf[256];
    ssize_t n;
    while ((n = read(fd, buf, sizeof buf)) > 0)
        ;
    ck_assert(n == 0 || n < 0);
    close(fd);
    fd = tcp_connect(s.port); /* truncated record then EOF */
    p.fd = fd;
    ck_assert_int_eq(write(fd, "\x16\x03\x01\x02\x00\x01", 6), 6);
    shutdown(fd, SHUT_WR);
    ck_assert_int_eq(poll(&p, 1, 10000), 1);
    close(fd);
    ck_assert_int_eq(s_client(&s, "-servername a.test"), 0);
    tls_server_stop(&s);
    ck_assert_int_eq(s.handshakes, 1);
    ck_assert_int_ge(s.failures, 2);
    tlsio_server_settings_free(s.settings);
}
END_TEST

TCase *tls_tcase_interop(void)
{
    TCase *tc = tcase_create("interop");
    tcase_add_test(tc, curl_gets_response_with_alpn);
    tcase_add_test(tc, openssl_sni_picks_subject);
    tcase_add_loop_test(tc, openssl_reuses_session, 0, 3);
    tcase_add_loop_test(tc, openssl_refused_policy, 0, (int)(sizeof refused / sizeof refused[0]));
    tcase_add_test(tc, tcp_garbage_closed);
    return tc;
}
