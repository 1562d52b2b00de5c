/* libtlsio's one window on mbedTLS 3.6 private fields: releasing an idle keep-alive connection's two ~16.7 KB
 * record buffers and rebuilding them on the next use, and the few reads (handshake state, pending output) 3.6 has no
 * accessor for. */
#define MBEDTLS_ALLOW_PRIVATE_ACCESS
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

/* The record buffers' sizes are macros of library/ssl_misc.h (not installed) that depend on the build: this bounds
 * them from above for every 3.6 configuration (13-byte header, 16-byte IV, 48-byte SHA-384 MAC, 256 bytes of CBC
 * padding, 16 of CID padding and 32 of CID), so a rebuilt buffer is never smaller than the one mbedTLS allocated. */
#define IDLE_OVERHEAD_MAX (13 + 16 + 48 + 256 + 16 + 32)

/* mbedTLS 3.6 exports it (library/ssl_misc.h, not installed): sends the queued record bytes. */
int mbedtls_ssl_flush_output(mbedtls_ssl_context *ssl);

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

static size_t in_len_of(const mbedtls_ssl_context *ssl)
{
#if defined(MBEDTLS_SSL_VARIABLE_BUFFER_LENGTH)
    return ssl->in_buf_len;
#else
    (void)ssl;
    return MBEDTLS_SSL_IN_CONTENT_LEN + IDLE_OVERHEAD_MAX;
#endif
}

static size_t out_len_of(const mbedtls_ssl_context *ssl)
{
#if defined(MBEDTLS_SSL_VARIABLE_BUFFER_LENGTH)
    return ssl->out_buf_len;
#else
    (void)ssl;
    return MBEDTLS_SSL_OUT_CONTENT_LEN + IDLE_OVERHEAD_MAX;
#endif
}

/* mbedTLS 3.6 frees the handshake parameters at the end of a TLS 1.2 handshake but keeps them for the whole of a
 * TLS 1.3 connection (a client needs them to take NewSessionTickets); they touch no record buffer then. */
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
        mbedtls_platform_zeroize(ssl->in_buf, in_len_of(ssl));
        free(ssl->in_buf);
    }
    if (ssl->out_buf != NULL) {
        mbedtls_platform_zeroize(ssl->out_buf, out_len_of(ssl));
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

/* mbedtls_ssl_free() frees in_buf/out_buf with their recorded lengths: they are reallocated at the same size. */
int tlsio__conn_wake(tlsio_conn *c)
{
    mbedtls_ssl_context *ssl = &c->ssl;
    ssl->in_buf = calloc(1, in_len_of(ssl));
    ssl->out_buf = calloc(1, out_len_of(ssl));
    if (ssl->in_buf == NULL || ssl->out_buf == NULL) {
        tlsio__conn_release_buffers(c); /* stay idle; the caller may retry */
        return TLSIO_ENOMEM;
    }
    restore_offsets(c);
    memcpy(ssl->in_ctr, c->saved_ctr, sizeof c->saved_ctr);
    c->idle = 0;
    return TLSIO_OK;
}
