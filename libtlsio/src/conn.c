/* libtlsio connections: creation for either side, the fd BIO, the handshake, read/write/close_notify and the
 * single mapping of mbedTLS return codes to TLSIO_* codes with a human detail kept on the connection. */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <mbedtls/net_sockets.h>

#include "internal.h"

static int bio_send(void *ctx, const unsigned char *buf, size_t len)
{
    tlsio_conn *c = ctx;
    ssize_t n;
    if (c->abort_alert && !c->alert_out) { /* decided during this flight (ems.c): the alert goes instead of it */
        tlsio__alert_fatal(c, c->abort_alert);
        return MBEDTLS_ERR_SSL_INTERNAL_ERROR;
    }
    do
        n = send(c->fd, buf, len, MSG_NOSIGNAL);
    while (n < 0 && errno == EINTR);
    if (n >= 0) {
        tlsio__out_watch(c, buf, (size_t)n);
        return (int)n;
    }
    if (errno == EAGAIN || errno == EWOULDBLOCK)
        return MBEDTLS_ERR_SSL_WANT_WRITE;
    c->sys_errno = errno;
    return errno == EPIPE || errno == ECONNRESET ? MBEDTLS_ERR_NET_CONN_RESET : MBEDTLS_ERR_NET_SEND_FAILED;
}

static int recv_errno(tlsio_conn *c)
{
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
        c->rd_blocked = 1;
        return MBEDTLS_ERR_SSL_WANT_READ;
    }
    c->sys_errno = errno;
    return errno == ECONNRESET ? MBEDTLS_ERR_NET_CONN_RESET : MBEDTLS_ERR_NET_RECV_FAILED;
}

/* Remembers whether the peer's first bytes are plain text rather than a TLS record (whose first byte, the content
 * type, is 20 to 24): a handshake that then fails is reported as TLSIO_ENOTTLS, the usual mistake of a TLS client
 * pointed at a plain HTTP port (or the reverse). */
static void look_at_first_bytes(tlsio_conn *c, const unsigned char *p, size_t n)
{
    c->got_bytes = 1;
    size_t k = n < 5 ? n : 5;
    for (size_t i = 0; i < k; i++)
        if ((p[i] < 0x20 || p[i] > 0x7e) && p[i] != '\r' && p[i] != '\n' && p[i] != '\t')
            return;
    if (k && (p[0] < 20 || p[0] > 24))
        c->peer_plain = k == 5 && memcmp(p, "HTTP/", 5) == 0 ? 2 : 1;
}

_Static_assert(TLSIO__HELLO_MAX <= MBEDTLS_SSL_IN_CONTENT_LEN, "mbedTLS's input buffer must hold the largest hello");

static void precheck_end(tlsio_conn *c)
{
    if (c->pre != NULL)
        tlsio__precheck_free(c->pre);
    free(c->pre);
    c->pre = NULL;
}

/* A server's handshake input goes through the pre-check (hello.c) as mbedTLS receives it: n, or an error once a
 * check failed (abort_alert then holds the alert the error path sends). */
static int precheck(tlsio_conn *c, const unsigned char *buf, size_t n)
{
    if (!c->is_server || c->handshake_done || n == 0 || c->peer_plain)
        return (int)n;
    if (c->pre == NULL) { /* for the handshake only: an idle connection keeps none of it */
        if ((c->pre = calloc(1, sizeof *c->pre)) == NULL)
            return MBEDTLS_ERR_SSL_ALLOC_FAILED;
        c->pre->groups = tlsio__groups; /* policy.c: ends with MBEDTLS_SSL_IANA_TLS_GROUP_NONE */
        while (tlsio__groups[c->pre->ngroups] != MBEDTLS_SSL_IANA_TLS_GROUP_NONE)
            c->pre->ngroups++;
    }
    int alert = tlsio__precheck_feed(c->pre, buf, n);
    if (alert == 0)
        return (int)n;
    c->abort_alert = (uint8_t)alert;
    return MBEDTLS_ERR_SSL_INTERNAL_ERROR;
}

/* Serves mbedTLS's exact-size reads from the read-ahead, refilled by one recv() when empty; reads of at least
 * TLSIO__READAHEAD bytes go straight to the caller's buffer. WANT_READ only when the socket itself is empty, so
 * "read until WANT_READ" stays the rule for edge-triggered callers (tlsio_pending counts the read-ahead;
 * retry_read() below covers the WANT_READ mbedTLS makes up itself). */
static int bio_recv(void *ctx, unsigned char *buf, size_t len)
{
    tlsio_conn *c = ctx;
    ssize_t n;
    if (c->ra_off == c->ra_len) {
        c->ra_off = c->ra_len = 0;
        if (c->ra == NULL && len < TLSIO__READAHEAD && (c->ra = malloc(TLSIO__READAHEAD)) == NULL)
            return MBEDTLS_ERR_SSL_ALLOC_FAILED;
        int direct = len >= TLSIO__READAHEAD;
        do
            n = direct ? recv(c->fd, buf, len, 0) : recv(c->fd, c->ra, TLSIO__READAHEAD, 0);
        while (n < 0 && errno == EINTR);
        if (n < 0)
            return recv_errno(c);
        if (n > 0 && !c->got_bytes)
            look_at_first_bytes(c, direct ? buf : c->ra, (size_t)n);
        if (direct || n == 0)
            return precheck(c, buf, (size_t)n); /* 0 is EOF: mbedTLS turns it into MBEDTLS_ERR_SSL_CONN_EOF */
        c->ra_len = (size_t)n;
    }
    size_t take = c->ra_len - c->ra_off < len ? c->ra_len - c->ra_off : len;
    memcpy(buf, c->ra + c->ra_off, take);
    c->ra_off += take;
    return precheck(c, buf, take);
}

static int conn_new(tlsio_conn **out, const mbedtls_ssl_config *conf, int is_server)
{
    *out = NULL;
    tlsio_conn *c = calloc(1, sizeof *c);
    if (c == NULL)
        return TLSIO_ENOMEM;
    c->fd = -1;
    c->is_server = is_server;
    mbedtls_ssl_init(&c->ssl);
    if (mbedtls_ssl_setup(&c->ssl, conf) != 0) {
        mbedtls_ssl_free(&c->ssl);
        free(c);
        return TLSIO_ENOMEM;
    }
    mbedtls_ssl_set_bio(&c->ssl, c, bio_send, bio_recv, NULL);
    *out = c;
    return TLSIO_OK;
}

int tlsio_conn_new_server(tlsio_conn **out, tlsio_server_config *config)
{
    return conn_new(out, &config->conf, 1);
}

int tlsio_conn_new_client(tlsio_conn **out, tlsio_client_config *config, const char *server_name)
{
    *out = NULL;
    if (server_name == NULL || server_name[0] == '\0' || strlen(server_name) > TLSIO__SNI_MAX)
        return TLSIO_EINVAL;
    tlsio_conn *c;
    int rc = conn_new(&c, &config->conf, 0);
    if (rc != TLSIO_OK)
        return rc;
    c->server_name = tlsio__strdup(server_name);
    int ret = c->server_name ? mbedtls_ssl_set_hostname(&c->ssl, server_name) : MBEDTLS_ERR_SSL_ALLOC_FAILED;
    if (ret != 0) {
        tlsio_conn_free(c);
        return ret == MBEDTLS_ERR_SSL_ALLOC_FAILED ? TLSIO_ENOMEM : TLSIO_EINVAL;
    }
    *out = c;
    return TLSIO_OK;
}

void tlsio_conn_free(tlsio_conn *c)
{
    if (c == NULL)
        return;
    mbedtls_ssl_free(&c->ssl); /* copes with the buffers released by tlsio_conn_idle() */
    precheck_end(c);
    free(c->ra);
    free(c->server_name);
    free(c);
}

void tlsio_conn_set_fd(tlsio_conn *c, int fd)
{
    c->fd = fd;
}

static void verify_text(tlsio_conn *c)
{
    static const struct {
        uint32_t flag;
        const char *text;
    } reasons[] = {
        {MBEDTLS_X509_BADCERT_NOT_TRUSTED, "certificate not trusted"},
        {MBEDTLS_X509_BADCERT_CN_MISMATCH, "name mismatch"},
        {MBEDTLS_X509_BADCERT_EXPIRED, "certificate expired"},
        {MBEDTLS_X509_BADCERT_FUTURE, "certificate not yet valid"},
        {MBEDTLS_X509_BADCERT_REVOKED, "certificate revoked"},
        {MBEDTLS_X509_BADCERT_MISSING, "no certificate sent"},
        {MBEDTLS_X509_BADCERT_KEY_USAGE | MBEDTLS_X509_BADCERT_EXT_KEY_USAGE, "certificate not for TLS servers"},
        {MBEDTLS_X509_BADCERT_BAD_MD | MBEDTLS_X509_BADCERT_BAD_PK | MBEDTLS_X509_BADCERT_BAD_KEY,
         "certificate uses a weak or unsupported algorithm"},
    };
    uint32_t flags = mbedtls_ssl_get_verify_result(&c->ssl);
    tlsio__msg(c->err, sizeof c->err, "%s", "");
    for (size_t i = 0; i < sizeof reasons / sizeof reasons[0]; i++)
        if (flags & reasons[i].flag)
            tlsio__append(c->err, sizeof c->err, "%s", reasons[i].text);
    if (c->err[0] == '\0')
        tlsio__msg(c->err, sizeof c->err, "certificate rejected (flags 0x%x)", (unsigned)flags);
}

static int map_error(tlsio_conn *c, int ret)
{
    char why[128];
    if (c->abort_alert) {
        tlsio__alert_fatal(c, c->abort_alert);
        tlsio__msg(c->err, sizeof c->err, "refused the %s: sent alert %d",
                   c->pre != NULL && c->pre->hello_done ? "handshake" : "ClientHello", c->abort_alert);
        return TLSIO_EHANDSHAKE;
    }
    if (c->is_server && !c->peer_plain)
        tlsio__alert_fatal(c, tlsio__alert_for_conn(c, ret)); /* every fatal error sends its alert first */
    if (!c->handshake_done && c->peer_plain && ret != MBEDTLS_ERR_SSL_ALLOC_FAILED) {
        tlsio__msg(c->err, sizeof c->err, "the peer sent plain %s instead of a TLS %s",
                   c->peer_plain == 2 ? "HTTP" : "text", c->is_server ? "ClientHello" : "ServerHello");
        return TLSIO_ENOTTLS;
    }
    switch (ret) {
    case MBEDTLS_ERR_NET_SEND_FAILED:
    case MBEDTLS_ERR_NET_RECV_FAILED:
    case MBEDTLS_ERR_NET_CONN_RESET:
        tlsio__msg(c->err, sizeof c->err, "socket: %s", strerror(c->sys_errno));
        return TLSIO_ESYSCALL;
    case MBEDTLS_ERR_X509_CERT_VERIFY_FAILED: verify_text(c); return TLSIO_EVERIFY;
    case MBEDTLS_ERR_SSL_FATAL_ALERT_MESSAGE:
        tlsio__msg(c->err, sizeof c->err, "peer sent fatal alert %u", tlsio__alert_received(&c->ssl));
        return TLSIO_EALERT;
    case MBEDTLS_ERR_SSL_CONN_EOF:
        tlsio__msg(c->err, sizeof c->err, "connection closed by peer during the handshake");
        return TLSIO_EHANDSHAKE;
    case MBEDTLS_ERR_SSL_ALLOC_FAILED: tlsio__msg(c->err, sizeof c->err, "out of memory"); return TLSIO_ENOMEM;
    case MBEDTLS_ERR_SSL_BAD_INPUT_DATA: /* libtlsio checks its own calls: this is a record too long for mbedTLS */
        tlsio__msg(c->err, sizeof c->err, "record or message from the peer too long or malformed");
        return c->handshake_done ? TLSIO_EPROTO : TLSIO_EHANDSHAKE;
    case MBEDTLS_ERR_CTR_DRBG_ENTROPY_SOURCE_FAILED:
    case MBEDTLS_ERR_CTR_DRBG_REQUEST_TOO_BIG:
        tlsio__msg(c->err, sizeof c->err, "random generator failure");
        return TLSIO_ECRYPTO;
    default:
        tlsio__mbed_text(why, sizeof why, ret);
        tlsio__msg(c->err, sizeof c->err, "%s", why);
        return c->handshake_done ? TLSIO_EPROTO : TLSIO_EHANDSHAKE;
    }
}

/* Maps an mbedTLS return; errors are latched so every later call reports the same failure. */
int tlsio__map(tlsio_conn *c, int ret)
{
    if (ret == MBEDTLS_ERR_SSL_WANT_READ)
        return TLSIO_WANT_READ;
    if (ret == MBEDTLS_ERR_SSL_WANT_WRITE)
        return TLSIO_WANT_WRITE;
    c->fatal = map_error(c, ret);
    return c->fatal;
}

/* Whether a WANT_READ from mbedTLS means the socket is empty. mbedTLS also answers WANT_READ after a record it
 * consumed and ignored (a warning alert) although more input may wait in the read-ahead, where no epoll event
 * will announce it, and a TLS 1.3 client reports each NewSessionTicket it stored: the caller retries then, a
 * bounded number of times (*ignored counts them). */
static int retry_read(tlsio_conn *c, int ret, int *ignored)
{
    if (ret == MBEDTLS_ERR_SSL_RECEIVED_NEW_SESSION_TICKET) {
        c->new_ticket = 1;
        return ++*ignored <= TLSIO__MAX_IGNORED;
    }
    if (ret != MBEDTLS_ERR_SSL_WANT_READ || c->rd_blocked)
        return 0;
    return ++*ignored <= TLSIO__MAX_IGNORED;
}

/* A WANT_READ that retry_read() gave up on: the peer keeps sending records that carry nothing. */
static int too_many_ignored(tlsio_conn *c)
{
    tlsio__msg(c->err, sizeof c->err, "more than %d ignored records in a row", TLSIO__MAX_IGNORED);
    c->fatal = c->handshake_done ? TLSIO_EPROTO : TLSIO_EHANDSHAKE;
    return c->fatal;
}

/* Steps the handshake by hand so that whether it was resumed can be seen from the states it goes through. */
int tlsio_handshake(tlsio_conn *c)
{
    if (c->fatal != 0)
        return c->fatal;
    if (c->handshake_done)
        return TLSIO_OK;
    if (c->fd < 0)
        return TLSIO_EINVAL;
    int ignored = 0;
    while (tlsio__hs_state(&c->ssl) != MBEDTLS_SSL_HANDSHAKE_OVER) {
        c->rd_blocked = 0;
        tlsio__handshaking = c; /* for the cache and ticket callbacks (ems.c) */
        c->step_sent = 0;
        int ret = mbedtls_ssl_handshake_step(&c->ssl);
        tlsio__handshaking = NULL;
        /* A full handshake, TLS 1.2 or 1.3, passes through the server's Certificate; a resumed one skips it. */
        if (tlsio__hs_state(&c->ssl) == MBEDTLS_SSL_SERVER_CERTIFICATE)
            c->full = 1;
        if (retry_read(c, ret, &ignored))
            continue;
        if (ret == MBEDTLS_ERR_SSL_WANT_READ && !c->rd_blocked)
            return too_many_ignored(c);
        if (ret != 0)
            return tlsio__map(c, ret);
    }
    c->handshake_done = 1;
    precheck_end(c);
    c->resumed = !c->full;
    tlsio__handshake_over(&c->ssl);
    return TLSIO_OK;
}

/* Common entry of the data calls: latched error, idle buffers back, handshake finished. */
static int ready(tlsio_conn *c)
{
    if (c->fatal != 0)
        return c->fatal;
    if (c->idle) {
        int rc = tlsio__conn_wake(c);
        if (rc != TLSIO_OK)
            return rc;
    }
    return tlsio_handshake(c);
}

/* mbedTLS takes any unsent output for a retry of the caller's own last write and reports that write done:
 * output that is not the caller's (an alert queued by a read, e.g. refusing renegotiation) is flushed first. */
static int flush_foreign(tlsio_conn *c)
{
    if (c->wpending || tlsio__out_left(&c->ssl) == 0)
        return TLSIO_OK;
    int ret = tlsio__flush(&c->ssl);
    return ret == 0 ? TLSIO_OK : tlsio__map(c, ret);
}

ssize_t tlsio_read(tlsio_conn *c, void *buf, size_t len)
{
    if (len == 0)
        return TLSIO_EINVAL;
    if (c->eof)
        return 0;
    int rc = ready(c);
    if (rc == TLSIO_OK)
        rc = flush_foreign(c);
    if (rc != TLSIO_OK)
        return rc;
    int ret, ignored = 0;
    do {
        c->rd_blocked = 0;
        c->step_sent = 0;
        ret = mbedtls_ssl_read(&c->ssl, buf, len > INT_MAX ? INT_MAX : len);
    } while (retry_read(c, ret, &ignored));
    if (ret == MBEDTLS_ERR_SSL_WANT_READ && !c->rd_blocked)
        return too_many_ignored(c);
    if (ret > 0)
        return ret;
    if (ret == 0 || ret == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY || ret == MBEDTLS_ERR_SSL_CONN_EOF) {
        c->clean_close = ret == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY;
        c->eof = 1;
        return 0;
    }
    return tlsio__map(c, ret);
}

ssize_t tlsio_write(tlsio_conn *c, const void *buf, size_t len)
{
    if (len == 0)
        return 0;
    int rc = ready(c);
    if (rc == TLSIO_OK)
        rc = flush_foreign(c);
    if (rc != TLSIO_OK)
        return rc;
    int ret = mbedtls_ssl_write(&c->ssl, buf, len > INT_MAX ? INT_MAX : len);
    c->wpending = ret == MBEDTLS_ERR_SSL_WANT_WRITE || ret == MBEDTLS_ERR_SSL_WANT_READ;
    return ret >= 0 ? ret : tlsio__map(c, ret);
}

size_t tlsio_pending(const tlsio_conn *c)
{
    if (c->idle || c->fatal != 0)
        return 0;
    if (c->ra_off != c->ra_len)
        return 1;
    size_t n = mbedtls_ssl_get_bytes_avail(&c->ssl);
    if (n > 0)
        return n;
    return mbedtls_ssl_check_pending(&c->ssl) ? 1 : 0;
}

int tlsio_close_notify(tlsio_conn *c)
{
    if (c->fatal != 0)
        return c->fatal;
    if (!c->handshake_done)
        return TLSIO_EINVAL;
    if (c->idle) {
        int rc = tlsio__conn_wake(c);
        if (rc != TLSIO_OK)
            return rc;
    }
    if (tlsio__out_left(&c->ssl)) { /* whatever is queued goes first, or close_notify would be taken as sent */
        int ret = tlsio__flush(&c->ssl);
        if (ret != 0)
            return tlsio__map(c, ret);
        c->wpending = 0;
        if (c->cn_queued)
            return TLSIO_OK;
    }
    c->cn_queued = 1;
    int ret = mbedtls_ssl_close_notify(&c->ssl);
    return ret == 0 ? TLSIO_OK : tlsio__map(c, ret);
}
