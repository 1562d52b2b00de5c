/* origin /ws: the RFC 6455 opening handshake and an echo of every data frame (unmasked, as a server sends),
 * ping answered by pong, close answered by close; frames are bounded by the input block. */
#include "codec.h"
#include "origin.h"

#include <string.h>

#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
#define WS_MAX_PAYLOAD (ORIGIN_IN_SIZE - 14) /* a whole frame always fits the input block */

enum { WS_CONT = 0x0, WS_TEXT = 0x1, WS_BINARY = 0x2, WS_CLOSE = 0x8, WS_PING = 0x9, WS_PONG = 0xA };

static int field_is(const http_request *req, const char *name, const char *token)
{
    long i = http_find_field(req->fields, req->nfields, name, 0);
    return i >= 0 && http_token_list_has(req->fields[i].value, token);
}

int ws_handshake(const http_request *req, char accept[32])
{
    char key[64 + sizeof WS_GUID];
    unsigned char raw[20], digest[20];
    long i = http_find_field(req->fields, req->nfields, "Sec-WebSocket-Key", 0);
    if (req->method_id != HTTP_M_GET || !req->upgrade || !field_is(req, "Upgrade", "websocket") ||
        !field_is(req, "Sec-WebSocket-Version", "13"))
        return 426;
    if (i < 0 || req->fields[i].value.len > 64 ||
        codec_b64_decode(req->fields[i].value.base, req->fields[i].value.len, raw, sizeof raw) != 16)
        return 400; /* the key must be 16 random bytes in base64 */
    memcpy(key, req->fields[i].value.base, req->fields[i].value.len);
    memcpy(key + req->fields[i].value.len, WS_GUID, sizeof WS_GUID - 1);
    codec_sha1(key, req->fields[i].value.len + sizeof WS_GUID - 1, digest);
    (void)codec_b64_encode(digest, sizeof digest, accept, 32);
    return 101;
}

/* Appends a server frame (FIN/opcode byte b0, no mask) to c->out; the caller checked the room. */
static void put_frame(conn *c, unsigned char b0, const unsigned char *payload, size_t len)
{
    unsigned char *p = (unsigned char *)wire_buf_tail(&c->out);
    size_t h = 2;
    p[0] = b0;
    if (len < 126) {
        p[1] = (unsigned char)len;
    } else if (len <= 0xffff) {
        p[1] = 126, p[2] = (unsigned char)(len >> 8), p[3] = (unsigned char)len;
        h = 4;
    } else {
        p[1] = 127;
        for (int i = 0; i < 8; i++)
            p[2 + i] = (unsigned char)((uint64_t)len >> (56 - 8 * i));
        h = 10;
    }
    memmove(p + h, payload, len);
    c->out.end += h + len;
}

/* A close frame with a status code (1002 protocol error, 1009 too big), then the connection closes. */
static ws_result ws_fail(conn *c, unsigned code)
{
    unsigned char body[2] = {(unsigned char)(code >> 8), (unsigned char)code};
    wire_buf_consume(&c->in, wire_buf_len(&c->in));
    if (wire_buf_room(&c->out) < 16)
        wire_buf_compact(&c->out);
    if (wire_buf_room(&c->out) < 16)
        return WS_CLOSE_NOW;
    put_frame(c, 0x80 | WS_CLOSE, body, sizeof body);
    return WS_CLOSING;
}

/* Decodes the frame length; returns the header size (mask included), 0 when incomplete. */
static size_t frame_header(const unsigned char *p, size_t avail, uint64_t *len)
{
    size_t h = 2;
    if (avail < 2)
        return 0;
    *len = p[1] & 0x7f;
    if (*len == 126) {
        h = 4;
        if (avail < h)
            return 0;
        *len = (uint64_t)p[2] << 8 | p[3];
    } else if (*len == 127) {
        h = 10;
        if (avail < h)
            return 0;
        *len = 0;
        for (int i = 0; i < 8; i++)
            *len = *len << 8 | p[2 + i];
    }
    return avail >= h + 4 ? h + 4 : 0;
}

ws_result ws_echo(conn *c)
{
    unsigned char *p = (unsigned char *)wire_buf_data(&c->in);
    size_t avail = wire_buf_len(&c->in);
    uint64_t len = 0;
    size_t h = frame_header(p, avail, &len);
    if (h == 0)
        return WS_NEED_INPUT;
    unsigned op = p[0] & 0x0f, fin = p[0] & 0x80;
    if ((p[1] & 0x80) == 0 || (p[0] & 0x70) != 0)
        return ws_fail(c, 1002); /* unmasked client frame, or RSV */
    if (op >= 0x8 && (!fin || len > 125))
        return ws_fail(c, 1002);
    if (op != WS_CONT && op != WS_TEXT && op != WS_BINARY && op != WS_CLOSE && op != WS_PING && op != WS_PONG)
        return ws_fail(c, 1002);
    if (len > WS_MAX_PAYLOAD)
        return ws_fail(c, 1009);
    if (avail < h + len)
        return WS_NEED_INPUT;
    if (wire_buf_room(&c->out) < len + 10)
        wire_buf_compact(&c->out);
    if (wire_buf_room(&c->out) < len + 10)
        return WS_NEED_ROOM;
    unsigned char *payload = p + h;
    for (size_t i = 0; i < len; i++)
        payload[i] ^= p[h - 4 + (i & 3)];
    if (op == WS_PING)
        put_frame(c, 0x80 | WS_PONG, payload, (size_t)len);
    else if (op != WS_PONG)
        put_frame(c, p[0], payload, (size_t)len); /* data and continuation echoed as framed; close answered */
    wire_buf_consume(&c->in, h + (size_t)len);
    return op == WS_CLOSE ? WS_CLOSING : WS_PROGRESS;
}
