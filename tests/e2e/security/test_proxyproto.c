/* End-to-end tests of the PROXY protocol on listeners (issue 18): `listen = ADDR:PORT [tls] proxy_protocol` with
 * [global] proxy_protocol_from. curl's --haproxy-protocol (v1, its own address) and headers written by hand (v1 and
 * v2, any address) over plain and TLS connections: the address carried becomes the client's for the fields sent to
 * the origin, $remote_addr, the access log, allow/deny and limit_req; a peer outside proxy_protocol_from, a listed
 * peer without a valid header and a header that never ends are refused. Every wait is bounded. */
#include "../ops/ops.h"

#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

static px_env env;

#define UPSTREAM "[upstream o]\nserver = 127.0.0.1:@O0@\nkeepalive = 8\n"
#define FROM_LOCAL "proxy_protocol_from = 127.0.0.1\n"
#define ECHO_SERVER                                                                                                    \
    "[server s]\nlisten = 127.0.0.1:@PORT@ proxy_protocol\nproxy_pass = o\nproxy_set_header = X-Client: "              \
    "$remote_addr\n"

#define V1 "PROXY TCP4 198.51.100.7 127.0.0.1 5555 80\r\n"
#define V2SIG "\r\n\r\n\0\r\nQUIT\n"
/* v2 PROXY, INET6, STREAM: 2001:db8::7 port 443 to ::1 port 443, then an ALPN TLV. */
static const char v2_inet6[] = V2SIG "\x21\x21\x00\x2B"
                                     "\x20\x01\x0d\xb8\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x07"
                                     "\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01"
                                     "\x01\xBB\x01\xBB"
                                     "\x01\x00\x04http";
/* v2 LOCAL: a balancer's health check; the connection's own address stands. */
static const char v2_local[] = V2SIG "\x20\x00\x00\x00";
/* v2 PROXY, INET, STREAM: 198.51.100.9 port 4444 to 127.0.0.1 port 443. */
static const char v2_inet[] = V2SIG "\x21\x11\x00\x0C"
                                    "\xC6\x33\x64\x09"
                                    "\x7F\x00\x00\x01"
                                    "\x11\x5C\x01\xBB";

/* Sends len bytes from src on a new connection and returns it. */
static int send_from(const char *src, const void *bytes, size_t len)
{
    int fd = px_connect_from(src, env.port, NULL);
    ck_assert_int_eq(ts_send(fd, bytes, len), 0);
    return fd;
}

/* The value of field name in the echoed request head of r (copied into out), or "" when absent. */
static const char *echoed(const ts_response *r, const char *name, char *out, size_t cap)
{
    char needle[64];
    snprintf(needle, sizeof needle, "\r\n%s: ", name);
    const char *p = r->body ? strcasestr(r->body, needle) : NULL;
    out[0] = 0;
    if (p) {
        p += strlen(needle);
        size_t n = strcspn(p, "\r\n");
        snprintf(out, cap, "%.*s", (int)(n < cap ? n : cap - 1), p);
    }
    return out;
}

/* Reads one response on fd and checks what the origin saw as the client: X-Real-IP, X-Forwarded-For and
 * X-Client ($remote_addr). */
static void expect_client(int fd, const char *addr)
{
    char v[128];
    ts_response r;
    ck_assert_msg(ts_read_response(fd, &r, 0) == 0, "no response (client %s)", addr);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(echoed(&r, "X-Real-IP", v, sizeof v), addr);
    ck_assert_str_eq(echoed(&r, "X-Forwarded-For", v, sizeof v), addr);
    ck_assert_str_eq(echoed(&r, "X-Client", v, sizeof v), addr);
    ts_response_free(&r);
}

/* proxyd closed the connection without an answer (FIN or reset, within the read timeout). */
static void expect_closed(int fd, const char *what)
{
    char b[64];
    ssize_t n = recv(fd, b, sizeof b, 0);
    ck_assert_msg(n == 0 || (n < 0 && errno == ECONNRESET), "%s: recv %zd (%s)", what, n,
                  n < 0 ? strerror(errno) : "bytes came back");
    close(fd);
}

/* Runs curl with args; out gets its stdout then " EXIT=n". Returns curl's exit status. */
static int curl(const char *args, char *out, size_t cap)
{
    char cmd[1024];
    ck_assert_int_lt(snprintf(cmd, sizeof cmd, "curl -s --max-time 10 %s", args), (int)sizeof cmd);
    int rc = px_run(cmd, out, cap);
    size_t n = strlen(out);
    snprintf(out + n, cap - n, " EXIT=%d", rc);
    return rc;
}

#define GET_ECHO "GET /echo HTTP/1.1\r\nHost: h\r\n\r\n"

/* ---------------------------------------------------------------- the address carried */

/* curl --haproxy-protocol (v1 with its own address), then hand-written v1 and v2 headers naming other clients: the
 * origin sees each as X-Real-IP, X-Forwarded-For and $remote_addr, for every request of a keep-alive connection; a
 * LOCAL header keeps the connection's address; the access log names the carried addresses. */
START_TEST(address_carried)
{
    char url[128], out[8192], v[128];
    px_env_init(&env, 1);
    px_proxy_start(&env, PX_GLOBAL FROM_LOCAL "access_log = @DIR@/access.log\n" UPSTREAM ECHO_SERVER);
    snprintf(url, sizeof url, "--haproxy-protocol http://127.0.0.1:%d/echo", env.port);
    ck_assert_msg(curl(url, out, sizeof out) == 0, "curl: %s", out);
    ck_assert_msg(strstr(out, "\r\nX-Real-IP: 127.0.0.1\r\n") && strstr(out, "\r\nX-Client: 127.0.0.1\r\n"), "%s", out);

    int fd = send_from("127.0.0.1", V1 GET_ECHO GET_ECHO, strlen(V1 GET_ECHO GET_ECHO));
    expect_client(fd, "198.51.100.7");
    expect_client(fd, "198.51.100.7"); /* the next request on the connection too */
    close(fd);

    fd = send_from("127.0.0.1", v2_inet6, sizeof v2_inet6 - 1);
    ck_assert_int_eq(ts_send(fd, GET_ECHO, strlen(GET_ECHO)), 0); /* the header alone first, then the request */
    expect_client(fd, "2001:db8::7");
    close(fd);

    char local[64];
    memcpy(local, v2_local, sizeof v2_local - 1);
    memcpy(local + sizeof v2_local - 1, GET_ECHO, strlen(GET_ECHO));
    fd = send_from("127.0.0.1", local, sizeof v2_local - 1 + strlen(GET_ECHO)); /* header and request together */
    expect_client(fd, "127.0.0.1");
    close(fd);

    fd = send_from("127.0.0.1", "PROXY UNKNOWN\r\n" GET_ECHO, strlen("PROXY UNKNOWN\r\n" GET_ECHO));
    expect_client(fd, "127.0.0.1");
    close(fd);

    /* The header one byte per segment: each part wakes the connection, which waits for the rest. */
    fd = px_connect_from("127.0.0.1", env.port, NULL);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    for (const char *p = V1; *p; p++) {
        ck_assert_int_eq(ts_send(fd, p, 1), 0);
        ops_sleep_ms(2);
    }
    ck_assert_int_eq(ts_send(fd, GET_ECHO, strlen(GET_ECHO)), 0);
    expect_client(fd, "198.51.100.7");
    close(fd);

    /* A client's own X-Forwarded-For is kept in front of the carried address. */
    const char *xff = V1 "GET /echo HTTP/1.1\r\nHost: h\r\nX-Forwarded-For: 10.1.1.1\r\n\r\n";
    fd = send_from("127.0.0.1", xff, strlen(xff));
    ts_response r;
    ck_assert_int_eq(ts_read_response(fd, &r, 0), 0);
    ck_assert_str_eq(echoed(&r, "X-Forwarded-For", v, sizeof v), "10.1.1.1, 198.51.100.7");
    ts_response_free(&r);
    close(fd);

    char path[128];
    snprintf(path, sizeof path, "%s/access.log", env.dir);
    ck_assert(ops_file_has(path, "198.51.100.7 - - [", 3000));
    ck_assert(ops_file_has(path, "2001:db8::7 - - [", 3000));
    ck_assert(ops_file_has(path, "127.0.0.1 - - [", 3000));
    px_env_done(&env);
}
END_TEST

/* ---------------------------------------------------------------- refusals */

/* A header from a peer outside proxy_protocol_from, a listed peer without a header (plain HTTP, or curl without
 * --haproxy-protocol), a malformed header, one over the v1 bound, and one that never ends (client_header_timeout):
 * each connection is closed without an answer, and the origin sees none of them. */
START_TEST(refused)
{
    char url[128], out[4096];
    px_env_init(&env, 1);
    px_proxy_start(&env, PX_GLOBAL FROM_LOCAL "client_header_timeout = 1s\n" UPSTREAM ECHO_SERVER);
    expect_closed(send_from("127.0.0.2", V1 GET_ECHO, strlen(V1 GET_ECHO)), "peer not listed");
    ck_assert(ops_file_has(env.log, "connection refused: peer not in proxy_protocol_from on 127.0.0.1:", 2000));
    ck_assert(ops_file_has(env.log, "client: 127.0.0.2", 2000));

    expect_closed(send_from("127.0.0.1", GET_ECHO, strlen(GET_ECHO)), "no header");
    ck_assert(ops_file_has(env.log, "PROXY header refused: no PROXY protocol header, client: 127.0.0.1", 2000));
    snprintf(url, sizeof url, "-o /dev/null -w 'CODE=%%{http_code}' http://127.0.0.1:%d/echo", env.port);
    ck_assert_msg(curl(url, out, sizeof out) != 0 && strstr(out, "CODE=000"), "curl without the header: %s", out);

    const char *bad = "PROXY TCP4 198.51.100.300 127.0.0.1 5555 80\r\n" GET_ECHO;
    expect_closed(send_from("127.0.0.1", bad, strlen(bad)), "bad address");
    ck_assert(ops_file_has(env.log, "PROXY header refused: bad address in PROXY v1 line", 2000));

    char longer[256];
    memset(longer, 'a', sizeof longer);
    memcpy(longer, "PROXY UNKNOWN ", 14);
    expect_closed(send_from("127.0.0.1", longer, sizeof longer), "v1 over 107 bytes");
    ck_assert(ops_file_has(env.log, "PROXY header refused: PROXY v1 line longer than 107 bytes", 2000));

    int64_t t0 = ops_now_ms();
    expect_closed(send_from("127.0.0.1", "PROXY TCP4 198.51", 17), "unfinished header");
    ck_assert_msg(ops_now_ms() - t0 < 4000, "closed after %lld ms", (long long)(ops_now_ms() - t0));
    px_env_done(&env);
}
END_TEST

/* ---------------------------------------------------------------- policy by the carried address */

/* allow/deny and limit_req see the carried address: a server that allows 198.51.100.0/24 only serves 198.51.100.7
 * and closes 203.0.113.9 at once (every server denies it, so before any head); limit_req counts each carried address
 * on its own although all connections come from 127.0.0.1. */
START_TEST(policy_by_carried_address)
{
    px_env_init(&env, 1);
    px_proxy_start(&env,
                   PX_GLOBAL FROM_LOCAL UPSTREAM ECHO_SERVER "allow = 198.51.100.0/24\ndeny = all\nlimit_req = 1r/m\n");
    int fd = send_from("127.0.0.1", V1 GET_ECHO, strlen(V1 GET_ECHO));
    expect_client(fd, "198.51.100.7");
    close(fd);
    const char *other = "PROXY TCP4 203.0.113.9 127.0.0.1 5555 80\r\n" GET_ECHO;
    expect_closed(send_from("127.0.0.1", other, strlen(other)), "denied carried address");
    ck_assert(ops_file_has(env.log, "connection refused: access forbidden by rule on", 2000));
    ck_assert(ops_file_has(env.log, "client: 203.0.113.9", 2000));

    fd = send_from("127.0.0.1", V1 GET_ECHO, strlen(V1 GET_ECHO)); /* the same address again: over its rate */
    ts_response r;
    ck_assert_int_eq(ts_read_response(fd, &r, 0), 0);
    ck_assert_int_eq(r.status, 429);
    ts_response_free(&r);
    close(fd);
    const char *next = "PROXY TCP4 198.51.100.8 127.0.0.1 5555 80\r\n" GET_ECHO; /* another address: its own rate */
    fd = send_from("127.0.0.1", next, strlen(next));
    expect_client(fd, "198.51.100.8");
    close(fd);
    px_env_done(&env);
}
END_TEST

/* ---------------------------------------------------------------- TLS */

/* A relay in front of proxyd for one connection: writes a v2 header naming 198.51.100.9 in one segment with the
 * client's first bytes (its ClientHello: proxyd must read the header and nothing more), then copies bytes both ways,
 * so that curl's TLS client runs over a v2 header it cannot send itself. */
typedef struct relay {
    int lfd, port, target;
    pthread_t th;
} relay;

static void *relay_run(void *arg)
{
    relay *rl = arg;
    int a = accept(rl->lfd, NULL, NULL);
    if (a < 0)
        return NULL;
    int b = ts_connect(rl->target);
    char buf[16384];
    memcpy(buf, v2_inet, sizeof v2_inet - 1);
    ssize_t first = b >= 0 ? read(a, buf + sizeof v2_inet - 1, sizeof buf - sizeof v2_inet) : -1;
    if (first > 0 && ts_send(b, buf, sizeof v2_inet - 1 + (size_t)first) == 0) {
        struct pollfd p[2] = {{.fd = a, .events = POLLIN}, {.fd = b, .events = POLLIN}};
        for (int done = 0; !done && poll(p, 2, 10000) > 0;)
            for (int i = 0; i < 2 && !done; i++)
                if (p[i].revents) {
                    ssize_t n = read(p[i].fd, buf, sizeof buf);
                    done = n <= 0 || ts_send(p[1 - i].fd, buf, (size_t)n) != 0;
                }
    }
    if (b >= 0)
        close(b);
    close(a);
    return NULL;
}

static void relay_start(relay *rl, int target)
{
    rl->lfd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET};
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    socklen_t len = sizeof a;
    ck_assert_int_eq(bind(rl->lfd, (struct sockaddr *)&a, sizeof a), 0);
    ck_assert_int_eq(listen(rl->lfd, 4), 0);
    ck_assert_int_eq(getsockname(rl->lfd, (struct sockaddr *)&a, &len), 0);
    rl->port = ntohs(a.sin_port);
    rl->target = target;
    ck_assert_int_eq(pthread_create(&rl->th, NULL, relay_run, rl), 0);
}

static void relay_join(relay *rl)
{
    pthread_join(rl->th, NULL);
    close(rl->lfd);
}

/* On a tls proxy_protocol listener the header comes before the handshake: curl --haproxy-protocol https (v1), and
 * curl through the v2 relay; the origin sees the carried address and https; without a header the handshake never
 * starts. */
START_TEST(tls_after_header)
{
    char cmd[1024], out[8192];
    px_env_init(&env, 1);
    snprintf(cmd, sizeof cmd,
             "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 -subj /CN=a.test "
             "-keyout %s/a.key -out %s/a.crt 2>&1",
             env.dir, env.dir);
    ck_assert_msg(px_run(cmd, out, sizeof out) == 0, "openssl req: %s", out);
    px_proxy_start(&env, PX_GLOBAL FROM_LOCAL UPSTREAM
                   "[server s]\nlisten = 127.0.0.1:@PORT@ tls proxy_protocol\ntls_cert = @DIR@/a.crt\n"
                   "tls_key = @DIR@/a.key\nproxy_pass = o\nproxy_set_header = X-Client: $remote_addr\n");
    snprintf(cmd, sizeof cmd, "-k --haproxy-protocol https://127.0.0.1:%d/echo", env.port);
    ck_assert_msg(curl(cmd, out, sizeof out) == 0, "curl: %s", out);
    ck_assert_msg(strstr(out, "\r\nX-Real-IP: 127.0.0.1\r\n") && strstr(out, "\r\nX-Forwarded-Proto: https\r\n"), "%s",
                  out);

    relay rl;
    relay_start(&rl, env.port);
    snprintf(cmd, sizeof cmd, "-k https://127.0.0.1:%d/echo", rl.port);
    int rc = curl(cmd, out, sizeof out);
    relay_join(&rl);
    ck_assert_msg(rc == 0, "curl through the v2 relay: %s", out);
    ck_assert_msg(strstr(out, "\r\nX-Real-IP: 198.51.100.9\r\n") && strstr(out, "\r\nX-Client: 198.51.100.9\r\n") &&
                      strstr(out, "\r\nX-Forwarded-Proto: https\r\n"),
                  "%s", out);

    snprintf(cmd, sizeof cmd, "-k -o /dev/null -w 'CODE=%%{http_code}' https://127.0.0.1:%d/echo", env.port);
    ck_assert_msg(curl(cmd, out, sizeof out) != 0 && strstr(out, "CODE=000"), "TLS without the header: %s", out);
    ck_assert_int_eq(ops_file_count(env.log, "TLS handshake"), 0);
    px_env_done(&env);
}
END_TEST

/* ---------------------------------------------------------------- -t */

START_TEST(config_needs_trusted_peers)
{
    char out[2048];
    px_env_init(&env, 1);
    ck_assert_int_ne(px_check_config(&env, PX_GLOBAL UPSTREAM ECHO_SERVER, out, sizeof out), 0);
    ck_assert_msg(strstr(out, "has proxy_protocol but [global] proxy_protocol_from lists no trusted peer"), "%s", out);
    ck_assert_int_eq(px_check_config(&env, PX_GLOBAL FROM_LOCAL UPSTREAM ECHO_SERVER, out, sizeof out), 0);
    px_env_done(&env);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("e2e_security_proxyproto");
    TCase *tc = tcase_create("proxyproto");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, address_carried);
    tcase_add_test(tc, refused);
    tcase_add_test(tc, policy_by_carried_address);
    tcase_add_test(tc, tls_after_header);
    tcase_add_test(tc, config_needs_trusted_peers);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
