/* libtlsio internals: the structs behind the opaque public types and the helpers shared between sources.
 * Every mbedTLS type lives here or in the .c files, never in the public header. */
#ifndef TLSIO_INTERNAL_H
#define TLSIO_INTERNAL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <mbedtls/build_info.h>
#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/pk.h>
#include <mbedtls/ssl.h>
#include <mbedtls/ssl_ticket.h>
#include <mbedtls/version.h>
#include <mbedtls/x509_crt.h>
#include <psa/crypto.h>

#include "hello.h"
#include "tlsio/tlsio.h"

#if MBEDTLS_VERSION_NUMBER < 0x03060000
#error "libtlsio needs mbedTLS >= 3.6 (scripts/mbedtls.sh builds it on Debian 12; README.md, mbedTLS 3.6)"
#endif
/* The session cache, the ticket keys and PSA's key store are shared by every worker thread. */
#if !defined(MBEDTLS_THREADING_C) || !defined(MBEDTLS_THREADING_PTHREAD)
#error "libtlsio needs mbedTLS built with MBEDTLS_THREADING_C and MBEDTLS_THREADING_PTHREAD"
#endif
#if !defined(MBEDTLS_SSL_PROTO_TLS1_2) || !defined(MBEDTLS_SSL_SESSION_TICKETS) || !defined(MBEDTLS_SSL_TICKET_C) ||   \
    !defined(MBEDTLS_SSL_SRV_C) || !defined(MBEDTLS_SSL_CLI_C) || !defined(MBEDTLS_SSL_SERVER_NAME_INDICATION) ||      \
    !defined(MBEDTLS_SSL_ALPN)
#error "libtlsio needs TLS 1.2, session tickets, both sides, SNI and ALPN in the mbedTLS build"
#endif
/* Each TLS 1.3 handshake in progress holds a PSA key: a fixed key store lets a few half-open handshakes refuse all
 * others (tests/tls/hostile d9). */
#if defined(MBEDTLS_SSL_PROTO_TLS1_3) && !defined(MBEDTLS_PSA_KEY_STORE_DYNAMIC)
#error "libtlsio needs mbedTLS built with MBEDTLS_PSA_KEY_STORE_DYNAMIC (mbedTLS's and Debian's default)"
#endif

#define TLSIO__MAX_SUITES 16
#define TLSIO__SNI_MAX 255
/* Socket read-ahead per busy connection: mbedTLS asks for a record's 5-byte header, then its body, so without
 * it every record costs two recv() calls. One recv() of this size takes the header and a small record whole;
 * bodies at least this long are still read straight into mbedTLS's buffer. Released with the record buffers. */
#define TLSIO__READAHEAD 4096
/* Records in a row that mbedTLS may consume without progress (warning alerts it ignores) before the peer is
 * refused; OpenSSL allows 5 warning alerts in a row. */
#define TLSIO__MAX_IGNORED 32
/* NewSessionTickets a TLS 1.3 server sends after each handshake: one resumes the next connection (browsers and
 * curl use one); each costs a ticket seal and ~200 bytes on the wire. */
#define TLSIO__TLS13_TICKETS 1

/* One certificate entry of the shared settings: paths (re-read per worker) and the names SNI matches on. */
/* Protocol versions and suites of one config, from the defaults and the operator's overrides (policy.c). */
struct tlsio__policy {
    int suites[TLSIO__MAX_SUITES + 1]; /* 0-terminated, server preference order, TLS 1.3 and 1.2 suites */
    int tls12, tls13;                  /* enabled versions */
};

struct tlsio__cert {
    char *cert_path;
    char *key_path;
    char **names; /* lower-case DNS names: SAN dNSName entries, then the CN; may hold "*.x.y" */
    size_t nnames;
    int is_default; /* served when SNI is absent or matches nothing */
};

struct tlsio__cache;       /* sharded session-id cache, cache.c */
struct tlsio__ticket_keys; /* immutable ticket keys read from a key file, ticket.c */

struct tlsio_server_settings {
    struct tlsio__cert *certs;
    size_t ncerts;
    struct tlsio__policy policy;
    unsigned timeout;
    struct tlsio__cache *cache;              /* NULL when disabled */
    int tickets;                             /* nonzero when ticket is set up (random keys rotated by mbedTLS) */
    mbedtls_ssl_ticket_context ticket;       /* seals sessions made with extended master secret */
    mbedtls_ssl_ticket_context ticket_noems; /* and those without (ems.c) */
    struct tlsio__ticket_keys *ticket_keys;  /* key file in use instead of ticket; NULL otherwise */
    mbedtls_entropy_context entropy;         /* feeds the ticket keys and nonces, used under the ticket mutex */
    mbedtls_ctr_drbg_context drbg;
};

/* A parsed certificate chain and its key, owned by one worker. */
struct tlsio__keypair {
    mbedtls_x509_crt crt;
    mbedtls_pk_context key;
};

struct tlsio_server_config {
    tlsio_server_settings *settings;
    struct tlsio__keypair *pairs; /* settings->ncerts entries */
    mbedtls_ssl_config conf;
    mbedtls_entropy_context entropy;
    mbedtls_ctr_drbg_context drbg;
};

struct tlsio_client_config {
    struct tlsio__policy policy;
    char *alpn;               /* owned copy, NULL when ALPN is off */
    const char *alpn_list[2]; /* { alpn, NULL } for mbedtls_ssl_conf_alpn_protocols */
    int has_ca, has_pair;
    mbedtls_x509_crt ca;
    struct tlsio__keypair pair;
    mbedtls_ssl_config conf;
    mbedtls_entropy_context entropy;
    mbedtls_ctr_drbg_context drbg;
};

struct tlsio_session {
    mbedtls_ssl_session session;
};

struct tlsio_conn {
    mbedtls_ssl_context ssl; /* first: the SNI callback recovers the conn from its ssl */
    int fd;
    int is_server;
    int handshake_done;
    int resumed;
    int full;       /* the handshake went through the server's Certificate: not a resumption */
    int new_ticket; /* client: a TLS 1.3 NewSessionTicket arrived since the last tlsio_conn_save_session() */
    int saved;      /* client: the handshake's own session was saved already */
    int clean_close;
    int idle;  /* record buffers released by tlsio_conn_idle() */
    int eof;   /* end of stream seen: reads return 0 */
    int fatal; /* latched TLSIO_* error, 0 while healthy */
    int sys_errno;
    int wpending;                /* the output mbedTLS holds is the caller's own write, to be retried (not an alert) */
    int cn_queued;               /* close_notify is in the output already */
    char *server_name;           /* SNI received or sent, NUL-terminated; NULL if none */
    unsigned char saved_ctr[8];  /* incoming record sequence number kept while idle (it lives in in_buf) */
    size_t saved_off[12];        /* record pointers kept while idle, as offsets into their buffers */
    size_t buf_len[2];           /* sizes of the record buffers released while idle (in, out) */
    unsigned char *ra;           /* read-ahead, TLSIO__READAHEAD bytes; NULL until the first read */
    size_t ra_off, ra_len;       /* unread socket bytes are ra[ra_off, ra_len) */
    int rd_blocked;              /* the last recv() found the socket empty */
    int got_bytes;               /* something was received: the first bytes were looked at */
    int peer_plain;              /* 1: they were plain text, 2: an HTTP response ("HTTP/") */
    struct tlsio__precheck *pre; /* server: the records and ClientHello received, during the handshake only */
    uint8_t abort_alert;         /* the alert an abort decided outside mbedTLS sends (abort.c), 0 if none */
    uint8_t alert_out;           /* an alert was sent: none is added at the close */
    uint8_t out_any;             /* something was sent */
    uint8_t step_sent;           /* something was sent during the current mbedTLS call */
    char err[192];
};

/* policy.c */
int tlsio__policy_parse(struct tlsio__policy *p, const char *ciphers, const char *protocols, char *err, size_t errlen,
                        char *warn, size_t warnlen);
void tlsio__policy_apply(mbedtls_ssl_config *conf, const struct tlsio__policy *p);
extern const uint16_t tlsio__groups[];
extern const uint16_t tlsio__sig_algs[];

/* util.c */
void tlsio__msg(char *buf, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void tlsio__append(char *buf, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void tlsio__mbed_text(char *buf, size_t len, int mbed_ret);
int tlsio__rng_seed(mbedtls_entropy_context *entropy, mbedtls_ctr_drbg_context *drbg, const char *pers);
int tlsio__psa_init(void);
int tlsio__load_pair(struct tlsio__keypair *pair, const char *cert_path, const char *key_path,
                     mbedtls_ctr_drbg_context *drbg, char *err, size_t errlen);
void tlsio__free_pair(struct tlsio__keypair *pair);
char *tlsio__strdup(const char *s);

/* cert.c */
int tlsio__cert_names(struct tlsio__cert *cert, const mbedtls_x509_crt *crt);
int tlsio__sni_select(const tlsio_server_settings *s, const char *name, size_t len, size_t *idx, size_t max);

/* cache.c */
struct tlsio__cache *tlsio__cache_new(size_t bytes, unsigned timeout);
void tlsio__cache_free(struct tlsio__cache *cache);
mbedtls_ssl_cache_get_t tlsio__cache_get;
mbedtls_ssl_cache_set_t tlsio__cache_set;
size_t tlsio__cache_capacity(const struct tlsio__cache *cache);

/* ticket.c */
int tlsio__ticket_keys_load(struct tlsio__ticket_keys **out, const char *path, unsigned lifetime, char *err,
                            size_t errlen);
void tlsio__ticket_keys_free(struct tlsio__ticket_keys *keys);
mbedtls_ssl_ticket_write_t tlsio__ticket_write;
mbedtls_ssl_ticket_parse_t tlsio__ticket_parse;

/* abort.c */
int tlsio__alert_for(int mbed_ret);
int tlsio__alert_for_conn(const tlsio_conn *conn, int mbed_ret);
void tlsio__out_watch(tlsio_conn *conn, const unsigned char *buf, size_t sent);
void tlsio__alert_fatal(tlsio_conn *conn, int desc);

/* ems.c */
extern _Thread_local tlsio_conn *tlsio__handshaking;
int tlsio__ems_stamp(void);
int tlsio__ems_refused(int stored);
mbedtls_ssl_ticket_write_t tlsio__ticket_write_default;
mbedtls_ssl_ticket_parse_t tlsio__ticket_parse_default;

/* conn.c */
int tlsio__map(tlsio_conn *conn, int mbed_ret);

/* idle.c: the one file that reads or writes mbedTLS's private fields (behind a version check) */
int tlsio__conn_wake(tlsio_conn *conn);
void tlsio__conn_release_buffers(tlsio_conn *conn);
int tlsio__hs_state(const mbedtls_ssl_context *ssl);            /* the next handshake state */
void tlsio__handshake_over(mbedtls_ssl_context *ssl);           /* frees what a finished handshake no longer needs */
size_t tlsio__out_left(const mbedtls_ssl_context *ssl);         /* record bytes not yet sent */
int tlsio__flush(mbedtls_ssl_context *ssl);                     /* sends them: 0 or an mbedTLS error */
unsigned tlsio__alert_received(const mbedtls_ssl_context *ssl); /* the fatal alert just read */
void tlsio__session_set_age(mbedtls_ssl_session *session, int64_t age_ms); /* TLS 1.3 ticket age on this host */

#endif
