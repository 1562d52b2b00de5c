/* tests/http/test_writer.c: head serialising (bounded, injection-proof), reason phrases, error texts and the
 * status per parse error. */
#include "helpers.h"

#include <http/http.h>
#include <string.h>

static void check_out(const http_writer *w, long n, const char *want)
{
    ck_assert_int_eq(n, (long)strlen(want));
    ck_assert_uint_eq(w->len, strlen(want));
    ck_assert(memcmp(w->buf, want, w->len) == 0);
}

START_TEST(request_head)
{
    char buf[128];
    http_writer w;
    http_writer_init(&w, buf, sizeof buf);
    http_write_request_line(&w, http_slice_cstr("GET"), http_slice_cstr("/x?y"), 1);
    http_write_field(&w, http_slice_cstr("Host"), http_slice_cstr("a"));
    http_write_field(&w, http_slice_cstr("Content-Length"), http_slice_cstr(""));
    check_out(&w, http_write_end(&w), "GET /x?y HTTP/1.1\r\nHost: a\r\nContent-Length: \r\n\r\n");
}
END_TEST

START_TEST(request_head_parses_back)
{
    char buf[128];
    http_writer w;
    http_writer_init(&w, buf, sizeof buf);
    http_write_request_line(&w, http_slice_cstr("POST"), http_slice_cstr("/"), 0);
    http_write_field(&w, http_slice_cstr("Content-Length"), http_slice_cstr("12"));
    long n = http_write_end(&w);
    http_field f[4];
    http_request req = {.fields = f, .fields_cap = 4};
    ck_assert_int_eq(http_parse_request(buf, (size_t)n, 0, &req, NULL), n);
    ck_assert_int_eq(req.body, HTTP_BODY_LENGTH);
    ck_assert_uint_eq(req.content_length, 12);
}
END_TEST

START_TEST(status_line)
{
    char buf[128];
    http_writer w;
    http_writer_init(&w, buf, sizeof buf);
    http_write_status_line(&w, 1, 404, http_slice_of(NULL, 0));
    http_write_status_line(&w, 0, 200, http_slice_cstr("Fine"));
    check_out(&w, http_write_end(&w), "HTTP/1.1 404 Not Found\r\nHTTP/1.0 200 Fine\r\n\r\n");
}
END_TEST

START_TEST(status_invalid)
{
    char buf[64];
    http_writer w;
    http_writer_init(&w, buf, sizeof buf);
    http_write_status_line(&w, 1, 99, http_slice_of(NULL, 0));
    ck_assert_int_eq(http_write_end(&w), -1);
}
END_TEST

START_TEST(overflow)
{
    char buf[10];
    http_writer w;
    http_writer_init(&w, buf, sizeof buf);
    http_write_str(&w, "12345678");
    http_write_str(&w, "abc"); /* does not fit: nothing written, flag set */
    ck_assert_uint_eq(w.len, 8);
    http_write_str(&w, "z"); /* after overflow nothing more is written */
    ck_assert_uint_eq(w.len, 8);
    ck_assert_int_eq(http_write_end(&w), -1);
}
END_TEST

START_TEST(exact_fit)
{
    char buf[4];
    http_writer w;
    http_writer_init(&w, buf, sizeof buf);
    http_write_str(&w, "ab");
    ck_assert_int_eq(http_write_end(&w), 4);
}
END_TEST

typedef struct fcase {
    const char *name, *value;
    size_t vlen;
    int ok;
} fcase;

static const fcase fields[] = {
    {"X", "a b\tc", 5, 1}, {"X", "a\r\nEvil: 1", 10, 0},
    {"X", "a\nb", 3, 0},   {"X", "a\rb", 3, 0},
    {"X", "a\0b", 3, 0},   {"X Y", "v", 1, 0},
    {"", "v", 1, 0},       {"X:", "v", 1, 0},
    {"X\r\nY", "v", 1, 0}, {"X-Ok", "caf\xc3\xa9", 5, 1},
};

START_TEST(field_injection)
{
    char buf[64];
    http_writer w;
    http_writer_init(&w, buf, sizeof buf);
    http_write_field(&w, http_slice_cstr(fields[_i].name), http_slice_of(fields[_i].value, fields[_i].vlen));
    ck_assert_int_eq(w.overflow, !fields[_i].ok);
    if (!fields[_i].ok)
        ck_assert_uint_eq(w.len, 0);
}
END_TEST

typedef struct ucase {
    uint64_t v;
    const char *want;
} ucase;

static const ucase u64s[] = {{0, "0"}, {7, "7"}, {10, "10"}, {18446744073709551615ULL, "18446744073709551615"}};

START_TEST(write_u64)
{
    char buf[32];
    http_writer w;
    http_writer_init(&w, buf, sizeof buf);
    http_write_u64(&w, u64s[_i].v);
    ck_assert_uint_eq(w.len, strlen(u64s[_i].want));
    ck_assert(memcmp(buf, u64s[_i].want, w.len) == 0);
}
END_TEST

typedef struct scase {
    int err, status;
} scase;

static const scase statuses[] = {
    {HTTP_E_METHOD, 400},          {HTTP_E_TARGET, 400},         {HTTP_E_VERSION, 505},
    {HTTP_E_LINE_ENDING, 400},     {HTTP_E_LINE_TOO_LONG, 414},  {HTTP_E_FIELD_NAME, 400},
    {HTTP_E_FIELD_VALUE, 400},     {HTTP_E_OBS_FOLD, 400},       {HTTP_E_TOO_MANY_FIELDS, 431},
    {HTTP_E_HEAD_TOO_LARGE, 431},  {HTTP_E_CONTENT_LENGTH, 400}, {HTTP_E_TE_UNSUPPORTED, 501},
    {HTTP_E_TE_NOT_CHUNKED, 400},  {HTTP_E_TE_HTTP10, 400},      {HTTP_E_TE_AND_CL, 400},
    {HTTP_E_HOST_MISSING, 400},    {HTTP_E_HOST_DUP, 400},       {HTTP_E_HOST_INVALID, 400},
    {HTTP_E_STATUS, 502},          {HTTP_E_CHUNK_SIZE, 400},     {HTTP_E_CHUNK_EXT, 400},
    {HTTP_E_CHUNK_DATA, 400},      {HTTP_E_TRAILER, 400},        {HTTP_E_BODY_TOO_LARGE, 413},
    {HTTP_E_VERSION_INVALID, 400},
};

START_TEST(err_status)
{
    ck_assert_int_eq(http_err_status(statuses[_i].err), statuses[_i].status);
}
END_TEST

START_TEST(strerror_distinct)
{
    const char *mine = http_strerror(statuses[_i].err);
    ck_assert_str_ne(mine, http_strerror(-1000));
    for (size_t j = 0; j < NELEM(statuses); j++)
        if ((int)j != _i)
            ck_assert_str_ne(mine, http_strerror(statuses[j].err));
    ck_assert_str_ne(mine, http_strerror(HTTP_INCOMPLETE));
}
END_TEST

START_TEST(reasons)
{
    ck_assert_str_eq(http_reason(200), "OK");
    ck_assert_str_eq(http_reason(404), "Not Found");
    ck_assert_str_eq(http_reason(502), "Bad Gateway");
    ck_assert_str_eq(http_reason(431), "Request Header Fields Too Large");
    ck_assert_str_eq(http_reason(799), "Unknown");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("http_writer");
    TCase *tc = tcase_create("writer");
    tcase_add_test(tc, request_head);
    tcase_add_test(tc, request_head_parses_back);
    tcase_add_test(tc, status_line);
    tcase_add_test(tc, status_invalid);
    tcase_add_test(tc, overflow);
    tcase_add_test(tc, exact_fit);
    tcase_add_loop_test(tc, field_injection, 0, (int)NELEM(fields));
    tcase_add_loop_test(tc, write_u64, 0, (int)NELEM(u64s));
    suite_add_tcase(s, tc);
    tc = tcase_create("errors");
    tcase_add_loop_test(tc, err_status, 0, (int)NELEM(statuses));
    tcase_add_loop_test(tc, strerror_distinct, 0, (int)NELEM(statuses));
    tcase_add_test(tc, reasons);
    suite_add_tcase(s, tc);
    return run_suite(s);
}
