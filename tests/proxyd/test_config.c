/* tests/proxyd: the configuration loader — values, defaults, inheritance, and one precise error line per
 * mistake (file, line, section, key) for every kind of bad input. */
#include <arpa/inet.h>
#include <check.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
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
    ck_assert_str_eq(s->names[0], "a.example.com");   /* lower-cased */
    ck_assert_str_eq(s->routes[0].prefix, "/api/v2"); /* longest prefix first */
    ck_assert_str_eq(s->routes[2].prefix, "/");
    ck_assert_int_eq(s->add_headers[0].always, 1);
    ck_assert_int_eq(s->set_headers[0].value.nparts, 2);
    ck_assert_int_eq(s->set_headers[0].value.parts[0].var, PX_VAR_HOST);
    ck_assert_int_eq(s->listen[0].is_default, 1);
    px_config_free(cfg);
}
END_TEST

/* The route whose prefix is p (routes are sorted, so looked up by name). */
static const px_route *route_of(const px_server *s, const char *p)
{
    for (int i = 0; i < s->nroutes; i++)
        if (strcmp(s->routes[i].prefix, p) == 0)
            return &s->routes[i];
    ck_abort_msg("no route %s", p);
    return NULL;
}

/* Route options override the upstream's timeouts for that route alone; what they do not set is the upstream's.
 * header_timeout=off turns off an upstream's header_timeout (the head is then awaited for read_timeout). */
START_TEST(route_options)
{
    char err[2048] = "";
    px_config *cfg = load("[global]\ndrain_delay = 10s\n"
                          "[upstream app]\nserver = 127.0.0.1:8081\nread_timeout = 60s\nheader_timeout = 20s\n"
                          "[upstream lp]\nserver = 127.0.0.1:8082\nread_timeout = 90s\n"
                          "[server s]\nlisten = 127.0.0.1:8080\nproxy_pass = app\n"
                          "route = /ucwa app  read_timeout=1800s\theader_timeout=30m\n"
                          "route = /events app header_timeout=off\nroute = /lp lp\n"
                          "route = /short lp header_timeout=5s\n",
                          err, sizeof(err));
    ck_assert_msg(cfg != NULL, "%s", err);
    ck_assert_msg(strstr(err, "warning") == NULL, "unexpected warning: %s", err);
    ck_assert_uint_eq(cfg->drain_delay, 10000);
    ck_assert_uint_eq(cfg->upstreams[0].header_timeout, 20000);
    ck_assert_uint_eq(cfg->upstreams[1].header_timeout, 0);
    static const struct {
        const char *prefix;
        uint64_t read, header;
        int upstream;
    } want[] = {
        {"/", 60000, 20000, 0}, {"/ucwa", 1800000, 1800000, 0}, {"/events", 60000, 0, 0},
        {"/lp", 90000, 0, 1},   {"/short", 90000, 5000, 1},
    };
    ck_assert_int_eq(cfg->servers[0].nroutes, 5);
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        const px_route *r = route_of(&cfg->servers[0], want[i].prefix);
        ck_assert_msg(r->read_timeout == want[i].read, "%s: read_timeout %llu", want[i].prefix,
                      (unsigned long long)r->read_timeout);
        ck_assert_msg(r->header_timeout == want[i].header, "%s: header_timeout %llu", want[i].prefix,
                      (unsigned long long)r->header_timeout);
        ck_assert_ptr_eq(r->upstream, &cfg->upstreams[want[i].upstream]);
    }
    px_config_free(cfg);
}
END_TEST

/* A route lengthening read_timeout for a long poll, with the upstream's shorter header_timeout still applying: the
 * poll would be cut at header_timeout, and -t says so (a warning: the configuration loads). */
START_TEST(route_long_poll_warning)
{
    char err[2048] = "";
    px_config *cfg = load("[upstream app]\nserver = 127.0.0.1:8081\nheader_timeout = 20s\n"
                          "[server s]\nlisten = 127.0.0.1:8080\nproxy_pass = app\n"
                          "route = /ucwa app read_timeout=1800s\nroute = /ok app read_timeout=10s\n",
                          err, sizeof(err));
    ck_assert_msg(cfg != NULL, "%s", err);
    ck_assert_msg(
        strstr(err, ":7: warning: [server s] route: /ucwa: the header_timeout of [upstream app] (20000ms) is shorter "
                    "than this route's read_timeout") != NULL,
        "%s", err);
    ck_assert_msg(strstr(err, "/ok") == NULL, "a read_timeout below header_timeout warned: %s", err);
    ck_assert_uint_eq(route_of(&cfg->servers[0], "/ucwa")->header_timeout, 20000);
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
    {MIN_SERVER "listen = 127.0.0.1:8443 tls\n", "a tls listen address needs tls_cert"},
    {MIN_SERVER "tls_cert = /nonexistent.pem\n", "1 tls_cert but 0 tls_key"},
    {MIN_SERVER "proxy_set_header = X-A $host\n", "proxy_set_header: expected \"Name: value\""},
    {MIN_SERVER "add_header = X-A: $nosuchvar\n", "add_header: unknown variable"},
    {MIN_SERVER "return = 301\n", "return: a redirect status (301, 302, 303, 307, 308) needs a URL"},
    {MIN_SERVER "route = api app\n", "route: expected \"/PREFIX UPSTREAM [option=value ...]\""},
    {MIN_SERVER "route = /a app bogus=1\n", ":6: [server s] route: unknown route option (known: read_timeout=T, "
                                            "header_timeout=T|off, auth_guard=on|off, allow=CIDR,..., deny=CIDR,..., "
                                            "limit_req=RATE[,burst=N][,nodelay]) (got \"/a app bogus=1\")"},
    {MIN_SERVER "route = /a app auth_guard=yes\n", ":6: [server s] route: auth_guard: expected on or off"},
    {MIN_SERVER "route = /a app allow=10.0.0.0/33\n", ":6: [server s] route: expected addresses or CIDR blocks"},
    {MIN_SERVER "route = /a app allow=\n", ":6: [server s] route: expected addresses or CIDR blocks"},
    {MIN_SERVER "route = /a app limit_req=10r/h\n", ":6: [server s] route: expected a rate such as 10r/s"},
    {MIN_SERVER "route = /a app limit_req=1r/s,burst=x\n", "route: unknown or invalid limit_req parameter"},
    {MIN_SERVER "route = /a app limit_req=1r/s limit_req=2r/s\n", ":6: [server s] route: route option given twice"},
    {MIN_SERVER "auth_guard = 1\n", ":6: [server s] auth_guard: expected on or off"},
    {MIN_SERVER "auth_guard_account = 5\n",
     ":6: [server s] auth_guard_account: expected FAILURES/WINDOW such as 5/15m"},
    {MIN_SERVER "auth_guard_account = 0/15m\n", "auth_guard_account: expected FAILURES/WINDOW"},
    {MIN_SERVER "auth_guard_account = 5/500ms\n", "auth_guard_account: expected FAILURES/WINDOW"},
    {MIN_SERVER "auth_guard_client = 5/25h\n", "auth_guard_client: expected FAILURES/WINDOW"},
    {MIN_SERVER "auth_guard_client = x/1m\n", "auth_guard_client: expected FAILURES/WINDOW"},
    {MIN_SERVER "auth_guard_trusted = 10.0.0.0/33\n", "auth_guard_trusted: expected addresses or CIDR blocks"},
    {MIN_SERVER "auth_guard_answer = 403\n", "auth_guard_answer: expected 429"},
    {"[global]\nauth_guard_table_size = 10\n" MIN_SERVER, "auth_guard_table_size: expected a number of entries"},
    {"[global]\nauth_guard = on\n" MIN_SERVER, "auth_guard"},
    {MIN_SERVER "route = /a app other\n", ":6: [server s] route: unknown route option"},
    {MIN_SERVER "route = /a app read_timeout\n", ":6: [server s] route: unknown route option"},
    {MIN_SERVER "route = /a app read_timeout=fast\n",
     ":6: [server s] route: read_timeout: expected a duration above 0"},
    {MIN_SERVER "route = /a app read_timeout=0\n", "route: read_timeout: expected a duration above 0"},
    {MIN_SERVER "route = /a app read_timeout=off\n", "route: read_timeout: expected a duration above 0"},
    {MIN_SERVER "route = /a app header_timeout=0s\n", "route: header_timeout: expected off or a duration above 0"},
    {MIN_SERVER "route = /a app header_timeout=1s header_timeout=2s\n",
     ":6: [server s] route: route option given twice"},
    {MIN_SERVER "route = /a nope read_timeout=1s\n", ":6: [server s] route: no [upstream nope] is defined"},
    {"[upstream app]\nserver = 127.0.0.1:8081\nheader_timeout = 0\n[server s]\nlisten = 127.0.0.1:8080\n"
     "proxy_pass = app\n",
     ":3: [upstream app] header_timeout: expected off or a duration above 0"},
    {"[global]\ndrain_delay = soon\n" MIN_SERVER, ":2: [global] drain_delay: expected a duration"},
    {MIN_SERVER "drain_delay = 10s\n", ":6: [server s] drain_delay: unknown key in this section"},
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
    {"[global]\nworkers = 257\n" MIN_SERVER, ":2: [global] workers: expected auto or a number from 1 to 256"},
    {"[global]\nworkers = 0\n" MIN_SERVER, "workers: expected auto or a number from 1 to 256"},
    /* a typo gets the nearest key of its section; a key of another section says where it belongs */
    {"[global]\nkeepalive_timout = 5s\n" MIN_SERVER,
     ":2: [global] keepalive_timout: unknown key in this section; did you mean keepalive_timeout?"},
    {MIN_SERVER "servr_name = x\n",
     ":6: [server s] servr_name: unknown key in this section; did you mean server_name?"},
    {"[upstream app]\nserver = 127.0.0.1:8081\nlisten = 127.0.0.1:1\n[server s]\nlisten = 127.0.0.1:8080\n"
     "proxy_pass = app\n",
     ":3: [upstream app] listen: unknown key in this section (it belongs in [server NAME])"},
    {MIN_SERVER "frobnicate = 1\n", ":6: [server s] frobnicate: unknown key in this section\n"},
    /* an unresolvable host is not a syntax error */
    {"[upstream app]\nserver = nosuch.invalid:80\n[server s]\nlisten = 127.0.0.1:8080\nproxy_pass = app\n",
     ":2: [upstream app] server: cannot resolve the host name"},
    {"[upstream app]\nserver = 127.0.0.1\n[server s]\nlisten = 127.0.0.1:8080\nproxy_pass = app\n",
     ":2: [upstream app] server: expected HOST:PORT then"},
    /* a file that cannot be read says why, before mbedTLS's "PK - Read/write of file failed" */
    {"[upstream app]\nserver = 127.0.0.1:8081\ntls = on\ntls_ca = /nonexistent/ca.pem\n[server s]\n"
     "listen = 127.0.0.1:8080\nproxy_pass = app\n",
     "[upstream app] tls_ca: cannot read /nonexistent/ca.pem: No such file or directory"},
    {MIN_SERVER "listen = 127.0.0.1:8443 tls\ntls_cert = /nonexistent/c.pem\ntls_key = /nonexistent/k.pem\n",
     ":7: [server s] tls_cert: cannot read /nonexistent/c.pem: No such file or directory"},
    {"[global]\nunderscores_in_headers = yes\n" MIN_SERVER, ":2: [global] underscores_in_headers: expected on or off"},
    {MIN_SERVER "underscores_in_headers = 1\n", ":6: [server s] underscores_in_headers: expected on or off"},
    {"[upstream app]\nserver = 127.0.0.1:8081\nunderscores_in_headers = on\n[server s]\nlisten = 127.0.0.1:8080\n"
     "proxy_pass = app\n",
     ":3: [upstream app] underscores_in_headers: unknown key in this section"},
    {MIN_SERVER "allow = 10.0.0.0/33\n", ":6: [server s] allow: expected addresses or CIDR blocks"},
    {MIN_SERVER "deny = 10.0.0.1 nowhere\n", ":6: [server s] deny: expected addresses or CIDR blocks"},
    {MIN_SERVER "allow =\n", ":6: [server s] allow: expected addresses or CIDR blocks"},
    {MIN_SERVER "deny = ::/129\n", "deny: expected addresses or CIDR blocks (192.0.2.1, 10.0.0.0/8, 2001:db8::/32)"},
    {"[status]\nlisten = 127.0.0.1:9145\nallow = 127.0.0.1/8x\n" MIN_SERVER, ":3: [status] allow: expected"},
    {"[global]\nallow = 10.0.0.0/8\n" MIN_SERVER, ":2: [global] allow: unknown key in this section"},
    {"[global]\nlimit_conn = 5\n" MIN_SERVER, ":2: [global] limit_conn: unknown key in this section"},
    {"[status]\nlisten = 127.0.0.1:9145\nlimit_req = 1r/s\n" MIN_SERVER, "[status] limit_req: unknown key"},
    {MIN_SERVER "limit_conn = 0\n", ":6: [server s] limit_conn: expected the number of requests in progress"},
    {MIN_SERVER "limit_conn = many\n", "limit_conn: expected the number"},
    {MIN_SERVER "limit_req = 10r/h\n", ":6: [server s] limit_req: expected a rate such as 10r/s or 600r/m"},
    {MIN_SERVER "limit_req = 0r/s\n", "limit_req: expected a rate"},
    {MIN_SERVER "limit_req = 1000001r/s\n", "limit_req: expected a rate"},
    {MIN_SERVER "limit_req = r/s\n", "limit_req: expected a rate"},
    {MIN_SERVER "limit_req = 10r/s burst=-1\n", "limit_req: unknown or invalid limit_req parameter"},
    {MIN_SERVER "limit_req = 10r/s delay=5\n", "limit_req: unknown or invalid limit_req parameter"},
    {MIN_SERVER "limit_req = 10r/s\nlimit_req = 20r/s\n", ":7: [server s] limit_req: key given twice"},
    {"[global]\nlimit_table_size = 63\n" MIN_SERVER, ":2: [global] limit_table_size: expected a number of entries"},
    {"[global]\nlimit_table_size = 10000001\n" MIN_SERVER, "limit_table_size: expected a number of entries"},
    {"[upstream app]\nserver = 127.0.0.1:8081\ntls = off\n[server s]\nlisten = 127.0.0.1:8080\nproxy_pass = "
     "https://app\n",
     ":6: [server s] proxy_pass: https://app, but [upstream app] has tls = off (line 3): write http://app or app "
     "alone, "
     "or set tls = on there"},
    {"[upstream app]\nserver = 127.0.0.1:8081\ntls = on\n[server s]\nlisten = 127.0.0.1:8080\nproxy_pass = "
     "http://app\n",
     ":6: [server s] proxy_pass: http://app, but [upstream app] has tls = on (line 3): write https://app or app "
     "alone\n"},
    {MIN_SERVER "[server t]\nlisten = 127.0.0.1:8081\nproxy_pass = https://app\nroute = /x http://app\n",
     ":9: [server t] route: http://app, but line 8 names it https://app: an upstream is TLS or plain, not both"},
    {"[upstream app]\nserver = 127.0.0.1:8081\n[server s]\nlisten = 127.0.0.1:8080\nproxy_pass = https://app/\n",
     ":5: [server s] proxy_pass: expected an upstream name, alone or after http:// or https://"},
    {"[upstream app]\nserver = 127.0.0.1:8081\n[server s]\nlisten = 127.0.0.1:8080\nproxy_pass = http://10.0.0.1:80\n",
     "proxy_pass: expected an upstream name"},
    {MIN_SERVER "proxy_redirect = http://a/\n", ":6: [server s] proxy_redirect: expected default, off, or \"FROM TO\""},
    {MIN_SERVER "proxy_redirect = http://a/ / /x\n", "proxy_redirect: expected default, off, or \"FROM TO\""},
    {MIN_SERVER "proxy_redirect = ~^http://a(.*) $1\n", "proxy_redirect: regular expressions (~) are not supported"},
    {"[global]\nlog_format = main $remote_addr $nope\n" MIN_SERVER, ":2: [global] log_format: unknown variable"},
    {"[global]\nlog_format = main $request_time$stat\n" MIN_SERVER, "log_format: unknown variable"},
    {"[global]\nlog_format = main ${host\n" MIN_SERVER, "log_format: unknown variable"},
    {"[global]\nlog_format = main\n" MIN_SERVER, "log_format: expected NAME [escape=default|json] FORMAT"},
    {"[global]\nlog_format = m@in $host\n" MIN_SERVER, "log_format: expected NAME"},
    {"[global]\nlog_format = m escape=none $host\n" MIN_SERVER, "log_format: expected escape=default or escape=json"},
    {"[global]\nlog_format = m escape=json\n" MIN_SERVER, "log_format: expected a FORMAT after escape="},
    {"[global]\nlog_format = json $host\n" MIN_SERVER, "log_format: combined and json are the built-in"},
    {"[global]\nlog_format = m $host\nlog_format = m $status\n" MIN_SERVER,
     ":3: [global] log_format: a log_format of this name is already defined"},
    {"[global]\naccess_log = /tmp/a.log nosuch\n" MIN_SERVER,
     ":2: [global] access_log: unknown format nosuch (combined, json or a log_format's name)"},
    {"[global]\naccess_log = /tmp/a.log main extra\n" MIN_SERVER, "access_log: expected PATH [FORMAT] or off"},
    {MIN_SERVER "add_header = X-Id: $request_idx\n", "add_header: unknown variable"},
    {MIN_SERVER "access_log = /tmp/s.log nosuch\n",
     ":6: [server s] access_log: unknown format nosuch (combined, json or a log_format's name)"},
    {MIN_SERVER "access_log = /tmp/s.log\naccess_log = off\n", ":7: [server s] access_log: key given twice"},
    {MIN_SERVER "request_id = yes\n", "request_id: expected on or off"},
    {MIN_SERVER "proxy_redirect = http://$nope/ /\n", "proxy_redirect: unknown variable"},
    {MIN_SERVER "proxy_redirect = http://a/ http://$host:$nope/\n", "proxy_redirect: unknown variable"},
    {MIN_SERVER "proxy_redirect = default\nproxy_redirect = off\n",
     ":7: [server s] proxy_redirect: off cannot be combined with other proxy_redirect lines"},
    {MIN_SERVER "proxy_redirect = off\nproxy_redirect = http://a/ /\n",
     ":7: [server s] proxy_redirect: proxy_redirect = off was given"},
    {MIN_SERVER "proxy_redirect = default\nproxy_redirect = http://a/ /\nproxy_redirect = default\n",
     ":8: [server s] proxy_redirect: default given twice"},
    {MIN_SERVER "[upstream b]\nserver = 127.0.0.1:1\nhealth_check = HEAD /\n",
     ":8: [upstream b] health_check: expected GET"},
    {MIN_SERVER "[upstream b]\nserver = 127.0.0.1:1\nhealth_check = GET nopath\n", ":8: [upstream b] health_check"},
    {MIN_SERVER "[upstream b]\nserver = 127.0.0.1:1\nhealth_check = GET /a b\n", "must not contain spaces"},
    {MIN_SERVER "[upstream b]\nserver = 127.0.0.1:1\nhealth_interval = 0\n", ":8: [upstream b] health_interval"},
    {MIN_SERVER "[upstream b]\nserver = 127.0.0.1:1\nhealth_timeout = soon\n", ":8: [upstream b] health_timeout"},
    {MIN_SERVER "[upstream b]\nserver = 127.0.0.1:1\nhealth_rise = 0\n", ":8: [upstream b] health_rise"},
    {MIN_SERVER "[upstream b]\nserver = 127.0.0.1:1\nhealth_fall = 101\n", ":8: [upstream b] health_fall"},
    {MIN_SERVER "[upstream b]\nserver = 127.0.0.1:1\nhealth_status = 399-200\n", ":8: [upstream b] health_status"},
    {MIN_SERVER "[upstream b]\nserver = 127.0.0.1:1\nhealth_status = 2xx\n", ":8: [upstream b] health_status"},
    {MIN_SERVER "[upstream b]\nserver = 127.0.0.1:1\nhealth_status = 200-\n", ":8: [upstream b] health_status"},
    {MIN_SERVER "[upstream b]\nserver = 127.0.0.1:1\nhealth_host =\n", ":8: [upstream b] health_host"},
    {"[upstream app]\nserver = 127.0.0.1:8081\n[server s]\nlisten = 127.0.0.1:8080 proxy_protocol\nproxy_pass = app\n",
     ":3: [server s] listen: 127.0.0.1:8080 has proxy_protocol but [global] proxy_protocol_from lists no trusted peer"},
    {"[global]\nproxy_protocol_from = 10.0.0.0/8\n[upstream app]\nserver = 127.0.0.1:8081\n[server s]\n"
     "listen = 127.0.0.1:8080 proxy_protocol\nproxy_pass = app\n[server t]\nlisten = 127.0.0.1:8080\n"
     "server_name = t\nproxy_pass = app\n",
     ":8: [server t] listen: 127.0.0.1:8080 has proxy_protocol in one server and not in another"},
    {"[global]\nproxy_protocol_from = 10.0.0.0/33\n" MIN_SERVER,
     ":2: [global] proxy_protocol_from: expected addresses or CIDR blocks"},
    {"[global]\nproxy_protocol_from =\n" MIN_SERVER, ":2: [global] proxy_protocol_from: expected addresses"},
    {MIN_SERVER "proxy_protocol_from = 10.0.0.1\n", ":6: [server s] proxy_protocol_from: unknown key in this section"},
    {"[upstream app]\nserver = 127.0.0.1:8081\n[server s]\nlisten = 127.0.0.1:8080 proxy\nproxy_pass = app\n",
     ":4: [server s] listen: unknown listen parameter (tls, default, proxy_protocol)"},
    {MIN_SERVER "[upstream b]\nserver = 127.0.0.1:1\nproxy_protocol = v2\n", ":8: [upstream b] proxy_protocol"},
};

/* Upstream PROXY protocol (issue 18): off by default, `on` sends PROXY v2 to the upstream's servers. */
START_TEST(upstream_proxy_protocol_key)
{
    char err[4096] = "";
    px_config *cfg =
        load("[upstream a]\nserver = 127.0.0.1:1\nproxy_protocol = on\n[upstream b]\nserver = 127.0.0.1:2\n"
             "[server s]\nlisten = 127.0.0.1:8080\nproxy_pass = a\nroute = /b b\n",
             err, sizeof(err));
    ck_assert_msg(cfg != NULL, "%s", err);
    ck_assert_int_eq(cfg->upstreams[0].proxy_protocol, 1);
    ck_assert_int_eq(cfg->upstreams[1].proxy_protocol, 0);
    px_config_free(cfg);
}
END_TEST

/* Active health checks (issue 18.2): the keys, their defaults, and what is refused. */
START_TEST(health_check_keys)
{
    char err[4096] = "";
    px_config *cfg = load("[upstream a]\nserver = 127.0.0.1:1\nserver = 127.0.0.1:2\nhealth_check = GET /size/0?x=1\n"
                          "health_interval = 200ms\nhealth_timeout = 1s\nhealth_rise = 4\nhealth_fall = 5\n"
                          "health_status = 204\nhealth_host = lync.example\n"
                          "[upstream b]\nserver = 127.0.0.1:3\nhealth_check = tcp\nhealth_status = 200-299\n"
                          "[upstream c]\nserver = 127.0.0.1:4\n"
                          "[server s]\nlisten = 127.0.0.1:8080\nproxy_pass = a\n",
                          err, sizeof(err));
    ck_assert_msg(cfg != NULL, "%s", err);
    const px_upstream *a = &cfg->upstreams[0], *b = &cfg->upstreams[1], *c = &cfg->upstreams[2];
    ck_assert_int_eq(a->health_check, PX_HEALTH_GET);
    ck_assert_str_eq(a->health_path, "/size/0?x=1");
    ck_assert_uint_eq(a->health_interval, 200);
    ck_assert_uint_eq(a->health_timeout, 1000);
    ck_assert_int_eq(a->health_rise, 4);
    ck_assert_int_eq(a->health_fall, 5);
    ck_assert_int_eq(a->health_status_lo, 204);
    ck_assert_int_eq(a->health_status_hi, 204);
    ck_assert_str_eq(a->health_host, "lync.example");
    ck_assert_int_eq(b->health_check, PX_HEALTH_TCP);
    ck_assert_ptr_null(b->health_path);
    ck_assert_int_eq(b->health_status_lo, 200);
    ck_assert_int_eq(b->health_status_hi, 299);
    /* defaults: no active checks; 5s, 2s, rise 2, fall 3, 200-399, Host from the server or tls_server_name */
    ck_assert_int_eq(c->health_check, PX_HEALTH_NONE);
    ck_assert_uint_eq(c->health_interval, 5000);
    ck_assert_uint_eq(c->health_timeout, 2000);
    ck_assert_int_eq(c->health_rise, 2);
    ck_assert_int_eq(c->health_fall, 3);
    ck_assert_int_eq(c->health_status_lo, 200);
    ck_assert_int_eq(c->health_status_hi, 399);
    ck_assert_ptr_null(c->health_host);
    px_config_free(cfg);
}
END_TEST

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
    px_config *cfg = load("[global]\ngzip = on\ngzip_types = text/plain text/css\n  application/json\n" MIN_SERVER, err,
                          sizeof(err));
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

/* Every key a [server] inherits from [global]: its value when nothing is set, a [global] value inherited by a
 * server that does not set it, and a server's own value overriding it. */
enum { IN_LIMITS, IN_GZIP, IN_TOKENS };
#define LIM(f) IN_LIMITS, offsetof(px_limits, f), sizeof(((px_limits *)0)->f)
#define GZ(f) IN_GZIP, offsetof(px_gzip, f), sizeof(((px_gzip *)0)->f)
static const struct inherited {
    const char *key;
    int where;
    size_t off, size;
    uint64_t def;
    const char *global_text;
    uint64_t global_val;
    const char *server_text;
    uint64_t server_val;
} inherited[] = {
    {"client_header_timeout", LIM(client_header_timeout), 60000, "7s", 7000, "500ms", 500},
    {"client_body_timeout", LIM(client_body_timeout), 60000, "2m", 120000, "9", 9000},
    {"keepalive_timeout", LIM(keepalive_timeout), 10000, "3s", 3000, "0", 0},
    {"send_timeout", LIM(send_timeout), 60000, "1h", 3600000, "30s", 30000},
    {"client_max_body_size", LIM(client_max_body_size), 10 * 1024 * 1024, "1m", 1024 * 1024, "0", 0},
    {"keepalive_requests", LIM(keepalive_requests), 10000, "5", 5, "0", 0},
    {"reset_timedout_connection", LIM(reset_timedout_connection), 1, "off", 0, "on", 1},
    {"client_header_buffer_size", LIM(client_header_buffer_size), 16384, "64k", 65536, "1k", 1024},
    {"max_header_fields", LIM(max_header_fields), 100, "50", 50, "1000", 1000},
    {"underscores_in_headers", LIM(underscores_in_headers), 0, "on", 1, "off", 0},
    {"gzip", GZ(on), 0, "on", 1, "off", 0},
    {"gzip_level", GZ(level), 1, "6", 6, "9", 9},
    {"gzip_min_length", GZ(min_length), 20, "1k", 1024, "0", 0},
    {"gzip_vary", GZ(vary), 1, "off", 0, "on", 1},
    {"gzip_proxied", GZ(proxied_any), 1, "off", 0, "any", 1},
    {"server_tokens", IN_TOKENS, 0, sizeof(int), 0, "on", 1, "off", 0},
};

/* The field as a number, from [global] (srv < 0) or from server srv. */
static uint64_t inherited_value(const px_config *cfg, int srv, const struct inherited *t)
{
    const char *base;
    if (t->where == IN_LIMITS)
        base = (const char *)(srv < 0 ? &cfg->limits : &cfg->servers[srv].limits);
    else if (t->where == IN_GZIP)
        base = (const char *)(srv < 0 ? &cfg->gzip : &cfg->servers[srv].gzip);
    else
        base = (const char *)(srv < 0 ? &cfg->server_tokens : &cfg->servers[srv].server_tokens);
    if (t->size == sizeof(int)) {
        int v;
        memcpy(&v, base + t->off, sizeof(v));
        return (uint64_t)v;
    }
    uint64_t v;
    memcpy(&v, base + t->off, sizeof(v));
    return v;
}

START_TEST(inherited_defaults)
{
    const struct inherited *t = &inherited[_i];
    char err[2048] = "";
    px_config *cfg = load(MIN_SERVER, err, sizeof(err));
    ck_assert_msg(cfg != NULL, "%s", err);
    ck_assert_msg(inherited_value(cfg, -1, t) == t->def, "%s: [global] default", t->key);
    ck_assert_msg(inherited_value(cfg, 0, t) == t->def, "%s: [server] default", t->key);
    px_config_free(cfg);
}
END_TEST

START_TEST(inherited_and_overridden)
{
    const struct inherited *t = &inherited[_i];
    char text[1024], err[2048] = "";
    snprintf(text, sizeof(text),
             "[global]\n%s = %s\n" MIN_SERVER "[server own]\nlisten = 127.0.0.1:8082\n"
             "proxy_pass = app\n%s = %s\n",
             t->key, t->global_text, t->key, t->server_text);
    px_config *cfg = load(text, err, sizeof(err));
    ck_assert_msg(cfg != NULL, "%s", err);
    ck_assert_msg(inherited_value(cfg, -1, t) == t->global_val, "%s: [global] value", t->key);
    ck_assert_msg(inherited_value(cfg, 0, t) == t->global_val, "%s: not inherited", t->key);
    ck_assert_msg(inherited_value(cfg, 1, t) == t->server_val, "%s: not overridden", t->key);
    px_config_free(cfg);
}
END_TEST

/* A list is inherited whole, or replaced whole by the server's own. */
START_TEST(gzip_types_inherited_or_replaced)
{
    char err[2048] = "";
    px_config *cfg = load("[global]\ngzip_types = text/plain text/css\n" MIN_SERVER "[server own]\n"
                          "listen = 127.0.0.1:8082\nproxy_pass = app\ngzip_types = application/json\n",
                          err, sizeof(err));
    ck_assert_msg(cfg != NULL, "%s", err);
    ck_assert_int_eq(cfg->servers[0].gzip.ntypes, 2);
    ck_assert_str_eq(cfg->servers[0].gzip.types[1], "text/css");
    ck_assert_ptr_ne(cfg->servers[0].gzip.types[1], cfg->gzip.types[1]); /* a copy: each frees its own */
    ck_assert_int_eq(cfg->servers[1].gzip.ntypes, 1);
    ck_assert_str_eq(cfg->servers[1].gzip.types[0], "application/json");
    px_config_free(cfg);
}
END_TEST

/* What nothing in the file sets: [global], an upstream and its server, a server. */
START_TEST(other_defaults)
{
    char err[2048] = "";
    px_config *cfg = load(MIN_SERVER, err, sizeof(err));
    ck_assert_msg(cfg != NULL, "%s", err);
    ck_assert_int_eq(cfg->workers, 0);
    ck_assert_uint_eq(cfg->max_connections, 4096);
    ck_assert_uint_eq(cfg->nofile, 8192);
    ck_assert_int_eq(cfg->log_level, PX_LOG_WARN);
    ck_assert_ptr_null(cfg->access_log);
    ck_assert_int_eq(cfg->access_log_json, 0);
    ck_assert_uint_eq(cfg->tls_session_cache, 10 * 1024 * 1024);
    ck_assert_int_eq(cfg->tls_session_tickets, 1);
    ck_assert_uint_eq(cfg->shutdown_timeout, 30000);
    ck_assert_uint_eq(cfg->drain_delay, 0);
    ck_assert_int_eq(cfg->status_on, 0);
    ck_assert_int_eq(cfg->gzip.ntypes, 0);
    ck_assert_str_eq(cfg->pid_file, PX_PID_FILE_DEFAULT);            /* written by the daemon, read by -s */
    ck_assert_str_eq(PX_PID_FILE_DEFAULT, "/run/proxyd/proxyd.pid"); /* meson's pid_file option */
    const px_upstream *u = &cfg->upstreams[0];
    ck_assert_int_eq(u->balance, PX_BALANCE_ROUND_ROBIN);
    ck_assert_uint_eq(u->keepalive, 32);
    ck_assert_int_eq(u->tls, 0);
    ck_assert_uint_eq(u->connect_timeout, 5000);
    ck_assert_uint_eq(u->send_timeout, 60000);
    ck_assert_uint_eq(u->header_timeout, 0); /* off: read_timeout bounds the wait for the head */
    ck_assert_uint_eq(cfg->servers[0].routes[0].read_timeout, 60000);
    ck_assert_uint_eq(cfg->servers[0].routes[0].header_timeout, 0);
    ck_assert_int_eq(u->servers[0].weight, 1);
    ck_assert_int_eq(u->servers[0].max_fails, 1);
    ck_assert_uint_eq(u->servers[0].fail_timeout, 10000);
    ck_assert_int_eq(u->servers[0].backup, 0);
    const px_server *s = &cfg->servers[0];
    ck_assert_int_eq(s->proxy_buffering, 1);
    ck_assert_uint_eq(s->proxy_buffers_num, 8);
    ck_assert_uint_eq(s->proxy_buffers_size, 4096);
    ck_assert_int_eq(s->proxy_redirect, 1);
    ck_assert_int_eq(s->ignore_client_abort, 0);
    ck_assert_int_eq(s->gzip.ntypes, 0);
    px_config_free(cfg);
}
END_TEST

/* ---------------------------------------------------------------- allow/deny and per-client limits */

static const char *rule_text(const px_acl_rule *r, char *buf, size_t cap)
{
    char a[64];
    if (r->net.family == 0)
        snprintf(a, sizeof(a), "all");
    else if (r->net.family == PX_CIDR_UNIX)
        snprintf(a, sizeof(a), "unix:");
    else {
        inet_ntop(r->net.family == PX_IP_V4 ? AF_INET : AF_INET6, r->net.addr, a, sizeof(a));
        snprintf(a + strlen(a), sizeof(a) - strlen(a), "/%d", r->net.bits);
    }
    snprintf(buf, cap, "%s %s", r->allow ? "allow" : "deny", a);
    return buf;
}

/* The rules of a list joined by ", ". */
static const char *acl_text(const px_acl *acl)
{
    static char out[1024];
    char one[96];
    out[0] = 0;
    for (int i = 0; i < acl->n; i++)
        snprintf(out + strlen(out), sizeof(out) - strlen(out), "%s%s", i ? ", " : "",
                 rule_text(&acl->rules[i], one, sizeof(one)));
    return out;
}

/* allow and deny keep the order written across keys, words and continuation lines. */
START_TEST(acl_rules_in_order)
{
    char err[2048] = "";
    px_config *cfg = load(MIN_SERVER "allow = 10.1.0.0/16 2001:db8::/32\n  192.0.2.7\ndeny = 10.0.0.0/8\n"
                                     "allow = ::ffff:198.51.100.0/120\ndeny = all\n",
                          err, sizeof(err));
    ck_assert_msg(cfg != NULL, "%s", err);
    ck_assert_str_eq(acl_text(&cfg->servers[0].acl), "allow 10.1.0.0/16, allow 2001:db8::/32, allow 192.0.2.7/32, "
                                                     "deny 10.0.0.0/8, allow 198.51.100.0/24, deny all");
    ck_assert_int_eq(cfg->status_on, 0);
    ck_assert_int_eq(cfg->status_acl.n, 0); /* no listener: no list */
    ck_assert_msg(strstr(err, "warning") == NULL, "%s", err);
    px_config_free(cfg);
}
END_TEST

/* proxy_protocol on a listen address, and the [global] list of the peers trusted to send the header. */
START_TEST(proxy_protocol_listen)
{
    char err[2048] = "";
    px_config *cfg = load("[global]\nproxy_protocol_from = 10.0.0.1 192.0.2.0/24\n  unix:\n"
                          "proxy_protocol_from = 2001:db8::/32\n"
                          "[upstream app]\nserver = 127.0.0.1:8081\n[server s]\n"
                          "listen = 127.0.0.1:8080 proxy_protocol default\nlisten = 127.0.0.1:8081\nproxy_pass = app\n",
                          err, sizeof(err));
    ck_assert_msg(cfg != NULL, "%s", err);
    ck_assert_int_eq(cfg->servers[0].listen[0].proxy_protocol, 1);
    ck_assert_int_eq(cfg->servers[0].listen[0].is_default, 1);
    ck_assert_int_eq(cfg->servers[0].listen[1].proxy_protocol, 0);
    ck_assert_str_eq(acl_text(&cfg->proxy_protocol_from),
                     "allow 10.0.0.1/32, allow 192.0.2.0/24, allow unix:, allow 2001:db8::/32");
    px_config_free(cfg);
}
END_TEST

/* The status listener answers loopback only unless [status] has allow/deny; then exactly those rules. */
START_TEST(status_acl_default_loopback)
{
    char err[2048] = "";
    px_config *cfg = load("[status]\nlisten = 127.0.0.1:9145\n" MIN_SERVER, err, sizeof(err));
    ck_assert_msg(cfg != NULL, "%s", err);
    ck_assert_str_eq(acl_text(&cfg->status_acl), "allow 127.0.0.0/8, allow ::1/128, allow unix:, deny all");
    ck_assert_int_eq(cfg->servers[0].acl.n, 0); /* a server without rules lets everyone in */
    px_config_free(cfg);
    cfg = load("[status]\nlisten = 127.0.0.1:9145\nallow = 10.0.0.0/8\ndeny = all\n" MIN_SERVER, err, sizeof(err));
    ck_assert_msg(cfg != NULL, "%s", err);
    ck_assert_str_eq(acl_text(&cfg->status_acl), "allow 10.0.0.0/8, deny all");
    px_config_free(cfg);
}
END_TEST

/* A list without deny lets everyone in (no match allows): a warning says so; host bits below the prefix too. */
START_TEST(acl_warnings)
{
    char err[2048] = "";
    px_config *cfg = load(MIN_SERVER "allow = 10.1.2.3/8\n", err, sizeof(err));
    ck_assert_msg(cfg != NULL, "%s", err);
    ck_assert_msg(strstr(err, ":6: warning: [server s] allow: low address bits of 10.1.2.3/8 are meaningless"), "%s",
                  err);
    ck_assert_msg(strstr(err, ":6: warning: [server s] allow: no deny rule: every address is allowed"), "%s", err);
    ck_assert_str_eq(acl_text(&cfg->servers[0].acl), "allow 10.0.0.0/8");
    px_config_free(cfg);
    err[0] = 0;
    cfg = load("[status]\nlisten = 127.0.0.1:9145\nallow = 10.0.0.0/8\n" MIN_SERVER, err, sizeof(err));
    ck_assert_msg(cfg != NULL, "%s", err);
    ck_assert_msg(strstr(err, ":3: warning: [status] allow: no deny rule"), "%s", err);
    px_config_free(cfg);
}
END_TEST

START_TEST(limit_values)
{
    char err[2048] = "";
    px_config *cfg =
        load("[global]\nlimit_table_size = 5000\n" MIN_SERVER "limit_conn = 8\nlimit_req = 600r/m burst=20 nodelay\n"
             "[server t]\nlisten = 127.0.0.1:8082\nproxy_pass = app\nlimit_req = 10r/s\n"
             "[server u]\nlisten = 127.0.0.1:8083\nproxy_pass = app\nlimit_req = 1r/m burst=0\n",
             err, sizeof(err));
    ck_assert_msg(cfg != NULL, "%s", err);
    ck_assert_uint_eq(cfg->limit_table_size, 5000);
    const px_server *s = &cfg->servers[0], *t = &cfg->servers[1], *u = &cfg->servers[2];
    ck_assert_uint_eq(s->limit_conn, 8);
    ck_assert_uint_eq(s->limit_req.per_ks, 10000); /* 600r/m is 10r/s, as in nginx */
    ck_assert_uint_eq(s->limit_req.burst, 20);
    ck_assert_int_eq(s->limit_req.nodelay, 1);
    ck_assert_uint_eq(t->limit_conn, 0);
    ck_assert_uint_eq(t->limit_req.per_ks, 10000);
    ck_assert_uint_eq(t->limit_req.burst, 0);
    ck_assert_int_eq(t->limit_req.nodelay, 0);
    ck_assert_uint_eq(u->limit_req.per_ks, 16); /* nginx: 1000 / 60, truncated */
    ck_assert(s->limit_zone != t->limit_zone && t->limit_zone != u->limit_zone && s->limit_zone != u->limit_zone);
    px_config_free(cfg);
    cfg = load(MIN_SERVER, err, sizeof(err));
    ck_assert_uint_eq(cfg->limit_table_size, 100000);
    ck_assert_uint_eq(cfg->servers[0].limit_conn, 0);
    ck_assert_uint_eq(cfg->servers[0].limit_req.per_ks, 0);
    px_config_free(cfg);
}
END_TEST

/* auth_guard: the defaults (5/15m, 20/15m, 429), each key, and a route that takes the server's switch or its own. */
START_TEST(auth_guard_values)
{
    char err[2048] = "";
    px_config *cfg = load("[global]\nauth_guard_table_size = 1000\n" MIN_SERVER
                          "auth_guard = on\nauth_guard_account = 3/30m\nauth_guard_client = 50/1h\n"
                          "auth_guard_trusted = 10.0.0.0/8 192.168.0.0/16\nauth_guard_trusted = fd00::/8\n"
                          "auth_guard_answer = 401\nroute = /pub app auth_guard=off\n"
                          "[server t]\nlisten = 127.0.0.1:8082\nproxy_pass = app\nroute = /ews app auth_guard=on\n",
                          err, sizeof(err));
    ck_assert_msg(cfg != NULL, "%s", err);
    ck_assert_uint_eq(cfg->auth_guard_table_size, 1000);
    const px_server *s = &cfg->servers[0], *t = &cfg->servers[1];
    ck_assert_int_eq(s->auth_guard.on, 1);
    ck_assert_uint_eq(s->auth_guard.account.max, 3);
    ck_assert_uint_eq(s->auth_guard.account.window_ms, 1800000);
    ck_assert_uint_eq(s->auth_guard.client.max, 50);
    ck_assert_uint_eq(s->auth_guard.client.window_ms, 3600000);
    ck_assert_int_eq(s->auth_guard.trusted.n, 3);
    ck_assert_int_eq(s->auth_guard.answer, 401);
    for (int i = 0; i < s->nroutes; i++) /* sorted longest first: /pub, then / */
        ck_assert_int_eq(s->routes[i].auth_guard, strcmp(s->routes[i].prefix, "/pub") != 0);
    ck_assert_int_eq(t->auth_guard.on, 0);
    ck_assert_uint_eq(t->auth_guard.account.max, 5);
    ck_assert_uint_eq(t->auth_guard.account.window_ms, 900000);
    ck_assert_uint_eq(t->auth_guard.client.max, 20);
    ck_assert_int_eq(t->auth_guard.answer, 429);
    for (int i = 0; i < t->nroutes; i++)
        ck_assert_int_eq(t->routes[i].auth_guard, strcmp(t->routes[i].prefix, "/ews") == 0);
    px_config_free(cfg);
    cfg = load(MIN_SERVER "route = /adm app allow=10.0.0.1 allow=10.0.0.0/8,192.0.2.0/24 deny=10.0.0.0/8 deny=all\n"
                          "route = /api app limit_req=600r/m,burst=5,nodelay\nroute = /b app limit_req=2r/s\n",
               err, sizeof(err));
    ck_assert_msg(cfg != NULL, "%s", err);
    s = &cfg->servers[0];
    for (int i = 0; i < s->nroutes; i++) {
        const px_route *r = &s->routes[i];
        if (strcmp(r->prefix, "/adm") == 0) {
            ck_assert_int_eq(r->acl.n, 5);
            ck_assert_int_eq(r->acl.rules[0].allow, 1);
            ck_assert_int_eq(r->acl.rules[3].allow, 0);
            ck_assert_int_eq(r->acl.rules[4].net.family, 0); /* all */
        } else if (strcmp(r->prefix, "/api") == 0) {
            ck_assert_uint_eq(r->limit_req.per_ks, 10000);
            ck_assert_uint_eq(r->limit_req.burst, 5);
            ck_assert_int_eq(r->limit_req.nodelay, 1);
        } else if (strcmp(r->prefix, "/b") == 0) {
            ck_assert_uint_eq(r->limit_req.per_ks, 2000);
            ck_assert_int_eq(r->limit_req.nodelay, 0);
        } else
            ck_assert_int_eq(r->acl.n + (int)r->limit_req.per_ks, 0);
        ck_assert_uint_ne(r->limit_zone, s->limit_zone);
        for (int k = 0; k < i; k++)
            ck_assert_uint_ne(r->limit_zone, s->routes[k].limit_zone);
    }
    px_config_free(cfg);
    cfg = load(MIN_SERVER, err, sizeof(err));
    ck_assert_uint_eq(cfg->auth_guard_table_size, 65536);
    ck_assert_int_eq(cfg->servers[0].routes[0].auth_guard, 0);
    px_config_free(cfg);
}
END_TEST

/* A server keeps its zone across reloads whatever else changes: the zone follows the name. */
START_TEST(limit_zones_follow_names)
{
    char err[2048] = "";
    px_config *a = load("[upstream app]\nserver = 127.0.0.1:8081\n"
                        "[server one]\nlisten = 127.0.0.1:8080\nproxy_pass = app\n"
                        "[server two]\nlisten = 127.0.0.1:8082\nproxy_pass = app\n",
                        err, sizeof(err));
    px_config *b = load("[upstream app]\nserver = 127.0.0.1:8081\n"
                        "[server two]\nlisten = 127.0.0.1:8082\nproxy_pass = app\nlimit_conn = 3\n"
                        "[server zero]\nlisten = 127.0.0.1:8083\nproxy_pass = app\n"
                        "[server one]\nlisten = 127.0.0.1:8080\nproxy_pass = app\n",
                        err, sizeof(err));
    ck_assert(a && b);
    ck_assert_uint_eq(a->servers[0].limit_zone, b->servers[2].limit_zone);
    ck_assert_uint_eq(a->servers[1].limit_zone, b->servers[0].limit_zone);
    ck_assert_uint_ne(b->servers[1].limit_zone, b->servers[0].limit_zone);
    px_config_free(a);
    px_config_free(b);
}
END_TEST

START_TEST(workers_range)
{
    char err[2048] = "";
    px_config *cfg = load("[global]\nworkers = 256\n" MIN_SERVER, err, sizeof(err));
    ck_assert_msg(cfg != NULL, "%s", err);
    ck_assert_int_eq(cfg->workers, PX_MAX_WORKERS);
    px_config_free(cfg);
}
END_TEST

/* The scheme of proxy_pass and route decides an upstream's TLS when `tls` is not given (issue 19.2: the seed's
 * proxy_pass https://lync_backend), and agrees with it when it is. */
START_TEST(scheme_decides_tls)
{
    char err[2048] = "";
    px_config *cfg = load("[upstream a]\nserver = 127.0.0.1:8081\n[upstream b]\nserver = 127.0.0.1:8082\n"
                          "[upstream c]\nserver = 127.0.0.1:8083\ntls = on\n[upstream d]\nserver = 127.0.0.1:8084\n"
                          "[server s]\nlisten = 127.0.0.1:8080\nproxy_pass = https://a\nroute = /b http://b\n"
                          "route = /c https://c\nroute = /c2 c\nroute = /d d\n"
                          "[server t]\nlisten = 127.0.0.1:8090\nproxy_pass = a\n",
                          err, sizeof(err));
    ck_assert_msg(cfg != NULL, "%s", err);
    ck_assert_int_eq(px_config_upstream(cfg, "a")->tls, 1);
    ck_assert_int_eq(px_config_upstream(cfg, "b")->tls, 0);
    ck_assert_int_eq(px_config_upstream(cfg, "c")->tls, 1);
    ck_assert_int_eq(px_config_upstream(cfg, "d")->tls, 0);
    ck_assert_str_eq(cfg->servers[0].routes[cfg->servers[0].nroutes - 1].upstream_name, "a");
    px_config_free(cfg);
}
END_TEST

/* A plain upstream on 443 or 4443 that nothing declared plain gets a warning saying what to write. */
START_TEST(tls_port_warned)
{
    char err[2048] = "";
    px_config *cfg = load("[upstream fe]\nserver = 127.0.0.1:4443\n[upstream plain]\nserver = 127.0.0.1:443\n"
                          "tls = off\n[upstream named]\nserver = 127.0.0.1:443\n"
                          "[server s]\nlisten = 127.0.0.1:8080\nproxy_pass = fe\nroute = /p plain\n"
                          "route = /n http://named\n",
                          err, sizeof(err));
    ck_assert_msg(cfg != NULL, "%s", err);
    ck_assert_msg(
        strstr(err, ":2: warning: [upstream fe] server: 127.0.0.1:4443 is an HTTPS port (IIS, the Lync "
                    "External Web Site) but the upstream is plain: write proxy_pass = https://fe or tls = on") != NULL,
        "%s", err);
    ck_assert_int_eq(cfg->warnings, 1); /* tls = off and http:// say plain on purpose */
    px_config_free(cfg);
}
END_TEST

/* proxy_redirect: rules in order, each FROM and TO a template; `default` among them; none listed: default. */
START_TEST(proxy_redirect_rules)
{
    char err[2048] = "";
    px_config *cfg = load(MIN_SERVER "proxy_redirect = https://$host:4443/ https://$host/\n"
                                     "proxy_redirect = default\nproxy_redirect = http://fe1:8080/app/ /\n"
                                     "[server t]\nlisten = 127.0.0.1:8082\nproxy_pass = app\n"
                                     "[server u]\nlisten = 127.0.0.1:8083\nproxy_pass = app\nproxy_redirect = off\n",
                          err, sizeof(err));
    ck_assert_msg(cfg != NULL, "%s", err);
    const px_server *s = &cfg->servers[0];
    ck_assert_int_eq(s->proxy_redirect, 1);
    ck_assert_int_eq(s->nredirects, 3);
    ck_assert_int_eq(s->redirects[0].is_default, 0);
    ck_assert_str_eq(s->redirects[0].from.text, "https://$host:4443/");
    ck_assert_int_eq(s->redirects[0].from.parts[0].var, PX_VAR_HOST);
    ck_assert_str_eq(s->redirects[0].to.text, "https://$host/");
    ck_assert_int_eq(s->redirects[1].is_default, 1);
    ck_assert_str_eq(s->redirects[2].to.text, "/");
    ck_assert_int_eq(cfg->servers[1].proxy_redirect, 1); /* nothing listed: default */
    ck_assert_int_eq(cfg->servers[1].nredirects, 0);
    ck_assert_int_eq(cfg->servers[2].proxy_redirect, 0);
    px_config_free(cfg);
}
END_TEST

/* Two servers on one address claiming one name: the first answers it, and the load says so (as nginx's
 * "conflicting server name"); the same name on different addresses (port 80 and 443) is normal and silent. */
static const struct {
    const char *text;
    const char *warning; /* NULL: no warning */
} conflicts[] = {
    {"[upstream app]\nserver = 127.0.0.1:8081\n"
     "[server a]\nlisten = 127.0.0.1:8080\nserver_name = meet.test dialin.test\nproxy_pass = app\n"
     "[server b]\nlisten = 127.0.0.1:8080\nserver_name = other.test\n  MEET.test\nproxy_pass = app\n",
     ":9: warning: [server b] server_name: conflicting server name \"meet.test\" on 127.0.0.1:8080: [server a] "
     "(line 5) has it too and answers it"},
    {"[upstream app]\nserver = 127.0.0.1:8081\n"
     "[server a]\nlisten = 127.0.0.1:8443\nlisten = 127.0.0.1:8080\nserver_name = *.test\nproxy_pass = app\n"
     "[server b]\nlisten = 127.0.0.1:8080\nserver_name = *.test\nproxy_pass = app\n",
     ":10: warning: [server b] server_name: conflicting server name \"*.test\" on 127.0.0.1:8080: [server a] "
     "(line 6)"},
    {"[upstream app]\nserver = 127.0.0.1:8081\n"
     "[server https]\nlisten = 127.0.0.1:8443\nserver_name = meet.test\nproxy_pass = app\n"
     "[server http]\nlisten = 127.0.0.1:8080\nserver_name = meet.test\nreturn = 301 https://$host$request_uri\n",
     NULL},
};

START_TEST(server_name_conflict_warned)
{
    char err[4096] = "";
    px_config *cfg = load(conflicts[_i].text, err, sizeof(err));
    ck_assert_msg(cfg != NULL, "%s", err);
    if (conflicts[_i].warning) {
        ck_assert_msg(strstr(err, conflicts[_i].warning) != NULL, "expected \"%s\" in \"%s\"", conflicts[_i].warning,
                      err);
        ck_assert_int_eq(cfg->warnings, 1);
    } else {
        ck_assert_msg(err[0] == 0, "unexpected: %s", err);
        ck_assert_int_eq(cfg->warnings, 0);
    }
    px_config_free(cfg);
}
END_TEST

/* ---------------------------------------------------------------- the runtime's limits per listen address */

static char big[1 << 18];
static size_t big_len;

static void __attribute__((format(printf, 1, 2))) addf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(big + big_len, sizeof(big) - big_len, fmt, ap);
    va_end(ap);
    ck_assert(n >= 0 && (size_t)n < sizeof(big) - big_len);
    big_len += (size_t)n;
}

/* A readable file standing for every certificate and key: the loader checks only that it can read them. */
static char pem[64];

static void make_pem(void)
{
    strcpy(pem, "/tmp/pxpem-XXXXXX");
    int fd = mkstemp(pem);
    ck_assert_int_ge(fd, 0);
    close(fd);
}

/* nservers servers on one address. Loop: exactly the limit loads; one more is an error. */
START_TEST(bind_servers_limit)
{
    int n = PX_MAX_BIND_SERVERS + _i;
    big_len = 0;
    addf("[upstream app]\nserver = 127.0.0.1:8081\n");
    for (int i = 0; i < n; i++)
        addf("[server s%d]\nlisten = 127.0.0.1:8080\nserver_name = s%d.example.com\nproxy_pass = app\n", i, i);
    char err[4096] = "";
    px_config *cfg = load(big, err, sizeof(err));
    if (_i == 0) {
        ck_assert_msg(cfg != NULL, "%s", err);
        ck_assert_int_eq(cfg->nservers, PX_MAX_BIND_SERVERS);
        px_config_free(cfg);
        return;
    }
    ck_assert_msg(cfg == NULL, "%d servers on one address accepted", n);
    ck_assert_msg(strstr(err, "[server s64] listen: 127.0.0.1:8080: too many servers listen on this address "
                              "(at most 64)") != NULL,
                  "%s", err);
}
END_TEST

/* Certificates of all the servers on one tls address, 8 (PX_MAX_CERTS) per server. */
START_TEST(bind_certs_limit)
{
    int total = PX_MAX_BIND_CERTS + _i, servers = 0;
    make_pem();
    big_len = 0;
    addf("[upstream app]\nserver = 127.0.0.1:8081\n");
    for (int done = 0; done < total; servers++) {
        addf("[server s%d]\nlisten = 127.0.0.1:8443 tls\nserver_name = s%d.example.com\nproxy_pass = app\n", servers,
             servers);
        for (int k = 0; k < PX_MAX_CERTS && done < total; k++, done++)
            addf("tls_cert = %s\ntls_key = %s\n", pem, pem);
    }
    char err[4096] = "";
    px_config *cfg = load(big, err, sizeof(err));
    unlink(pem);
    if (_i == 0) {
        ck_assert_msg(cfg != NULL, "%s", err);
        px_config_free(cfg);
        return;
    }
    ck_assert_msg(cfg == NULL, "%d certificates on one address accepted", total);
    char expect[160];
    snprintf(expect, sizeof(expect),
             "[server s%d] listen: 127.0.0.1:8443: too many certificates among the servers "
             "on this address (at most 64)",
             servers - 1);
    ck_assert_msg(strstr(err, expect) != NULL, "expected \"%s\" in \"%s\"", expect, err);
}
END_TEST

/* Distinct listen addresses, with and without a [status] listener: {addresses, status, accepted}. */
static const struct {
    int addrs, status, ok;
} binds_cases[] = {
    {PX_MAX_BINDS, 0, 1},
    {PX_MAX_BINDS + 1, 0, 0},
    {PX_MAX_BINDS - 1, 1, 1},
    {PX_MAX_BINDS, 1, 0},
};

START_TEST(binds_limit)
{
    int n = binds_cases[_i].addrs, status = binds_cases[_i].status;
    big_len = 0;
    if (status)
        addf("[status]\nlisten = 127.0.0.1:9145\n");
    /* a second server on the first address: a shared address is one bind */
    addf("[upstream app]\nserver = 127.0.0.1:8081\n[server again]\nproxy_pass = app\nlisten = 127.0.0.1:20000\n");
    for (int i = 0; i < n; i++) {
        if (i % 8 == 0)
            addf("[server s%d]\nproxy_pass = app\n", i / 8);
        addf("listen = 127.0.0.1:%d\n", 20000 + i);
    }
    char err[4096] = "";
    px_config *cfg = load(big, err, sizeof(err));
    if (binds_cases[_i].ok) {
        ck_assert_msg(cfg != NULL, "%s", err);
        px_config_free(cfg);
        return;
    }
    ck_assert_msg(cfg == NULL, "%d addresses (status %d) accepted", n, status);
    char expect[160];
    snprintf(expect, sizeof(expect),
             "listen: 127.0.0.1:%d: too many distinct listen addresses, the [status] one "
             "included (at most 32)",
             20000 + PX_MAX_BINDS - status);
    ck_assert_msg(strstr(err, expect) != NULL, "expected \"%s\" in \"%s\"", expect, err);
}
END_TEST

/* log_format compiles into literal + variable parts once; continuation lines join with one space; access_log
 * names it (defined before or after); the built-in names keep the built-in lines. */
START_TEST(log_format_compiled)
{
    char err[2048] = "";
    px_config *cfg = load("[global]\naccess_log = /tmp/a.log main\n"
                          "log_format = main $remote_addr \"${request}\" $status host=$host\n"
                          "  rid=$request_id srv=$server\n"
                          "log_format = j escape=json {\"t\":\"$time_iso8601\",\"s\":$status}\n" MIN_SERVER,
                          err, sizeof(err));
    ck_assert_msg(cfg != NULL, "%s", err);
    ck_assert_int_eq(cfg->nlog_formats, 2);
    const px_logfmt *f = &cfg->log_formats[0];
    ck_assert_ptr_eq(cfg->access_logfmt, f);
    ck_assert_str_eq(f->name, "main");
    ck_assert_str_eq(f->text, "$remote_addr \"${request}\" $status host=$host rid=$request_id srv=$server");
    ck_assert_int_eq(f->escape, PX_ESCAPE_DEFAULT);
    static const px_var want[] = {PX_VAR_REMOTE_ADDR, PX_VAR_REQUEST,    PX_VAR_STATUS,
                                  PX_VAR_HOST,        PX_VAR_REQUEST_ID, PX_VAR_SERVER};
    static const char *const lits[] = {"", " \"", "\" ", " host=", " rid=", " srv="};
    ck_assert_int_eq(f->nparts, 6);
    for (int i = 0; i < 6; i++) {
        ck_assert_int_eq(f->parts[i].var, want[i]);
        ck_assert_int_eq(f->parts[i].len, strlen(lits[i]));
        ck_assert(strncmp(f->parts[i].lit, lits[i], f->parts[i].len) == 0);
    }
    const px_logfmt *j = &cfg->log_formats[1];
    ck_assert_int_eq(j->escape, PX_ESCAPE_JSON);
    ck_assert_int_eq(j->nparts, 3); /* the closing brace is a last literal part */
    ck_assert_int_eq(j->parts[2].var, PX_VAR_NONE);
    ck_assert_int_eq(j->parts[2].len, 1);
    px_config_free(cfg);

    cfg = load("[global]\naccess_log = /tmp/a.log json\n" MIN_SERVER, err, sizeof(err));
    ck_assert_msg(cfg != NULL, "%s", err);
    ck_assert_ptr_null(cfg->access_logfmt);
    ck_assert_int_eq(cfg->access_log_json, 1);
    ck_assert_str_eq(cfg->access_log, "/tmp/a.log");
    px_config_free(cfg);
}
END_TEST

/* access_log per [server]: its own file and format, off, or [global]'s file and format. */
START_TEST(server_access_logs)
{
    char err[2048] = "";
    px_config *cfg = load("[global]\naccess_log = /tmp/g.log json\nlog_format = short $server $status\n" MIN_SERVER
                          "access_log = /tmp/s.log short\n"
                          "[server t]\nlisten = 127.0.0.1:8082\nproxy_pass = app\naccess_log = off\n"
                          "[server u]\nlisten = 127.0.0.1:8083\nproxy_pass = app\naccess_log = /tmp/u.log\n"
                          "[server v]\nlisten = 127.0.0.1:8084\nproxy_pass = app\n",
                          err, sizeof(err));
    ck_assert_msg(cfg != NULL, "%s", err);
    const px_server *s = cfg->servers;
    ck_assert_str_eq(s[0].access_log, "/tmp/s.log");
    ck_assert_ptr_eq(s[0].access_logfmt, &cfg->log_formats[0]);
    ck_assert_int_eq(s[1].access_log_off, 1);
    ck_assert_ptr_null(s[1].access_log);
    ck_assert_str_eq(s[2].access_log, "/tmp/u.log");
    ck_assert_ptr_null(s[2].access_logfmt);
    ck_assert_int_eq(s[2].access_log_json, 1); /* [global]'s format */
    ck_assert_ptr_null(s[3].access_log);
    ck_assert_int_eq(s[3].access_log_off, 0);
    ck_assert_int_eq(s[3].access_log_json, 1);
    px_config_free(cfg);
}
END_TEST

/* request_id: on by default, [global] inherited, a [server] may turn it off. */
START_TEST(request_id_switch)
{
    char err[2048] = "";
    px_config *cfg =
        load(MIN_SERVER "[server t]\nlisten = 127.0.0.1:8082\nproxy_pass = app\nrequest_id = off\n", err, sizeof(err));
    ck_assert_msg(cfg != NULL, "%s", err);
    ck_assert_int_eq(cfg->servers[0].request_id, 1);
    ck_assert_int_eq(cfg->servers[1].request_id, 0);
    px_config_free(cfg);
    cfg = load("[global]\nrequest_id = off\n" MIN_SERVER, err, sizeof(err));
    ck_assert_msg(cfg != NULL, "%s", err);
    ck_assert_int_eq(cfg->servers[0].request_id, 0);
    px_config_free(cfg);
}
END_TEST

/* Issue 19 item 7: a message about a [global] key written after a [server] names the [global] line and the full
 * key; an upstream's file and switch keys are named at their own lines; warnings carry their section as errors
 * do. Each case: the configuration and a line the messages must hold. */
static const struct {
    const char *text;
    const char *want;
} global_lines[] = {
    {MIN_SERVER "[global]\nworkers = 1\nclient_header_buffer_size = 2m\n",
     ":8: [global] client_header_buffer_size: expected a size from 1k to 1m (got \"2m\")"},
    {MIN_SERVER "[global]\nclient_header_buffer_size = 512\n", ":7: [global] client_header_buffer_size:"},
    {MIN_SERVER "client_header_buffer_size = 2m\n", ":6: [server s] client_header_buffer_size: expected a size"},
    {MIN_SERVER "[global]\nworkers = 1\ntls_stapling = on\n", ":8: warning: [global] tls_stapling: OCSP stapling"},
    {MIN_SERVER "[global]\nproxy_protocol_from = 10.1.2.3/8\n",
     ":7: warning: [global] proxy_protocol_from: low address bits of 10.1.2.3/8"},
    {"[upstream app]\nserver = 127.0.0.1:8081\nkeepalive = 4\nread_timeout = 500ms\n"
     "[server s]\nlisten = 127.0.0.1:8080\nproxy_pass = app\n",
     ":4: warning: [upstream app] read_timeout: below 1s"},
    {"[upstream app]\nserver = 127.0.0.1:8081\ntls = on\nkeepalive = 4\ntls_verify = off\n"
     "[server s]\nlisten = 127.0.0.1:8080\nproxy_pass = app\n",
     ":5: warning: [upstream app] tls_verify: upstream certificate verification is off"},
    {"[upstream app]\nserver = 127.0.0.1:8081\ntls = on\nkeepalive = 4\ntls_ca = /nonexistent/ca.pem\n"
     "[server s]\nlisten = 127.0.0.1:8080\nproxy_pass = app\n",
     ":5: [upstream app] tls_ca: cannot read /nonexistent/ca.pem: No such file or directory"},
    {"[upstream app]\nserver = 127.0.0.1:8081\ntls = on\ntls_cert = /nonexistent/c.pem\n\ntls_key = "
     "/nonexistent/k.pem\n"
     "[server s]\nlisten = 127.0.0.1:8080\nproxy_pass = app\n",
     ":6: [upstream app] tls_key: cannot read /nonexistent/k.pem"},
};

START_TEST(messages_name_their_line)
{
    char err[4096] = "";
    px_config *cfg = load(global_lines[_i].text, err, sizeof(err));
    ck_assert_msg(strstr(err, global_lines[_i].want) != NULL, "expected \"%s\" in:\n%s", global_lines[_i].want, err);
    px_config_free(cfg);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("proxyd_config");
    TCase *tc = tcase_create("config");
    tcase_add_test(tc, durations_and_sizes);
    tcase_add_test(tc, defaults_and_inheritance);
    tcase_add_test(tc, upstream_servers_and_routes);
    tcase_add_test(tc, route_options);
    tcase_add_test(tc, route_long_poll_warning);
    tcase_add_loop_test(tc, bad_config, 0, (int)(sizeof(bad) / sizeof(bad[0])));
    tcase_add_test(tc, every_error_reported);
    tcase_add_test(tc, continuation_lines_for_lists);
    tcase_add_test(tc, missing_file);
    tcase_add_loop_test(tc, inherited_defaults, 0, (int)(sizeof(inherited) / sizeof(inherited[0])));
    tcase_add_loop_test(tc, inherited_and_overridden, 0, (int)(sizeof(inherited) / sizeof(inherited[0])));
    tcase_add_test(tc, gzip_types_inherited_or_replaced);
    tcase_add_test(tc, other_defaults);
    tcase_add_test(tc, workers_range);
    tcase_add_test(tc, acl_rules_in_order);
    tcase_add_test(tc, status_acl_default_loopback);
    tcase_add_test(tc, proxy_protocol_listen);
    tcase_add_test(tc, acl_warnings);
    tcase_add_test(tc, limit_values);
    tcase_add_test(tc, limit_zones_follow_names);
    tcase_add_test(tc, proxy_redirect_rules);
    tcase_add_test(tc, scheme_decides_tls);
    tcase_add_test(tc, log_format_compiled);
    tcase_add_test(tc, request_id_switch);
    tcase_add_test(tc, server_access_logs);
    tcase_add_test(tc, tls_port_warned);
    tcase_add_test(tc, health_check_keys);
    tcase_add_test(tc, auth_guard_values);
    tcase_add_test(tc, upstream_proxy_protocol_key);
    tcase_add_loop_test(tc, server_name_conflict_warned, 0, (int)(sizeof(conflicts) / sizeof(conflicts[0])));
    tcase_add_loop_test(tc, bind_servers_limit, 0, 2);
    tcase_add_loop_test(tc, bind_certs_limit, 0, 2);
    tcase_add_loop_test(tc, binds_limit, 0, (int)(sizeof(binds_cases) / sizeof(binds_cases[0])));
    tcase_add_loop_test(tc, messages_name_their_line, 0, (int)(sizeof(global_lines) / sizeof(global_lines[0])));
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
