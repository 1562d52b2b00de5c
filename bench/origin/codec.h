/* origin codecs: SHA-1 and base64 for the WebSocket handshake and the NTLM emulation (also linked by the
 * lync end-to-end tests, which build their NTLM messages and check handshakes with them). */
#ifndef ORIGIN_CODEC_H
#define ORIGIN_CODEC_H

#include <stddef.h>
#include <stdint.h>

/* SHA-1 digest of data[0..len) into out. */
void codec_sha1(const void *data, size_t len, unsigned char out[20]);

/* Standard base64 with padding, NUL-terminated. Returns the length, or -1 when cap is too small. */
long codec_b64_encode(const void *data, size_t len, char *out, size_t cap);

/* Decodes standard padded base64. Returns the byte count, or -1 when malformed or over cap. */
long codec_b64_decode(const char *in, size_t len, void *out, size_t cap);

#endif
