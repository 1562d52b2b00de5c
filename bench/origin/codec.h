/* origin codecs: SHA-1, MD4, MD5 and base64 for the WebSocket handshake and the NTLM emulation (also linked by the
 * lync end-to-end tests, which build their NTLM messages and check handshakes with them). */
#ifndef ORIGIN_CODEC_H
#define ORIGIN_CODEC_H

#include <stddef.h>
#include <stdint.h>

/* SHA-1 digest of data[0..len) into out. */
void codec_sha1(const void *data, size_t len, unsigned char out[20]);

/* MD4 (RFC 1320) and MD5 (RFC 1321) digests of data[0..len) into out: NTLM's hashes, for the origin's tests. */
void codec_md4(const void *data, size_t len, unsigned char out[16]);
void codec_md5(const void *data, size_t len, unsigned char out[16]);

/* HMAC-MD5 (RFC 2104) of msg[0..len) under key into out; 0, or -1 when len is over CODEC_HMAC_MAX. */
#define CODEC_HMAC_MAX 8192
int codec_hmac_md5(const unsigned char *key, size_t klen, const void *msg, size_t len, unsigned char out[16]);

/* Standard base64 with padding, NUL-terminated. Returns the length, or -1 when cap is too small. */
long codec_b64_encode(const void *data, size_t len, char *out, size_t cap);

/* Decodes standard padded base64. Returns the byte count, or -1 when malformed or over cap. */
long codec_b64_decode(const char *in, size_t len, void *out, size_t cap);

#endif
