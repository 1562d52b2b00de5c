/* libtlsio idle connections: releases the two ~16.7 KB record buffers of a keep-alive connection with
 * nothing in flight, and rebuilds them on the next use (mbedTLS 2.28 has no variable-length buffers). */
#include <stdlib.h>
#include <string.h>

#include <mbedtls/platform_util.h>
#include <mbedtls/ssl_internal.h>

#include "internal.h"

/*
 * Why this pokes at mbedTLS 2.28 internals: mbedtls_ssl_context_save() would be the clean way but it only
 * serialises DTLS contexts, and MBEDTLS_SSL_VARIABLE_BUFFER_LENGTH is off in Debian's build. In TLS mode the
 * record buffers hold, between records, only the two 8-byte sequence numbers (in_ctr = in_buf, out_ctr =
 * out_buf); everything else is per-record scratch. So with no record partially received (in_left), none
 * waiting to be sent (out_left) and no unread plaintext (in_offt), the buffers can be freed and later
 * reallocated with the pointers rebuilt by mbedTLS's own helpers and the counters restored. mbedTLS 3.x makes
 * these fields private and has variable buffers: this file is what a port must redo.
 */
#if MBEDTLS_VERSION_NUMBER < 0x021C0000 || MBEDTLS_VERSION_NUMBER >= 0x021D0000
#error "idle.c relies on mbedTLS 2.28 record-buffer layout"
#endif

static int quiescent(const mbedtls_ssl_context *ssl)
{
    if (ssl->handshake != NULL || ssl->state != MBEDTLS_SSL_HANDSHAKE_OVER || ssl->in_buf == NULL)
        return 0;
    if (ssl->out_left != 0 || ssl->in_left != 0 || ssl->in_offt != NULL || ssl->keep_current_message)
        return 0;
    /* A fully processed handshake message may remain "current"; consuming it touches no buffer byte. */
    return ssl->in_msglen == 0 || ssl->in_hslen == ssl->in_msglen;
}

void tlsio__conn_release_buffers(tlsio_conn *c)
{
    mbedtls_ssl_context *ssl = &c->ssl;
    if (ssl->in_buf != NULL) {
        mbedtls_platform_zeroize(ssl->in_buf, MBEDTLS_SSL_IN_BUFFER_LEN);
        free(ssl->in_buf);
    }
    if (ssl->out_buf != NULL) {
        mbedtls_platform_zeroize(ssl->out_buf, MBEDTLS_SSL_OUT_BUFFER_LEN);
        free(ssl->out_buf);
    }
    ssl->in_buf = ssl->in_hdr = ssl->in_ctr = ssl->in_len = ssl->in_iv = ssl->in_msg = NULL;
    ssl->out_buf = ssl->out_hdr = ssl->out_ctr = ssl->out_len = ssl->out_iv = ssl->out_msg = NULL;
    if (c->ra != NULL) /* plaintext never lands here, but record bytes are scrubbed like the buffers */
        mbedtls_platform_zeroize(c->ra, TLSIO__READAHEAD);
    free(c->ra);
    c->ra = NULL;
    c->ra_off = c->ra_len = 0;
}

int tlsio_conn_idle(tlsio_conn *c)
{
    if (c->idle)
        return TLSIO_OK;
    if (c->fatal != 0 || !c->handshake_done || !quiescent(&c->ssl) || c->ra_off != c->ra_len)
        return TLSIO_EINVAL;
    memcpy(c->saved_ctr[0], c->ssl.in_ctr, 8);
    memcpy(c->saved_ctr[1], c->ssl.out_ctr, 8);
    tlsio__conn_release_buffers(c);
    c->idle = 1;
    return TLSIO_OK;
}

int tlsio__conn_wake(tlsio_conn *c)
{
    mbedtls_ssl_context *ssl = &c->ssl;
    ssl->in_buf = calloc(1, MBEDTLS_SSL_IN_BUFFER_LEN);
    ssl->out_buf = calloc(1, MBEDTLS_SSL_OUT_BUFFER_LEN);
    if (ssl->in_buf == NULL || ssl->out_buf == NULL) {
        tlsio__conn_release_buffers(c); /* stay idle; the caller may retry */
        return TLSIO_ENOMEM;
    }
    mbedtls_ssl_reset_in_out_pointers(ssl);
    mbedtls_ssl_update_out_pointers(ssl, ssl->transform_out);
    mbedtls_ssl_update_in_pointers(ssl);
    memcpy(ssl->in_ctr, c->saved_ctr[0], 8);
    memcpy(ssl->out_ctr, c->saved_ctr[1], 8);
    c->idle = 0;
    return TLSIO_OK;
}
