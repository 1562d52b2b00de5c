/* libFuzzer target: http_parse_response with the limits flags and HTTP_RESP_TO_* flags taken from the first byte.
 * Checks the result's invariants: slices within the head, status range, framing consistent with the flags. */
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

static void check_head(const http_response *resp, long r, const char *buf, unsigned resp_flags)
{
    assert(resp->head_len == (size_t)r);
    assert(resp->nfields <= FIELDS);
    assert(resp->minor == 0 || resp->minor == 1);
    assert(resp->status >= 100 && resp->status <= 999);
    assert_within(resp->reason, buf, (size_t)r);
    for (size_t i = 0; i < resp->nfields; i++) {
        assert(resp->fields[i].name.len > 0);
        assert_within(resp->fields[i].name, buf, (size_t)r);
        assert_within(resp->fields[i].value, buf, (size_t)r);
    }
    /* RFC 9112 6.3: these responses never have a body, whatever the fields say. */
    int bodiless = (resp_flags & HTTP_RESP_TO_HEAD) || resp->status < 200 || resp->status == 204 ||
                   resp->status == 304 ||
                   ((resp_flags & HTTP_RESP_TO_CONNECT) && resp->status >= 200 && resp->status < 300);
    if (bodiless)
        assert(resp->body == HTTP_BODY_NONE);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static http_field fields[FIELDS];
    http_response resp;
    http_limits lim = {0, 0, 0, 0};
    if (size < 1)
        return 0;
    unsigned resp_flags = data[0] & (HTTP_RESP_TO_HEAD | HTTP_RESP_TO_CONNECT);
    lim.flags = data[0] & 0x80 ? HTTP_F_REJECT_TE_AND_CL : 0;
    size_t len = size - 1;
    char *buf = malloc(len ? len : 1); /* exact length, so ASan catches over-reads */
    assert(buf != NULL);
    memcpy(buf, data + 1, len);

    memset(&resp, 0, sizeof resp);
    resp.fields = fields;
    resp.fields_cap = FIELDS;
    long r = http_parse_response(buf, len, 0, &resp, &lim, resp_flags);
    assert(r == HTTP_INCOMPLETE || (r < 0 && r >= HTTP_E_LOWEST) || (r > 0 && (size_t)r <= len));
    if (r > 0)
        check_head(&resp, r, buf, resp_flags);
    else if (r != HTTP_INCOMPLETE)
        assert(resp.err_offset <= len && http_strerror((int)r) != NULL);
    free(buf);
    return 0;
}
