/* End-to-end: WebSocket through proxyd to bench/origin's /ws echo, over plain HTTP and over TLS on the client
 * side (openssl s_client as the TLS client), and a refused upgrade that stays ordinary HTTP. */
#include "../../../bench/origin/codec.h"
#include "lync_util.h"
#include "px_harness.h"

#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define WAIT_MS 5000

static px_env env;

/* RFC 6455 section 1.3's example key and its accept value. */
static const char ws_key[] = "dGhlIHNhbXBsZSBub25jZQ==";
static const char ws_accept[] = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

/* Sends a masked client frame. */
static void send_frame(int fd, unsigned char b0, const void *payload, size_t len)
{
    unsigned char f[16 + 70000];
    const unsigned char mask[4] = {0x37, 0xfa, 0x21, 0x3d};
    size_t h = 2;
    ck_assert_uint_le(len, 70000);
    f[0] = b0;
    if (len < 126) {
        f[1] = 0x80 | (unsigned char)len;
    } else {
        ck_assert_uint_le(len, 0xffff);
        f[1] = 0x80 | 126, f[2] = (unsigned char)(len >> 8), f[3] = (unsigned char)len;
        h = 4;
    }
    memcpy(f + h, mask, 4);
    for (size_t i = 0; i < len; i++)
        f[h + 4 + i] = ((const unsigned char *)payload)[i] ^ mask[i & 3];
    ck_assert_int_eq(lync_write_full(fd, f, h + 4 + len), 0);
}

/* Reads one server frame: asserts it is unmasked, returns its payload length (payload in buf). */
static size_t read_frame(int fd, unsigned char *b0, unsigned char *buf, size_t cap)
{
    unsigned char h[8];
    size_t len;
    ck_assert_int_eq(lync_read_full(fd, h, 2, WAIT_MS), 0);
    ck_assert_msg((h[1] & 0x80) == 0, "server frame masked");
    *b0 = h[0];
    len = h[1] & 0x7f;
    if (len == 126) {
        ck_assert_int_eq(lync_read_full(fd, h + 2, 2, WAIT_MS), 0);
        len = (size_t)h[2] << 8 | h[3];
    }
    ck_assert_uint_le(len, cap);
    ck_assert_int_eq(lync_read_full(fd, buf, len, WAIT_MS), 0);
    return len;
}

/* Upgrade on (in, out), then text, binary (16-bit length), ping and close, each echoed as it should be. */
static void exchange(int in, int out, const char *host)
{
    char req[512], head[2048], val[64];
    static unsigned char big[3000], back[3000];
    unsigned char b0;
    snprintf(req, sizeof req,
             "GET /ws HTTP/1.1\r\nHost: %s\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
             "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: %s\r\nOrigin: https://%s\r\n\r\n",
             host, ws_key, host);
    ck_assert_int_eq(lync_write_full(in, req, strlen(req)), 0);
    ck_assert_int_gt(lync_read_head(out, head, sizeof head, WAIT_MS), 0);
    ck_assert_msg(strncmp(head, "HTTP/1.1 101 ", 13) == 0, "%s", head);
    snprintf(val, sizeof val, "Sec-WebSocket-Accept: %s\r\n", ws_accept);
    ck_assert_msg(strcasestr(head, val) != NULL, "%s", head);
    ck_assert_msg(strcasestr(head, "\r\nUpgrade: websocket\r\n") != NULL, "%s", head);

    send_frame(in, 0x81, "hello lync", 10);
    ck_assert_uint_eq(read_frame(out, &b0, back, sizeof back), 10);
    ck_assert_int_eq(b0, 0x81);
    ck_assert(memcmp(back, "hello lync", 10) == 0);

    for (size_t i = 0; i < sizeof big; i++)
        big[i] = (unsigned char)(i * 7 + 3);
    send_frame(in, 0x82, big, sizeof big);
    ck_assert_uint_eq(read_frame(out, &b0, back, sizeof back), sizeof big);
    ck_assert_int_eq(b0, 0x82);
    ck_assert(memcmp(back, big, sizeof big) == 0);

    send_frame(in, 0x89, "tick", 4);
    ck_assert_uint_eq(read_frame(out, &b0, back, sizeof back), 4);
    ck_assert_int_eq(b0, 0x8A);
    ck_assert(memcmp(back, "tick", 4) == 0);

    send_frame(in, 0x88, "\x03\xe8", 2); /* 1000: normal closure */
    ck_assert_uint_eq(read_frame(out, &b0, back, sizeof back), 2);
    ck_assert_int_eq(b0, 0x88);
    ck_assert(memcmp(back, "\x03\xe8", 2) == 0);
}

#define WS_TPL                                                                                                         \
    PX_GLOBAL "[upstream fe]\nserver = 127.0.0.1:@O0@\nkeepalive = 4\nread_timeout = 30s\n"                            \
              "[server plain]\nlisten = 127.0.0.1:@PORT@\nproxy_pass = fe\n"

START_TEST(ws_plain)
{
    px_env_init(&env, 1);
    px_proxy_start(&env, WS_TPL);
    int fd = ts_connect(env.port);
    ck_assert_int_ge(fd, 0);
    exchange(fd, fd, "webext.test");
    char c;
    ck_assert_int_ne(lync_read_full(fd, &c, 1, WAIT_MS), 0); /* the tunnel closes after the close handshake */
    close(fd);
    px_env_done(&env);
}
END_TEST

START_TEST(ws_tls)
{
    lync_tls t;
    px_env_init(&env, 1);
    lync_make_cert(env.dir, "webext.test");
    px_proxy_start(&env, WS_TPL "[server tls]\nlisten = 127.0.0.1:@PORT2@ tls\nserver_name = webext.test\n"
                                "tls_cert = @DIR@/webext.test.crt\ntls_key = @DIR@/webext.test.key\n"
                                "proxy_pass = fe\n");
    lync_tls_open(&t, env.port2, "webext.test");
    exchange(t.in, t.out, "webext.test");
    lync_tls_close(&t);
    px_env_done(&env);
}
END_TEST

/* An upgrade the origin refuses (404 on /notws, 426 on /ws without a key version) stays HTTP: the connection
 * carries further requests. */
START_TEST(ws_refused)
{
    ts_response r;
    px_env_init(&env, 1);
    px_proxy_start(&env, WS_TPL);
    int fd = ts_connect(env.port);
    ck_assert_int_ge(fd, 0);
    const char *up = "GET /notws HTTP/1.1\r\nHost: webext.test\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
                     "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n";
    ck_assert_int_eq(ts_send(fd, up, strlen(up)), 0);
    ck_assert_int_eq(ts_read_response(fd, &r, 0), 0);
    ck_assert_int_eq(r.status, 404);
    ts_response_free(&r);
    const char *next = "GET /size/12 HTTP/1.1\r\nHost: webext.test\r\n\r\n";
    ck_assert_int_eq(ts_send(fd, next, strlen(next)), 0);
    ck_assert_int_eq(ts_read_response(fd, &r, 0), 0);
    ck_assert_int_eq(r.status, 200);
    ck_assert_uint_eq(r.body_len, 12);
    ts_response_free(&r);
    const char *no_version = "GET /ws HTTP/1.1\r\nHost: webext.test\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
                             "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n";
    ck_assert_int_eq(ts_send(fd, no_version, strlen(no_version)), 0);
    ck_assert_int_eq(ts_read_response(fd, &r, 0), 0);
    ck_assert_int_eq(r.status, 426);
    ts_response_free(&r);
    ck_assert_int_eq(ts_send(fd, next, strlen(next)), 0);
    ck_assert_int_eq(ts_read_response(fd, &r, 0), 0);
    ck_assert_int_eq(r.status, 200);
    ts_response_free(&r);
    close(fd);
    px_env_done(&env);
}
END_TEST

/* The origin's handshake alone (no proxy): the accept value and the echo, so a proxy failure is not an origin
 * failure in disguise. */
START_TEST(ws_origin_direct)
{
    unsigned char d[20];
    char b[32];
    const char *kg = "dGhlIHNhbXBsZSBub25jZQ==258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
    codec_sha1(kg, strlen(kg), d);
    codec_b64_encode(d, sizeof d, b, sizeof b);
    ck_assert_str_eq(b, ws_accept);
    px_env_init(&env, 1);
    int fd = ts_connect(env.oport[0]);
    ck_assert_int_ge(fd, 0);
    exchange(fd, fd, "origin.test");
    close(fd);
    px_env_done(&env);
}
END_TEST

static Suite *ws_suite(void)
{
    Suite *s = suite_create("e2e_lync_ws");
    TCase *tc = tcase_create("ws");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, ws_origin_direct);
    tcase_add_test(tc, ws_plain);
    tcase_add_test(tc, ws_tls);
    tcase_add_test(tc, ws_refused);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    SRunner *sr = srunner_create(ws_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
