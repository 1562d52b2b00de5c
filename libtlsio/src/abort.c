/* libtlsio aborts: the fatal alert every handshake or record error sends before the close (mbedTLS often closes
 * without one). */
#include <errno.h>
#include <stddef.h>
#include <sys/socket.h>

#include <mbedtls/ecp.h>
#include <mbedtls/net_sockets.h>

#include "internal.h"

/* Errors that carry no alert: the socket failed, the peer closed or sent a fatal alert itself. */
static const int no_alert[] = {
    MBEDTLS_ERR_NET_SEND_FAILED, MBEDTLS_ERR_NET_RECV_FAILED,       MBEDTLS_ERR_NET_CONN_RESET,
    MBEDTLS_ERR_SSL_CONN_EOF,    MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY, MBEDTLS_ERR_SSL_FATAL_ALERT_MESSAGE,
    MBEDTLS_ERR_SSL_WANT_READ,   MBEDTLS_ERR_SSL_WANT_WRITE,
};

/* The alert of each error; mbedTLS 3 replaced the per-message BAD_HS_* codes by per-alert ones, hence #ifdef. */
static const struct {
    int ret;
    unsigned char alert;
} alerts[] = {
    {MBEDTLS_ERR_SSL_UNEXPECTED_MESSAGE, MBEDTLS_SSL_ALERT_MSG_UNEXPECTED_MESSAGE},
    {MBEDTLS_ERR_SSL_UNEXPECTED_RECORD, MBEDTLS_SSL_ALERT_MSG_UNEXPECTED_MESSAGE},
    {MBEDTLS_ERR_SSL_INVALID_MAC, MBEDTLS_SSL_ALERT_MSG_BAD_RECORD_MAC},
    {MBEDTLS_ERR_SSL_INVALID_RECORD, MBEDTLS_SSL_ALERT_MSG_DECODE_ERROR},
    {MBEDTLS_ERR_ECP_BAD_INPUT_DATA, MBEDTLS_SSL_ALERT_MSG_ILLEGAL_PARAMETER},
    {MBEDTLS_ERR_ECP_INVALID_KEY, MBEDTLS_SSL_ALERT_MSG_ILLEGAL_PARAMETER},
    {MBEDTLS_ERR_ECP_FEATURE_UNAVAILABLE, MBEDTLS_SSL_ALERT_MSG_ILLEGAL_PARAMETER},
#ifdef MBEDTLS_ERR_SSL_BAD_HS_CLIENT_HELLO /* mbedTLS 2.28 */
    {MBEDTLS_ERR_SSL_BAD_HS_CHANGE_CIPHER_SPEC, MBEDTLS_SSL_ALERT_MSG_UNEXPECTED_MESSAGE},
    {MBEDTLS_ERR_SSL_BAD_HS_CLIENT_HELLO, MBEDTLS_SSL_ALERT_MSG_DECODE_ERROR},
    {MBEDTLS_ERR_SSL_BAD_HS_CLIENT_KEY_EXCHANGE, MBEDTLS_SSL_ALERT_MSG_ILLEGAL_PARAMETER},
    {MBEDTLS_ERR_SSL_BAD_HS_CLIENT_KEY_EXCHANGE_RP, MBEDTLS_SSL_ALERT_MSG_ILLEGAL_PARAMETER},
    {MBEDTLS_ERR_SSL_BAD_HS_CLIENT_KEY_EXCHANGE_CS, MBEDTLS_SSL_ALERT_MSG_ILLEGAL_PARAMETER},
    {MBEDTLS_ERR_SSL_BAD_HS_FINISHED, MBEDTLS_SSL_ALERT_MSG_DECRYPT_ERROR},
    {MBEDTLS_ERR_SSL_BAD_HS_PROTOCOL_VERSION, MBEDTLS_SSL_ALERT_MSG_PROTOCOL_VERSION},
    {MBEDTLS_ERR_SSL_NO_CIPHER_CHOSEN, MBEDTLS_SSL_ALERT_MSG_HANDSHAKE_FAILURE},
    {MBEDTLS_ERR_SSL_NO_USABLE_CIPHERSUITE, MBEDTLS_SSL_ALERT_MSG_HANDSHAKE_FAILURE},
    {MBEDTLS_ERR_SSL_BAD_HS_CERTIFICATE, MBEDTLS_SSL_ALERT_MSG_BAD_CERT},
    {MBEDTLS_ERR_SSL_BAD_HS_CERTIFICATE_VERIFY, MBEDTLS_SSL_ALERT_MSG_DECRYPT_ERROR},
#endif
#ifdef MBEDTLS_ERR_SSL_DECODE_ERROR /* mbedTLS 3 */
    {MBEDTLS_ERR_SSL_DECODE_ERROR, MBEDTLS_SSL_ALERT_MSG_DECODE_ERROR},
    {MBEDTLS_ERR_SSL_ILLEGAL_PARAMETER, MBEDTLS_SSL_ALERT_MSG_ILLEGAL_PARAMETER},
    {MBEDTLS_ERR_SSL_HANDSHAKE_FAILURE, MBEDTLS_SSL_ALERT_MSG_HANDSHAKE_FAILURE},
    {MBEDTLS_ERR_SSL_BAD_PROTOCOL_VERSION, MBEDTLS_SSL_ALERT_MSG_PROTOCOL_VERSION},
    {MBEDTLS_ERR_SSL_BAD_CERTIFICATE, MBEDTLS_SSL_ALERT_MSG_BAD_CERT},
#endif
};

/* The alert an mbedTLS error deserves before the close; 0 when none is due. Anything unlisted is the server's own
 * failure: internal_error. */
int tlsio__alert_for(int ret)
{
    for (size_t i = 0; i < sizeof no_alert / sizeof no_alert[0]; i++)
        if (ret == no_alert[i])
            return 0;
    for (size_t i = 0; i < sizeof alerts / sizeof alerts[0]; i++)
        if (ret == alerts[i].ret)
            return alerts[i].alert;
    return MBEDTLS_SSL_ALERT_MSG_INTERNAL_ERROR;
}

/* The alert for a server's handshake error: mbedTLS 3 answers DECODE_ERROR when the client's key share is refused
 * by the ECDH code; when the ClientKeyExchange was well framed (hello.c), the key itself was wrong. */
int tlsio__alert_for_conn(const tlsio_conn *c, int ret)
{
#ifdef MBEDTLS_ERR_SSL_DECODE_ERROR
    if (ret == MBEDTLS_ERR_SSL_DECODE_ERROR && c->pre != NULL && c->pre->cke_framed)
        return MBEDTLS_SSL_ALERT_MSG_ILLEGAL_PARAMETER;
#endif
    return tlsio__alert_for(ret);
}

/* Watches what goes out, so an alert mbedTLS sent itself is not sent again (TLS 1.2: a record of type 21 at the
 * start of a send, as mbedTLS sends each record from its start; TLS 1.3: see tlsio__alert_fatal). */
void tlsio__out_watch(tlsio_conn *c, const unsigned char *buf, size_t sent)
{
    if (sent > 0 && buf[0] == MBEDTLS_SSL_MSG_ALERT)
        c->alert_out = 1;
    c->out_any |= sent > 0;
    c->step_sent |= sent > 0;
}

/* Sends a fatal alert unless one went out already. Before anything was sent it is written raw, as plaintext
 * (mbedTLS may hold an unsent flight that must not go first); afterwards mbedTLS protects it as the state
 * requires. Best effort: the connection is closed next whatever happens. */
void tlsio__alert_fatal(tlsio_conn *c, int desc)
{
    if (desc == 0 || c->alert_out || c->fd < 0)
        return;
    /* TLS 1.3 hides a record's type: output during the failing call is taken as mbedTLS's own alert (it pends one
     * for nearly every TLS 1.3 error), so the peer never sees two. */
    if (c->step_sent && mbedtls_ssl_get_version_number(&c->ssl) == MBEDTLS_SSL_VERSION_TLS1_3)
        return;
    c->alert_out = 1;
    if (!c->out_any) {
        unsigned char rec[7] = {MBEDTLS_SSL_MSG_ALERT, 3, 3, 0, 2, MBEDTLS_SSL_ALERT_LEVEL_FATAL, (unsigned char)desc};
        ssize_t n;
        do
            n = send(c->fd, rec, sizeof rec, MSG_NOSIGNAL);
        while (n < 0 && errno == EINTR);
        return;
    }
    if (tlsio__out_left(&c->ssl) == 0)
        (void)mbedtls_ssl_send_alert_message(&c->ssl, MBEDTLS_SSL_ALERT_LEVEL_FATAL, (unsigned char)desc);
}
