/* libtlsio connection accessors (ALPN, SNI, resumption, suite, version, errors) and client sessions saved
 * after one handshake and offered on the next connection to the same upstream. */
#include <stdlib.h>

#include "internal.h"

const char *tlsio_conn_alpn(const tlsio_conn *c)
{
    return c->handshake_done ? mbedtls_ssl_get_alpn_protocol(&c->ssl) : NULL;
}

const char *tlsio_conn_server_name(const tlsio_conn *c)
{
    return c->server_name;
}

int tlsio_conn_resumed(const tlsio_conn *c)
{
    return c->handshake_done && c->resumed;
}

const char *tlsio_conn_cipher(const tlsio_conn *c)
{
    return c->handshake_done ? mbedtls_ssl_get_ciphersuite(&c->ssl) : NULL;
}

const char *tlsio_conn_version(const tlsio_conn *c)
{
    return c->handshake_done ? mbedtls_ssl_get_version(&c->ssl) : NULL;
}

int tlsio_conn_clean_close(const tlsio_conn *c)
{
    return c->clean_close;
}

int tlsio_conn_sys_errno(const tlsio_conn *c)
{
    return c->sys_errno;
}

const char *tlsio_conn_error_text(const tlsio_conn *c)
{
    return c->err;
}

static int is_tls13(const tlsio_conn *c)
{
    return mbedtls_ssl_get_version_number(&c->ssl) == MBEDTLS_SSL_VERSION_TLS1_3;
}

int tlsio_conn_session_pending(const tlsio_conn *c)
{
    if (c->is_server || !c->handshake_done || c->fatal != 0)
        return 0;
    return is_tls13(c) ? c->new_ticket : !c->resumed && !c->saved;
}

/* mbedTLS exports each session once: a TLS 1.2 handshake's, then each TLS 1.3 NewSessionTicket's. */
int tlsio_conn_save_session(tlsio_conn *c, tlsio_session **out)
{
    *out = NULL;
    if (c->is_server || !c->handshake_done || (is_tls13(c) ? !c->new_ticket : c->saved))
        return TLSIO_EINVAL;
    tlsio_session *s = calloc(1, sizeof *s);
    if (s == NULL)
        return TLSIO_ENOMEM;
    mbedtls_ssl_session_init(&s->session);
    int ret = mbedtls_ssl_get_session(&c->ssl, &s->session);
    if (ret != 0) {
        tlsio_session_free(s);
        return ret == MBEDTLS_ERR_SSL_ALLOC_FAILED ? TLSIO_ENOMEM : TLSIO_EINVAL;
    }
    c->new_ticket = 0;
    c->saved = 1;
    *out = s;
    return TLSIO_OK;
}

int tlsio_conn_set_session(tlsio_conn *c, const tlsio_session *s)
{
    if (c->is_server || c->handshake_done || tlsio__hs_state(&c->ssl) != MBEDTLS_SSL_HELLO_REQUEST)
        return TLSIO_EINVAL;
    int ret = mbedtls_ssl_set_session(&c->ssl, &s->session);
    if (ret != 0)
        return ret == MBEDTLS_ERR_SSL_ALLOC_FAILED ? TLSIO_ENOMEM : TLSIO_EINVAL;
    return TLSIO_OK;
}

void tlsio_session_free(tlsio_session *s)
{
    if (s == NULL)
        return;
    mbedtls_ssl_session_free(&s->session);
    free(s);
}
