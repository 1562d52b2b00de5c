/* tests/proxyd: the handlers' pure functions, table-driven: server selection by Host, route choice, the static
 * path decoder (the traversal guard), Accept-Encoding parsing, and proxy_redirect's match of the upstream name. */
#include <check.h>
#include <string.h>

#include "handler/handlers.h"
#include "http/vars.h"

static http_slice S(const char *s)
{
    return http_slice_of(s, strlen(s));
}

/* ---------------------------------------------------------------- server by Host */

static px_server srv_exact, srv_wild, srv_default;
static px_bind hbind;

static void bind_setup(void)
{
    memset(&hbind, 0, sizeof(hbind));
    memset(&srv_exact, 0, sizeof(srv_exact));
    memset(&srv_wild, 0, sizeof(srv_wild));
    memset(&srv_default, 0, sizeof(srv_default));
    srv_exact.names[srv_exact.nnames++] = (char *)"meet.contoso.com";
    srv_exact.names[srv_exact.nnames++] = (char *)"dialin.contoso.com";
    srv_wild.names[srv_wild.nnames++] = (char *)"*.contoso.com";
    srv_default.names[srv_default.nnames++] = (char *)"default.example";
    hbind.servers[hbind.nservers++] = &srv_wild; /* listed first: an exact name must still win */
    hbind.servers[hbind.nservers++] = &srv_exact;
    hbind.servers[hbind.nservers++] = &srv_default;
    hbind.default_server = &srv_default;
}

static const struct {
    const char *host;
    px_server *want;
} hosts[] = {
    {"meet.contoso.com", &srv_exact},
    {"MEET.Contoso.COM", &srv_exact},     /* case-insensitive */
    {"meet.contoso.com:443", &srv_exact}, /* the port is ignored */
    {"meet.contoso.com.", &srv_exact},    /* a trailing dot too */
    {"dialin.contoso.com", &srv_exact},
    {"lyncdiscover.contoso.com", &srv_wild},
    {"a.b.contoso.com", &srv_default}, /* "*.suffix" matches one label only */
    {"contoso.com", &srv_default},
    {"evilcontoso.com", &srv_default},
    {"", &srv_default},
    {"[::1]:8443", &srv_default},
    {"default.example", &srv_default},
    {"meet.contoso.com.evil", &srv_default},
};

START_TEST(select_server)
{
    bind_setup();
    px_server *got = px_select_server(&hbind, S(hosts[_i].host));
    ck_assert_msg(got == hosts[_i].want, "Host \"%s\": wrong server", hosts[_i].host);
}
END_TEST

START_TEST(find_route_longest_prefix)
{
    px_server s;
    memset(&s, 0, sizeof(s));
    /* sorted longest first, as the loader leaves them */
    s.routes[0] = (px_route){.prefix = (char *)"/ucwa/v1/applications", .len = 21};
    s.routes[1] = (px_route){.prefix = (char *)"/ucwa", .len = 5};
    s.routes[2] = (px_route){.prefix = (char *)"/", .len = 1};
    s.nroutes = 3;
    ck_assert_ptr_eq(px_find_route(&s, S("/ucwa/v1/applications/123/events")), &s.routes[0]);
    ck_assert_ptr_eq(px_find_route(&s, S("/ucwa/oauth")), &s.routes[1]);
    ck_assert_ptr_eq(px_find_route(&s, S("/autodiscover")), &s.routes[2]);
    s.nroutes = 2;
    ck_assert_ptr_null(px_find_route(&s, S("/autodiscover")));
    ck_assert_ptr_null(px_find_route(&s, S("/UCWA"))); /* paths are case-sensitive */
}
END_TEST

/* ---------------------------------------------------------------- static paths */

static const struct {
    const char *in;
    const char *out; /* NULL: refused */
} paths[] = {
    {"/index.html", "/index.html"},
    {"/a%20b.txt", "/a b.txt"},
    {"/dir/", "/dir/"},
    {"/x.js?v=1", "/x.js"},
    {"/../etc/passwd", NULL},
    {"/a/../../etc/passwd", NULL},
    {"/a/..", NULL},
    {"/%2e%2e/etc/passwd", NULL}, /* decoded before the check */
    {"/a/%2E%2E/b", NULL},
    {"/a%00.html", NULL}, /* NUL would cut the path */
    {"/a%2", NULL},       /* truncated escape */
    {"/a%zz", NULL},
    {"relative", NULL},
    {"", NULL},
    {"/..hidden", "/..hidden"}, /* not a ".." segment */
    {"/a..b/", "/a..b/"},
};

START_TEST(static_decode_path)
{
    char out[64];
    long n = px_static_decode_path(S(paths[_i].in), out, sizeof(out));
    if (!paths[_i].out) {
        ck_assert_msg(n < 0, "\"%s\" must be refused, got \"%s\"", paths[_i].in, out);
        return;
    }
    ck_assert_msg(n >= 0, "\"%s\" refused", paths[_i].in);
    ck_assert_str_eq(out, paths[_i].out);
    ck_assert_int_eq(n, (long)strlen(paths[_i].out));
}
END_TEST

START_TEST(static_decode_path_bounded)
{
    char out[8];
    ck_assert_int_lt(px_static_decode_path(S("/abcdefgh"), out, sizeof(out)), 0); /* never cut */
    ck_assert_int_eq(px_static_decode_path(S("/abcdef"), out, sizeof(out)), 7);
}
END_TEST

/* ---------------------------------------------------------------- Accept-Encoding */

static const struct {
    const char *value; /* NULL: no field */
    int want;
} encodings[] = {
    {"gzip", 1},
    {"GZIP", 1},
    {"gzip, deflate, br", 1},
    {"deflate, gzip;q=0.5", 1},
    {"gzip;q=0", 0},
    {"gzip; q=0.000", 0},
    {"*", 1},
    {"*;q=0", 0},
    {"*, gzip;q=0", 0}, /* gzip named wins over "*" */
    {"gzip;q=0, *", 0},
    {"deflate", 0},
    {"br, identity", 0},
    {"", 0},
    {"xgzip", 0},
    {NULL, 0},
};

START_TEST(gzip_accepted)
{
    http_field f[2] = {{S("Accept-Language"), S("en")}};
    size_t n = 1;
    if (encodings[_i].value)
        f[n++] = (http_field){S("accept-encoding"), S(encodings[_i].value)};
    ck_assert_msg(px_gzip_accepted(f, n) == encodings[_i].want, "Accept-Encoding: %s",
                  encodings[_i].value ? encodings[_i].value : "(none)");
}
END_TEST

START_TEST(gzip_accepted_across_fields)
{
    http_field f[2] = {{S("Accept-Encoding"), S("deflate")}, {S("Accept-Encoding"), S("gzip")}};
    ck_assert_int_eq(px_gzip_accepted(f, 2), 1);
}
END_TEST

/* ---------------------------------------------------------------- proxy_redirect default */

static const struct {
    const char *location;
    int tls;
    size_t want; /* the prefix replaced by the client's scheme and host; 0: left alone */
} redirects[] = {
    {"http://10.0.0.5:8080/owa/", 0, 20},
    {"http://10.0.0.5:8080", 0, 20},
    {"http://10.0.0.5:8080?x", 0, 20},
    {"http://10.0.0.5:8080#f", 0, 20},
    {"http://10.0.0.5/owa", 0, 15},        /* the host part alone */
    {"http://FE01.contoso.local/x", 0, 0}, /* neither name */
    {"https://10.0.0.5:8080/owa/", 0, 0},  /* other scheme than the upstream's */
    {"http://10.0.0.5:80801/x", 0, 0},     /* a longer port is another server */
    {"http://10.0.0.5:808/x", 0, 0},
    {"http://10.0.0.55/x", 0, 0},
    {"/relative/path", 0, 0},
    {"https://lyncfe.contoso.local/x", 1, 28}, /* tls_server_name */
    {"HTTPS://LYNCFE.contoso.local/x", 1, 28},
    {"https://lyncfe.contoso.local:8080/x", 1, 33}, /* tls_server_name with the upstream's port */
    {"https://lyncfe.contoso.local:8080", 1, 33},
    {"https://lyncfe.contoso.local:443/x", 1, 0}, /* another port: another server */
    {"https://lyncfe.contoso.local:/x", 1, 0},
    /* The client's host with the upstream's port (IIS on the External Web Site, 4443 here 8080). */
    {"https://meet.contoso.com:8080/meet/abc", 1, 29},
    {"https://MEET.contoso.com:8080?x", 1, 29},
    {"https://meet.contoso.com:8080", 1, 29},
    {"https://meet.contoso.com/meet/abc", 1, 0},    /* already the public URL */
    {"https://meet.contoso.com:443/meet", 1, 0},    /* the public port */
    {"https://meet.contoso.com:80800/x", 1, 0},     /* a longer port */
    {"https://meet.contoso.com.evil:8080/x", 1, 0}, /* a longer name */
    {"https://dialin.contoso.com:8080/x", 1, 0},    /* another name than the client's */
    {"http://meet.contoso.com:8080/x", 1, 0},       /* other scheme than the upstream's */
};

START_TEST(redirect_prefix)
{
    px_redirect_self self = {redirects[_i].tls,
                             {"10.0.0.5:8080", "10.0.0.5", redirects[_i].tls ? "lyncfe.contoso.local" : NULL},
                             S("meet.contoso.com"),
                             S("8080")};
    size_t got = px_redirect_prefix(S(redirects[_i].location), &self);
    ck_assert_msg(got == redirects[_i].want, "%s: prefix %zu, want %zu", redirects[_i].location, got,
                  redirects[_i].want);
}
END_TEST

/* ---------------------------------------------------------------- proxy_redirect FROM TO */

static const struct {
    const char *location, *from;
    size_t want;
} rewrites[] = {
    {"https://meet.contoso.com:4443/x", "https://meet.contoso.com:4443/", 30},
    {"HTTPS://Meet.Contoso.com:4443/x", "https://meet.contoso.com:4443/", 30}, /* scheme and host: any case */
    {"https://meet.contoso.com:4443/Abc/x", "https://meet.contoso.com:4443/Abc/", 34},
    {"https://meet.contoso.com:4443/abc/x", "https://meet.contoso.com:4443/Abc/", 0}, /* the path: exact */
    {"https://meet.contoso.com:4443", "https://meet.contoso.com:4443/", 0},           /* shorter than FROM */
    {"https://meet.contoso.com:44430/x", "https://meet.contoso.com:4443/", 0},
    {"/app/x", "/app/", 5}, /* a relative FROM: exact */
    {"/APP/x", "/app/", 0},
    {"http://a/x", "", 0},
    {"http://a?b", "http://A?b", 10}, /* the authority ends at '?' */
    {"http://a?B", "http://A?b", 0},
};

START_TEST(redirect_match)
{
    size_t got = px_redirect_match(S(rewrites[_i].location), S(rewrites[_i].from));
    ck_assert_msg(got == rewrites[_i].want, "%s with %s: %zu, want %zu", rewrites[_i].location, rewrites[_i].from, got,
                  rewrites[_i].want);
}
END_TEST

/* X-Request-ID kept from a client: 1..128 token characters; anything that could split a field or forge a log
 * line is replaced. */
static const struct {
    const char *id;
    int ok;
} request_ids[] = {
    {"abc-123", 1},
    {"0123456789abcdef0123456789abcdef", 1},
    {"f81d4fae-7dec-11d0-a765-00a0c91e6bf6", 1},
    {"a.b_c~d!e#f$g%h&i'j*k+l^m`n|o", 1},
    {"", 0},
    {"bad id", 0},
    {"q\"uote", 0},
    {"back\\slash", 0},
    {"semi;colon", 0},
    {"new\nline", 0},
    {"tab\tx", 0},
    {"caf\xc3\xa9", 0},
    {"del\x7f", 0},
    {"a,b", 0},
    {"(x)", 0},
};

START_TEST(request_id_valid)
{
    const char *id = request_ids[_i].id;
    ck_assert_msg(px_request_id_valid(id, strlen(id)) == request_ids[_i].ok, "%s", id);
}
END_TEST

START_TEST(request_id_length_and_made)
{
    char long_id[200];
    memset(long_id, 'a', sizeof(long_id));
    ck_assert_int_eq(px_request_id_valid(long_id, 128), 1);
    ck_assert_int_eq(px_request_id_valid(long_id, 129), 0);
    char a[33], b[33];
    px_request_id_make(a);
    px_request_id_make(b);
    ck_assert_int_eq(strlen(a), 32);
    ck_assert_int_eq(strspn(a, "0123456789abcdef"), 32);
    ck_assert_int_eq(px_request_id_valid(a, 32), 1);
    ck_assert_str_ne(a, b);
}
END_TEST

#define N(a) ((int)(sizeof(a) / sizeof((a)[0])))

int main(void)
{
    Suite *s = suite_create("proxyd_handler");
    TCase *tc = tcase_create("pure");
    tcase_add_loop_test(tc, select_server, 0, N(hosts));
    tcase_add_test(tc, find_route_longest_prefix);
    tcase_add_loop_test(tc, static_decode_path, 0, N(paths));
    tcase_add_test(tc, static_decode_path_bounded);
    tcase_add_loop_test(tc, gzip_accepted, 0, N(encodings));
    tcase_add_test(tc, gzip_accepted_across_fields);
    tcase_add_loop_test(tc, redirect_prefix, 0, N(redirects));
    tcase_add_loop_test(tc, redirect_match, 0, N(rewrites));
    tcase_add_loop_test(tc, request_id_valid, 0, N(request_ids));
    tcase_add_test(tc, request_id_length_and_made);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
