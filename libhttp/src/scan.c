/* libhttp byte scanners: tokens, field values and request targets, the inner loops of head parsing.
 * Field values and targets use SSE4.2 range compares (as picohttpparser does) when the CPU has them. */
#include "internal.h"

#if defined(__x86_64__) || defined(__i386__)
#define HTTP__HAVE_SSE42_PATH 1
#include <nmmintrin.h>
#endif

/* Table loop, 8 bytes per iteration so the common case is one predictable branch per byte. */
static const char *scan_class(const char *p, const char *end, unsigned cls)
{
    const unsigned char *u = (const unsigned char *)p;
    const unsigned char *e = (const unsigned char *)end;
    while (e - u >= 8) {
        if (!http__is(u[0], cls)) return (const char *)u;
        if (!http__is(u[1], cls)) return (const char *)u + 1;
        if (!http__is(u[2], cls)) return (const char *)u + 2;
        if (!http__is(u[3], cls)) return (const char *)u + 3;
        if (!http__is(u[4], cls)) return (const char *)u + 4;
        if (!http__is(u[5], cls)) return (const char *)u + 5;
        if (!http__is(u[6], cls)) return (const char *)u + 6;
        if (!http__is(u[7], cls)) return (const char *)u + 7;
        u += 8;
    }
    while (u < e && http__is(*u, cls))
        u++;
    return (const char *)u;
}

const char *http__scan_token(const char *p, const char *end)
{
    return scan_class(p, end, HTTP__C_TCHAR);
}

#ifdef HTTP__HAVE_SSE42_PATH
/* Resolved once before main: reading a const-after-init int is cheaper than a cpuid per call. */
static int have_sse42;

__attribute__((constructor)) static void detect_sse42(void)
{
    __builtin_cpu_init();
    have_sse42 = __builtin_cpu_supports("sse4.2") != 0;
}

/* First byte inside one of the `nranges` [lo, hi] pairs in `ranges`, 16 bytes at a time; only whole blocks
 * are loaded, so the tail (fewer than 16 bytes) is left to the caller. */
__attribute__((target("sse4.2"))) static const char *sse42_find_ranges(const char *p, const char *end,
                                                                        const char *ranges, int nranges)
{
    __m128i r = _mm_loadu_si128((const __m128i *)(const void *)ranges);
    while (end - p >= 16) {
        __m128i b = _mm_loadu_si128((const __m128i *)(const void *)p);
        int i = _mm_cmpestri(r, nranges, b, 16, _SIDD_UBYTE_OPS | _SIDD_CMP_RANGES | _SIDD_LEAST_SIGNIFICANT);
        if (i != 16) return p + i;
        p += 16;
    }
    return p;
}
#endif

const char *http__scan_value(const char *p, const char *end)
{
#ifdef HTTP__HAVE_SSE42_PATH
    /* Bytes not allowed in a field value: 0x00-0x08, 0x0a-0x1f, 0x7f. 16 bytes so the load is in bounds. */
    static const char bad[16] = "\x00\x08\x0a\x1f\x7f\x7f";
    if (have_sse42 && end - p >= 16) {
        p = sse42_find_ranges(p, end, bad, 6);
        if (end - p >= 16) return p;
    }
#endif
    return scan_class(p, end, HTTP__C_VALUE);
}

const char *http__scan_target(const char *p, const char *end)
{
#ifdef HTTP__HAVE_SSE42_PATH
    /* Bytes not allowed in a target: CTLs and SP (0x00-0x20), DEL and above (0x7f-0xff). */
    static const char bad[16] = "\x00\x20\x7f\xff";
    if (have_sse42 && end - p >= 16) {
        p = sse42_find_ranges(p, end, bad, 4);
        if (end - p >= 16) return p;
    }
#endif
    return scan_class(p, end, HTTP__C_TARGET);
}
