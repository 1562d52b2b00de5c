/* libtlsio extended master secret on resumption (RFC 7627 §5.3): what the session cache and tickets remember of
 * the full handshake, the refusal at resumption, and the default tickets sealed under one of two key sets. */
#include "internal.h"

/* The connection whose handshake step runs on this thread: mbedTLS's cache and ticket callbacks get no context of
 * their own, and a connection's handshake runs on one thread, within tlsio_handshake(). */
_Thread_local tlsio_conn *tlsio__handshaking;

/* The byte a cached session or ticket keeps: whether the ClientHello of its full handshake offered EMS (the
 * server always enables it, so the session has EMS exactly when the hello offered it); STAMP_TLS13 for a TLS 1.3
 * session, to which the rule does not apply. */
#define STAMP_TLS13 2
int tlsio__ems_stamp(void)
{
    tlsio_conn *c = tlsio__handshaking;
    if (c != NULL && mbedtls_ssl_get_version_number(&c->ssl) == MBEDTLS_SSL_VERSION_TLS1_3)
        return STAMP_TLS13;
    return c != NULL && c->pre != NULL && c->pre->info.ems ? 1 : 0;
}

/* RFC 7627 §5.3 at a resumption of a session stamped `stored`: 0 resumes; nonzero refuses (a full handshake). A
 * session with EMS offered without it MUST abort: the handshake fails with handshake_failure instead of its
 * ServerHello. A session without EMS offered with it MUST NOT resume. */
int tlsio__ems_refused(int stored)
{
    tlsio_conn *c = tlsio__handshaking;
    if (stored > STAMP_TLS13)
        return 1; /* not a stamp: a ticket of an older format, refused without an abort */
    if (c == NULL || c->pre == NULL || !c->pre->hello_done || stored == c->pre->info.ems)
        return 0;
    if (stored == STAMP_TLS13 || mbedtls_ssl_get_version_number(&c->ssl) == MBEDTLS_SSL_VERSION_TLS1_3)
        return 0; /* TLS 1.3 has no EMS: its key schedule binds the whole transcript */
    if (stored && !c->pre->info.ems)
        c->abort_alert = MBEDTLS_SSL_ALERT_MSG_HANDSHAKE_FAILURE;
    return 1;
}

/* Default tickets (keys of this process, rotated by mbedTLS): an EMS session is sealed under one key set, one
 * without EMS under another, and the ticket's first byte names the set. Flipping that byte makes the ticket fail
 * authentication under the other set, so the EMS fact is as authenticated as the ticket itself. */
int tlsio__ticket_write_default(void *p, const mbedtls_ssl_session *session, unsigned char *start,
                                const unsigned char *end, size_t *tlen, uint32_t *lifetime)
{
    tlsio_server_settings *s = p;
    int ems = tlsio__ems_stamp();
    *tlen = 0;
    if (end <= start)
        return MBEDTLS_ERR_SSL_BUFFER_TOO_SMALL;
    *start = (unsigned char)ems;
    int ret =
        mbedtls_ssl_ticket_write(ems != 0 ? &s->ticket : &s->ticket_noems, session, start + 1, end, tlen, lifetime);
    *tlen += ret == 0 ? 1 : 0;
    return ret;
}

int tlsio__ticket_parse_default(void *p, mbedtls_ssl_session *session, unsigned char *buf, size_t len)
{
    tlsio_server_settings *s = p;
    if (len < 1 || buf[0] > 2)
        return MBEDTLS_ERR_SSL_INVALID_MAC;
    if (tlsio__ems_refused(buf[0]))
        return MBEDTLS_ERR_SSL_INVALID_MAC; /* refused: a full handshake, or the abort decided there */
    return mbedtls_ssl_ticket_parse(buf[0] != 0 ? &s->ticket : &s->ticket_noems, session, buf + 1, len - 1);
}
