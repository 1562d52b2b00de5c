/* tests/http/test_response.c: http_parse_response status lines and body framing per RFC 9112 6.3, fed whole
 * and byte by byte at a guard page. */
#include "helpers.h"

#include <http/http.h>
#include <string.h>

#define CAP 16

typedef struct rcase {
    const char *in;
    size_t len;
    unsigned resp_flags, flags;
    long want; /* 0: the whole input is the head; else an http_err */
    int status, minor;
    http_body body;
    uint64_t cl;
    int ka, mc, up;
    const char *reason;
} rcase;

#define HEAD HTTP_RESP_TO_HEAD
#define CONN HTTP_RESP_TO_CONNECT
#define REJ HTTP_F_REJECT_TE_AND_CL
#define NONE HTTP_BODY_NONE
#define LEN HTTP_BODY_LENGTH
#define CHK HTTP_BODY_CHUNKED
#define CLO HTTP_BODY_CLOSE

#define ERR(in, rf, fl, e)                                                                                             \
    {                                                                                                                  \
        S(in), rf, fl, e, 0, 0, NONE, 0, 0, 0, 0, ""                                                                   \
    }

static const rcase rows[] = {
    {S("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n"), 0, 0, 0, 200, 1, LEN, 5, 1, 0, 0, "OK"},
    {S("HTTP/1.1 200 OK\r\n\r\n"), 0, 0, 0, 200, 1, CLO, 0, 0, 0, 0, "OK"},
    {S("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"), 0, 0, 0, 200, 1, CHK, 0, 1, 0, 0, "OK"},
    {S("HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n"), 0, 0, 0, 204, 1, NONE, 0, 1, 0, 0, "No Content"},
    {S("HTTP/1.1 304 Not Modified\r\nTransfer-Encoding: chunked\r\n\r\n"), 0, 0, 0, 304, 1, NONE, 0, 1, 0, 0,
     "Not Modified"},
    {S("HTTP/1.1 100 Continue\r\n\r\n"), 0, 0, 0, 100, 1, NONE, 0, 1, 0, 0, "Continue"},
    {S("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\n"), 0, 0, 0, 101, 1, NONE,
     0, 1, 0, 1, "Switching Protocols"},
    {S("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n"), HEAD, 0, 0, 200, 1, NONE, 0, 1, 0, 0, "OK"},
    {S("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"), HEAD, 0, 0, 200, 1, NONE, 0, 1, 0, 0, "OK"},
    {S("HTTP/1.1 200 Connection established\r\n\r\n"), CONN, 0, 0, 200, 1, NONE, 0, 1, 0, 0, "Connection established"},
    {S("HTTP/1.1 407 Auth\r\nContent-Length: 2\r\n\r\n"), CONN, 0, 0, 407, 1, LEN, 2, 1, 0, 0, "Auth"},
    {S("HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n"), 0, 0, 0, 200, 1, LEN, 0, 1, 0, 0, ""},
    {S("HTTP/1.1 200 \r\nContent-Length: 0\r\n\r\n"), 0, 0, 0, 200, 1, LEN, 0, 1, 0, 0, ""},
    {S("HTTP/1.1 999 Whatever it is\r\nContent-Length: 0\r\n\r\n"), 0, 0, 0, 999, 1, LEN, 0, 1, 0, 0, "Whatever it is"},
    {S("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n"), 0, 0, 0, 200, 1, CLO, 0, 0, 1, 0, "OK"},
    {S("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n"), 0, 0, 0, 200, 1, CLO, 0, 0, 1, 0, "OK"},
    {S("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n"), 0, 0, 0, 200, 1, CHK, 0, 0, 1, 0,
     "OK"},
    {S("HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n"), 0, 0, 0, 200, 0, CLO, 0, 0, 1, 0,
     "OK"},
    {S("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 1\r\n\r\n"), 0, 0, 0, 200, 0, LEN, 1, 1, 0, 0,
     "OK"},
    {S("HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\n"), 0, 0, 0, 200, 0, LEN, 1, 0, 0, 0, "OK"},
    {S("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 1\r\n\r\n"), 0, 0, 0, 200, 1, LEN, 1, 0, 0, 0, "OK"},
    {S("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n"), 0, 0, 0, 200, 1, LEN, 5, 1, 0, 0, "OK"},
    {S("HTTP/1.1 200 OK\r\nHost: a\r\nHost: b\r\nContent-Length: 1\r\n\r\n"), 0, 0, 0, 200, 1, LEN, 1, 1, 0, 0, "OK"},
    {S("HTTP/1.1 404 Not \xc3\xa9 Found\tx\r\nContent-Length: 1\r\n\r\n"), 0, 0, 0, 404, 1, LEN, 1, 1, 0, 0,
     "Not \xc3\xa9 Found\tx"},
    /* errors */
    ERR("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n", 0, REJ, HTTP_E_TE_AND_CL),
    ERR("HTTP/1.1 20 OK\r\n\r\n", 0, 0, HTTP_E_STATUS),
    ERR("HTTP/1.1 2000 OK\r\n\r\n", 0, 0, HTTP_E_STATUS),
    ERR("HTTP/1.1 099 Low\r\n\r\n", 0, 0, HTTP_E_STATUS),
    ERR("HTTP/1.1 200OK\r\n\r\n", 0, 0, HTTP_E_STATUS),
    ERR("HTTP/1.1  200 OK\r\n\r\n", 0, 0, HTTP_E_STATUS),
    ERR("HTTP/2 200 OK\r\n\r\n", 0, 0, HTTP_E_STATUS),
    ERR("HTTP/1.2 200 OK\r\n\r\n", 0, 0, HTTP_E_STATUS),
    ERR("http/1.1 200 OK\r\n\r\n", 0, 0, HTTP_E_STATUS),
    ERR("HTTP/1.1 2x0 OK\r\n\r\n", 0, 0, HTTP_E_STATUS),
    ERR("HTTP/1.1 200 O\x01K\r\n\r\n", 0, 0, HTTP_E_STATUS),
    ERR("HTTP/1.1 200 OK\nContent-Length: 1\r\n\r\n", 0, 0, HTTP_E_LINE_ENDING),
    ERR("HTTP/1.1 200 O\rK\r\n\r\n", 0, 0, HTTP_E_LINE_ENDING),
    ERR("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n", 0, 0, HTTP_E_CONTENT_LENGTH),
    ERR("HTTP/1.1 204 OK\r\nContent-Length: x\r\n\r\n", 0, 0, HTTP_E_CONTENT_LENGTH),
    ERR("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 0, 0, HTTP_E_TE_UNSUPPORTED),
    ERR("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked;x\r\n\r\n", 0, 0, HTTP_E_TE_NOT_CHUNKED),
    ERR("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, chunked\r\n\r\n", 0, 0, HTTP_E_TE_NOT_CHUNKED),
    ERR("HTTP/1.1 200 OK\r\nTransfer-Encoding:\r\n\r\n", 0, 0, HTTP_E_TE_NOT_CHUNKED),
    ERR("HTTP/1.1 200 OK\r\nX: a\r\n b\r\n\r\n", 0, 0, HTTP_E_OBS_FOLD),
    ERR("HTTP/1.1 200 OK\r\nX : a\r\n\r\n", 0, 0, HTTP_E_FIELD_NAME),
    ERR("HTTP/1.1 200 OK\r\nX: \0\r\n\r\n", 0, 0, HTTP_E_FIELD_VALUE),
    ERR("\r\nHTTP/1.1 200 OK\r\n\r\n", 0, 0, HTTP_E_STATUS),
    ERR("HTTP/1.1 200 OK\r\n", 0, 0, HTTP_INCOMPLETE),
};

static long parse_row(const rcase *c, const char *in, size_t len, size_t last, http_response *resp, http_field *f)
{
    http_limits lim = {0, 0, 0, c->flags};
    memset(resp, 0x5a, sizeof *resp);
    resp->fields = f;
    resp->fields_cap = CAP;
    return http_parse_response(in, len, last, resp, &lim, c->resp_flags);
}

static void check_whole(int i)
{
    const rcase *c = &rows[i];
    http_response r;
    http_field f[CAP];
    long got = parse_row(c, guard_copy(c->in, c->len), c->len, 0, &r, f);
    if (c->want != 0) {
        ck_assert_msg(got == c->want, "row %d: got %ld (%s)", i, got, http_strerror((int)got));
        guard_free();
        return;
    }
    ck_assert_int_eq(got, (long)c->len);
    ck_assert_int_eq(r.status, c->status);
    ck_assert_int_eq(r.minor, c->minor);
    ck_assert_int_eq(r.body, c->body);
    if (c->body == HTTP_BODY_LENGTH)
        ck_assert_uint_eq(r.content_length, c->cl);
    ck_assert_int_eq(r.keep_alive, c->ka);
    ck_assert_int_eq(r.must_close, c->mc);
    ck_assert_int_eq(r.upgrade, c->up);
    ck_assert_uint_eq(r.reason.len, strlen(c->reason));
    ck_assert(memcmp(r.reason.base, c->reason, r.reason.len) == 0);
    guard_free();
}

START_TEST(response_whole)
{
    check_whole(_i);
}
END_TEST

/* Again with libhttp's portable scanners instead of SSE2 (flag restored so no-fork runs are unaffected). */
START_TEST(response_whole_scalar)
{
    http__force_scalar = true;
    check_whole(_i);
    http__force_scalar = false;
}
END_TEST

START_TEST(response_bytewise)
{
    const rcase *c = &rows[_i];
    http_response r;
    http_field f[CAP];
    long whole = parse_row(c, c->in, c->len, 0, &r, f);
    size_t last = 0;
    for (size_t k = 1; k <= c->len; k++) {
        long got = parse_row(c, guard_copy(c->in, k), k, last, &r, f);
        last = k;
        if (got != HTTP_INCOMPLETE) {
            ck_assert_int_eq(got, whole);
            guard_free();
            return;
        }
    }
    guard_free();
    ck_assert_int_eq(whole, HTTP_INCOMPLETE);
}
END_TEST

START_TEST(response_fields_kept)
{
    static const char in[] = "HTTP/1.1 200 OK\r\nServer: x\r\nContent-Length: 3\r\n\r\nabc";
    http_response r = {0};
    http_field f[4];
    r.fields = f;
    r.fields_cap = 4;
    ck_assert_int_eq(http_parse_response(in, sizeof in - 1, 0, &r, NULL, 0), (long)sizeof in - 4);
    ck_assert_uint_eq(r.nfields, 2);
    ck_assert(http_slice_eq_ci(f[1].name, "content-length"));
    ck_assert_uint_eq(r.head_len, sizeof in - 4);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("http_response");
    TCase *tc = tcase_create("response");
    tcase_add_loop_test(tc, response_whole, 0, (int)NELEM(rows));
    tcase_add_loop_test(tc, response_bytewise, 0, (int)NELEM(rows));
    tcase_add_loop_test(tc, response_whole_scalar, 0, (int)NELEM(rows));
    tcase_add_test(tc, response_fields_kept);
    suite_add_tcase(s, tc);
    return run_suite(s);
}
