/* libFuzzer target: libtlsio's handshake pre-check (libtlsio/src/hello.c). The input is parsed as one ClientHello
 * message, and fed to the record walker whole, byte by byte and in uneven pieces: the verdict never depends on how
 * the bytes were cut, and no read passes the end of a piece (AddressSanitizer on exact-size copies). */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hello.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint16_t groups[] = {29, 23, 24};

/* Feeds data in pieces of sizes taken in turn from cuts; returns the verdict. */
static int walk(const uint8_t *data, size_t size, const size_t *cuts, size_t ncuts, struct tlsio__precheck *p)
{
    memset(p, 0, sizeof *p);
    p->groups = groups;
    p->ngroups = 3;
    int rc = 0;
    for (size_t i = 0, k = 0; i < size && rc == 0; k++) {
        size_t n = cuts[k % ncuts] < size - i ? cuts[k % ncuts] : size - i;
        uint8_t *piece = malloc(n);
        memcpy(piece, data + i, n);
        rc = tlsio__precheck_feed(p, piece, n);
        free(piece);
        i += n;
    }
    tlsio__precheck_free(p);
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 3 * TLSIO__HELLO_MAX)
        size = 3 * TLSIO__HELLO_MAX;
    uint8_t *copy = malloc(size ? size : 1);
    memcpy(copy, data, size);
    struct tlsio__hello_info info;
    int alert = tlsio__hello_parse(copy, size, groups, 3, &info);
    free(copy);
    assert(alert == 0 || alert == TLSIO__ALERT_DECODE_ERROR || alert == TLSIO__ALERT_UNEXPECTED_MESSAGE ||
           alert == TLSIO__ALERT_ILLEGAL_PARAMETER || alert == TLSIO__ALERT_HANDSHAKE_FAILURE);
    assert(info.ems == 0 || info.ems == 1);

    static const size_t whole[] = {SIZE_MAX}, bytes[] = {1}, uneven[] = {3, 1, 7, 20, 5};
    struct tlsio__precheck a, b, c;
    int va = walk(data, size, whole, 1, &a);
    int vb = walk(data, size, bytes, 1, &b);
    int vc = walk(data, size, uneven, 5, &c);
    assert(va == vb && vb == vc);
    assert(a.hello_done == b.hello_done && b.hello_done == c.hello_done);
    if (va == 0 && a.hello_done)
        assert(a.info.ems == b.info.ems && a.info.tls13 == c.info.tls13);
    return 0;
}
