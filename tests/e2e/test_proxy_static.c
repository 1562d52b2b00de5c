/* tests/e2e: static files (root, index, types, traversal, HEAD, a body that must never become a request), the
 * Content-Length of bodiless answers, and a failed reload that must leave the listening sockets serving. */
#include "px_harness.h"

#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static px_env env;

#define STATIC_CONF "[server files]\nlisten = 127.0.0.1:@PORT@\nroot = @DIR@/www\nindex = home.html\n"

static void make_files(void)
{
    char path[1024];
    snprintf(path, sizeof path,
             "mkdir -p %s/www/sub && printf '<h1>home</h1>' > %s/www/home.html && "
             "printf 'hello' > %s/www/a.txt && printf 'secret' > %s/www/b.txt && "
             "printf 'top' > %s/outside.txt",
             env.dir, env.dir, env.dir, env.dir, env.dir);
    char out[256];
    ck_assert_int_eq(px_run(path, out, sizeof out), 0);
}

START_TEST(static_files)
{
    ts_response r;
    px_env_init(&env, 0);
    make_files();
    px_proxy_start(&env, PX_GLOBAL STATIC_CONF);
    px_req(env.port, "GET / HTTP/1.1\r\nHost: h\r\n\r\n", &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(r.body, "<h1>home</h1>");
    ck_assert_str_eq(ts_header(&r, "Content-Type"), "text/html");
    ts_response_free(&r);
    px_req(env.port, "GET /a.txt HTTP/1.1\r\nHost: h\r\n\r\n", &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(r.body, "hello");
    ts_response_free(&r);
    px_req(env.port, "HEAD /a.txt HTTP/1.1\r\nHost: h\r\n\r\n", &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(ts_header(&r, "Content-Length"), "5");
    ck_assert_uint_eq(r.body_len, 0);
    ts_response_free(&r);
    px_req(env.port, "GET /nope.txt HTTP/1.1\r\nHost: h\r\n\r\n", &r);
    ck_assert_int_eq(r.status, 404);
    ts_response_free(&r);
    px_req(env.port, "GET /../outside.txt HTTP/1.1\r\nHost: h\r\n\r\n", &r);
    ck_assert_int_ne(r.status, 200);
    ts_response_free(&r);
    px_req(env.port, "GET /%2e%2e/outside.txt HTTP/1.1\r\nHost: h\r\n\r\n", &r);
    ck_assert_int_ne(r.status, 200);
    ts_response_free(&r);
    px_req(env.port, "POST /a.txt HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n", &r);
    ck_assert_int_eq(r.status, 405);
    ts_response_free(&r);
    px_env_done(&env);
}
END_TEST

/* A request with a body the static handler does not read: the body is data, never a second request. */
START_TEST(static_body_not_a_request)
{
    static const char inner[] = "GET /b.txt HTTP/1.1\r\nHost: h\r\n\r\n";
    char raw[256];
    ts_response r;
    px_env_init(&env, 0);
    make_files();
    px_proxy_start(&env, PX_GLOBAL STATIC_CONF);
    int fd = ts_connect(env.port);
    ck_assert_int_ge(fd, 0);
    int n = snprintf(raw, sizeof raw, "GET /a.txt HTTP/1.1\r\nHost: h\r\nContent-Length: %zu\r\n\r\n%s",
                     sizeof(inner) - 1, inner);
    ck_assert_int_eq(ts_send(fd, raw, (size_t)n), 0);
    ck_assert_int_eq(ts_read_response(fd, &r, 0), 0);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(r.body, "hello");
    ts_response_free(&r);
    ck_assert_msg(ts_read_response(fd, &r, 0) != 0, "a second response came: the body was read as a request");
    close(fd);
    px_env_done(&env);
}
END_TEST

/* HEAD, 204 and 304 carry the origin's Content-Length as sent, and no body. */
START_TEST(bodiless_content_length)
{
    ts_response r;
    px_env_init(&env, 1);
    px_proxy_start(&env, PX_GLOBAL "[upstream o]\nserver = 127.0.0.1:@O0@\n"
                                   "[server s]\nlisten = 127.0.0.1:@PORT@\nproxy_pass = o\n");
    px_req(env.port, "HEAD /size/100 HTTP/1.1\r\nHost: h\r\n\r\n", &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_msg(ts_header(&r, "Content-Length") && strcmp(ts_header(&r, "Content-Length"), "100") == 0,
                  "HEAD lost its Content-Length: %s", r.head);
    ts_response_free(&r);
    px_req(env.port, "GET /status/204 HTTP/1.1\r\nHost: h\r\n\r\n", &r);
    ck_assert_int_eq(r.status, 204);
    ck_assert_uint_eq(r.body_len, 0);
    ts_response_free(&r);
    px_env_done(&env);
}
END_TEST

/* A reload that cannot bind a new address keeps the old configuration and its listening sockets serving. */
START_TEST(failed_reload_keeps_listening)
{
    char tpl[1024], out[256];
    ts_response r;
    px_env_init(&env, 1);
    px_proxy_start(&env, PX_GLOBAL "[upstream o]\nserver = 127.0.0.1:@O0@\n"
                                   "[server s]\nlisten = 127.0.0.1:@PORT@\nproxy_pass = o\n");
    /* The origin's own port is taken: the new listen address cannot be bound. */
    snprintf(tpl, sizeof tpl,
             PX_GLOBAL "[upstream o]\nserver = 127.0.0.1:@O0@\n[server s]\nlisten = 127.0.0.1:@PORT@\nproxy_pass = o\n"
                       "[server t]\nlisten = 127.0.0.1:%d\nproxy_pass = o\n",
             env.oport[0]);
    char *text = px_expand(&env, tpl);
    px_write_file(env.conf, text);
    free(text);
    ck_assert_int_eq(kill(env.pid, SIGHUP), 0);
    for (int i = 0; i < 50; i++) {
        char *log = px_read_file(env.log);
        int done = log && strstr(log, "reload failed");
        free(log);
        if (done)
            break;
        usleep(100000);
    }
    char *log = px_read_file(env.log);
    ck_assert_msg(log && strstr(log, "reload failed: cannot listen"), "%s", log ? log : "(no log)");
    free(log);
    for (int i = 0; i < 5; i++) {
        px_req(env.port, "GET /size/10 HTTP/1.1\r\nHost: h\r\n\r\n", &r);
        ck_assert_int_eq(r.status, 200);
        ts_response_free(&r);
    }
    (void)out;
    px_env_done(&env);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("e2e_proxy_static");
    TCase *tc = tcase_create("static");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, static_files);
    tcase_add_test(tc, static_body_not_a_request);
    tcase_add_test(tc, bodiless_content_length);
    tcase_add_test(tc, failed_reload_keeps_listening);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
