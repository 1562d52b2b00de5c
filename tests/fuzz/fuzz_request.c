/* libFuzzer target: http_parse_request on the whole input, and again as two reads split at a point chosen by the
 * first byte (resuming with last_len); both parses must agree, and every slice must lie within the input. */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http/http.h"

/* The most negative code in http.h: a result below it is not a documented http_err. Update with http.h. */
#define HTTP_E_LOWEST HTTP_E_VERSION_INVALID

#define FIELDS 64

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void assert_within(http_slice s, const char *buf, size_t len)
{
    if (s.len == 0)
        return;
    assert(s.base >= buf && s.base <= buf + len);
    assert(s.len <= len - (size_t)(s.base - buf));
}

static long parse(const char *buf, size_t len, size_t last_len, http_request *req, http_field *fields,
                  const http_limits *lim)
{
    memset(req, 0, sizeof *req);
    req->fields = fields;
    req->fields_cap = FIELDS;
    return http_parse_request(buf, len, last_len, req, lim);
}

static void check_result(long r, const http_request *req, const char *buf, size_t len)
{
    assert(r == HTTP_INCOMPLETE || (r < 0 && r >= HTTP_E_LOWEST) || (r > 0 && (size_t)r <= len));
    if (r < 0 && r != HTTP_INCOMPLETE) {
        assert(req->err_offset <= len);
        assert(http_strerror((int)r) != NULL);
        return;
    }
    if (r <= 0)
        return;
    assert(req->head_len == (size_t)r);
    assert(req->nfields <= FIELDS);
    assert(req->minor == 0 || req->minor == 1);
    assert(req->method.len > 0);
    assert_within(req->method, buf, (size_t)r);
    assert_within(req->target, buf, (size_t)r);
    /* The one slice allowed outside the buffer: an absolute-form target without a path reads as "/" (http.h). */
    if (!(req->form == HTTP_TARGET_ABSOLUTE && req->path.len == 1 && req->path.base[0] == '/'))
        assert_within(req->path, buf, (size_t)r);
    assert_within(req->host, buf, (size_t)r);
    for (size_t i = 0; i < req->nfields; i++) {
        assert(req->fields[i].name.len > 0);
        assert_within(req->fields[i].name, buf, (size_t)r);
        assert_within(req->fields[i].value, buf, (size_t)r);
    }
}

/* Compares two successful parses of the same bytes (slices by offset, since both point into buf). */
static void assert_same(const http_request *a, const http_request *b)
{
    assert(a->nfields == b->nfields && a->method_id == b->method_id && a->form == b->form);
    assert(a->minor == b->minor && a->body == b->body && a->keep_alive == b->keep_alive);
    assert(a->must_close == b->must_close && a->expect_continue == b->expect_continue);
    assert(a->upgrade == b->upgrade && a->head_len == b->head_len);
    assert(a->body != HTTP_BODY_LENGTH || a->content_length == b->content_length);
    assert(a->method.base == b->method.base && a->method.len == b->method.len);
    assert(a->target.base == b->target.base && a->target.len == b->target.len);
    assert(a->path.len == b->path.len && a->host.len == b->host.len);
    for (size_t i = 0; i < a->nfields; i++) {
        assert(a->fields[i].name.base == b->fields[i].name.base && a->fields[i].name.len == b->fields[i].name.len);
        assert(a->fields[i].value.base == b->fields[i].value.base && a->fields[i].value.len == b->fields[i].value.len);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static http_field fa[FIELDS], fb[FIELDS];
    http_request a, b;
    http_limits lim = {0, 0, 0, 0};
    if (size < 1)
        return 0;
    lim.flags = data[0] & 0x80 ? HTTP_F_REJECT_TE_AND_CL : 0;
    /* A private copy of exactly the input length: ASan then catches any read past the end. */
    size_t len = size - 1;
    char *buf = malloc(len ? len : 1);
    assert(buf != NULL);
    memcpy(buf, data + 1, len);

    long ra = parse(buf, len, 0, &a, fa, &lim);
    check_result(ra, &a, buf, len);

    /* Two reads: the first sees split bytes, the second the whole input with last_len = split, as a connection
     * would. A resumed parse may only rescan for the end of the head (see last_len in http.h), so while the head
     * is unfinished it may say HTTP_INCOMPLETE where the whole parse already found an error; otherwise the two
     * must agree exactly. */
    size_t split = len == 0 ? 0 : (data[0] & 0x7f) % (len + 1);
    long rb = parse(buf, split, 0, &b, fb, &lim);
    check_result(rb, &b, buf, split);
    if (rb == HTTP_INCOMPLETE && split < len) {
        rb = parse(buf, len, split, &b, fb, &lim);
        check_result(rb, &b, buf, len);
    }
    if (rb == HTTP_INCOMPLETE && ra < 0 && ra != HTTP_INCOMPLETE)
        rb = ra; /* the tolerated case above */
    else if (rb < 0 && rb != HTTP_INCOMPLETE && rb == ra)
        assert(b.err_offset == a.err_offset);
    assert(rb == ra);
    if (ra > 0)
        assert_same(&a, &b);
    free(buf);
    return 0;
}
