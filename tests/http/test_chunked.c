/* tests/http/test_chunked.c: the chunked decoder over valid and malformed bodies, fed whole (looping on one
 * span per call) and one byte per call from a guard page, plus the chunk-header writer. */
#include "helpers.h"

#include <http/http.h>
#include <string.h>

typedef struct ccase {
    const char *in;
    size_t len;
    long want;        /* 0: done; else the http_err */
    const char *body; /* decoded body when done */
    size_t consumed;  /* bytes consumed when done (0: all) */
    size_t max_ext, max_trailer;
} ccase;

#define OK(in, body)                                                                                                   \
    {                                                                                                                  \
        S(in), 0, body, 0, 0, 0                                                                                        \
    }
#define BAD(in, err)                                                                                                   \
    {                                                                                                                  \
        S(in), err, "", 0, 0, 0                                                                                        \
    }

static const ccase rows[] = {
    OK("5\r\nhello\r\n0\r\n\r\n", "hello"),
    OK("5;ext=1\r\nhello\r\n0\r\n\r\n", "hello"),
    OK("5 ;a\r\nhello\r\n0\r\n\r\n", "hello"),
    OK("5\t;a=\"q v\"\r\nhello\r\n0;last\r\n\r\n", "hello"),
    OK("A\r\n0123456789\r\n0\r\n\r\n", "0123456789"),
    OK("a\r\n0123456789\r\n0\r\n\r\n", "0123456789"),
    OK("3\r\nabc\r\n2\r\nde\r\n1\r\nf\r\n0\r\n\r\n", "abcdef"),
    OK("0\r\nX-T: 1\r\nY:2\r\n\r\n", ""),
    OK("0005\r\nhello\r\n0\r\n\r\n", "hello"),
    OK("0\r\n\r\n", ""),
    OK("1;a\x80\r\nz\r\n0\r\n\r\n", "z"),
    {S("0\r\n\r\nGET / HTTP/1.1\r\n"), 0, "", 5, 0, 0},
    {S("2;abcdef\r\nhi\r\n0\r\n\r\n"), 0, "hi", 0, 7, 0},
    {S("0\r\nA: 1\r\n\r\n"), 0, "", 0, 0, 10},
    BAD("0x5\r\nhello\r\n0\r\n\r\n", HTTP_E_CHUNK_SIZE),
    BAD("-1\r\n", HTTP_E_CHUNK_SIZE),
    BAD("+5\r\nhello\r\n", HTTP_E_CHUNK_SIZE),
    BAD(" 5\r\nhello\r\n", HTTP_E_CHUNK_SIZE),
    BAD("g\r\n", HTTP_E_CHUNK_SIZE),
    BAD("5g\r\n", HTTP_E_CHUNK_SIZE),
    BAD("\r\n", HTTP_E_CHUNK_SIZE),
    BAD(";x\r\n", HTTP_E_CHUNK_SIZE),
    BAD("5 \r\nhello\r\n", HTTP_E_CHUNK_SIZE),
    BAD("1 0\r\n", HTTP_E_CHUNK_SIZE),
    BAD("8000000000000000\r\n", HTTP_E_CHUNK_SIZE),
    BAD("ffffffffffffffffff\r\n", HTTP_E_CHUNK_SIZE),
    BAD("000000000000000000000000000000001\r\n", HTTP_E_CHUNK_SIZE),
    BAD("5\nhello\r\n", HTTP_E_LINE_ENDING),
    BAD("5\r\rhello\r\n", HTTP_E_LINE_ENDING),
    BAD("5;a\nb\r\n", HTTP_E_LINE_ENDING),
    BAD("5;\x01\r\nhello\r\n", HTTP_E_CHUNK_EXT),
    BAD("5;a\x7f\r\nhello\r\n", HTTP_E_CHUNK_EXT),
    {S("5;abcdefghi\r\nhello\r\n"), HTTP_E_CHUNK_EXT, "", 0, 8, 0},
    {S("5         ;a\r\nhello\r\n"), HTTP_E_CHUNK_EXT, "", 0, 8, 0},
    BAD("5\r\nhelloX\r\n0\r\n\r\n", HTTP_E_CHUNK_DATA),
    BAD("5\r\nhello\rX", HTTP_E_CHUNK_DATA),
    BAD("5\r\nhello\n0\r\n\r\n", HTTP_E_CHUNK_DATA),
    BAD("0\r\nX: 1\r\n y\r\n\r\n", HTTP_E_TRAILER),
    BAD("0\r\nX Y: 1\r\n\r\n", HTTP_E_TRAILER),
    BAD("0\r\n: 1\r\n\r\n", HTTP_E_TRAILER),
    BAD("0\r\nX: a\x01\r\n\r\n", HTTP_E_TRAILER),
    BAD("0\r\nX: 1\n\r\n", HTTP_E_TRAILER),
    BAD("0\r\n\n", HTTP_E_TRAILER),
    BAD("0\r\n\r\r", HTTP_E_TRAILER),
    BAD("0\r\nX\r\n\r\n", HTTP_E_TRAILER),
    {S("0\r\nA: 123456789\r\n\r\n"), HTTP_E_TRAILER, "", 0, 0, 8},
};

/* Decodes c->in in pieces of `step` bytes (0: all that is left), each piece ending at a guard page. */
static long decode(const ccase *c, size_t step, char *body, size_t *body_len, size_t *consumed)
{
    http_chunked d;
    http_chunked_init(&d, c->max_ext, c->max_trailer);
    size_t pos = 0;
    *body_len = 0;
    while (pos < c->len && !d.done) {
        size_t n = step && step < c->len - pos ? step : c->len - pos;
        const char *in = guard_copy(c->in + pos, n);
        http_slice data;
        long r = http_chunked_decode(&d, in, n, &data);
        if (r < 0) {
            http_slice again;
            ck_assert_int_eq(http_chunked_decode(&d, in, n, &again), r); /* errors are sticky */
            guard_free();
            return r;
        }
        ck_assert_uint_le((size_t)r, n);
        ck_assert(data.len == 0 || (data.base >= in && data.base + data.len <= in + r));
        memcpy(body + *body_len, data.base, data.len);
        *body_len += data.len;
        ck_assert(r > 0 || d.done);
        pos += (size_t)r;
        guard_free();
    }
    *consumed = pos;
    ck_assert_uint_eq(d.body_bytes, *body_len);
    return d.done ? 0 : HTTP_INCOMPLETE;
}

static void check_row(int i, size_t step)
{
    const ccase *c = &rows[i];
    char body[256];
    size_t blen, consumed;
    long r = decode(c, step, body, &blen, &consumed);
    ck_assert_msg(r == c->want, "row %d step %zu: got %ld (%s)", i, step, r, http_strerror((int)r));
    if (r == 0) {
        ck_assert_uint_eq(consumed, c->consumed ? c->consumed : c->len);
        ck_assert_uint_eq(blen, strlen(c->body));
        ck_assert(memcmp(body, c->body, blen) == 0);
    }
}

START_TEST(chunked_whole)
{
    check_row(_i, 0);
}
END_TEST
START_TEST(chunked_bytewise)
{
    check_row(_i, 1);
}
END_TEST
START_TEST(chunked_step3)
{
    check_row(_i, 3);
}
END_TEST

START_TEST(one_span_per_call)
{
    static const char in[] = "3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n";
    http_chunked d = {0};
    http_slice data;
    ck_assert_int_eq(http_chunked_decode(&d, in, sizeof in - 1, &data), 6);
    ck_assert_uint_eq(data.len, 3);
    ck_assert(data.base == in + 3);
    ck_assert_int_eq(http_chunked_decode(&d, in + 6, sizeof in - 7, &data), 7);
    ck_assert(data.base == in + 11 && data.len == 2);
    ck_assert_int_eq(http_chunked_decode(&d, in + 13, sizeof in - 14, &data), 7);
    ck_assert_int_eq(d.done, 1);
    ck_assert_uint_eq(data.len, 0);
    ck_assert_int_eq(http_chunked_decode(&d, in, sizeof in - 1, &data), 0); /* done: consumes nothing */
}
END_TEST

START_TEST(large_chunk_size_is_streamed)
{
    static const char in[] = "7fffffffffffffff\r\nxyz";
    http_chunked d = {0};
    http_slice data;
    ck_assert_int_eq(http_chunked_decode(&d, in, 18, &data), 18);
    ck_assert_uint_eq(data.len, 0);
    ck_assert_int_eq(http_chunked_decode(&d, in + 18, 3, &data), 3);
    ck_assert_uint_eq(data.len, 3);
    ck_assert_int_eq(d.done, 0);
}
END_TEST

typedef struct hcase {
    uint64_t v;
    const char *want;
} hcase;

static const hcase hex[] = {
    {0, "0\r\n"}, {1, "1\r\n"}, {255, "ff\r\n"}, {4096, "1000\r\n"}, {UINT64_MAX, "ffffffffffffffff\r\n"},
};

START_TEST(chunk_header)
{
    char out[18];
    size_t n = http_chunk_header(out, hex[_i].v);
    ck_assert_uint_eq(n, strlen(hex[_i].want));
    ck_assert(memcmp(out, hex[_i].want, n) == 0);
}
END_TEST

START_TEST(chunk_header_roundtrip)
{
    char buf[64];
    size_t n = http_chunk_header(buf, 3);
    memcpy(buf + n, "abc\r\n" HTTP_LAST_CHUNK, 10);
    http_chunked d = {0};
    http_slice data;
    size_t pos = 0, got = 0;
    while (!d.done) {
        long r = http_chunked_decode(&d, buf + pos, n + 10 - pos, &data);
        ck_assert_int_gt(r, 0);
        got += data.len;
        pos += (size_t)r;
    }
    ck_assert_uint_eq(got, 3);
    ck_assert_uint_eq(pos, n + 10);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("http_chunked");
    TCase *tc = tcase_create("decode");
    tcase_add_loop_test(tc, chunked_whole, 0, (int)NELEM(rows));
    tcase_add_loop_test(tc, chunked_bytewise, 0, (int)NELEM(rows));
    tcase_add_loop_test(tc, chunked_step3, 0, (int)NELEM(rows));
    tcase_add_test(tc, one_span_per_call);
    tcase_add_test(tc, large_chunk_size_is_streamed);
    suite_add_tcase(s, tc);
    tc = tcase_create("encode");
    tcase_add_loop_test(tc, chunk_header, 0, (int)NELEM(hex));
    tcase_add_test(tc, chunk_header_roundtrip);
    suite_add_tcase(s, tc);
    return run_suite(s);
}
