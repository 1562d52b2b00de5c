/* libFuzzer target: http_chunked_decode over the whole input versus fed one byte at a time (bounds from the first
 * byte). Results and decoded bytes must agree; consumed counts and data spans must stay within what was passed. */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http/http.h"

/* The most negative code in http.h: a result below it is not a documented http_err. Update with http.h. */
#define HTTP_E_LOWEST HTTP_E_VERSION_INVALID

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct outcome {
    long err; /* 0, or the negative http_err that stopped decoding */
    int done;
    size_t consumed; /* framing bytes consumed in total */
    char *body;      /* decoded bytes, room for the input length */
    size_t body_len;
} outcome;

/* One call on buf[0..len): checks the contract and appends the span to o->body. Returns the call's result. */
static long step(http_chunked *d, const char *buf, size_t len, outcome *o)
{
    http_slice span = {NULL, 0};
    uint64_t before = d->body_bytes;
    long r = http_chunked_decode(d, buf, len, &span);
    if (r < 0) {
        assert(r >= HTTP_E_LOWEST && r != HTTP_INCOMPLETE);
        o->err = r;
        return r;
    }
    assert((size_t)r <= len);
    if (span.len > 0) {
        assert(span.base >= buf && span.base < buf + r);
        assert(span.len <= (size_t)r - (size_t)(span.base - buf));
        memcpy(o->body + o->body_len, span.base, span.len);
        o->body_len += span.len;
    }
    assert(d->body_bytes == before + span.len);
    o->consumed += (size_t)r;
    o->done = d->done;
    return r;
}

static void init(http_chunked *d, uint8_t knob)
{
    memset(d, 0, sizeof *d);
    /* Small bounds half the time so the extension and trailer limits are reached. */
    http_chunked_init(d, (size_t)(knob & 0x0f) * 8, (size_t)(knob >> 4) * 32);
}

static void decode_whole(uint8_t knob, const char *buf, size_t len, outcome *o)
{
    http_chunked d;
    init(&d, knob);
    while (!d.done) {
        long r = step(&d, buf + o->consumed, len - o->consumed, o);
        if (r <= 0)
            break;
    }
}

/* As a connection would: one more byte arrives, then the decoder runs until it consumes nothing. Each call sees an
 * exact-size copy of the unconsumed bytes, so ASan catches a read past what was passed. */
static void decode_bytewise(uint8_t knob, const char *buf, size_t len, outcome *o)
{
    http_chunked d;
    init(&d, knob);
    for (size_t avail = 1; avail <= len && !d.done && o->err == 0; avail++) {
        long r;
        do {
            size_t n = avail - o->consumed;
            char *win = malloc(n ? n : 1);
            assert(win != NULL);
            memcpy(win, buf + o->consumed, n);
            r = n == 0 ? 0 : step(&d, win, n, o);
            free(win);
        } while (r > 0 && !d.done);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    size_t len = size - 1;
    char *buf = malloc(len ? len : 1);
    assert(buf != NULL);
    memcpy(buf, data + 1, len);
    outcome whole = {0, 0, 0, malloc(len + 1), 0}, bytes = {0, 0, 0, malloc(len + 1), 0};
    assert(whole.body != NULL && bytes.body != NULL);

    decode_whole(data[0], buf, len, &whole);
    decode_bytewise(data[0], buf, len, &bytes);

    assert(whole.err == bytes.err);
    assert(whole.done == bytes.done);
    if (whole.err == 0) {
        /* Same bytes seen in the end: same framing consumed and same body. */
        assert(whole.consumed == bytes.consumed || !whole.done);
        assert(whole.body_len == bytes.body_len);
        assert(memcmp(whole.body, bytes.body, whole.body_len) == 0);
    } else {
        /* Stopped by the same error; each side may have yielded a different amount of the body before it. */
        size_t n = whole.body_len < bytes.body_len ? whole.body_len : bytes.body_len;
        assert(memcmp(whole.body, bytes.body, n) == 0);
    }
    free(whole.body);
    free(bytes.body);
    free(buf);
    return 0;
}
