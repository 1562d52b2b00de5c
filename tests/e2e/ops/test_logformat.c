/* End-to-end tests of issue 19 items 4 and 5: log_format with nginx's variables, the [server] in the lines,
 * access_log and error_log per [server], and the request id (kept when valid, made otherwise, sent upstream, logged).
 * The client is curl; the origin's /echo answers with the request head it received. */
#include "ops.h"

#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static px_env env;

#define UPSTREAM "[upstream o]\nserver = 127.0.0.1:@O0@\nkeepalive = 8\n"
#define SERVER "[server site]\nlisten = 127.0.0.1:@PORT@\nserver_name = site.example\nproxy_pass = o\n"

/* curl through proxyd with Host: host and the extra curl options; the X-Request-ID the origin received into rid
 * (empty when none came). */
static void curl_echo(int port, const char *host, const char *opts, char *rid, size_t cap)
{
    char cmd[512], out[8192];
    snprintf(cmd, sizeof cmd, "curl -s --max-time 5 -H 'Host: %s' %s 'http://127.0.0.1:%d/echo?t=1'", host, opts, port);
    ck_assert_int_eq(px_run(cmd, out, sizeof out), 0);
    ck_assert_msg(strncmp(out, "GET /echo?t=1 HTTP/1.1\r\n", 24) == 0, "not an echo: %s", out);
    rid[0] = 0;
    const char *f = strcasestr(out, "\r\nX-Request-ID: ");
    if (f) {
        f += 16;
        size_t n = strcspn(f, "\r");
        ck_assert_msg(!strcasestr(f, "\r\nX-Request-ID:"), "X-Request-ID sent twice: %s", out);
        snprintf(rid, cap, "%.*s", (int)n, f);
    }
}

static int is_hex32(const char *s)
{
    return strlen(s) == 32 && strspn(s, "0123456789abcdef") == 32;
}

/* The line of the access log holding needle (static copy), waiting for the one-second flush. */
static const char *log_line(const char *path, const char *needle)
{
    static char line[4096];
    ck_assert_msg(ops_file_has(path, needle, 2500), "no %s in %s", needle, path);
    char *text = px_read_file(path);
    const char *at = strstr(text, needle), *bol = at;
    while (bol > text && bol[-1] != '\n')
        bol--;
    snprintf(line, sizeof line, "%.*s", (int)strcspn(bol, "\n"), bol);
    free(text);
    return line;
}

START_TEST(custom_format_names_site_and_id)
{
    char alog[128], rid[256], want[512];
    px_env_init(&env, 1);
    snprintf(alog, sizeof alog, "%s/access.log", env.dir);
    px_proxy_start(&env, PX_GLOBAL "access_log = @DIR@/access.log main\n"
                                   "log_format = main $remote_addr \"$request\" $status host=$host\n"
                                   "  sn=$server_name srv=$server up=$upstream_addr us=$upstream_status\n"
                                   "  rid=$request_id ua=\"$http_user_agent\" ref=\"$http_referer\" ssl=$ssl_protocol\n"
                                   "  rt=$request_time urt=$upstream_response_time\n" UPSTREAM SERVER);
    curl_echo(env.port, "Site.Example:8080", "-A 'a\"b'", rid, sizeof rid);
    ck_assert_msg(is_hex32(rid), "the origin got no generated X-Request-ID: \"%s\"", rid);
    snprintf(want, sizeof want,
             "127.0.0.1 \"GET /echo?t=1 HTTP/1.1\" 200 host=site.example sn=site.example srv=site "
             "up=127.0.0.1:%d us=200 rid=%s ua=\"a\\x22b\" ref=\"-\" ssl=- rt=",
             env.oport[0], rid);
    const char *line = log_line(alog, "/echo?t=1");
    ck_assert_msg(strncmp(line, want, strlen(want)) == 0, "got  %s\nwant %s", line, want);
    ck_assert_msg(strstr(line, " urt=0.") != NULL, "no upstream time: %s", line);
    px_env_done(&env);
}
END_TEST

/* A valid incoming id reaches the origin unchanged and is logged; an invalid one is replaced by a new one, the
 * same in the origin and in the log. */
START_TEST(incoming_id_kept_or_replaced)
{
    char alog[128], rid[256], want[300];
    px_env_init(&env, 1);
    snprintf(alog, sizeof alog, "%s/access.log", env.dir);
    px_proxy_start(&env, PX_GLOBAL "access_log = @DIR@/access.log ids\n"
                                   "log_format = ids id=$request_id ua=$http_user_agent\n" UPSTREAM SERVER);
    curl_echo(env.port, "site.example", "-A one -H 'X-Request-ID: f81d4fae-7dec-11d0-a765-00a0c91e6bf6'", rid,
              sizeof rid);
    ck_assert_str_eq(rid, "f81d4fae-7dec-11d0-a765-00a0c91e6bf6");
    ck_assert_str_eq(log_line(alog, "ua=one"), "id=f81d4fae-7dec-11d0-a765-00a0c91e6bf6 ua=one");
    curl_echo(env.port, "site.example", "-A two -H 'X-Request-ID: forged\"id' -H 'X-Request-ID: ok'", rid, sizeof rid);
    ck_assert_msg(is_hex32(rid), "an invalid id was not replaced: \"%s\"", rid);
    snprintf(want, sizeof want, "id=%s ua=two", rid);
    ck_assert_str_eq(log_line(alog, "ua=two"), want);
    char long_id[160];
    memset(long_id, 'x', 129);
    long_id[129] = 0;
    char opts[300];
    snprintf(opts, sizeof opts, "-A three -H 'X-Request-ID: %s'", long_id);
    curl_echo(env.port, "site.example", opts, rid, sizeof rid);
    ck_assert_msg(is_hex32(rid), "an id of 129 characters was not replaced: \"%s\"", rid);
    px_env_done(&env);
}
END_TEST

/* request_id = off: the client's field goes on as any other field, and proxyd adds none. */
START_TEST(request_id_off)
{
    char rid[256];
    px_env_init(&env, 1);
    px_proxy_start(&env, PX_GLOBAL UPSTREAM SERVER "request_id = off\n");
    curl_echo(env.port, "site.example", "", rid, sizeof rid);
    ck_assert_str_eq(rid, "");
    curl_echo(env.port, "site.example", "-H 'X-Request-ID: mine'", rid, sizeof rid);
    ck_assert_str_eq(rid, "mine");
    px_env_done(&env);
}
END_TEST

/* $request_id in add_header: the client sees the id the origin got. */
START_TEST(request_id_in_add_header)
{
    char cmd[256], out[8192];
    px_env_init(&env, 1);
    px_proxy_start(&env, PX_GLOBAL UPSTREAM SERVER "add_header = X-Request-ID: $request_id\n");
    snprintf(cmd, sizeof cmd, "curl -s -i --max-time 5 -H 'X-Request-ID: trace-42' 'http://127.0.0.1:%d/echo'",
             env.port);
    ck_assert_int_eq(px_run(cmd, out, sizeof out), 0);
    ck_assert_msg(strstr(out, "X-Request-ID: trace-42\r\n") != NULL, "no id in the response: %s", out);
    px_env_done(&env);
}
END_TEST

/* The built-in lines name the host, the [server] and the request id: appended to the combined line (its fields
 * keep their places), new keys in the JSON object. */
START_TEST(builtin_formats_name_site)
{
    char alog[128], rid[256], want[512];
    px_env_init(&env, 1);
    snprintf(alog, sizeof alog, "%s/access.log", env.dir);
    px_proxy_start(&env, PX_GLOBAL "access_log = @DIR@/access.log\n" UPSTREAM SERVER);
    curl_echo(env.port, "site.example", "-A c1", rid, sizeof rid);
    const char *line = log_line(alog, "\"c1\"");
    ck_assert_msg(strncmp(line, "127.0.0.1 - - [", 15) == 0 && strstr(line, "\"GET /echo?t=1 HTTP/1.1\" 200 "),
                  "not a combined line: %s", line);
    snprintf(want, sizeof want, " host=site.example server=site rid=%s", rid);
    size_t n = strlen(line), w = strlen(want);
    ck_assert_msg(n > w && strcmp(line + n - w, want) == 0, "%s does not end in%s", line, want);
    ck_assert_msg(strstr(line, " uaddr=127.0.0.1:") < strstr(line, " host="), "host= not after uaddr=: %s", line);
    ck_assert_int_eq(px_proxy_stop(&env), 0);

    unlink(alog);
    px_proxy_start(&env, PX_GLOBAL "access_log = @DIR@/access.log json\n" UPSTREAM SERVER);
    curl_echo(env.port, "site.example", "-A j1", rid, sizeof rid);
    line = log_line(alog, "\"j1\"");
    snprintf(want, sizeof want,
             ",\"host\":\"site.example\",\"server\":\"site\",\"server_name\":\"site.example\",\"request_id\":\"%s\"}",
             rid);
    n = strlen(line), w = strlen(want);
    ck_assert_msg(n > w && strcmp(line + n - w, want) == 0, "%s does not end in %s", line, want);
    px_env_done(&env);
}
END_TEST

/* escape=json: a quote or a control byte from the client cannot break the object. */
START_TEST(json_escape)
{
    char alog[128], rid[256];
    px_env_init(&env, 1);
    snprintf(alog, sizeof alog, "%s/access.log", env.dir);
    px_proxy_start(&env, PX_GLOBAL "access_log = @DIR@/access.log j\n"
                                   "log_format = j escape=json {\"ua\":\"$http_user_agent\",\"ref\":\"$http_referer\","
                                   "\"s\":$status}\n" UPSTREAM SERVER);
    curl_echo(env.port, "site.example", "-A 'x\"}{\\y'", rid, sizeof rid);
    ck_assert_str_eq(log_line(alog, "\"s\":200"), "{\"ua\":\"x\\u0022}{\\u005cy\",\"ref\":\"\",\"s\":200}");
    px_env_done(&env);
}
END_TEST

/* One request with Host: host and target; 200 expected. */
static void get_host(const char *host, const char *target)
{
    char cmd[256], out[64];
    snprintf(cmd, sizeof cmd,
             "curl -s -o /dev/null -w '%%{http_code}' --max-time 5 -H 'Host: %s' 'http://127.0.0.1:%d%s'", host,
             env.port, target);
    ck_assert_int_eq(px_run(cmd, out, sizeof out), 0);
    ck_assert_str_eq(out, "200");
}

#define PER_SERVER                                                                                                     \
    PX_GLOBAL "access_log = @DIR@/access.log\nlog_format = short $server $host $request_uri\n" UPSTREAM                \
              "[server a]\nlisten = 127.0.0.1:@PORT@\nserver_name = a.example\nproxy_pass = o\n"                       \
              "access_log = @DIR@/a.log short\n"                                                                       \
              "[server b]\nlisten = 127.0.0.1:@PORT@\nserver_name = b.example\nproxy_pass = o\n"                       \
              "access_log = @DIR@/b.log\n"                                                                             \
              "[server c]\nlisten = 127.0.0.1:@PORT@\nserver_name = c.example\nproxy_pass = o\naccess_log = off\n"     \
              "[server d]\nlisten = 127.0.0.1:@PORT@\nserver_name = d.example\nproxy_pass = o\n"

/* Each [server]'s access_log gets its lines only (in its format); off logs nothing; a server without one writes
 * to [global]'s. SIGUSR1 moves every file on (logrotate), and a reload keeps them. */
START_TEST(per_server_files)
{
    char a[128], b[128], g[128], a_old[128], b_old[128];
    px_env_init(&env, 1);
    snprintf(a, sizeof a, "%s/a.log", env.dir);
    snprintf(b, sizeof b, "%s/b.log", env.dir);
    snprintf(g, sizeof g, "%s/access.log", env.dir);
    snprintf(a_old, sizeof a_old, "%s/a.log.1", env.dir);
    snprintf(b_old, sizeof b_old, "%s/b.log.1", env.dir);
    px_proxy_start(&env, PER_SERVER);
    get_host("a.example", "/size/1?a1");
    get_host("b.example", "/size/1?b1");
    get_host("c.example", "/size/1?c1");
    get_host("d.example", "/size/1?d1");
    get_host("a.example", "/size/1?a2");
    ck_assert_msg(ops_file_has(g, "?d1", 2500), "no d line in the [global] log");
    ck_assert_msg(ops_file_has(a, "?a2", 2500) && ops_file_has(b, "?b1", 2500), "per-server lines missing");
    ck_assert_str_eq(log_line(a, "?a1"), "a a.example /size/1?a1");
    ck_assert_int_eq(ops_file_count(a, "\n"), 2);
    ck_assert_msg(strstr(log_line(b, "?b1"), " host=b.example server=b rid="), "b's line is not combined");
    ck_assert_int_eq(ops_file_count(b, "\n"), 1);
    ck_assert_int_eq(ops_file_count(g, "\n"), 1);
    ck_assert_int_eq(ops_file_count(g, "?c1") + ops_file_count(a, "?c1") + ops_file_count(b, "?c1"), 0);

    ck_assert_int_eq(rename(a, a_old), 0);
    ck_assert_int_eq(rename(b, b_old), 0);
    ck_assert_int_eq(kill(env.pid, SIGUSR1), 0);
    ck_assert_msg(ops_file_has(env.log, "logs reopened", 3000), "no \"logs reopened\"");
    get_host("a.example", "/size/1?a3");
    get_host("b.example", "/size/1?b3");
    ck_assert_msg(ops_file_has(a, "?a3", 2500) && ops_file_has(b, "?b3", 2500), "SIGUSR1: no new per-server files");
    ck_assert_int_eq(ops_file_count(a, "\n"), 1);
    ck_assert_int_eq(ops_file_count(a_old, "?a3"), 0);
    ck_assert_int_eq(ops_file_count(b_old, "?b3"), 0);

    ck_assert_int_eq(kill(env.pid, SIGHUP), 0);
    ck_assert_msg(ops_file_has(env.log, "reloaded", 3000), "no reload");
    get_host("a.example", "/size/1?a4");
    ck_assert_msg(ops_file_has(a, "?a4", 2500), "after a reload, a's line did not reach a.log");
    ck_assert_int_eq(ops_file_count(g, "?a4") + ops_file_count(a_old, "?a4"), 0);

    /* a reload that drops a's access_log: a's lines go to [global]'s file, and SIGUSR1 does not make a.log again */
    char *conf = px_expand(&env, PX_GLOBAL "access_log = @DIR@/access.log\n" UPSTREAM
                                           "[server a]\nlisten = 127.0.0.1:@PORT@\nserver_name = a.example\n"
                                           "proxy_pass = o\n");
    px_write_file(env.conf, conf);
    free(conf);
    ck_assert_int_eq(kill(env.pid, SIGHUP), 0);
    ck_assert_msg(ops_file_has(env.log, "generation 3", 3000), "no second reload");
    ck_assert_int_eq(rename(a, a_old), 0);
    ck_assert_int_eq(kill(env.pid, SIGUSR1), 0);
    for (int i = 0; i < 300 && ops_file_count(env.log, "logs reopened") < 2; i++)
        ops_sleep_ms(10);
    ck_assert_int_eq(ops_file_count(env.log, "logs reopened"), 2);
    get_host("a.example", "/size/1?a5");
    ck_assert_msg(ops_file_has(g, "?a5", 2500), "a's line did not go to [global]'s log once a.log was dropped");
    ck_assert_msg(access(a, F_OK) != 0, "SIGUSR1 created a.log again though no server names it");
    px_env_done(&env);
}
END_TEST

#define ERROR_LOGS                                                                                                     \
    PX_GLOBAL UPSTREAM "[upstream d]\nserver = 127.0.0.1:@DEAD@\n"                                                     \
                       "[server a]\nlisten = 127.0.0.1:@PORT@\nserver_name = a.example\nproxy_pass = o\n"              \
                       "route = /dead/ d\nerror_log = @DIR@/a-error.log\n"                                             \
                       "[server b]\nlisten = 127.0.0.1:@PORT@\nserver_name = b.example\nproxy_pass = o\n"              \
                       "route = /dead/ d\n"

/* A request to a dead upstream through server host: 502, whose error lines name the target. */
static void get_dead(const char *host, const char *target)
{
    char cmd[256], out[64];
    snprintf(cmd, sizeof cmd,
             "curl -s -o /dev/null -w '%%{http_code}' --max-time 5 -H 'Host: %s' 'http://127.0.0.1:%d%s'", host,
             env.port, target);
    ck_assert_int_eq(px_run(cmd, out, sizeof out), 0);
    ck_assert_str_eq(out, "502");
}

/* error_log in a [server] (nginx's error_log in a server block): the lines about its requests (the refused connect,
 * the 502) go to its file and not to [global]'s; another server's stay in [global]'s; SIGUSR1 moves the file on
 * (logrotate) and a reload keeps it. */
START_TEST(per_server_error_log)
{
    char a[128], a_old[128];
    px_env_init(&env, 1);
    snprintf(a, sizeof a, "%s/a-error.log", env.dir);
    snprintf(a_old, sizeof a_old, "%s/a-error.log.1", env.dir);
    px_proxy_start(&env, ERROR_LOGS);
    get_dead("a.example", "/dead/a1");
    get_dead("b.example", "/dead/b1");
    ck_assert_msg(ops_file_has(a, "request: \"GET /dead/a1\"", 2500), "a's error line is not in a-error.log");
    ck_assert_msg(ops_file_has(a,
                               "Connection refused (connect) while connecting to upstream, client: 127.0.0.1, "
                               "server: a, upstream: d",
                               100),
                  "the refused connect is not in a-error.log");
    ck_assert_msg(ops_file_has(a, "502: upstream unreachable, client: 127.0.0.1, server: a", 100), "no 502 line");
    ck_assert_msg(ops_file_has(env.log, "request: \"GET /dead/b1\"", 2500), "b's error line is not in [global]'s");
    ck_assert_int_eq(ops_file_count(env.log, "/dead/a1"), 0);
    ck_assert_int_eq(ops_file_count(a, "/dead/b1"), 0);
    ck_assert_int_eq(ops_file_count(a, "started"), 0); /* the daemon's own lines stay in [global]'s */

    ck_assert_int_eq(rename(a, a_old), 0);
    ck_assert_int_eq(kill(env.pid, SIGUSR1), 0);
    ck_assert_msg(ops_file_has(env.log, "logs reopened", 3000), "no \"logs reopened\"");
    get_dead("a.example", "/dead/a2");
    ck_assert_msg(ops_file_has(a, "/dead/a2", 2500), "SIGUSR1: no new a-error.log");
    ck_assert_int_eq(ops_file_count(a_old, "/dead/a2"), 0);
    ck_assert_int_eq(ops_file_count(a, "/dead/a1"), 0);

    ck_assert_int_eq(kill(env.pid, SIGHUP), 0);
    ck_assert_msg(ops_file_has(env.log, "reloaded", 3000), "no reload");
    get_dead("a.example", "/dead/a3");
    ck_assert_msg(ops_file_has(a, "/dead/a3", 2500), "after a reload, a's error line did not reach a-error.log");
    ck_assert_int_eq(ops_file_count(env.log, "/dead/a3") + ops_file_count(a_old, "/dead/a3"), 0);
    px_env_done(&env);
}
END_TEST

/* $ssl_protocol and $ssl_cipher name what the TLS handshake chose (curl's own view of it agrees); $scheme says
 * https. */
START_TEST(tls_variables)
{
    char cmd[1024], out[4096], alog[128];
    px_env_init(&env, 1);
    snprintf(alog, sizeof alog, "%s/access.log", env.dir);
    snprintf(cmd, sizeof cmd,
             "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 -subj /CN=t.test "
             "-addext subjectAltName=DNS:t.test -keyout %s/t.key -out %s/t.crt 2>&1",
             env.dir, env.dir);
    ck_assert_msg(px_run(cmd, out, sizeof out) == 0, "openssl req: %s", out);
    px_proxy_start(&env,
                   PX_GLOBAL "access_log = @DIR@/access.log tls\n"
                             "log_format = tls $scheme proto=$ssl_protocol cipher=$ssl_cipher s=$status\n" UPSTREAM
                             "[server t]\nlisten = 127.0.0.1:@PORT@ tls\nserver_name = t.test\n"
                             "tls_cert = @DIR@/t.crt\ntls_key = @DIR@/t.key\nproxy_pass = o\n");
    /* TLS 1.2 (the suite names the certificate type), then TLS 1.3 (the default). */
    snprintf(cmd, sizeof cmd,
             "curl -sv -o /dev/null --max-time 10 --tls-max 1.2 --cacert %s/t.crt --resolve t.test:%d:127.0.0.1 "
             "https://t.test:%d/size/1 2>&1 | grep -o 'SSL connection using .*'",
             env.dir, env.port, env.port);
    ck_assert_int_eq(px_run(cmd, out, sizeof out), 0);
    const char *line = log_line(alog, " s=200");
    ck_assert_msg(strncmp(line, "https proto=TLSv1.2 cipher=TLS-ECDHE-ECDSA-WITH-", 48) == 0, "got %s", line);
    /* curl says e.g. "TLSv1.2 / ECDHE-ECDSA-AES128-GCM-SHA256": the same AEAD mode on both sides */
    ck_assert_msg(strstr(out, "TLSv1.2") != NULL, "curl: %s", out);
    ck_assert_msg((strstr(out, "GCM") != NULL) == (strstr(line, "GCM") != NULL), "curl: %s, log: %s", out, line);
    snprintf(cmd, sizeof cmd,
             "curl -sv -o /dev/null --max-time 10 --tlsv1.3 --cacert %s/t.crt --resolve t.test:%d:127.0.0.1 "
             "https://t.test:%d/size/2 2>&1 | grep -o 'SSL connection using .*'",
             env.dir, env.port, env.port);
    ck_assert_int_eq(px_run(cmd, out, sizeof out), 0);
    line = log_line(alog, "proto=TLSv1.3");
    ck_assert_msg(strncmp(line, "https proto=TLSv1.3 cipher=TLS1-3-", 34) == 0, "got %s", line);
    ck_assert_msg(strstr(out, "TLSv1.3") != NULL, "curl: %s", out);
    px_env_done(&env);
}
END_TEST

static Suite *logformat_suite(void)
{
    Suite *s = suite_create("e2e_ops_logformat");
    TCase *tc = tcase_create("logformat");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, custom_format_names_site_and_id);
    tcase_add_test(tc, incoming_id_kept_or_replaced);
    tcase_add_test(tc, request_id_off);
    tcase_add_test(tc, request_id_in_add_header);
    tcase_add_test(tc, builtin_formats_name_site);
    tcase_add_test(tc, json_escape);
    tcase_add_test(tc, per_server_files);
    tcase_add_test(tc, per_server_error_log);
    tcase_add_test(tc, tls_variables);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(logformat_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
