/* tests/tls sha256: libtlsio's SHA-256 block functions (libtlsio/src/sha256.c): FIPS 180-2's examples through each,
 * the two against each other on random states and blocks, and mbedTLS's SHA-224/256 API on top of them. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mbedtls/sha256.h>

#include "sha256.h"

typedef void block_fn(uint32_t state[8], const unsigned char block[64]);

static const uint32_t H0[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                               0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};

/* SHA-256 of msg (up to 119 bytes: two blocks at most) by a block function alone, padding as FIPS 180-4 5.1.1. */
static void digest_with(block_fn *fn, const char *msg, uint32_t out[8])
{
    unsigned char b[128] = {0};
    size_t n = strlen(msg), blocks = n + 9 > 64 ? 2 : 1;
    ck_assert_uint_lt(n, 120);
    memcpy(b, msg, n);
    b[n] = 0x80;
    uint64_t bits = (uint64_t)n * 8;
    for (int i = 0; i < 8; i++)
        b[64 * blocks - 1 - i] = (unsigned char)(bits >> (8 * i));
    memcpy(out, H0, sizeof H0);
    for (size_t i = 0; i < blocks; i++)
        fn(out, b + 64 * i);
}

static const struct {
    const char *msg;
    uint32_t h[8];
} vectors[] = {
    {"abc", {0xba7816bf, 0x8f01cfea, 0x414140de, 0x5dae2223, 0xb00361a3, 0x96177a9c, 0xb410ff61, 0xf20015ad}},
    {"", {0xe3b0c442, 0x98fc1c14, 0x9afbf4c8, 0x996fb924, 0x27ae41e4, 0x649b934c, 0xa495991b, 0x7852b855}},
    {"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
     {0x248d6a61, 0xd20638b8, 0xe5c02693, 0x0c3e6039, 0xa33ce459, 0x64ff2167, 0xf6ecedd4, 0x19db06c1}},
};

static void check_vectors(block_fn *fn)
{
    for (size_t i = 0; i < sizeof vectors / sizeof vectors[0]; i++) {
        uint32_t h[8];
        digest_with(fn, vectors[i].msg, h);
        ck_assert_mem_eq(h, vectors[i].h, sizeof h);
    }
}

START_TEST(portable_c_vectors)
{
    check_vectors(tlsio__sha256_block_c);
}
END_TEST

START_TEST(sha_extensions_vectors)
{
#if defined(MBEDTLS_SHA256_PROCESS_ALT) /* proxyd's build: mbedTLS runs on these block functions, and says which */
    ck_assert_str_eq(tlsio__sha256_impl(), tlsio__sha256_has_shani() ? "x86-64 SHA extensions" : "portable C");
#endif
    if (!tlsio__sha256_has_shani()) {
        printf("sha_extensions_vectors: this CPU has no SHA extensions; only the portable C is checked\n");
        return;
    }
    check_vectors(tlsio__sha256_block_shani);
}
END_TEST

/* Random states and blocks: the two implementations agree on every one (each already matched FIPS's examples). */
START_TEST(both_agree)
{
    if (!tlsio__sha256_has_shani())
        return;
    srand(1234);
    for (int i = 0; i < 20000; i++) {
        uint32_t a[8], b[8];
        unsigned char blk[64];
        for (int j = 0; j < 8; j++)
            a[j] = b[j] = (uint32_t)rand() << 16 ^ (uint32_t)rand();
        for (int j = 0; j < 64; j++)
            blk[j] = (unsigned char)rand();
        tlsio__sha256_block_c(a, blk);
        tlsio__sha256_block_shani(b, blk);
        ck_assert_mem_eq(a, b, sizeof a);
    }
}
END_TEST

static void hex(const unsigned char *d, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++)
        sprintf(out + 2 * i, "%02x", d[i]);
}

/* Through mbedTLS (whatever block function it runs on): a million 'a' fed in uneven pieces, and SHA-224. */
START_TEST(through_mbedtls)
{
    mbedtls_sha256_context ctx;
    unsigned char d[32], piece[997];
    char text[65];
    memset(piece, 'a', sizeof piece);
    mbedtls_sha256_init(&ctx);
    ck_assert_int_eq(mbedtls_sha256_starts(&ctx, 0), 0);
    for (size_t left = 1000000, n; left > 0; left -= n) {
        n = left < sizeof piece ? left : (left % 61) + 1 + (left % 7) * 100;
        ck_assert_int_eq(mbedtls_sha256_update(&ctx, piece, n), 0);
    }
    ck_assert_int_eq(mbedtls_sha256_finish(&ctx, d), 0);
    mbedtls_sha256_free(&ctx);
    hex(d, 32, text);
    ck_assert_str_eq(text, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");

    ck_assert_int_eq(mbedtls_sha256((const unsigned char *)"abc", 3, d, 1), 0);
    hex(d, 28, text);
    ck_assert_str_eq(text, "23097d223405d8228642a477bda255b32aadbce4bda0b3f7e36c9da7");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("tls_sha256");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, portable_c_vectors);
    tcase_add_test(tc, sha_extensions_vectors);
    tcase_add_test(tc, both_agree);
    tcase_add_test(tc, through_mbedtls);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
