/* End-to-end: gzip as the seed's nginx.conf sets it (by type, size, Accept-Encoding, HEAD, already-encoded
 * bodies, Vary), the decompressed body equal to the original; add_header and server_tokens. */
#include "px_harness.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static px_env env;

#define GZIP_TPL                                                                                                       \
    PX_GLOBAL "[upstream fe]\nserver = 127.0.0.1:@O0@\nkeepalive = 4\n"                                                \
              "[server s]\nlisten = 127.0.0.1:@PORT@\nproxy_pass = fe\ngzip = on\ngzip_level = 1\n"                    \
              "gzip_min_length = 1000\ngzip_types = text/plain text/html application/json\ngzip_vary = on\n"           \
              "gzip_proxied = any\n"                                                                                   \
              "[server small]\nlisten = 127.0.0.1:@PORT2@\nproxy_pass = fe\ngzip = on\ngzip_min_length = 1\n"          \
              "gzip_types = text/html\n"

static void get(int port, const char *path, const char *ae, const char *method, ts_response *r)
{
    char req[512];
    snprintf(req, sizeof req, "%s %s HTTP/1.1\r\nHost: webext.test\r\n%s%s%s\r\n", method, path,
             ae ? "Accept-Encoding: " : "", ae ? ae : "", ae ? "\r\n" : "");
    px_req(port, req, r);
    ck_assert_int_eq(r->status, 200);
}

static int gzipped(const ts_response *r)
{
    const char *ce = ts_header(r, "Content-Encoding");
    return ce && strcmp(ce, "gzip") == 0;
}

/* gunzips body through `gzip -dc` and compares with want. */
static void assert_gunzips_to(const ts_response *r, const char *want, size_t want_len)
{
    char path[160], cmd[256];
    size_t cap = want_len + 64;
    char *out = malloc(cap);
    ck_assert_ptr_nonnull(out);
    ck_assert_uint_gt(r->body_len, 0);
    ck_assert_uint_lt(r->body_len, want_len); /* compressible test bodies shrink */
    snprintf(path, sizeof path, "%s/body.gz", env.dir);
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(r->body, 1, r->body_len, f), r->body_len);
    fclose(f);
    snprintf(cmd, sizeof cmd, "gzip -dc %s", path);
    ck_assert_int_eq(px_run(cmd, out, cap), 0);
    ck_assert_uint_eq(strlen(out), want_len);
    ck_assert(memcmp(out, want, want_len) == 0);
    free(out);
}

START_TEST(gzip_by_type_and_encoding)
{
    ts_response plain, z;
    px_env_init(&env, 1);
    px_proxy_start(&env, GZIP_TPL);
    get(env.port, "/type/text_html/20000", NULL, "GET", &plain);
    ck_assert(!gzipped(&plain));
    ck_assert_uint_eq(plain.body_len, 20000);
    const char *pvary = ts_header(&plain, "Vary"); /* the uncompressed variant says it varies too (nginx does) */
    ck_assert_msg(pvary && strcasestr(pvary, "Accept-Encoding"), "%s", plain.head);
    get(env.port, "/type/text_html/20000", "gzip, deflate", "GET", &z);
    ck_assert_msg(gzipped(&z), "%s", z.head);
    const char *vary = ts_header(&z, "Vary");
    ck_assert_msg(vary && strcasestr(vary, "Accept-Encoding"), "%s", z.head);
    const char *cl = ts_header(&z, "Content-Length"); /* the original length must not survive compression */
    if (cl)
        ck_assert_uint_eq(strtoull(cl, NULL, 10), z.body_len);
    assert_gunzips_to(&z, plain.body, plain.body_len);
    ts_response_free(&z);
    get(env.port, "/type/text_html/20000", "gzip;q=0", "GET", &z); /* refused explicitly */
    ck_assert_msg(!gzipped(&z), "%s", z.head);
    ck_assert_uint_eq(z.body_len, 20000);
    ts_response_free(&z);
    get(env.port, "/type/text_html/20000", "gzip;q=0, *", "GET", &z); /* "*" does not undo an explicit refusal */
    ck_assert_msg(!gzipped(&z), "%s", z.head);
    ts_response_free(&z);
    get(env.port, "/type/text_html/20000", "br, *;q=0.5", "GET", &z); /* gzip unnamed: "*" decides */
    ck_assert_msg(gzipped(&z), "%s", z.head);
    ts_response_free(&z);
    get(env.port, "/type/text_html/20000", "identity", "GET", &z);
    ck_assert(!gzipped(&z));
    ts_response_free(&z);
    get(env.port, "/type/image_png/20000", "gzip", "GET", &z); /* not in gzip_types */
    ck_assert_msg(!gzipped(&z), "%s", z.head);
    ck_assert_msg(ts_header(&z, "Vary") == NULL, "%s", z.head);
    ck_assert_uint_eq(z.body_len, 20000);
    ts_response_free(&z);
    get(env.port, "/type/text_html/500", "gzip", "GET", &z); /* under gzip_min_length */
    ck_assert_msg(!gzipped(&z), "%s", z.head);
    ck_assert_uint_eq(z.body_len, 500);
    ts_response_free(&z);
    /* HEAD says what GET would: compressed (no Content-Length, the compressed one is not known), and Vary. */
    get(env.port, "/type/text_html/20000", "gzip", "HEAD", &z);
    ck_assert_msg(gzipped(&z), "HEAD: %s", z.head);
    ck_assert_msg(ts_header(&z, "Content-Length") == NULL, "HEAD: %s", z.head);
    vary = ts_header(&z, "Vary");
    ck_assert_msg(vary && strcasestr(vary, "Accept-Encoding"), "HEAD: %s", z.head);
    ck_assert_uint_eq(z.body_len, 0);
    ts_response_free(&z);
    get(env.port, "/type/text_html/20000", NULL, "HEAD", &z); /* GET would be sent whole: so is its length */
    ck_assert_msg(!gzipped(&z), "HEAD: %s", z.head);
    ck_assert_msg(ts_header(&z, "Content-Length") && strcmp(ts_header(&z, "Content-Length"), "20000") == 0, "HEAD: %s",
                  z.head);
    ts_response_free(&z);
    get(env.port, "/type/text_html/500", "gzip", "HEAD", &z); /* under gzip_min_length, as GET */
    ck_assert_msg(!gzipped(&z), "HEAD: %s", z.head);
    ck_assert_msg(ts_header(&z, "Content-Length") && strcmp(ts_header(&z, "Content-Length"), "500") == 0, "HEAD: %s",
                  z.head);
    ts_response_free(&z);
    ts_response_free(&plain);
    px_env_done(&env);
}
END_TEST

/* A chunked body of 200000 bytes (streamed through the compressor) and a JSON type. */
START_TEST(gzip_streaming)
{
    ts_response plain, z;
    px_env_init(&env, 1);
    px_proxy_start(&env, GZIP_TPL);
    get(env.port, "/chunked/200000?chunks=13", NULL, "GET", &plain);
    get(env.port, "/chunked/200000?chunks=13", "gzip", "GET", &z);
    ck_assert_msg(gzipped(&z), "%s", z.head);
    assert_gunzips_to(&z, plain.body, plain.body_len);
    ts_response_free(&z);
    ts_response_free(&plain);
    get(env.port, "/type/application_json/3000", NULL, "GET", &plain);
    get(env.port, "/type/application_json/3000", "br, gzip", "GET", &z);
    ck_assert_msg(gzipped(&z), "%s", z.head);
    assert_gunzips_to(&z, plain.body, plain.body_len);
    ts_response_free(&z);
    ts_response_free(&plain);
    px_env_done(&env);
}
END_TEST

/* A body the upstream already encoded is never compressed again (gzip_min_length = 1 there). */
START_TEST(gzip_already_encoded)
{
    ts_response z;
    px_env_init(&env, 1);
    px_proxy_start(&env, GZIP_TPL);
    get(env.port2, "/type/text_html/50", "gzip", "GET", &z); /* the small server does compress small bodies */
    ck_assert_msg(gzipped(&z), "%s", z.head);
    ts_response_free(&z);
    get(env.port2, "/header?name=Content-Type&value=text%2Fhtml&name=Content-Encoding&value=br", "gzip", "GET", &z);
    const char *ce = ts_header(&z, "Content-Encoding");
    ck_assert_msg(ce && strcmp(ce, "br") == 0, "%s", z.head);
    ck_assert_str_eq(z.body, "ok\n");
    ts_response_free(&z);
    px_env_done(&env);
}
END_TEST

/* The seed's security headers: on 200, not on 404 unless "always"; server_tokens = on shows the version. */
START_TEST(headers)
{
    ts_response r;
    px_env_init(&env, 1);
    px_proxy_start(&env, PX_GLOBAL "server_tokens = on\n[upstream fe]\nserver = 127.0.0.1:@O0@\n"
                                   "[server s]\nlisten = 127.0.0.1:@PORT@\nproxy_pass = fe\n"
                                   "add_header = X-Frame-Options: DENY\n"
                                   "add_header = X-Content-Type-Options: nosniff\n"
                                   "add_header = Strict-Transport-Security: max-age=63072000 always\n");
    px_req(env.port, "GET /size/5 HTTP/1.1\r\nHost: webext.test\r\n\r\n", &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(ts_header(&r, "X-Frame-Options"), "DENY");
    ck_assert_str_eq(ts_header(&r, "X-Content-Type-Options"), "nosniff");
    ck_assert_str_eq(ts_header(&r, "Strict-Transport-Security"), "max-age=63072000");
    const char *s = ts_header(&r, "Server");
    ck_assert_msg(s && strncmp(s, "proxyd/", 7) == 0 && s[7] >= '0' && s[7] <= '9', "Server: %s", s ? s : "-");
    ts_response_free(&r);
    px_req(env.port, "GET /status/404 HTTP/1.1\r\nHost: webext.test\r\n\r\n", &r);
    ck_assert_int_eq(r.status, 404);
    ck_assert_ptr_null(ts_header(&r, "X-Frame-Options"));
    ck_assert_ptr_null(ts_header(&r, "X-Content-Type-Options"));
    ck_assert_str_eq(ts_header(&r, "Strict-Transport-Security"), "max-age=63072000");
    ts_response_free(&r);
    px_env_done(&env);
}
END_TEST

static Suite *gzip_suite(void)
{
    Suite *s = suite_create("e2e_lync_gzip");
    TCase *tc = tcase_create("gzip");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, gzip_by_type_and_encoding);
    tcase_add_test(tc, gzip_streaming);
    tcase_add_test(tc, gzip_already_encoded);
    tcase_add_test(tc, headers);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(gzip_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
