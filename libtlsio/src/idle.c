/* libtlsio's one window on mbedTLS 3.6 private fields: releasing an idle keep-alive connection's two ~16.7 KB
 * record buffers and rebuilding them on the next use, and the few reads (handshake state, pending output) 3.6 has no
 * accessor for. */
#define MBEDTLS_ALLOW_PRIVATE_ACCESS
#include <malloc.h>
#include <stdlib.h>
#include <string.h>

#include <mbedtls/platform_time.h>
#include <mbedtls/platform_util.h>

#include "internal.h"

/*
 * Why this pokes at mbedTLS internals: MBEDTLS_SSL_VARIABLE_BUFFER_LENGTH only shrinks the buffers to a
 * negotiated max_fragment_length, which browsers never send, so an idle connection would still hold 2 x 16.7 KB;
 * mbedtls_ssl_context_save() serialises only DTLS. In TLS (1.2 and 1.3 share mbedTLS's record layer) the record
 * buffers hold, between records, only the 8-byte incoming sequence number (in_ctr = in_buf; the outgoing one is
 * cur_out_ctr, in the context since 3.0); everything else is per-record scratch. So with no record partially
 * received (in_left), none waiting to be sent (out_left) and no unread plaintext (in_offt), the buffers can be
 * freed and later reallocated, the record pointers restored at the same offsets and the counter copied back.
 * The field names and this layout are checked for 3.6.x only: another series fails the build here.
 */
#if MBEDTLS_VERSION_NUMBER < 0x03060000 || MBEDTLS_VERSION_NUMBER >= 0x03070000
#error "idle.c relies on the mbedTLS 3.6 record-buffer layout and private fields: re-check them for this version"
#endif
#if defined(MBEDTLS_SSL_PROTO_DTLS) && defined(MBEDTLS_SSL_DTLS_CONNECTION_ID)
#define IDLE_HAS_CID 1
#else
#define IDLE_HAS_CID 0
#endif

/* The record buffers' sizes are macros of library/ssl_misc.h (not installed) that depend on the build, so they are
 * taken from the allocator: mbedTLS allocates them with calloc() (no MBEDTLS_PLATFORM_MEMORY), and the usable size
 * of the block is at least what it asked for; the rebuilt buffer is as large. */
#if defined(MBEDTLS_PLATFORM_MEMORY)
#error "idle.c frees mbedTLS's record buffers with free(): build mbedTLS without MBEDTLS_PLATFORM_MEMORY"
#endif

/* mbedTLS 3.6 exports it (library/ssl_misc.h, not installed): sends the queued record bytes. */
int mbedtls_ssl_flush_output(mbedtls_ssl_context *ssl);

/* Exported by mbedTLS 3.6 (library/ssl_misc.h): free what the structs hold, not the structs themselves. */
void mbedtls_ssl_handshake_free(mbedtls_ssl_context *ssl);
void mbedtls_ssl_transform_free(mbedtls_ssl_transform *transform);

/* mbedTLS 3.6 keeps a TLS 1.3 connection's handshake parameters (transcript hashes, the ephemeral key share, about
 * 3 KB) until the connection ends: a client needs them to take NewSessionTickets later. A server never uses them
 * again (it refuses every post-handshake message: KeyUpdate, a client's Certificate), so they go now: the idle
 * connection stays under 4 KB and the ephemeral private key does not outlive the handshake. */
void tlsio__handshake_over(mbedtls_ssl_context *ssl)
{
    if (ssl->conf->endpoint != MBEDTLS_SSL_IS_SERVER || ssl->handshake == NULL ||
        ssl->tls_version != MBEDTLS_SSL_VERSION_TLS1_3 || ssl->state != MBEDTLS_SSL_HANDSHAKE_OVER)
        return;
    /* As mbedtls_ssl_free() does when it finds ssl->handshake set: the structs that live only with it too. */
    mbedtls_ssl_handshake_free(ssl);
    free(ssl->handshake); /* mbedtls_free is free without MBEDTLS_PLATFORM_MEMORY (checked above) */
    ssl->handshake = NULL;
#if defined(MBEDTLS_SSL_PROTO_TLS1_2)
    mbedtls_ssl_transform_free(ssl->transform_negotiate);
    free(ssl->transform_negotiate);
    ssl->transform_negotiate = NULL;
#endif
    mbedtls_ssl_session_free(ssl->session_negotiate);
    free(ssl->session_negotiate);
    ssl->session_negotiate = NULL;
}

int tlsio__hs_state(const mbedtls_ssl_context *ssl)
{
    return ssl->state;
}

size_t tlsio__out_left(const mbedtls_ssl_context *ssl)
{
    return ssl->out_left;
}

int tlsio__flush(mbedtls_ssl_context *ssl)
{
    return mbedtls_ssl_flush_output(ssl);
}

unsigned tlsio__alert_received(const mbedtls_ssl_context *ssl)
{
    return ssl->in_msg != NULL ? ssl->in_msg[1] : 0u;
}

/* A TLS 1.3 ticket's creation time is mbedtls_ms_time() (CLOCK_BOOTTIME) of the host that sealed it, meaningless
 * on another machine of the fleet: it is rewritten from the ticket's age, measured on the wall clock. */
void tlsio__session_set_age(mbedtls_ssl_session *session, int64_t age_ms)
{
#if defined(MBEDTLS_SSL_PROTO_TLS1_3) && defined(MBEDTLS_HAVE_TIME)
    if (session->tls_version == MBEDTLS_SSL_VERSION_TLS1_3 && session->endpoint == MBEDTLS_SSL_IS_SERVER)
        session->ticket_creation_time = mbedtls_ms_time() - age_ms;
#else
    (void)session;
    (void)age_ms;
#endif
}

/* mbedTLS 3.6 frees the handshake parameters at the end of a TLS 1.2 handshake but keeps them for the whole of a
 * TLS 1.3 client connection (tlsio__handshake_over frees a server's); they touch no record buffer then. */
static int quiescent(const mbedtls_ssl_context *ssl)
{
    if (ssl->state != MBEDTLS_SSL_HANDSHAKE_OVER || ssl->in_buf == NULL)
        return 0;
    if (ssl->handshake != NULL && ssl->tls_version != MBEDTLS_SSL_VERSION_TLS1_3)
        return 0;
    if (ssl->out_left != 0 || ssl->in_left != 0 || ssl->in_offt != NULL || ssl->keep_current_message)
        return 0;
    /* A fully processed handshake message (a TLS 1.3 NewSessionTicket) may remain "current"; consuming it touches
     * no buffer byte. */
    return ssl->in_msglen == 0 || ssl->in_hslen == ssl->in_msglen;
}

/* The record pointers as offsets into their buffers, in a fixed order (restored in the same order). */
static void save_offsets(tlsio_conn *c)
{
    mbedtls_ssl_context *ssl = &c->ssl;
    size_t *o = c->saved_off;
    o[0] = (size_t)(ssl->in_ctr - ssl->in_buf);
    o[1] = (size_t)(ssl->in_hdr - ssl->in_buf);
    o[2] = (size_t)(ssl->in_len - ssl->in_buf);
    o[3] = (size_t)(ssl->in_iv - ssl->in_buf);
    o[4] = (size_t)(ssl->in_msg - ssl->in_buf);
    o[5] = (size_t)(ssl->out_ctr - ssl->out_buf);
    o[6] = (size_t)(ssl->out_hdr - ssl->out_buf);
    o[7] = (size_t)(ssl->out_len - ssl->out_buf);
    o[8] = (size_t)(ssl->out_iv - ssl->out_buf);
    o[9] = (size_t)(ssl->out_msg - ssl->out_buf);
#if IDLE_HAS_CID
    o[10] = (size_t)(ssl->in_cid - ssl->in_buf);
    o[11] = (size_t)(ssl->out_cid - ssl->out_buf);
#endif
}

static void restore_offsets(tlsio_conn *c)
{
    mbedtls_ssl_context *ssl = &c->ssl;
    const size_t *o = c->saved_off;
    ssl->in_ctr = ssl->in_buf + o[0];
    ssl->in_hdr = ssl->in_buf + o[1];
    ssl->in_len = ssl->in_buf + o[2];
    ssl->in_iv = ssl->in_buf + o[3];
    ssl->in_msg = ssl->in_buf + o[4];
    ssl->out_ctr = ssl->out_buf + o[5];
    ssl->out_hdr = ssl->out_buf + o[6];
    ssl->out_len = ssl->out_buf + o[7];
    ssl->out_iv = ssl->out_buf + o[8];
    ssl->out_msg = ssl->out_buf + o[9];
#if IDLE_HAS_CID
    ssl->in_cid = ssl->in_buf + o[10];
    ssl->out_cid = ssl->out_buf + o[11];
#endif
}

void tlsio__conn_release_buffers(tlsio_conn *c)
{
    mbedtls_ssl_context *ssl = &c->ssl;
    if (ssl->in_buf != NULL) {
        c->buf_len[0] = malloc_usable_size(ssl->in_buf);
        mbedtls_platform_zeroize(ssl->in_buf, c->buf_len[0]);
        free(ssl->in_buf);
    }
    if (ssl->out_buf != NULL) {
        c->buf_len[1] = malloc_usable_size(ssl->out_buf);
        mbedtls_platform_zeroize(ssl->out_buf, c->buf_len[1]);
        free(ssl->out_buf);
    }
    ssl->in_buf = ssl->in_hdr = ssl->in_ctr = ssl->in_len = ssl->in_iv = ssl->in_msg = NULL;
    ssl->out_buf = ssl->out_hdr = ssl->out_ctr = ssl->out_len = ssl->out_iv = ssl->out_msg = NULL;
#if IDLE_HAS_CID
    ssl->in_cid = ssl->out_cid = NULL;
#endif
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
    memcpy(c->saved_ctr, c->ssl.in_ctr, sizeof c->saved_ctr);
    save_offsets(c);
    tlsio__conn_release_buffers(c);
    c->idle = 1;
    return TLSIO_OK;
}

/* mbedtls_ssl_free() zeroes in_buf/out_buf over the lengths it allocated: they come back at least as large. */
int tlsio__conn_wake(tlsio_conn *c)
{
    mbedtls_ssl_context *ssl = &c->ssl;
    ssl->in_buf = calloc(1, c->buf_len[0]);
    ssl->out_buf = calloc(1, c->buf_len[1]);
    if (ssl->in_buf == NULL || ssl->out_buf == NULL) {
        tlsio__conn_release_buffers(c); /* stay idle; the caller may retry */
        return TLSIO_ENOMEM;
    }
    restore_offsets(c);
    memcpy(ssl->in_ctr, c->saved_ctr, sizeof c->saved_ctr);
    c->idle = 0;
    return TLSIO_OK;
}
