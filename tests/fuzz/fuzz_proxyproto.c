/* libFuzzer target: px_pp_parse (the PROXY protocol header, v1 and v2) over the whole input versus every prefix fed
 * as one more byte arrives. A prefix is PX_PP_INCOMPLETE until the verdict, which then never changes; a length
 * never exceeds what was passed nor the protocol's bound; a carried address is IPv4 or IPv6, and written again by
 * px_pp_write_v2 it parses back to the same addresses and ports. */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "common/proxyproto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The addresses a header carried, written as proxyd writes them toward an upstream, read back the same. */
static void round_trip(const px_pp_result *r)
{
    px_ip src, dst, back_src, back_dst;
    px_ip_from_sockaddr(&src, &r->src.ss);
    px_ip_from_sockaddr(&dst, &r->dst.ss);
    uint16_t sport = px_sockaddr_port(&r->src.ss), dport = px_sockaddr_port(&r->dst.ss);
    unsigned char buf[PX_PP_V2_OUT_MAX];
    size_t n = px_pp_write_v2(buf, sizeof(buf), &src, sport, &dst, dport);
    px_pp_result again;
    assert(n > 16 && px_pp_parse(buf, n, &again) == (long)n && !again.local);
    px_ip_from_sockaddr(&back_src, &again.src.ss);
    px_ip_from_sockaddr(&back_dst, &again.dst.ss);
    assert(memcmp(&src, &back_src, sizeof(src)) == 0 && memcmp(&dst, &back_dst, sizeof(dst)) == 0);
    assert(px_sockaddr_port(&again.src.ss) == sport && px_sockaddr_port(&again.dst.ss) == dport);
}

static long parse_copy(const uint8_t *data, size_t len, px_pp_result *r)
{
    uint8_t *copy = malloc(len ? len : 1); /* exact size: AddressSanitizer catches a read past the end */
    memcpy(copy, data, len);
    long rc = px_pp_parse(copy, len, r);
    free(copy);
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > PX_PP_MAX + 64)
        size = PX_PP_MAX + 64;
    px_pp_result whole;
    memset(&whole, 0, sizeof(whole));
    long want = parse_copy(data, size, &whole);
    assert(want >= PX_PP_ERR_V2_TLV);
    if (want > 0) {
        assert((size_t)want <= size && (size_t)want <= PX_PP_MAX);
        assert(whole.version == 1 || whole.version == 2);
        if (whole.version == 1)
            assert(want <= PX_PP_V1_MAX);
        if (!whole.local) {
            assert(whole.src.ss.ss_family == AF_INET || whole.src.ss.ss_family == AF_INET6);
            assert(whole.dst.ss.ss_family == whole.src.ss.ss_family);
            round_trip(&whole);
        }
    }
    long seen = PX_PP_INCOMPLETE;
    for (size_t n = 0; n <= size; n++) {
        px_pp_result r;
        memset(&r, 0, sizeof(r));
        long rc = parse_copy(data, n, &r);
        if (seen == PX_PP_INCOMPLETE) {
            seen = rc;
            if (rc > 0)
                assert((size_t)rc == n); /* success as soon as the last byte is there */
        } else {
            assert(rc == seen);
            if (rc > 0)
                assert(memcmp(&r, &whole, sizeof(r)) == 0);
        }
        if (seen != PX_PP_INCOMPLETE && n > (size_t)(seen > 0 ? seen : 0) + 4)
            break; /* the verdict stands: the rest is the client's */
    }
    assert(seen == want);
    return 0;
}
