/* libtlsio/src/sha256.c: SHA-256's block function for proxyd's own mbedTLS build (MBEDTLS_SHA256_PROCESS_ALT): the
 * x86-64 SHA extensions when the CPU has them, else portable C after FIPS 180-4 section 6.2.2. */
#define MBEDTLS_ALLOW_PRIVATE_ACCESS /* the context's chaining state, the one field the block function owns */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <mbedtls/platform_util.h>
#include <mbedtls/sha256.h>

#include "sha256.h"

#if defined(__x86_64__)
#include <cpuid.h>
#include <immintrin.h>
#endif

/*
 * Why: mbedTLS 3.6 accelerates SHA-256 on Armv8 only. On x86-64 its C block function costs about 4,000
 * instructions, and a resumed TLS 1.2 handshake runs some 115 blocks (the PRF's HMACs over the key block and both
 * Finished messages, and the transcripts): three quarters of its instructions. OpenSSL, under nginx, uses the SHA
 * extensions (Intel since Goldmont and Ice Lake, AMD since Zen). A system mbedTLS keeps its own function: the hook
 * below exists only when the configuration asks for it (libtlsio/mbedtls_config.h, x86-64 only); both block
 * functions are always built, so tests/tls/test_sha256.c checks them on any x86-64 build.
 */
static const uint32_t K[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

/* ---------------------------------------------------------------- portable C */

static uint32_t rotr(uint32_t x, unsigned n)
{
    return (x >> n) | (x << (32 - n));
}

static uint32_t load_be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

void tlsio__sha256_block_c(uint32_t state[8], const unsigned char block[64])
{
    uint32_t w[64];
    for (int t = 0; t < 16; t++)
        w[t] = load_be32(block + 4 * t);
    for (int t = 16; t < 64; t++) {
        uint32_t s0 = rotr(w[t - 15], 7) ^ rotr(w[t - 15], 18) ^ (w[t - 15] >> 3);
        uint32_t s1 = rotr(w[t - 2], 17) ^ rotr(w[t - 2], 19) ^ (w[t - 2] >> 10);
        w[t] = w[t - 16] + s0 + w[t - 7] + s1;
    }
    uint32_t a = state[0], b = state[1], c = state[2], d = state[3];
    uint32_t e = state[4], f = state[5], g = state[6], h = state[7];
    for (int t = 0; t < 64; t++) {
        uint32_t t1 = h + (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) + ((e & f) ^ (~e & g)) + K[t] + w[t];
        uint32_t t2 = (rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
        h = g, g = f, f = e, e = d + t1, d = c, c = b, b = a, a = t1 + t2;
    }
    state[0] += a, state[1] += b, state[2] += c, state[3] += d;
    state[4] += e, state[5] += f, state[6] += g, state[7] += h;
    mbedtls_platform_zeroize(w, sizeof w); /* the schedule is derived from the message (keys, for HMAC) */
}

/* ---------------------------------------------------------------- SHA extensions */
#if defined(__x86_64__)

/* sha256rnds2 keeps the state as two halves, ABEF and CDGH (A in the high lane); mbedTLS keeps A..H in order. Names
 * of vectors list their lanes from high to low. */
#define SHANI __attribute__((target("sha,sse4.1,ssse3")))

/* Four rounds with message words m (W[t..t+3]) and K[t..t+3]: two sha256rnds2, each consuming two words. */
SHANI static void four_rounds(__m128i *abef, __m128i *cdgh, __m128i m, int t)
{
    __m128i wk = _mm_add_epi32(m, _mm_loadu_si128((const __m128i *)(K + t)));
    *cdgh = _mm_sha256rnds2_epu32(*cdgh, *abef, wk); /* after two rounds the old ABEF is the new CDGH */
    *abef = _mm_sha256rnds2_epu32(*abef, *cdgh, _mm_shuffle_epi32(wk, 0x0E));
}

/* W[t..t+3] for t >= 16 from the four previous groups (oldest first): W[t-16] + s0(W[t-15]) by sha256msg1, W[t-7]
 * (the last three words of g2 and the first of g3) added, s1(W[t-2]) by sha256msg2. */
SHANI static __m128i schedule(__m128i g0, __m128i g1, __m128i g2, __m128i g3)
{
    __m128i x = _mm_add_epi32(_mm_sha256msg1_epu32(g0, g1), _mm_alignr_epi8(g3, g2, 4));
    return _mm_sha256msg2_epu32(x, g3);
}

SHANI void tlsio__sha256_block_shani(uint32_t state[8], const unsigned char block[64])
{
    const __m128i bswap = _mm_set_epi64x(0x0c0d0e0f08090a0bLL, 0x0405060700010203LL);
    __m128i dcba = _mm_loadu_si128((const __m128i *)state);
    __m128i hgfe = _mm_loadu_si128((const __m128i *)(state + 4));
    __m128i cdab = _mm_shuffle_epi32(dcba, 0xB1), efgh = _mm_shuffle_epi32(hgfe, 0x1B);
    __m128i abef = _mm_alignr_epi8(cdab, efgh, 8), cdgh = _mm_blend_epi16(efgh, cdab, 0xF0);
    __m128i abef0 = abef, cdgh0 = cdgh, g[4];

    for (int i = 0; i < 4; i++) {
        g[i] = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(block + 16 * i)), bswap);
        four_rounds(&abef, &cdgh, g[i], 4 * i);
    }
    for (int i = 4; i < 16; i++) { /* g[i % 4] holds W[4(i-4)..]; it becomes W[4i..4i+3] */
        g[i % 4] = schedule(g[i % 4], g[(i + 1) % 4], g[(i + 2) % 4], g[(i + 3) % 4]);
        four_rounds(&abef, &cdgh, g[i % 4], 4 * i);
    }
    abef = _mm_add_epi32(abef, abef0);
    cdgh = _mm_add_epi32(cdgh, cdgh0);

    __m128i feba = _mm_shuffle_epi32(abef, 0x1B), dchg = _mm_shuffle_epi32(cdgh, 0xB1);
    _mm_storeu_si128((__m128i *)state, _mm_blend_epi16(feba, dchg, 0xF0));
    _mm_storeu_si128((__m128i *)(state + 4), _mm_alignr_epi8(dchg, feba, 8));
}

/* CPUID leaf 1 ECX (SSSE3, SSE4.1) and leaf 7 EBX (SHA). Asked once and kept: the answer cannot change, and CPUID
 * is slow (it traps under virtualisation). cpuid.h rather than __builtin_cpu_supports: clang 14 has no "sha" there,
 * and libgcc's table is empty in constructors that run before its own. */
static int cpu_has_shani(void)
{
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & bit_SSSE3) || !(c & bit_SSE4_1))
        return 0;
    return __get_cpuid_max(0, NULL) >= 7 && __get_cpuid_count(7, 0, &a, &b, &c, &d) && (b & bit_SHA);
}

int tlsio__sha256_has_shani(void)
{
    static int known; /* 0: not asked yet, 1: no, 2: yes; racing threads store the same value */
    int v = __atomic_load_n(&known, __ATOMIC_RELAXED);
    if (v == 0) {
        v = cpu_has_shani() ? 2 : 1;
        __atomic_store_n(&known, v, __ATOMIC_RELAXED);
    }
    return v == 2;
}
#else
void tlsio__sha256_block_shani(uint32_t state[8], const unsigned char block[64])
{
    tlsio__sha256_block_c(state, block);
}

int tlsio__sha256_has_shani(void)
{
    return 0;
}
#endif

/* ---------------------------------------------------------------- mbedTLS's hook */
#if defined(MBEDTLS_SHA256_PROCESS_ALT)
#if MBEDTLS_VERSION_NUMBER < 0x03060000 || MBEDTLS_VERSION_NUMBER >= 0x03070000
#error "sha256.c implements mbedTLS 3.6's mbedtls_internal_sha256_process(): re-check its contract for this version"
#endif

/* mbedTLS calls this for every 64-byte block of SHA-224 and SHA-256 (library/sha256.c, MBEDTLS_SHA256_PROCESS_ALT). */
int mbedtls_internal_sha256_process(mbedtls_sha256_context *ctx, const unsigned char data[64])
{
    if (tlsio__sha256_has_shani())
        tlsio__sha256_block_shani(ctx->state, data);
    else
        tlsio__sha256_block_c(ctx->state, data);
    return 0;
}

const char *tlsio__sha256_impl(void)
{
    return tlsio__sha256_has_shani() ? "x86-64 SHA extensions" : "portable C";
}
#else /* a system mbedTLS (or not x86-64): mbedTLS's own block function */
const char *tlsio__sha256_impl(void)
{
    return NULL;
}
#endif
