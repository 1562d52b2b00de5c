/* tests/proxyd: the configuration loader — values, defaults, inheritance, and one precise error line per
 * mistake (file, line, section, key) for every kind of bad input. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/config.h"

static char path[64];

/* Writes text to a temp file and loads it; errors land in errbuf. */
static px_config *load(const char *text, char *errbuf, size_t cap)
{
    strcpy(path, "/tmp/pxcfg-XXXXXX");
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    FILE *err = fmemopen(errbuf, cap, "w");
    ck_assert_ptr_nonnull(err);
    setvbuf(err, NULL, _IONBF, 0);
    px_config *cfg = px_config_load(path, err);
    fclose(err);
    unlink(path);
    return cfg;
}

#define MIN_SERVER "[upstream app]\nserver = 127.0.0.1:8081\n[server s]\nlisten = 127.0.0.1:8080\nproxy_pass = app\n"

START_TEST(durations_and_sizes)
{
    uint64_t v;
    ck_assert_int_eq(px_parse_duration("500ms", &v), 0);
    ck_assert_uint_eq(v, 500);
    ck_assert_int_eq(px_parse_duration("60", &v), 0);
    ck_assert_uint_eq(v, 60000);
    ck_assert_int_eq(px_parse_duration("5m", &v), 0);
    ck_assert_uint_eq(v, 300000);
    ck_assert_int_eq(px_parse_duration("1h", &v), 0);
    ck_assert_uint_eq(v, 3600000);
    ck_assert_int_eq(px_parse_duration("10x", &v), -1);
    ck_assert_int_eq(px_parse_duration("-1s", &v), -1);
    ck_assert_int_eq(px_parse_duration("", &v), -1);
    ck_assert_int_eq(px_parse_duration("99999999999999999999s", &v), -1);
    ck_assert_int_eq(px_parse_size("10m", &v), 0);
    ck_assert_uint_eq(v, 10u * 1024 * 1024);
    ck_assert_int_eq(px_parse_size("4k", &v), 0);
    ck_assert_uint_eq(v, 4096);
    ck_assert_int_eq(px_parse_size("100", &v), 0);
    ck_assert_uint_eq(v, 100);
    ck_assert_int_eq(px_parse_size("1.5m", &v), -1);
}
END_TEST

START_TEST(defaults_and_inheritance)
{
    char err[2048] = "";
    px_config *cfg = load("[global]\nkeepalive_timeout = 3s\nclient_max_body_size = 1m\n" MIN_SERVER
                          "[server t]\nlisten = 127.0.0.1:8082\nproxy_pass = app\nkeepalive_timeout = 7s\n",
                          err, sizeof(err));
    ck_assert_msg(cfg != NULL, "%s", err);
    ck_assert_int_eq(cfg->nservers, 2);
    ck_assert_uint_eq(cfg->servers[0].limits.keepalive_timeout, 3000);
    ck_assert_uint_eq(cfg->servers[1].limits.keepalive_timeout, 7000);
    ck_assert_uint_eq(cfg->servers[1].limits.client_max_body_size, 1024 * 1024);
    ck_assert_uint_eq(cfg->servers[0].limits.client_header_timeout, 60000);
    ck_assert_uint_eq(cfg->max_connections, 4096);
    ck_assert_ptr_eq(cfg->servers[0].routes[0].upstream, &cfg->upstreams[0]);
    ck_assert_uint_eq(cfg->upstreams[0].read_timeout, 60000);
    ck_assert_int_eq(cfg->upstreams[0].ntlm, 1);
    ck_assert_int_eq(cfg->upstreams[0].tls_verify, 1);
    px_config_free(cfg);
}
END_TEST

START_TEST(upstream_servers_and_routes)
{
    char err[2048] = "";
    px_config *cfg = load("[upstream a]\nserver = 127.0.0.1:1 weight=3 max_fails=2 fail_timeout=30s\n"
                          "server = 127.0.0.1:2 backup\nbalance = least_conn\nkeepalive = 180\n"
                          "[upstream b]\nserver = [::1]:3\n"
                          "[server s]\nlisten = 127.0.0.1:8080 default\nserver_name = A.example.com *.example.org\n"
                          "proxy_pass = https://a\nroute = /api b\nroute = /api/v2 a\n"
                          "proxy_set_header = X-A: $host-$remote_addr\nadd_header = X-Frame-Options: DENY always\n",
                          err, sizeof(err));
    ck_assert_msg(cfg != NULL, "%s", err);
    px_upstream *a = &cfg->upstreams[0];
    ck_assert_int_eq(a->nservers, 2);
    ck_assert_int_eq(a->servers[0].weight, 3);
    ck_assert_int_eq(a->servers[0].max_fails, 2);
    ck_assert_uint_eq(a->servers[0].fail_timeout, 30000);
    ck_assert_int_eq(a->servers[1].backup, 1);
    ck_assert_int_eq(a->balance, PX_BALANCE_LEAST_CONN);
    ck_assert_str_eq(cfg->upstreams[1].servers[0].host, "::1");
    px_server *s = &cfg->servers[0];
    ck_assert_str_eq(s->names[0], "a.example.com"); /* lower-cased */
    ck_assert_str_eq(s->routes[0].prefix, "/api/v2"); /* longest prefix first */
    ck_assert_str_eq(s->routes[2].prefix, "/");
    ck_assert_int_eq(s->add_headers[0].always, 1);
    ck_assert_int_eq(s->set_headers[0].value.nparts, 2);
    ck_assert_int_eq(s->set_headers[0].value.parts[0].var, PX_VAR_HOST);
    ck_assert_int_eq(s->listen[0].is_default, 1);
    px_config_free(cfg);
}
END_TEST

/* Each bad configuration: the line and key the error must name. */
static const struct {
    const char *text;
    const char *expect;
} bad[] = {
    {"[global]\nworkerz = 2\n" MIN_SERVER, ":2: [global] workerz: unknown key"},
    {"[globl]\nworkers = 2\n" MIN_SERVER, ":1: [globl] unknown section"},
    {"[global]\nkeepalive_timeout = 10 s\n" MIN_SERVER, ":2: [global] keepalive_timeout: expected a duration"},
    {"[global]\nclient_max_body_size = ten\n" MIN_SERVER, "client_max_body_size: expected a size"},
    {"[global]\nserver_tokens = yes\n" MIN_SERVER, "server_tokens: expected on or off"},
    {"[global]\nworkers = 2\nworkers = 3\n" MIN_SERVER, ":3: [global] workers: key given twice"},
    {"[upstream app]\nserver = 127.0.0.1:8081\n[server s]\nlisten = 127.0.0.1:8080\nproxy_pass = nope\n",
     ":5: [server s] proxy_pass: no [upstream nope] is defined"},
    {"[upstream app]\nserver = 127.0.0.1:8081\n[server s]\nproxy_pass = app\n", "listen: a server needs"},
    {"[upstream app]\n[server s]\nlisten = 127.0.0.1:8080\nproxy_pass = app\n", "an upstream needs at least one"},
    {"[upstream app]\nserver = 127.0.0.1:8081 weight=0\n[server s]\nlisten = 127.0.0.1:8080\nproxy_pass = app\n",
     ":2: [upstream app] server: unknown or invalid server parameter"},
    {"[upstream app]\nserver = nosuchhost.invalid:80\n[server s]\nlisten = 127.0.0.1:8080\nproxy_pass = app\n",
     "server: expected HOST:PORT (the host must resolve)"},
    {MIN_SERVER "listen = 127.0.0.1:8443 tls\n", "a tls listen address needs tls_cert"},
    {MIN_SERVER "tls_cert = /nonexistent.pem\n", "1 tls_cert but 0 tls_key"},
    {MIN_SERVER "proxy_set_header = X-A $host\n", "proxy_set_header: expected \"Name: value\""},
    {MIN_SERVER "add_header = X-A: $nosuchvar\n", "add_header: unknown variable"},
    {MIN_SERVER "return = 301\n", "return: a redirect status (301, 302, 303, 307, 308) needs a URL"},
    {MIN_SERVER "route = api app\n", "route: expected \"/PREFIX UPSTREAM\""},
    {MIN_SERVER "server_name = a*.example.com\n", "server_name: a wildcard name must start with"},
    {MIN_SERVER "[server t]\nlisten = 127.0.0.1:8080 default\nproxy_pass = app\n"
                "[server u]\nlisten = 127.0.0.1:8080 default\nproxy_pass = app\n",
     "has two default servers"},
    {"[upstream app]\nserver = 127.0.0.1:8081\n[upstream app]\nserver = 127.0.0.1:8082\n"
     "[server s]\nlisten = 127.0.0.1:8080\nproxy_pass = app\n",
     ":3: [upstream app] upstream \"app\" defined twice"},
    {"[upstream app]\nserver = 127.0.0.1:8081\n", "no [server] section"},
    {"[global]\nthis is not a key value line\n" MIN_SERVER, ":2: "},
    {"workers = 2\n" MIN_SERVER, ":1: workers: key outside any section"},
    {MIN_SERVER "proxy_buffers = 128\n", "proxy_buffers: expected \"NUMBER SIZE\""},
    {"[status]\nlisten = nowhere\n" MIN_SERVER, "[status] listen: expected ADDR:PORT"},
    {"[global]\ngzip_level = 10\n" MIN_SERVER, "gzip_level: expected a compression level"},
};

START_TEST(bad_config)
{
    char err[4096] = "";
    px_config *cfg = load(bad[_i].text, err, sizeof(err));
    ck_assert_msg(cfg == NULL, "accepted: %s", bad[_i].text);
    ck_assert_msg(strstr(err, bad[_i].expect) != NULL, "expected \"%s\" in \"%s\"", bad[_i].expect, err);
    ck_assert_msg(strstr(err, "/tmp/pxcfg-") != NULL, "error does not name the file: %s", err);
}
END_TEST

START_TEST(every_error_reported)
{
    char err[4096] = "";
    px_config *cfg = load("[global]\nfoo = 1\nbar = 2\nkeepalive_timeout = x\n" MIN_SERVER, err, sizeof(err));
    ck_assert_ptr_null(cfg);
    int lines = 0;
    for (const char *p = err; (p = strchr(p, '\n')); p++)
        lines++;
    ck_assert_int_eq(lines, 3);
}
END_TEST

START_TEST(continuation_lines_for_lists)
{
    char err[2048] = "";
    px_config *cfg = load("[global]\ngzip = on\ngzip_types = text/plain text/css\n  application/json\n" MIN_SERVER,
                          err, sizeof(err));
    ck_assert_msg(cfg != NULL, "%s", err);
    ck_assert_int_eq(cfg->gzip.ntypes, 3);
    ck_assert_str_eq(cfg->gzip.types[2], "application/json");
    ck_assert_int_eq(cfg->servers[0].gzip.ntypes, 3); /* inherited */
    px_config_free(cfg);
}
END_TEST

START_TEST(missing_file)
{
    char err[512] = "";
    FILE *fp = fmemopen(err, sizeof(err), "w");
    setvbuf(fp, NULL, _IONBF, 0);
    ck_assert_ptr_null(px_config_load("/nonexistent/proxyd.ini", fp));
    fclose(fp);
    ck_assert_msg(strstr(err, "/nonexistent/proxyd.ini: cannot open") != NULL, "%s", err);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("proxyd_config");
    TCase *tc = tcase_create("config");
    tcase_add_test(tc, durations_and_sizes);
    tcase_add_test(tc, defaults_and_inheritance);
    tcase_add_test(tc, upstream_servers_and_routes);
    tcase_add_loop_test(tc, bad_config, 0, (int)(sizeof(bad) / sizeof(bad[0])));
    tcase_add_test(tc, every_error_reported);
    tcase_add_test(tc, continuation_lines_for_lists);
    tcase_add_test(tc, missing_file);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
