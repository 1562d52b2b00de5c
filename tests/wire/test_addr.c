/* test_addr.c: address parsing and formatting (addr.c), table-driven: round trips and rejected inputs. */
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/un.h>

#include "wire_test.h"

static const struct {
    const char *in;
    int family;
    const char *out; /* wire_addr_format result */
    const char *host;
} good[] = {
    {"1.2.3.4:80", AF_INET, "1.2.3.4:80", "1.2.3.4"},
    {"127.0.0.1:65535", AF_INET, "127.0.0.1:65535", "127.0.0.1"},
    {"*:8080", AF_INET, "0.0.0.0:8080", "0.0.0.0"},
    {":81", AF_INET, "0.0.0.0:81", "0.0.0.0"},
    {"[::1]:443", AF_INET6, "[::1]:443", "::1"},
    {"[::]:80", AF_INET6, "[::]:80", "::"},
    {"[2001:db8::5]:0", AF_INET6, "[2001:db8::5]:0", "2001:db8::5"},
    {"[::ffff:10.0.0.1]:1", AF_INET6, "[::ffff:10.0.0.1]:1", "::ffff:10.0.0.1"},
    {"unix:/run/proxyd.sock", AF_UNIX, "unix:/run/proxyd.sock", "/run/proxyd.sock"},
    {"localhost:8443", AF_INET, "127.0.0.1:8443", "127.0.0.1"}, /* /etc/hosts, IPv4 preferred */
};

static const char *bad[] = {
    "",      "1.2.3.4", "1.2.3.4:", "1.2.3.4:65536", "1.2.3.4:-1", "1.2.3.4:8x", "::1:80",
    "[::1]", "[::1]80", "[]:80",    "[1.2.3.4]:80",  "[zz::1]:80", "unix:",      "1.2.3.4:99999999999999999999",
};

START_TEST(test_addr_round_trip)
{
    const char *in = good[_i].in;
    wire_addr a, b;
    char out[128], host[128], again[128];
    ck_assert_int_eq(wire_addr_parse(in, &a), 0);
    ck_assert_int_eq(a.ss.ss_family, good[_i].family);
    ck_assert_str_eq(wire_addr_format(&a, out, sizeof out), good[_i].out);
    ck_assert_str_eq(wire_addr_host(&a, host, sizeof host), good[_i].host);
    ck_assert_int_eq(wire_addr_parse(out, &b), 0); /* the formatted text parses back to the same address */
    ck_assert_uint_eq(a.len, b.len);
    ck_assert_str_eq(wire_addr_format(&b, again, sizeof again), out);
}
END_TEST

START_TEST(test_addr_rejects)
{
    wire_addr a;
    ck_assert_int_eq(wire_addr_parse(bad[_i], &a), -EINVAL);
}
END_TEST

START_TEST(test_addr_unknown_host_and_limits)
{
    wire_addr a;
    char buf[8];
    ck_assert_int_eq(wire_addr_parse("no-such-host.invalid:80", &a), -ENOENT);
    ck_assert_int_eq(wire_addr_parse(NULL, &a), -EINVAL);
    char longpath[200] = "unix:/";
    memset(longpath + 6, 'a', sizeof longpath - 7);
    longpath[sizeof longpath - 1] = '\0';
    ck_assert_int_eq(wire_addr_parse(longpath, &a), -EINVAL);
    ck_assert_int_eq(wire_addr_parse("255.255.255.255:65535", &a), 0);
    ck_assert_str_eq(wire_addr_format(&a, buf, sizeof buf), "255.255"); /* truncated, NUL-terminated */
    memset(&a, 0, sizeof a);
    ck_assert_str_eq(wire_addr_format(&a, buf, sizeof buf), "unknown");
}
END_TEST

static Suite *addr_suite(void)
{
    Suite *s = suite_create("wire_addr");
    TCase *tc = tcase_create("addr");
    tcase_set_timeout(tc, 30); /* the unknown-host case asks the resolver */
    tcase_add_loop_test(tc, test_addr_round_trip, 0, (int)(sizeof good / sizeof good[0]));
    tcase_add_loop_test(tc, test_addr_rejects, 0, (int)(sizeof bad / sizeof bad[0]));
    tcase_add_test(tc, test_addr_unknown_host_and_limits);
    suite_add_tcase(s, tc);
    return s;
}

WIRE_TEST_MAIN(addr_suite)
