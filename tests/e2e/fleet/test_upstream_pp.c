/* End-to-end tests of the PROXY protocol toward upstreams (issue 18: `proxy_protocol = on` in [upstream]), with nginx
 * as the upstream (`listen ... proxy_protocol`, plain and TLS) reporting the header it received in each answer. */
#include "../ops/ops.h"

#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

static px_env env;

/* nginx answers every request with what the PROXY header told it and its connection's serial number, which tells
 * proxyd's upstream connections apart. It runs in the foreground as one process (no master, no daemon). */
static const char nginx_conf[] =
    "master_process off;\ndaemon off;\nworker_processes 1;\npid @DIR@/nginx.pid;\nerror_log @DIR@/nginx-error.log "
    "info;\n"
    "events { worker_connections 64; }\n"
    "http {\n  access_log @DIR@/nginx-access.log;\n  client_body_temp_path @DIR@;\n  proxy_temp_path @DIR@;\n"
    "  fastcgi_temp_path @DIR@;\n  uwsgi_temp_path @DIR@;\n  scgi_temp_path @DIR@;\n"
    "  keepalive_requests 1000;\n"
    "  server {\n    listen 127.0.0.1:@O1@ proxy_protocol;\n    listen 127.0.0.1:@O2@ ssl proxy_protocol;\n"
    "    ssl_certificate @DIR@/up.crt;\n    ssl_certificate_key @DIR@/up.key;\n"
    "    location / { default_type text/plain;\n      return 200 \"pp=$proxy_protocol_addr:$proxy_protocol_port "
    "dst=$proxy_protocol_server_addr:$proxy_protocol_server_port conn=$connection "
    "xff=$http_x_forwarded_for\\n\"; }\n  }\n}\n";

static pid_t nginx_pid;

/* The ports of nginx: @O1@ plain, @O2@ TLS (the harness starts no origin, so O1/O2 are set here). */
static void nginx_start(void)
{
    char cmd[1024], out[512];
    env.oport[1] = ts_free_port();
    env.oport[2] = ts_free_port();
    ck_assert(env.oport[1] > 0 && env.oport[2] > 0);
    snprintf(cmd, sizeof cmd,
             "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 -subj /CN=up.test "
             "-addext subjectAltName=DNS:up.test -keyout %s/up.key -out %s/up.crt 2>&1",
             env.dir, env.dir);
    ck_assert_msg(px_run(cmd, out, sizeof out) == 0, "openssl req: %s", out);
    char *conf = px_expand(&env, nginx_conf), path[128], errlog[128];
    snprintf(path, sizeof path, "%s/nginx.conf", env.dir);
    snprintf(errlog, sizeof errlog, "%s/nginx-error.log", env.dir);
    px_write_file(path, conf);
    free(conf);
    const char *argv[] = {"/usr/sbin/nginx", "-e", errlog, "-p", env.dir, "-c", path, NULL};
    nginx_pid = ts_spawn_port(argv, env.oport[2], 10000);
    ck_assert_msg(nginx_pid > 0, "nginx did not start");
}

static void nginx_stop(void)
{
    if (nginx_pid > 0)
        ck_assert_int_eq(ts_stop(nginx_pid, SIGQUIT, 10000), 0);
    nginx_pid = 0;
}

/* One GET on fd; checks that nginx received a PROXY header naming exactly this client connection (src address and
 * port, proxyd's listening address) and returns nginx's connection serial number. */
static long get_as(int fd, const char *src, int sport)
{
    const char *req = "GET /who HTTP/1.1\r\nHost: h\r\n\r\n";
    ts_response r;
    ck_assert_int_eq(ts_send(fd, req, strlen(req)), 0);
    ck_assert_msg(ts_read_response(fd, &r, 0) == 0, "no response for %s:%d", src, sport);
    ck_assert_msg(r.status == 200, "status %d: %s", r.status, r.body ? r.body : "");
    char want[128];
    snprintf(want, sizeof want, "pp=%s:%d dst=127.0.0.1:%d ", src, sport, env.port);
    ck_assert_msg(strstr(r.body, want) != NULL, "expected \"%s\" in \"%s\"", want, r.body);
    snprintf(want, sizeof want, "xff=%s\n", src);
    ck_assert_msg(strstr(r.body, want) != NULL, "expected \"%s\" in \"%s\"", want, r.body);
    const char *c = strstr(r.body, "conn=");
    ck_assert_ptr_nonnull(c);
    long conn = strtol(c + 5, NULL, 10);
    ts_response_free(&r);
    return conn;
}

#define SERVER_TPL "[server s]\nlisten = 127.0.0.1:@PORT@\nproxy_pass = n\n"

/* Plain upstream: every new upstream connection starts with the PROXY v2 header of its client's connection;
 * keep-alive requests of one client reuse its upstream connection, a second client (another address) never gets
 * it even when it idles in the pool, and the first client finds its own again behind the second's. The health
 * checks (GET, every 100 ms) reach nginx's access log: nginx accepted their LOCAL header. */
START_TEST(plain_upstream)
{
    px_env_init(&env, 0);
    nginx_start();
    px_proxy_start(&env,
                   PX_GLOBAL "[upstream n]\nserver = 127.0.0.1:@O1@\nproxy_protocol = on\nkeepalive = 8\n"
                             "health_check = GET /healthz\nhealth_interval = 100ms\nhealth_fall = 1\n" SERVER_TPL);
    char nlog[128];
    snprintf(nlog, sizeof nlog, "%s/nginx-access.log", env.dir);
    ck_assert_msg(ops_file_has(nlog, "\"GET /healthz HTTP/1.1\" 200", 5000), "no health check reached nginx");

    int pa, pb;
    int a = px_connect_from("127.0.0.2", env.port, &pa);
    long ca = get_as(a, "127.0.0.2", pa);
    ck_assert_int_eq(get_as(a, "127.0.0.2", pa), ca); /* reused for the same client connection */
    int b = px_connect_from("127.0.0.3", env.port, &pb);
    long cb = get_as(b, "127.0.0.3", pb);
    ck_assert_int_ne(cb, ca);                         /* a's idle connection carries a's header: not b's */
    ck_assert_int_eq(get_as(a, "127.0.0.2", pa), ca); /* a finds its own behind b's in the pool */
    ck_assert_int_eq(get_as(b, "127.0.0.3", pb), cb);
    close(a);
    int a2 = px_connect_from("127.0.0.2", env.port, &pa); /* same address, new connection: a new header */
    ck_assert_int_ne(get_as(a2, "127.0.0.2", pa), ca);
    close(a2);
    close(b);
    ck_assert_int_eq(ops_file_count(env.log, "marked down"), 0);
    ck_assert_int_eq(px_proxy_stop(&env), 0);
    ck_assert_int_eq(ops_file_count(nlog, "broken header"), 0);
    nginx_stop();
    px_env_done(&env);
}
END_TEST

/* TLS upstream: the header goes before the handshake (nginx reads it first on an ssl proxy_protocol listener). */
START_TEST(tls_upstream)
{
    px_env_init(&env, 0);
    nginx_start();
    px_proxy_start(&env, PX_GLOBAL "[upstream n]\nserver = 127.0.0.1:@O2@\ntls = on\ntls_ca = @DIR@/up.crt\n"
                                   "tls_server_name = up.test\nproxy_protocol = on\n"
                                   "health_check = GET /healthz\nhealth_interval = 100ms\n" SERVER_TPL);
    int pa;
    int a = px_connect_from("127.0.0.2", env.port, &pa);
    long ca = get_as(a, "127.0.0.2", pa);
    ck_assert_int_eq(get_as(a, "127.0.0.2", pa), ca);
    close(a);
    char nlog[128];
    snprintf(nlog, sizeof nlog, "%s/nginx-access.log", env.dir);
    ck_assert_msg(ops_file_has(nlog, "\"GET /healthz HTTP/1.1\" 200", 5000), "no TLS health check reached nginx");
    ck_assert_int_eq(px_proxy_stop(&env), 0);
    nginx_stop();
    px_env_done(&env);
}
END_TEST

/* Without proxy_protocol, nginx's proxy_protocol port refuses proxyd's requests: the test can fail. */
START_TEST(off_is_refused)
{
    px_env_init(&env, 0);
    nginx_start();
    px_proxy_start(&env, PX_GLOBAL "[upstream n]\nserver = 127.0.0.1:@O1@\n" SERVER_TPL);
    ts_response r;
    px_req(env.port, "GET /who HTTP/1.1\r\nHost: h\r\n\r\n", &r);
    ck_assert_int_eq(r.status, 502);
    ts_response_free(&r);
    char elog[128];
    snprintf(elog, sizeof elog, "%s/nginx-error.log", env.dir);
    ck_assert(ops_file_has(elog, "broken header", 3000));
    ck_assert_int_eq(px_proxy_stop(&env), 0);
    nginx_stop();
    px_env_done(&env);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("e2e_upstream_pp");
    TCase *tc = tcase_create("pp");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, plain_upstream);
    tcase_add_test(tc, tls_upstream);
    tcase_add_test(tc, off_is_refused);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
