/* tests/proxyd: common/proxyproto.c, the PROXY protocol parser: valid v1 and v2 headers of every kind, the ways a
 * header is refused, every header fed one byte at a time, and the bytes after a header left alone. */
#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "common/proxyproto.h"

#define N(a) ((int)(sizeof(a) / sizeof((a)[0])))
#define V2SIG "\r\n\r\n\0\r\nQUIT\n"

typedef struct {
    const char *name;
    const char *bytes;
    size_t len;        /* 0: strlen(bytes) */
    long want;         /* the header's length, or a px_pp_err */
    int local;         /* on success */
    const char *src;   /* on success, not local: the source address as text */
    unsigned src_port; /* and its port */
} pp_case;

/* v2 headers: the signature, then version/command, family/transport, length, addresses and TLVs. */
static const char v2_inet[] = V2SIG "\x21\x11\x00\x0C"
                                    "\xC6\x33\x64\x07"
                                    "\x7F\x00\x00\x01"
                                    "\x15\xB3\x00\x50";
static const char v2_inet_tlv[] = V2SIG "\x21\x11\x00\x1B"
                                        "\xC6\x33\x64\x07"
                                        "\x7F\x00\x00\x01"
                                        "\x15\xB3\x00\x50"
                                        "\x01\x00\x02h2"                /* ALPN */
                                        "\x04\x00\x00"                  /* NOOP, empty */
                                        "\x05\x00\x04\x01\x02\x03\x04"; /* unique id */
static const char v2_inet6[] = V2SIG "\x21\x21\x00\x24"
                                     "\x20\x01\x0d\xb8\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x07"
                                     "\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01"
                                     "\x01\xBB\x01\xBB";
static const char v2_local[] = V2SIG "\x20\x00\x00\x00";
static const char v2_local_inet[] = V2SIG "\x20\x11\x00\x0C"
                                          "\x01\x02\x03\x04\x05\x06\x07\x08\x00\x01\x00\x02";
static const char v2_unspec[] = V2SIG "\x21\x00\x00\x03xyz";
static const char v2_bad_version[] = V2SIG "\x11\x11\x00\x0C";
static const char v2_bad_command[] = V2SIG "\x22\x11\x00\x0C";
static const char v2_bad_family[] = V2SIG "\x21\x41\x00\x0C";
static const char v2_dgram[] = V2SIG "\x21\x12\x00\x0C";
static const char v2_too_long[] = V2SIG "\x21\x11\x08\x01";
static const char v2_short_inet[] = V2SIG "\x21\x11\x00\x08"
                                          "\x01\x02\x03\x04\x05\x06\x07\x08";
static const char v2_short_inet6[] = V2SIG "\x21\x21\x00\x0C"
                                           "\x01\x02\x03\x04\x05\x06\x07\x08\x00\x01\x00\x02";
static const char v2_tlv_past_end[] = V2SIG "\x21\x11\x00\x10"
                                            "\x01\x02\x03\x04\x05\x06\x07\x08\x00\x01\x00\x02"
                                            "\x01\x00\x05h";
static const char v2_tlv_cut[] = V2SIG "\x21\x11\x00\x0E"
                                       "\x01\x02\x03\x04\x05\x06\x07\x08\x00\x01\x00\x02"
                                       "\x01\x00";
static const char v2_bad_sig[] = "\r\n\r\n\0\r\nQUIX\n\x21\x11\x00\x0C";

#define B(s) s, sizeof(s) - 1

/* The longest v1 line the spec allows: 107 bytes with its CRLF (UNKNOWN with the longest addresses and ports). */
#define V1_LONGEST                                                                                                     \
    "PROXY UNKNOWN ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n"

static const pp_case cases[] = {
    {"v1 tcp4", "PROXY TCP4 198.51.100.7 127.0.0.1 5555 80\r\n", 0, 43, 0, "198.51.100.7", 5555},
    {"v1 tcp6", "PROXY TCP6 2001:db8::7 ::1 65535 443\r\n", 0, 38, 0, "2001:db8::7", 65535},
    {"v1 port 0", "PROXY TCP4 1.2.3.4 5.6.7.8 0 0\r\n", 0, 32, 0, "1.2.3.4", 0},
    {"v1 longest", V1_LONGEST, 0, 107, 1, NULL, 0},
    {"v1 longest tcp6",
     "PROXY TCP6 ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n", 0,
     104, 0, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 65535},
    {"v1 unknown", "PROXY UNKNOWN\r\n", 0, 15, 1, NULL, 0},
    {"v1 unknown with fields", "PROXY UNKNOWN ffff::1 ffff::2 1 2\r\n", 0, 35, 1, NULL, 0},
    {"v1 then request", "PROXY TCP4 10.0.0.1 10.0.0.2 1 2\r\nGET / HTTP/1.1\r\n\r\n", 0, 34, 0, "10.0.0.1", 1},
    {"v2 inet", B(v2_inet), 28, 0, "198.51.100.7", 5555},
    {"v2 inet tlvs", B(v2_inet_tlv), 43, 0, "198.51.100.7", 5555},
    {"v2 inet6", B(v2_inet6), 52, 0, "2001:db8::7", 443},
    {"v2 local", B(v2_local), 16, 1, NULL, 0},
    {"v2 local with addresses", B(v2_local_inet), 28, 1, NULL, 0},
    {"v2 unspec", B(v2_unspec), 19, 1, NULL, 0},
    {"empty", "", 0, PX_PP_INCOMPLETE, 0, NULL, 0},
    {"v1 prefix", "PROX", 0, PX_PP_INCOMPLETE, 0, NULL, 0},
    {"v1 no crlf yet", "PROXY TCP4 1.2.3.4 5.6.7.8 1 2", 0, PX_PP_INCOMPLETE, 0, NULL, 0},
    {"v1 cr only", "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r", 0, PX_PP_INCOMPLETE, 0, NULL, 0},
    {"v2 prefix", "\r\n\r\n\0\r", 6, PX_PP_INCOMPLETE, 0, NULL, 0},
    {"v2 head only", V2SIG "\x21\x11\x00\x0C\x01", 17, PX_PP_INCOMPLETE, 0, NULL, 0},
    {"http request", "GET / HTTP/1.1\r\n\r\n", 0, PX_PP_ERR_SIGNATURE, 0, NULL, 0},
    {"tls hello", "\x16\x03\x01\x00\xa5", 0, PX_PP_ERR_SIGNATURE, 0, NULL, 0},
    {"lower case", "proxy TCP4 1.2.3.4 5.6.7.8 1 2\r\n", 0, PX_PP_ERR_SIGNATURE, 0, NULL, 0},
    {"v1 bad prefix", "PROXX", 0, PX_PP_ERR_SIGNATURE, 0, NULL, 0},
    {"v2 bad signature", B(v2_bad_sig), PX_PP_ERR_SIGNATURE, 0, NULL, 0},
    {"v1 longest then a byte", V1_LONGEST "x", 0, 107, 1, NULL, 0},
    {"v1 108 bytes",
     "PROXY UNKNOWN ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 655350\r\n",
     0, PX_PP_ERR_V1_LENGTH, 0, NULL, 0},
    {"v1 no crlf",
     "PROXY UNKNOWN "
     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
     0, PX_PP_ERR_V1_LENGTH, 0, NULL, 0},
    {"v1 bare lf", "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n", 0, PX_PP_ERR_V1_SYNTAX, 0, NULL, 0},
    {"v1 cr without lf", "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\rX", 0, PX_PP_ERR_V1_SYNTAX, 0, NULL, 0},
    {"v1 nul", "PROXY TCP4 1.2.3.4\0", 19, PX_PP_ERR_V1_SYNTAX, 0, NULL, 0},
    {"v1 two spaces", "PROXY TCP4  1.2.3.4 5.6.7.8 1 2\r\n", 0, PX_PP_ERR_V1_SYNTAX, 0, NULL, 0},
    {"v1 trailing space", "PROXY TCP4 1.2.3.4 5.6.7.8 1 2 \r\n", 0, PX_PP_ERR_V1_SYNTAX, 0, NULL, 0},
    {"v1 missing port", "PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n", 0, PX_PP_ERR_V1_SYNTAX, 0, NULL, 0},
    {"v1 extra field", "PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3\r\n", 0, PX_PP_ERR_V1_SYNTAX, 0, NULL, 0},
    {"v1 nothing", "PROXY \r\n", 0, PX_PP_ERR_V1_SYNTAX, 0, NULL, 0},
    {"v1 udp", "PROXY UDP4 1.2.3.4 5.6.7.8 1 2\r\n", 0, PX_PP_ERR_V1_PROTO, 0, NULL, 0},
    {"v1 unknowns", "PROXY UNKNOWNS\r\n", 0, PX_PP_ERR_V1_PROTO, 0, NULL, 0},
    {"v1 tcp4 with v6", "PROXY TCP4 ::1 ::1 1 2\r\n", 0, PX_PP_ERR_V1_ADDRESS, 0, NULL, 0},
    {"v1 tcp6 with v4", "PROXY TCP6 1.2.3.4 5.6.7.8 1 2\r\n", 0, PX_PP_ERR_V1_ADDRESS, 0, NULL, 0},
    {"v1 bad octet", "PROXY TCP4 1.2.3.256 5.6.7.8 1 2\r\n", 0, PX_PP_ERR_V1_ADDRESS, 0, NULL, 0},
    {"v1 name", "PROXY TCP4 localhost 5.6.7.8 1 2\r\n", 0, PX_PP_ERR_V1_ADDRESS, 0, NULL, 0},
    {"v1 port too big", "PROXY TCP4 1.2.3.4 5.6.7.8 65536 2\r\n", 0, PX_PP_ERR_V1_PORT, 0, NULL, 0},
    {"v1 port leading zero", "PROXY TCP4 1.2.3.4 5.6.7.8 080 2\r\n", 0, PX_PP_ERR_V1_PORT, 0, NULL, 0},
    {"v1 port sign", "PROXY TCP4 1.2.3.4 5.6.7.8 -1 2\r\n", 0, PX_PP_ERR_V1_PORT, 0, NULL, 0},
    {"v2 version 1", B(v2_bad_version), PX_PP_ERR_V2_VERSION, 0, NULL, 0},
    {"v2 command 2", B(v2_bad_command), PX_PP_ERR_V2_VERSION, 0, NULL, 0},
    {"v2 family 4", B(v2_bad_family), PX_PP_ERR_V2_FAMILY, 0, NULL, 0},
    {"v2 dgram", B(v2_dgram), PX_PP_ERR_V2_FAMILY, 0, NULL, 0},
    {"v2 over the bound", B(v2_too_long), PX_PP_ERR_V2_LENGTH, 0, NULL, 0},
    {"v2 inet too short", B(v2_short_inet), PX_PP_ERR_V2_LENGTH, 0, NULL, 0},
    {"v2 inet6 too short", B(v2_short_inet6), PX_PP_ERR_V2_LENGTH, 0, NULL, 0},
    {"v2 tlv past the end", B(v2_tlv_past_end), PX_PP_ERR_V2_TLV, 0, NULL, 0},
    {"v2 tlv cut", B(v2_tlv_cut), PX_PP_ERR_V2_TLV, 0, NULL, 0},
};

static size_t case_len(const pp_case *t)
{
    return t->len ? t->len : strlen(t->bytes);
}

static void check_result(const pp_case *t, long rc, const px_pp_result *r)
{
    ck_assert_msg(rc == t->want, "%s: got %ld (%s), want %ld", t->name, rc, px_pp_strerror(rc), t->want);
    if (rc <= 0)
        return;
    ck_assert_int_eq(r->version, t->bytes[0] == 'P' ? 1 : 2);
    ck_assert_int_eq(r->local, t->local);
    if (t->local)
        return;
    char text[INET6_ADDRSTRLEN];
    unsigned port;
    if (r->src.ss.ss_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)&r->src.ss;
        inet_ntop(AF_INET, &in->sin_addr, text, sizeof(text));
        port = ntohs(in->sin_port);
        ck_assert_uint_eq(r->src.len, sizeof(*in));
    } else {
        ck_assert_int_eq(r->src.ss.ss_family, AF_INET6);
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)&r->src.ss;
        inet_ntop(AF_INET6, &in6->sin6_addr, text, sizeof(text));
        port = ntohs(in6->sin6_port);
        ck_assert_uint_eq(r->src.len, sizeof(*in6));
    }
    ck_assert_str_eq(text, t->src);
    ck_assert_uint_eq(port, t->src_port);
    ck_assert_int_eq(r->dst.ss.ss_family, r->src.ss.ss_family);
}

START_TEST(whole)
{
    const pp_case *t = &cases[_i];
    px_pp_result r;
    memset(&r, 0xAA, sizeof(r));
    check_result(t, px_pp_parse(t->bytes, case_len(t), &r), &r);
}
END_TEST

/* Fed one byte more at a time (a copy of exactly that many bytes, so that reading past them is caught): every
 * prefix shorter than the verdict's point is PX_PP_INCOMPLETE, and the verdict does not change afterwards. */
START_TEST(byte_by_byte)
{
    const pp_case *t = &cases[_i];
    size_t len = case_len(t);
    long first = PX_PP_INCOMPLETE;
    size_t at = 0;
    for (size_t n = 0; n <= len; n++) {
        char *copy = malloc(n ? n : 1);
        memcpy(copy, t->bytes, n);
        px_pp_result r;
        long rc = px_pp_parse(copy, n, &r);
        free(copy);
        if (first == PX_PP_INCOMPLETE && rc != PX_PP_INCOMPLETE) {
            first = rc;
            at = n;
        }
        if (first != PX_PP_INCOMPLETE) {
            ck_assert_msg(rc == first, "%s: %ld after %zu bytes, %ld after %zu", t->name, first, at, rc, n);
            if (rc > 0)
                ck_assert_uint_eq((size_t)rc, at); /* success as soon as the last byte arrives, not later */
        }
    }
    ck_assert_int_eq(first, t->want);
}
END_TEST

/* The strictness bounds: a v2 header exactly at the bound passes, its TLV filling it. */
START_TEST(v2_at_bound)
{
    static unsigned char buf[PX_PP_MAX + 1];
    memcpy(buf, V2SIG "\x21\x11", 14);
    buf[14] = PX_PP_V2_MAX_LEN >> 8;
    buf[15] = PX_PP_V2_MAX_LEN & 0xFF;
    memset(buf + 16, 0, 12);
    size_t tlv = PX_PP_V2_MAX_LEN - 12 - 3;
    buf[28] = 0xE0;
    buf[29] = (unsigned char)(tlv >> 8);
    buf[30] = (unsigned char)(tlv & 0xFF);
    px_pp_result r;
    ck_assert_int_eq(px_pp_parse(buf, PX_PP_MAX, &r), PX_PP_MAX);
    ck_assert_int_eq(px_pp_parse(buf, PX_PP_MAX - 1, &r), PX_PP_INCOMPLETE);
    buf[30]++; /* one byte past the end */
    ck_assert_int_eq(px_pp_parse(buf, PX_PP_MAX, &r), PX_PP_ERR_V2_TLV);
    buf[15]++; /* one byte over the bound */
    ck_assert_int_eq(px_pp_parse(buf, PX_PP_MAX + 1, &r), PX_PP_ERR_V2_LENGTH);
}
END_TEST

START_TEST(strerror_named)
{
    for (long e = PX_PP_INCOMPLETE; e >= PX_PP_ERR_V2_TLV; e--)
        ck_assert_str_ne(px_pp_strerror(e), "PROXY header error");
    ck_assert_str_eq(px_pp_strerror(-100), "PROXY header error");
}
END_TEST

/* ---------------------------------------------------------------- the writer, read back by the parser */

static px_ip ip_of(const char *text)
{
    px_cidr c;
    ck_assert_int_eq(px_cidr_parse(text, &c), 0);
    px_ip ip = {.family = c.family};
    memcpy(ip.addr, c.addr, sizeof(ip.addr));
    return ip;
}

static uint16_t port_of(const wire_addr *a)
{
    const struct sockaddr_storage *ss = &a->ss;
    return ntohs(ss->ss_family == AF_INET ? ((const struct sockaddr_in *)(const void *)ss)->sin_port
                                          : ((const struct sockaddr_in6 *)(const void *)ss)->sin6_port);
}

/* Client and proxyd addresses written, then parsed: the same addresses and ports come back, in the family the
 * pair needs (IPv4 only when both are). */
static const struct {
    const char *src, *dst;
    uint16_t sport, dport;
    int family; /* AF_INET or AF_INET6 on the wire */
    long len;
} writes[] = {
    {"198.51.100.7", "127.0.0.1", 5555, 443, AF_INET, 28},
    {"127.0.0.2", "127.0.0.1", 65535, 0, AF_INET, 28},
    {"2001:db8::7", "::1", 1, 8443, AF_INET6, 52},
    {"192.0.2.1", "2001:db8::1", 40000, 443, AF_INET6, 52}, /* mixed: the IPv4 one mapped */
};

START_TEST(write_round_trip)
{
    unsigned char buf[PX_PP_V2_OUT_MAX];
    px_ip src = ip_of(writes[_i].src), dst = ip_of(writes[_i].dst);
    size_t n = px_pp_write_v2(buf, sizeof(buf), &src, writes[_i].sport, &dst, writes[_i].dport);
    ck_assert_int_eq((long)n, writes[_i].len);
    px_pp_result r;
    ck_assert_int_eq(px_pp_parse(buf, n, &r), (long)n);
    ck_assert_int_eq(r.version, 2);
    ck_assert_int_eq(r.local, 0);
    ck_assert_int_eq(r.src.ss.ss_family, writes[_i].family);
    px_ip back_src, back_dst;
    px_ip_from_sockaddr(&back_src, &r.src.ss); /* a mapped IPv4 address reads back as IPv4 */
    px_ip_from_sockaddr(&back_dst, &r.dst.ss);
    ck_assert_mem_eq(&back_src, &src, sizeof(src));
    ck_assert_mem_eq(&back_dst, &dst, sizeof(dst));
    ck_assert_uint_eq(port_of(&r.src), writes[_i].sport);
    ck_assert_uint_eq(port_of(&r.dst), writes[_i].dport);
    for (size_t k = 0; k < n; k++) /* every prefix is a valid beginning: a receiver waits for the rest */
        ck_assert_int_eq(px_pp_parse(buf, k, &r), PX_PP_INCOMPLETE);
    ck_assert_uint_eq(px_pp_write_v2(buf, n - 1, &src, 1, &dst, 2), 0); /* too small: nothing */
}
END_TEST

/* No IP family (a unix-socket client) or no client at all: a LOCAL header, which the parser reads as "keep the
 * connection's addresses". */
START_TEST(write_local)
{
    unsigned char buf[PX_PP_V2_OUT_MAX];
    px_ip unix_peer = {.family = PX_IP_NONE}, dst = ip_of("127.0.0.1");
    px_pp_result r;
    size_t n = px_pp_write_v2(buf, sizeof(buf), &unix_peer, 0, &dst, 443);
    ck_assert_uint_eq(n, 16);
    ck_assert_int_eq(buf[12], 0x20);
    ck_assert_int_eq(px_pp_parse(buf, n, &r), 16);
    ck_assert_int_eq(r.local, 1);
    ck_assert_uint_eq(px_pp_write_v2(buf, sizeof(buf), NULL, 0, NULL, 0), 16);
    ck_assert_int_eq(px_pp_parse(buf, 16, &r), 16);
    ck_assert_int_eq(r.local, 1);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("proxyd_proxyproto");
    TCase *tc = tcase_create("parse");
    tcase_add_loop_test(tc, whole, 0, N(cases));
    tcase_add_loop_test(tc, byte_by_byte, 0, N(cases));
    tcase_add_test(tc, v2_at_bound);
    tcase_add_test(tc, strerror_named);
    tcase_add_loop_test(tc, write_round_trip, 0, N(writes));
    tcase_add_test(tc, write_local);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
