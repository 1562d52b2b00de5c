/* libtlsio/src/sha256.h: SHA-256's two block functions (sha256.c), private to libtlsio and its tests. Each adds one
 * 64-byte block to the chaining state A..H, exactly as FIPS 180-4 section 6.2.2 steps 1 to 4. */
#ifndef TLSIO_SHA256_H
#define TLSIO_SHA256_H

#include <stdint.h>

void tlsio__sha256_block_c(uint32_t state[8], const unsigned char block[64]);
void tlsio__sha256_block_shani(uint32_t state[8], const unsigned char block[64]); /* only if has_shani() */
int tlsio__sha256_has_shani(void); /* the CPU has the SHA extensions (and SSE4.1, SSSE3) */
/* What mbedTLS's SHA-256 runs on when this file provides it ("x86-64 SHA extensions", "portable C"), else NULL. */
const char *tlsio__sha256_impl(void);

#endif
