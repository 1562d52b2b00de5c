/* tests/http/test_fields.c: comma lists, case-insensitive names, field lookup and the hop-by-hop rule.
 * Table rows are separate cases. */
#include "helpers.h"

#include <http/http.h>
#include <string.h>

typedef struct lcase {
    const char *list, *tok;
    int want;
} lcase;

static const lcase lists[] = {
    {"keep-alive", "keep-alive", 1},
    {"Keep-Alive", "keep-alive", 1},
    {"keep-alive2", "keep-alive", 0},
    {"xkeep-alive", "keep-alive", 0},
    {"close, keep-alive", "keep-alive", 1},
    {"close ,\tkeep-alive\t", "keep-alive", 1},
    {"close,,keep-alive", "keep-alive", 1},
    {"", "close", 0},
    {",", "close", 0},
    {"close;x", "close", 0},
    {"upgrade", "Upgrade", 1},
    {"a b, close", "close", 1},
    {"a b", "a", 0},
};

START_TEST(token_list)
{
    const lcase *c = &lists[_i];
    ck_assert_int_eq(http_token_list_has(http_slice_cstr(c->list), c->tok), c->want);
}
END_TEST

#define F(n, v)                                                                                                        \
    {                                                                                                                  \
        {n, sizeof(n) - 1},                                                                                            \
        {                                                                                                              \
            v, sizeof(v) - 1                                                                                           \
        }                                                                                                              \
    }

static const http_field msg[] = {
    F("Host", "a"),
    F("Connection", "X-Secret, keep-alive"),
    F("x-secret", "1"),
    F("Keep-Alive", "timeout=5"),
    F("TE", "trailers"),
    F("Transfer-Encoding", "chunked"),
    F("Upgrade", "h2c"),
    F("Proxy-Authorization", "x"),
    F("Trailer", "X"),
    F("Proxy-Connection", "close"),
    F("Accept", "*/*"),
    F("Proxy-Authenticate", "y"),
    F("connection", "Accept-Encoding"),
    F("Accept-Encoding", "gzip"),
    F("Content-Length", "1"),
};

typedef struct hcase {
    size_t i;
    int want;
} hcase;

static const hcase hops[] = {
    {0, 0}, {1, 1}, {2, 1},  {3, 1},  {4, 1},  {5, 1},  {6, 1},  {7, 1},
    {8, 1}, {9, 1}, {10, 0}, {11, 1}, {12, 1}, {13, 1}, {14, 0}, {99, 0},
};

START_TEST(hop_by_hop)
{
    ck_assert_int_eq(http_is_hop_by_hop(msg, NELEM(msg), hops[_i].i), hops[_i].want);
}
END_TEST

START_TEST(find_field)
{
    ck_assert_int_eq(http_find_field(msg, NELEM(msg), "connection", 0), 1);
    ck_assert_int_eq(http_find_field(msg, NELEM(msg), "CONNECTION", 2), 12);
    ck_assert_int_eq(http_find_field(msg, NELEM(msg), "connection", 13), -1);
    ck_assert_int_eq(http_find_field(msg, NELEM(msg), "nope", 0), -1);
    ck_assert_int_eq(http_find_field(msg, NELEM(msg), "hos", 0), -1);
    ck_assert_int_eq(http_find_field(msg, 0, "host", 0), -1);
}
END_TEST

START_TEST(slice_helpers)
{
    ck_assert(http_slice_eq_ci(http_slice_cstr("Content-Length"), "content-length"));
    ck_assert(!http_slice_eq_ci(http_slice_cstr("Content-Length"), "content-lengt"));
    ck_assert(!http_slice_eq_ci(http_slice_cstr("a_"), "A\x7f"));
    ck_assert(!http_slice_eq_ci(http_slice_of("ab", 1), "ab"));
    ck_assert_uint_eq(http_slice_cstr("").len, 0);
}
END_TEST

typedef struct mcase {
    http_method m;
    int idem;
} mcase;

static const mcase methods[] = {
    {HTTP_M_GET, 1},   {HTTP_M_HEAD, 1}, {HTTP_M_PUT, 1},   {HTTP_M_DELETE, 1},  {HTTP_M_OPTIONS, 1},
    {HTTP_M_TRACE, 1}, {HTTP_M_POST, 0}, {HTTP_M_PATCH, 0}, {HTTP_M_CONNECT, 0}, {HTTP_M_OTHER, 0},
};

START_TEST(idempotent)
{
    ck_assert_int_eq(http_method_idempotent(methods[_i].m), methods[_i].idem);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("http_fields");
    TCase *tc = tcase_create("fields");
    tcase_add_loop_test(tc, token_list, 0, (int)NELEM(lists));
    tcase_add_loop_test(tc, hop_by_hop, 0, (int)NELEM(hops));
    tcase_add_loop_test(tc, idempotent, 0, (int)NELEM(methods));
    tcase_add_test(tc, find_field);
    tcase_add_test(tc, slice_helpers);
    suite_add_tcase(s, tc);
    return run_suite(s);
}
