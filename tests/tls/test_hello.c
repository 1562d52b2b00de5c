/* tests/tls hello: the handshake pre-check (libtlsio/src/hello.c): ClientHello checks table-driven, the record walker
 * fed whole, byte by byte and in records, and every bound it keeps (warning alerts, empty records, sizes).
 * Its own program: the checks need no certificates nor sockets. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "hello.h"

static const uint16_t groups[] = {29, 23, 24};

/* A growable byte buffer for building messages. */
struct buf {
    unsigned char b[70000];
    size_t n;
};

static void put(struct buf *b, const void *p, size_t n)
{
    ck_assert_uint_le(b->n + n, sizeof b->b);
    memcpy(b->b + b->n, p, n);
    b->n += n;
}

static void put_u(struct buf *b, size_t v, int bytes)
{
    for (int i = bytes - 1; i >= 0; i--) {
        unsigned char c = (unsigned char)(v >> (8 * i));
        put(b, &c, 1);
    }
}

/* An extension of type with data. */
static void ext(struct buf *b, unsigned type, const void *data, size_t n)
{
    put_u(b, type, 2);
    put_u(b, n, 2);
    put(b, data, n);
}

/* Test hello: compression list comp (len ncomp), the default extensions unless `skip` names one, then extra. */
static void hello(struct buf *out, const char *comp, size_t ncomp, int skip, const struct buf *extra)
{
    struct buf *body = calloc(1, sizeof *body), *exts = calloc(1, sizeof *exts);
    static const unsigned char sni[] = {0, 11, 0, 0, 8, 'a', '.', 't', 'e', 's', 't', '.', 'x'};
    static const unsigned char grp[] = {0, 4, 0, 29, 0, 23}, pf[] = {1, 0}, sig[] = {0, 4, 4, 3, 8, 4};
    if (skip != 0)
        ext(exts, 0, sni, sizeof sni);
    if (skip != 10)
        ext(exts, 10, grp, sizeof grp);
    if (skip != 11)
        ext(exts, 11, pf, sizeof pf);
    if (skip != 13)
        ext(exts, 13, sig, sizeof sig);
    if (skip != 23)
        ext(exts, 23, "", 0);
    if (extra)
        put(exts, extra->b, extra->n);
    put_u(body, 0x0303, 2);
    for (int i = 0; i < 32; i++)
        put_u(body, (size_t)i, 1);
    put_u(body, 0, 1); /* session id */
    put_u(body, 4, 2); /* two suites */
    put_u(body, 0xc02b, 2);
    put_u(body, 0xc02f, 2);
    put_u(body, ncomp, 1);
    put(body, comp, ncomp);
    put_u(body, exts->n, 2);
    put(body, exts->b, exts->n);
    out->n = 0;
    put_u(out, 1, 1);
    put_u(out, body->n, 3);
    put(out, body->b, body->n);
    free(body);
    free(exts);
}

/* Parses a copy of exactly len bytes (AddressSanitizer catches any read past the end). */
static int parse(const unsigned char *msg, size_t len, struct tlsio__hello_info *info)
{
    unsigned char *copy = malloc(len ? len : 1);
    memcpy(copy, msg, len);
    int rc = tlsio__hello_parse(copy, len, groups, 3, info);
    free(copy);
    return rc;
}

static int parse_with(int skip, const void *extra_ext, size_t n, unsigned type)
{
    struct buf *h = calloc(1, sizeof *h), *x = calloc(1, sizeof *x);
    struct tlsio__hello_info info;
    if (extra_ext)
        ext(x, type, extra_ext, n);
    hello(h, "\0", 1, skip, extra_ext ? x : NULL);
    int rc = parse(h->b, h->n, &info);
    free(h);
    free(x);
    return rc;
}

START_TEST(hello_valid_and_flags)
{
    struct buf *h = calloc(1, sizeof *h);
    struct tlsio__hello_info info;
    hello(h, "\0", 1, -1, NULL);
    ck_assert_int_eq(parse(h->b, h->n, &info), 0);
    ck_assert_int_eq(info.ems, 1);
    ck_assert_int_eq(info.tls13, 0);
    hello(h, "\0", 1, 23, NULL);
    ck_assert_int_eq(parse(h->b, h->n, &info), 0);
    ck_assert_int_eq(info.ems, 0);
    /* every truncation is refused, never read past */
    hello(h, "\0", 1, -1, NULL);
    for (size_t len = 0; len < h->n; len++)
        ck_assert_int_ne(parse(h->b, len, &info), 0);
    free(h);
    static const unsigned char v13[] = {4, 3, 4, 3, 3};
    ck_assert_int_eq(parse_with(-1, v13, sizeof v13, 43), 0);
}
END_TEST

/* The defects of issue 16 item 6 and their neighbours: the alert each gets. */
START_TEST(hello_refusals)
{
    struct buf *h = calloc(1, sizeof *h);
    struct tlsio__hello_info info;
    hello(h, "\1", 1, -1, NULL);
    ck_assert_int_eq(parse(h->b, h->n, &info), TLSIO__ALERT_DECODE_ERROR); /* compression without null */
    hello(h, "\1\0", 2, -1, NULL);
    ck_assert_int_eq(parse(h->b, h->n, &info), 0);
    hello(h, "", 0, -1, NULL);
    ck_assert_int_eq(parse(h->b, h->n, &info), TLSIO__ALERT_DECODE_ERROR);
    free(h);
    static const unsigned char empty16[] = {0, 0}, empty8[] = {0}, odd[] = {0, 3, 4, 3, 8};
    static const unsigned char empty_name[] = {0, 3, 0, 0, 0}, p521[] = {0, 2, 0, 25}, grp[] = {0, 2, 0, 29};
    ck_assert_int_eq(parse_with(0, empty16, 2, 0), TLSIO__ALERT_DECODE_ERROR);        /* empty SNI list */
    ck_assert_int_eq(parse_with(0, empty_name, 5, 0), TLSIO__ALERT_DECODE_ERROR);     /* empty host name */
    ck_assert_int_eq(parse_with(11, empty8, 1, 11), TLSIO__ALERT_DECODE_ERROR);       /* ec_point_formats */
    ck_assert_int_eq(parse_with(13, empty16, 2, 13), TLSIO__ALERT_DECODE_ERROR);      /* signature_algorithms */
    ck_assert_int_eq(parse_with(13, odd, sizeof odd, 13), TLSIO__ALERT_DECODE_ERROR); /* odd length */
    ck_assert_int_eq(parse_with(10, empty16, 2, 10), TLSIO__ALERT_DECODE_ERROR);      /* supported_groups */
    ck_assert_int_eq(parse_with(10, p521, 4, 10), TLSIO__ALERT_HANDSHAKE_FAILURE);    /* no common group */
    ck_assert_int_eq(parse_with(-1, grp, 4, 10), TLSIO__ALERT_ILLEGAL_PARAMETER);     /* twice */
    ck_assert_int_eq(parse_with(-1, "x", 1, 23 + 64), 0);                             /* unknown: ignored */
    ck_assert_int_eq(parse_with(23, "x", 1, 23), TLSIO__ALERT_DECODE_ERROR);          /* EMS carries nothing */
}
END_TEST

/* Records of type over the bytes d[0..n), cut every `size` bytes. */
static void records(struct buf *out, unsigned type, const unsigned char *d, size_t n, size_t size)
{
    for (size_t i = 0; i < n || (n == 0 && i == 0); i += size) {
        size_t m = n - i < size ? n - i : size;
        put_u(out, type, 1);
        put_u(out, 0x0303, 2);
        put_u(out, m, 2);
        put(out, d + i, m);
        if (n == 0)
            break;
    }
}

static int feed_all(struct tlsio__precheck *p, const struct buf *b, size_t step)
{
    int rc = 0;
    for (size_t i = 0; i < b->n && rc == 0; i += step)
        rc = tlsio__precheck_feed(p, b->b + i, b->n - i < step ? b->n - i : step);
    return rc;
}

static struct tlsio__precheck fresh(void)
{
    struct tlsio__precheck p;
    memset(&p, 0, sizeof p);
    p.groups = groups;
    p.ngroups = 3;
    return p;
}

START_TEST(precheck_fragments)
{
    struct buf *h = calloc(1, sizeof *h), *r = calloc(1, sizeof *r);
    hello(h, "\0", 1, -1, NULL);
    size_t sizes[] = {1, 7, 20, 16384};
    for (size_t i = 0; i < 4; i++) {
        for (size_t step = 1; step <= 4096; step *= 64) {
            struct tlsio__precheck p = fresh();
            r->n = 0;
            records(r, 22, h->b, h->n, sizes[i]);
            ck_assert_int_eq(feed_all(&p, r, step), 0);
            ck_assert_int_eq(p.hello_done, 1);
            ck_assert_int_eq(p.info.ems, 1);
            tlsio__precheck_free(&p);
        }
    }
    /* a bad hello is refused however it is cut */
    hello(h, "\1", 1, -1, NULL);
    struct tlsio__precheck p = fresh();
    r->n = 0;
    records(r, 22, h->b, h->n, 20);
    ck_assert_int_eq(feed_all(&p, r, 3), TLSIO__ALERT_DECODE_ERROR);
    ck_assert_int_eq(tlsio__precheck_feed(&p, (const unsigned char *)"x", 1), TLSIO__ALERT_DECODE_ERROR); /* latched */
    free(h);
    free(r);
}
END_TEST

/* After a good hello: what the records that follow get. */
static int after_hello(const unsigned char *tail, size_t n)
{
    struct buf *h = calloc(1, sizeof *h), *r = calloc(1, sizeof *r);
    hello(h, "\0", 1, -1, NULL);
    records(r, 22, h->b, h->n, 16384);
    put(r, tail, n);
    struct tlsio__precheck p = fresh();
    int rc = feed_all(&p, r, 1);
    tlsio__precheck_free(&p);
    free(h);
    free(r);
    return rc;
}

START_TEST(precheck_records)
{
    static const unsigned char heartbeat[] = {24, 3, 3, 0, 3, 1, 0, 0};
    static const unsigned char ccs2[] = {20, 3, 3, 0, 2, 1, 1}, ccs_bad[] = {20, 3, 3, 0, 1, 2};
    static const unsigned char finished[] = {22, 3, 3, 0, 16, 20, 0, 0, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
    static const unsigned char split_cke[] = {22, 3, 3, 0, 3, 16, 0, 0, 20, 3, 3, 0, 1, 1};
    static const unsigned char cke_ccs_short[] = {22, 3, 3, 0, 6, 16, 0, 0, 2, 1, 9, 20, 3, 3, 0, 1, 1, 22, 3, 3, 0, 0};
    static const unsigned char plain_big[] = {22, 3, 3, 0x40, 0x01};
    static const unsigned char cipher_big[] = {20, 3, 3, 0, 1, 1, 22, 3, 3, 0x48, 0x01};
    ck_assert_int_eq(after_hello(heartbeat, sizeof heartbeat), TLSIO__ALERT_UNEXPECTED_MESSAGE);
    ck_assert_int_eq(after_hello(ccs2, sizeof ccs2), TLSIO__ALERT_UNEXPECTED_MESSAGE);
    ck_assert_int_eq(after_hello(ccs_bad, sizeof ccs_bad), TLSIO__ALERT_UNEXPECTED_MESSAGE);
    ck_assert_int_eq(after_hello(finished, sizeof finished), TLSIO__ALERT_UNEXPECTED_MESSAGE);
    ck_assert_int_eq(after_hello(split_cke, sizeof split_cke), TLSIO__ALERT_UNEXPECTED_MESSAGE);
    ck_assert_int_eq(after_hello(cke_ccs_short, sizeof cke_ccs_short), TLSIO__ALERT_BAD_RECORD_MAC);
    ck_assert_int_eq(after_hello(plain_big, sizeof plain_big), TLSIO__ALERT_RECORD_OVERFLOW);
    ck_assert_int_eq(after_hello(cipher_big, sizeof cipher_big), TLSIO__ALERT_RECORD_OVERFLOW);
    ck_assert_int_eq(after_hello(cke_ccs_short, sizeof cke_ccs_short - 5), 0); /* CKE, CCS: fine */
    /* the first message must be a ClientHello */
    static const unsigned char sh[] = {22, 3, 3, 0, 4, 2, 0, 0, 0};
    struct tlsio__precheck p = fresh();
    ck_assert_int_eq(tlsio__precheck_feed(&p, sh, sizeof sh), TLSIO__ALERT_UNEXPECTED_MESSAGE);
    /* a hello announced over TLSIO__HELLO_MAX is refused from its header */
    static const unsigned char huge[] = {22, 3, 3, 0, 4, 1, 0, 0x40, 0x00};
    p = fresh();
    ck_assert_int_eq(tlsio__precheck_feed(&p, huge, sizeof huge), TLSIO__ALERT_ILLEGAL_PARAMETER);
}
END_TEST

START_TEST(precheck_bounds)
{
    struct buf *b = calloc(1, sizeof *b);
    static const unsigned char warn[] = {21, 3, 3, 0, 2, 1, 90}, empty[] = {23, 3, 3, 0, 0};
    for (int i = 0; i < TLSIO__WARN_ALERTS_MAX - 1; i++)
        put(b, warn, sizeof warn);
    ck_assert_int_eq(after_hello(b->b, b->n), 0);
    put(b, warn, sizeof warn);
    ck_assert_int_eq(after_hello(b->b, b->n), TLSIO__ALERT_UNEXPECTED_MESSAGE);
    b->n = 0;
    for (int i = 0; i < TLSIO__EMPTY_RECORDS_MAX - 1; i++)
        put(b, empty, sizeof empty);
    ck_assert_int_eq(after_hello(b->b, b->n), 0);
    put(b, empty, sizeof empty);
    ck_assert_int_eq(after_hello(b->b, b->n), TLSIO__ALERT_UNEXPECTED_MESSAGE);
    /* TLS 1.3: sealed records during the handshake are bounded (warning alerts hide among them) */
    {
        struct buf *h13 = calloc(1, sizeof *h13), *x = calloc(1, sizeof *x);
        static const unsigned char v13[] = {4, 3, 4, 3, 3}, sealed[] = {23, 3, 3,  0,  19, 1,  2,  3,  4,  5,  6,  7,
                                                                        8,  9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19};
        ext(x, 43, v13, sizeof v13);
        hello(h13, "\0", 1, -1, x);
        b->n = 0;
        records(b, 22, h13->b, h13->n, 16384);
        for (int i = 0; i < TLSIO__TLS13_SEALED_MAX - 1; i++)
            put(b, sealed, sizeof sealed);
        struct tlsio__precheck q = fresh();
        ck_assert_int_eq(feed_all(&q, b, 64), 0);
        ck_assert_int_eq(q.info.tls13, 1);
        ck_assert_int_eq(tlsio__precheck_feed(&q, sealed, sizeof sealed), TLSIO__ALERT_UNEXPECTED_MESSAGE);
        free(h13);
        free(x);
    }
    /* a ClientKeyExchange whose one vector fills it is "framed": a key share error is then illegal_parameter */
    static const unsigned char cke[] = {22, 3,  3,  0,  37, 16, 0,  0,  33, 32, 1,  2,  3,  4,
                                        5,  6,  7,  8,  9,  10, 11, 12, 13, 14, 15, 16, 17, 18,
                                        19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32};
    struct buf *h = calloc(1, sizeof *h);
    hello(h, "\0", 1, -1, NULL);
    b->n = 0;
    records(b, 22, h->b, h->n, 16384);
    put(b, cke, sizeof cke);
    struct tlsio__precheck p = fresh();
    ck_assert_int_eq(feed_all(&p, b, 5), 0);
    ck_assert_int_eq(p.cke_framed, 1);
    free(b);
    free(h);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("tls_hello");
    TCase *tc = tcase_create("hello");
    tcase_add_test(tc, hello_valid_and_flags);
    tcase_add_test(tc, hello_refusals);
    tcase_add_test(tc, precheck_fragments);
    tcase_add_test(tc, precheck_records);
    tcase_add_test(tc, precheck_bounds);
    suite_add_tcase(s, tc);
    SRunner *r = srunner_create(s);
    srunner_run_all(r, CK_NORMAL);
    int failed = srunner_ntests_failed(r);
    srunner_free(r);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
