/* End-to-end request smuggling suite: hostile messages sent through proxyd (one worker) to the recording origin.
 * Each vector must be rejected (4xx, close, origin sees no complete request) or forwarded exactly as meant. */
#include "px_harness.h"
#include "recorder.h"

#include "http/http.h"

#include <check.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

enum outcome {
    REJECT,  /* after nfwd good pipelined requests: 4xx (or 501/505), then close */
    FORWARD, /* the origin receives exactly the nfwd requests meant, with their bodies */
    EITHER,  /* a rejection (of the first request) or the forwarding described */
};

typedef struct vector {
    const char *name;
    const char *raw;
    size_t len;
    enum outcome outcome;
    int nfwd;
    const char *paths[3];
    const char *bodies[3];
    const char *host; /* Host the origin must see for the first request, or NULL */
} vector;

#define RAW(s) s, sizeof(s) - 1
#define H "Host: h\r\n"
#define POST "POST /a HTTP/1.1\r\n" H
#define GETA "GET /a HTTP/1.1\r\n" H
#define SMUG "GET /smuggled HTTP/1.1\r\nHost: h\r\n\r\n" /* 35 bytes, 0x23 */
#define HELLO_CHUNKED "5\r\nhello\r\n0\r\n\r\n"
/* The vector table reads one case per entry, wrapped by hand: clang-format leaves it alone. */
/* clang-format off */
#define A1 {"/a"}
#define B0 {""}
#define BHELLO {"hello"}

static const vector vectors[] = {
    /* CL.TE and TE.CL */
    {"cl_te_smuggled_request", RAW(POST "Content-Length: 40\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" SMUG), EITHER,
     1, A1, B0, NULL},
    {"te_cl_request_in_chunk", RAW(POST "Transfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n23\r\n" SMUG "\r\n0\r\n\r\n"),
     EITHER, 1, A1, {SMUG}, NULL},
    {"cl_te_prefix_byte", RAW(POST "Content-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nG"), EITHER, 1, A1, B0,
     NULL},
    {"cl0_te_chunked", RAW(POST "Content-Length: 0\r\nTransfer-Encoding: chunked\r\n\r\n" HELLO_CHUNKED), EITHER, 1, A1,
     BHELLO, NULL},
    /* TE.TE obfuscations */
    {"te_xchunked", RAW(POST "Content-Length: 5\r\nTransfer-Encoding: xchunked\r\n\r\nhello"), REJECT, 0, {0}, {0}, NULL},
    {"te_chunked_identity", RAW(POST "Transfer-Encoding: chunked, identity\r\n\r\n" HELLO_CHUNKED), REJECT, 0, {0}, {0},
     NULL},
    {"te_identity_chunked", RAW(POST "Transfer-Encoding: identity, chunked\r\n\r\n" HELLO_CHUNKED), EITHER, 1, A1, BHELLO,
     NULL},
    {"te_tab_before_value", RAW(POST "Transfer-Encoding:\tchunked\r\n\r\n" HELLO_CHUNKED), FORWARD, 1, A1, BHELLO, NULL},
    {"te_space_before_colon", RAW(POST "Transfer-Encoding : chunked\r\nContent-Length: 5\r\n\r\nhello"), REJECT, 0, {0},
     {0}, NULL},
    {"te_tab_before_colon", RAW(POST "Transfer-Encoding\t: chunked\r\nContent-Length: 5\r\n\r\nhello"), REJECT, 0, {0},
     {0}, NULL},
    {"te_vertical_tab", RAW(POST "Transfer-Encoding: \vchunked\r\nContent-Length: 5\r\n\r\nhello"), REJECT, 0, {0}, {0},
     NULL},
    {"te_chunked_then_x", RAW(POST "Transfer-Encoding: chunked\r\nTransfer-Encoding: x\r\n\r\n" HELLO_CHUNKED), REJECT, 0,
     {0}, {0}, NULL},
    {"te_uppercase", RAW(POST "Transfer-Encoding: CHUNKED\r\n\r\n" HELLO_CHUNKED), FORWARD, 1, A1, BHELLO, NULL},
    {"te_trailing_space", RAW(POST "Transfer-Encoding: chunked \r\n\r\n" HELLO_CHUNKED), FORWARD, 1, A1, BHELLO, NULL},
    {"te_no_space", RAW(POST "Transfer-Encoding:chunked\r\n\r\n" HELLO_CHUNKED), FORWARD, 1, A1, BHELLO, NULL},
    {"te_quoted", RAW(POST "Transfer-Encoding: \"chunked\"\r\n\r\n" HELLO_CHUNKED), REJECT, 0, {0}, {0}, NULL},
    {"te_chunked_twice", RAW(POST "Transfer-Encoding: chunked, chunked\r\n\r\n" HELLO_CHUNKED), REJECT, 0, {0}, {0}, NULL},
    {"te_empty_list_element", RAW(POST "Transfer-Encoding: ,chunked\r\n\r\n" HELLO_CHUNKED), EITHER, 1, A1, BHELLO, NULL},
    {"te_underscore_name", RAW(POST "Transfer_Encoding: chunked\r\nContent-Length: 5\r\n\r\nhello"), EITHER, 1, A1,
     BHELLO, NULL},
    {"te_nul_in_value", RAW(POST "Transfer-Encoding: chunked\0\r\nContent-Length: 5\r\n\r\nhello"), REJECT, 0, {0}, {0},
     NULL},
    {"te_obs_fold", RAW(POST "Content-Length: 5\r\nTransfer-Encoding:\r\n chunked\r\n\r\nhello"), REJECT, 0, {0}, {0},
     NULL},
    {"te_first_line_indented",
     RAW("POST /a HTTP/1.1\r\n Transfer-Encoding: chunked\r\n" H "Content-Length: 5\r\n\r\nhello"), REJECT, 0, {0}, {0},
     NULL},
    {"te_http10", RAW("POST /a HTTP/1.0\r\n" H "Transfer-Encoding: chunked\r\n\r\n" HELLO_CHUNKED), REJECT, 0, {0}, {0},
     NULL},
    {"te_cl_http10", RAW("POST /a HTTP/1.0\r\n" H "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\nhello"), REJECT,
     0, {0}, {0}, NULL},
    /* Content-Length */
    {"cl_differing", RAW(POST "Content-Length: 5\r\nContent-Length: 6\r\n\r\nhello!"), REJECT, 0, {0}, {0}, NULL},
    {"cl_duplicate_same", RAW(POST "Content-Length: 5\r\nContent-Length: 5\r\n\r\nhello"), EITHER, 1, A1, BHELLO, NULL},
    {"cl_list_same", RAW(POST "Content-Length: 5, 5\r\n\r\nhello"), EITHER, 1, A1, BHELLO, NULL},
    {"cl_list_differing", RAW(POST "Content-Length: 5, 6\r\n\r\nhello!"), REJECT, 0, {0}, {0}, NULL},
    {"cl_plus_sign", RAW(POST "Content-Length: +5\r\n\r\nhello"), REJECT, 0, {0}, {0}, NULL},
    {"cl_minus_sign", RAW(POST "Content-Length: -5\r\n\r\nhello"), REJECT, 0, {0}, {0}, NULL},
    {"cl_hex", RAW(POST "Content-Length: 0x5\r\n\r\nhello"), REJECT, 0, {0}, {0}, NULL},
    {"cl_inner_space", RAW(POST "Content-Length: 1 0\r\n\r\nhelloworld"), REJECT, 0, {0}, {0}, NULL},
    {"cl_overflow", RAW(POST "Content-Length: 184467440737095516160\r\n\r\nhello"), REJECT, 0, {0}, {0}, NULL},
    {"cl_space_before_colon", RAW(POST "Content-Length : 5\r\n\r\nhello"), REJECT, 0, {0}, {0}, NULL},
    {"cl_leading_zeros", RAW(POST "Content-Length: 005\r\n\r\nhello"), EITHER, 1, A1, BHELLO, NULL},
    {"cl_empty", RAW(POST "Content-Length: \r\n\r\n"), REJECT, 0, {0}, {0}, NULL},
    {"cl_over_body_limit", RAW(POST "Content-Length: 20000000\r\n\r\nabc"), REJECT, 0, {0}, {0}, NULL},
    /* Requests behind and inside bodies */
    {"cl0_then_pipelined", RAW(POST "Content-Length: 0\r\n\r\nGET /admin HTTP/1.1\r\n" H "\r\n"), FORWARD, 2,
     {"/a", "/admin"}, {"", ""}, NULL},
    {"cl_body_hides_request", RAW(POST "Content-Length: 35\r\n\r\n" SMUG), FORWARD, 1, A1, {SMUG}, NULL},
    {"get_body_hides_request", RAW(GETA "Content-Length: 35\r\n\r\n" SMUG), FORWARD, 1, A1, {SMUG}, NULL},
    {"cl_body_then_pipelined", RAW(POST "Content-Length: 5\r\n\r\nhelloGET /b HTTP/1.1\r\n" H "\r\n"), FORWARD, 2,
     {"/a", "/b"}, {"hello", ""}, NULL},
    {"chunk_data_hides_last_chunk", RAW(POST "Transfer-Encoding: chunked\r\n\r\n28\r\n0\r\n\r\n" SMUG "\r\n0\r\n\r\n"),
     FORWARD, 1, A1, {"0\r\n\r\n" SMUG}, NULL},
    {"chunked_then_pipelined", RAW(POST "Transfer-Encoding: chunked\r\n\r\n" HELLO_CHUNKED "GET /b HTTP/1.1\r\n" H "\r\n"),
     FORWARD, 2, {"/a", "/b"}, {"hello", ""}, NULL},
    {"pipelined_three", RAW(GETA "\r\nPOST /b HTTP/1.1\r\n" H "Content-Length: 5\r\n\r\nhelloGET /c HTTP/1.1\r\n" H "\r\n"),
     FORWARD, 3, {"/a", "/b", "/c"}, {"", "hello", ""}, NULL},
    {"pipelined_then_invalid", RAW(GETA "\r\nGET /b HTTP/1.1\r\n" H "Host: x\r\n\r\n"), REJECT, 1, A1, B0, NULL},
    {"expect_continue", RAW(POST "Expect: 100-continue\r\nContent-Length: 5\r\n\r\nhello"), FORWARD, 1, A1, BHELLO, NULL},
    /* chunk sizes and chunk framing */
    {"chunk_size_overflow", RAW(POST "Transfer-Encoding: chunked\r\n\r\nfffffffffffffffff1\r\nhello\r\n0\r\n\r\n"), REJECT,
     0, {0}, {0}, NULL},
    {"chunk_size_nonhex", RAW(POST "Transfer-Encoding: chunked\r\n\r\ng\r\nhello\r\n0\r\n\r\n"), REJECT, 0, {0}, {0}, NULL},
    {"chunk_size_0x", RAW(POST "Transfer-Encoding: chunked\r\n\r\n0x5\r\nhello\r\n0\r\n\r\n"), REJECT, 0, {0}, {0}, NULL},
    {"chunk_size_negative", RAW(POST "Transfer-Encoding: chunked\r\n\r\n-5\r\nhello\r\n0\r\n\r\n"), REJECT, 0, {0}, {0},
     NULL},
    {"chunk_size_leading_space", RAW(POST "Transfer-Encoding: chunked\r\n\r\n 5\r\nhello\r\n0\r\n\r\n"), REJECT, 0, {0},
     {0}, NULL},
    {"chunk_data_no_crlf", RAW(POST "Transfer-Encoding: chunked\r\n\r\n5\r\nhelloXX0\r\n\r\n"), REJECT, 0, {0}, {0}, NULL},
    {"chunk_data_longer", RAW(POST "Transfer-Encoding: chunked\r\n\r\n3\r\nhello\r\n0\r\n\r\n"), REJECT, 0, {0}, {0}, NULL},
    {"chunk_bare_lf", RAW(POST "Transfer-Encoding: chunked\r\n\r\n5\nhello\n0\n\n"), REJECT, 0, {0}, {0}, NULL},
    {"chunk_extension", RAW(POST "Transfer-Encoding: chunked\r\n\r\n5;name=val\r\nhello\r\n0\r\n\r\n"), FORWARD, 1, A1,
     BHELLO, NULL},
    {"chunk_trailer", RAW(POST "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\nX-Trailer: 1\r\n\r\n"), FORWARD, 1,
     A1, BHELLO, NULL},
    {"chunk_trailer_content_length",
     RAW(POST "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\nContent-Length: 40\r\n\r\n"), EITHER, 1, A1, BHELLO,
     NULL},
    /* line endings */
    {"bare_lf_request_line", RAW("GET /a HTTP/1.1\n" H "\r\n"), REJECT, 0, {0}, {0}, NULL},
    {"bare_lf_everywhere", RAW("GET /a HTTP/1.1\nHost: h\n\n"), REJECT, 0, {0}, {0}, NULL},
    {"bare_cr_request_line", RAW("GET /a HTTP/1.1\r" H "\r\n"), REJECT, 0, {0}, {0}, NULL},
    {"bare_cr_in_value", RAW(GETA "X: a\rb\r\n\r\n"), REJECT, 0, {0}, {0}, NULL},
    {"bare_lf_hides_cl", RAW(POST "X: y\nContent-Length: 5\r\n\r\nhello"), REJECT, 0, {0}, {0}, NULL},
    {"obs_fold", RAW(GETA "X: a\r\n b\r\n\r\n"), EITHER, 1, A1, B0, NULL},
    /* NUL and control bytes */
    {"nul_in_value", RAW(GETA "X: a\0b\r\n\r\n"), REJECT, 0, {0}, {0}, NULL},
    {"nul_in_name", RAW(GETA "X\0Y: b\r\n\r\n"), REJECT, 0, {0}, {0}, NULL},
    {"del_in_value", RAW(GETA "X: a\x7f b\r\n\r\n"), REJECT, 0, {0}, {0}, NULL},
    {"ctl_in_value", RAW(GETA "X: a\x01z\r\n\r\n"), REJECT, 0, {0}, {0}, NULL},
    {"esc_in_target", RAW("GET /a\x1b HTTP/1.1\r\n" H "\r\n"), REJECT, 0, {0}, {0}, NULL},
    {"obs_text_value", RAW(GETA "X: caf\xc3\xa9\r\n\r\n"), FORWARD, 1, A1, B0, NULL},
    /* field names */
    {"name_with_space", RAW(GETA "X Y: z\r\n\r\n"), REJECT, 0, {0}, {0}, NULL},
    {"name_with_paren", RAW(GETA "X(Y): z\r\n\r\n"), REJECT, 0, {0}, {0}, NULL},
    {"name_empty", RAW(GETA ": z\r\n\r\n"), REJECT, 0, {0}, {0}, NULL},
    {"name_with_at", RAW(GETA "X@Y: z\r\n\r\n"), REJECT, 0, {0}, {0}, NULL},
    /* Host */
    {"host_twice_differing", RAW(GETA "Host: evil\r\n\r\n"), REJECT, 0, {0}, {0}, NULL},
    {"host_twice_same", RAW(GETA H "\r\n"), REJECT, 0, {0}, {0}, NULL},
    {"host_missing", RAW("GET /a HTTP/1.1\r\n\r\n"), REJECT, 0, {0}, {0}, NULL},
    {"host_userinfo", RAW("GET /a HTTP/1.1\r\nHost: user@evil\r\n\r\n"), REJECT, 0, {0}, {0}, NULL},
    {"host_with_space", RAW("GET /a HTTP/1.1\r\nHost: a b\r\n\r\n"), REJECT, 0, {0}, {0}, NULL},
    {"absolute_form_vs_host", RAW("GET http://good.example/a HTTP/1.1\r\nHost: evil.example\r\n\r\n"), EITHER, 1, A1, B0,
     "good.example"},
    /* request lines */
    {"http10_content_length", RAW("POST /a HTTP/1.0\r\n" H "Content-Length: 5\r\n\r\nhello"), FORWARD, 1, A1, BHELLO,
     NULL},
    {"request_line_trailing_space", RAW("GET /a HTTP/1.1 \r\n" H "\r\n"), REJECT, 0, {0}, {0}, NULL},
    {"request_line_double_space", RAW("GET  /a HTTP/1.1\r\n" H "\r\n"), REJECT, 0, {0}, {0}, NULL},
    {"space_in_target", RAW("GET /a b HTTP/1.1\r\n" H "\r\n"), REJECT, 0, {0}, {0}, NULL},
    {"ctl_in_method", RAW("G\x01T /a HTTP/1.1\r\n" H "\r\n"), REJECT, 0, {0}, {0}, NULL},
    {"version_malformed", RAW("GET /a HTTP/1.10\r\n" H "\r\n"), REJECT, 0, {0}, {0}, NULL},
};
/* clang-format on */

#define NVECTORS ((int)(sizeof vectors / sizeof vectors[0]))

static px_env env;
static recorder rec;

#define CONF                                                                                                           \
    PX_GLOBAL "[upstream o]\nserver = 127.0.0.1:@O0@\nkeepalive = 8\n"                                                 \
              "[server s]\nlisten = 127.0.0.1:@PORT@\nproxy_pass = o\n"

static int reject_status(int st)
{
    return (st >= 400 && st < 500) || st == 501 || st == 505;
}

/* Reads the next final response (100 Continue skipped). */
static int read_final(int fd, ts_response *r)
{
    for (;;) {
        if (ts_read_response(fd, r, 0) < 0)
            return -1;
        if (r->status >= 200)
            return 0;
        ts_response_free(r);
    }
}

/* Reads the nfwd responses the client asked for, each the origin's 200 for its own path. */
static void read_forwarded(int fd, const vector *v, int nfwd)
{
    ts_response r;
    char want[300];
    for (int i = 0; i < nfwd; i++) {
        ck_assert_msg(read_final(fd, &r) == 0, "%s: no response %d", v->name, i);
        snprintf(want, sizeof want, "ok:%s", v->paths[i]);
        ck_assert_msg(r.status == 200 && strcmp(r.body, want) == 0, "%s: response %d is %d '%s', want 200 '%s'",
                      v->name, i, r.status, r.body, want);
        ts_response_free(&r);
    }
}

/* 1 when the peer closes (EOF or reset) within the socket's receive timeout without sending more bytes;
 * 0 when bytes arrive (copied into extra), -1 on timeout. */
static int await_close(int fd, char *extra, size_t cap)
{
    ssize_t n = recv(fd, extra, cap - 1, 0);
    if (n == 0 || (n < 0 && errno == ECONNRESET))
        return 1;
    if (n < 0)
        return -1;
    extra[n] = 0;
    return 0;
}

/* After the expected responses: no further bytes within 300 ms (a close is fine). */
static void assert_quiet(int fd, const char *name)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    char extra[512];
    if (poll(&p, 1, 300) > 0) {
        ssize_t n = recv(fd, extra, sizeof extra - 1, MSG_DONTWAIT);
        ck_assert_msg(n <= 0, "%s: unexpected bytes after the responses: %.*s", name, (int)(n > 0 ? n : 0), extra);
    }
}

/* The origin saw exactly the first n requests of v (paths, bodies, host), all complete, no parse error. */
static void assert_origin(const vector *v, int n, int partial_ok)
{
    pthread_mutex_lock(&rec.mu);
    int complete = 0;
    for (int i = 0; i < rec.nreqs; i++)
        complete += rec.reqs[i].complete;
    for (int c = 0; c < rec.nconns; c++)
        ck_assert_msg(rec.conns[c].error == 0, "%s: origin could not parse what proxyd sent (%s): %.*s", v->name,
                      http_strerror(rec.conns[c].error), (int)rec.conns[c].bytes, rec.conns[c].raw);
    ck_assert_msg(complete == n, "%s: origin received %d complete requests, want %d", v->name, complete, n);
    ck_assert_msg(rec.nreqs == n || (partial_ok && rec.nreqs == n + 1), "%s: origin received %d request heads, want %d",
                  v->name, rec.nreqs, n);
    for (int i = 0; i < n; i++) {
        const rec_req *q = &rec.reqs[i];
        ck_assert_msg(strcmp(q->path, v->paths[i]) == 0, "%s: request %d went to '%s', want '%s'", v->name, i, q->path,
                      v->paths[i]);
        size_t blen = strlen(v->bodies[i]);
        ck_assert_msg(q->body_len == blen && memcmp(q->body, v->bodies[i], blen) == 0,
                      "%s: request %d body (%zu bytes) '%.*s', want '%s'", v->name, i, q->body_len, (int)q->body_len,
                      q->body, v->bodies[i]);
    }
    if (n > 0 && v->host)
        ck_assert_msg(strcmp(rec.reqs[0].host, v->host) == 0, "%s: origin saw Host '%s', want '%s'", v->name,
                      rec.reqs[0].host, v->host);
    pthread_mutex_unlock(&rec.mu);
}

static void run_reject(int fd, const vector *v, int nfwd)
{
    ts_response r;
    char extra[512];
    read_forwarded(fd, v, nfwd);
    ck_assert_msg(read_final(fd, &r) == 0, "%s: no response to the invalid request", v->name);
    ck_assert_msg(reject_status(r.status), "%s: answered %d, want 4xx", v->name, r.status);
    fprintf(stderr, "vector %s: rejected %d after %d forwarded\n", v->name, r.status, nfwd);
    ts_response_free(&r);
    int closed = await_close(fd, extra, sizeof extra);
    ck_assert_msg(closed == 1, "%s: %s after the %d", v->name, closed ? "connection left open" : "bytes sent",
                  r.status);
    /* A head forwarded before a body error must have its upstream connection aborted. */
    ck_assert_msg(rec_nreqs(&rec) == nfwd || rec_wait_all_closed(&rec, 3000),
                  "%s: upstream connection with a broken body kept open", v->name);
    assert_origin(v, nfwd, 1);
}

START_TEST(smuggling_vector)
{
    const vector *v = &vectors[_i];
    ts_response r;
    px_env_init(&env, 0);
    rec_start(&rec);
    env.oport[0] = rec.port;
    px_proxy_start(&env, CONF);
    int fd = ts_connect(env.port);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(ts_send(fd, v->raw, v->len), 0);
    if (v->outcome == REJECT) {
        run_reject(fd, v, v->nfwd);
    } else {
        int first = read_final(fd, &r);
        ck_assert_msg(first == 0, "%s: no response", v->name);
        if (v->outcome == EITHER && reject_status(r.status)) {
            fprintf(stderr, "vector %s: rejected %d after 0 forwarded\n", v->name, r.status);
            ts_response_free(&r);
            char extra[512];
            ck_assert_msg(await_close(fd, extra, sizeof extra) == 1, "%s: not closed after the %d", v->name, r.status);
            ck_assert_msg(rec_nreqs(&rec) == 0 || rec_wait_all_closed(&rec, 3000), "%s: upstream kept open", v->name);
            assert_origin(v, 0, 1);
        } else {
            char want[300];
            snprintf(want, sizeof want, "ok:%s", v->paths[0]);
            ck_assert_msg(r.status == 200 && strcmp(r.body, want) == 0, "%s: first response %d '%s', want 200 '%s'",
                          v->name, r.status, r.body, want);
            ts_response_free(&r);
            for (int i = 1; i < v->nfwd; i++) {
                ck_assert_msg(read_final(fd, &r) == 0, "%s: no response %d", v->name, i);
                snprintf(want, sizeof want, "ok:%s", v->paths[i]);
                ck_assert_msg(r.status == 200 && strcmp(r.body, want) == 0, "%s: response %d %d '%s', want '%s'",
                              v->name, i, r.status, r.body, want);
                ts_response_free(&r);
            }
            assert_quiet(fd, v->name);
            close(fd);
            fd = -1;
            ck_assert_int_eq(px_proxy_stop(&env), 0); /* every upstream byte is in the recorder afterwards */
            ck_assert(rec_wait_all_closed(&rec, 3000));
            assert_origin(v, v->nfwd, 0);
            fprintf(stderr, "vector %s: forwarded %d as meant\n", v->name, v->nfwd);
        }
    }
    if (fd >= 0)
        close(fd);
    px_env_done(&env);
    rec_stop(&rec);
}
END_TEST

static Suite *smuggling_suite(void)
{
    Suite *s = suite_create("security_smuggling");
    TCase *tc = tcase_create("vectors");
    tcase_set_timeout(tc, 30);
    tcase_add_loop_test(tc, smuggling_vector, 0, NVECTORS);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(smuggling_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
