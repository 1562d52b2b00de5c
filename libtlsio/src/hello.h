/* libtlsio handshake pre-check: a strict, bounded look at the records a server receives during the handshake and
 * at the ClientHello they carry. Pure (no mbedTLS): it only inspects bytes, never rewrites them (the transcript). */
#ifndef TLSIO_HELLO_H
#define TLSIO_HELLO_H

#include <stddef.h>
#include <stdint.h>

/* Bounds a peer can drive during a handshake; README "TLS" and docs/security.md list them. */
/* A ClientHello is reassembled across records up to this size (header included): mbedTLS reassembles a handshake
 * message inside its input buffer (MBEDTLS_SSL_IN_CONTENT_LEN, 16384), so a larger one cannot be served and is
 * refused at once. Far above any real hello (a post-quantum hybrid key share makes about 1.5 KB); OpenSSL takes
 * up to 131,396 bytes. conn.c checks that mbedTLS's buffer holds it. */
#define TLSIO__HELLO_MAX 16384
/* Warning alerts in a row during a handshake before it is aborted with unexpected_message (CVE-2016-8610); the
 * value OpenSSL uses (MAX_WARN_ALERT_COUNT). */
#define TLSIO__WARN_ALERTS_MAX 5
/* Empty records in a row during a handshake before it is aborted with unexpected_message (OpenSSL:
 * MAX_EMPTY_RECORDS 32). */
#define TLSIO__EMPTY_RECORDS_MAX 32
/* Sealed records a TLS 1.3 client may send in its handshake before it is aborted with unexpected_message: it owes
 * only Finished (Certificate and CertificateVerify when asked), but warning alerts hide among them there, and
 * mbedTLS ignores warnings without a bound. */
#define TLSIO__TLS13_SEALED_MAX 32
/* RFC 5246 §6.2: plaintext fragments are at most 2^14 bytes, ciphertext at most 2^14 + 2048. */
#define TLSIO__RECORD_PLAIN_MAX 16384
#define TLSIO__RECORD_CIPHER_MAX (16384 + 2048)
/* The smallest AEAD record: a 16-byte tag (GCM adds an 8-byte explicit nonce); every suite proxyd offers is AEAD. */
#define TLSIO__RECORD_AEAD_MIN 16

/* TLS alert descriptions the pre-check answers with (RFC 8446 §6). */
enum {
    TLSIO__ALERT_UNEXPECTED_MESSAGE = 10,
    TLSIO__ALERT_BAD_RECORD_MAC = 20,
    TLSIO__ALERT_RECORD_OVERFLOW = 22,
    TLSIO__ALERT_HANDSHAKE_FAILURE = 40,
    TLSIO__ALERT_ILLEGAL_PARAMETER = 47,
    TLSIO__ALERT_DECODE_ERROR = 50,
    TLSIO__ALERT_INTERNAL_ERROR = 80,
};

/* What the ClientHello said that later decisions need. */
struct tlsio__hello_info {
    int ems;   /* offered extended_master_secret (RFC 7627) */
    int tls13; /* offered TLS 1.3 in supported_versions */
};

/* Parses one whole ClientHello message (4-byte handshake header included) and applies the checks mbedTLS does
 * not: compression without null, an empty server_name list, empty ec_point_formats, supported_groups or
 * signature_algorithms (decode_error), no group in common with groups[0..ngroups) (handshake_failure). Returns 0
 * and fills info, or the alert description to abort with. */
int tlsio__hello_parse(const unsigned char *msg, size_t len, const uint16_t *groups, size_t ngroups,
                       struct tlsio__hello_info *info);

/* The record walker: a caller-owned struct, valid when zero-filled; tlsio__precheck_free releases the hello copy. */
struct tlsio__precheck {
    unsigned char hdr[5];
    uint8_t hdr_len;   /* bytes of the current record header seen */
    uint8_t encrypted; /* the client sent ChangeCipherSpec (or a TLS 1.3 record): later records are ciphertext */
    uint8_t alert_len; /* bytes of a plaintext alert body seen */
    uint8_t alert_level;
    uint8_t verdict;         /* the alert description once a check failed, latched */
    size_t left;             /* body bytes of the current record still to come */
    unsigned char hs_hdr[4]; /* the current plaintext handshake message's header */
    uint8_t hs_hdr_len;
    size_t hs_left;       /* its body bytes still to come */
    unsigned hs_count;    /* plaintext handshake messages complete */
    unsigned char *hello; /* the ClientHello being reassembled (malloc'd at its announced size), NULL otherwise */
    size_t hello_have;
    int hello_done;
    size_t cke_len; /* ClientKeyExchange: body length, its first byte (the key share's length) */
    int cke_first;
    int cke_framed;             /* a ClientKeyExchange whose single vector fills it exactly was received */
    unsigned warnings, empties; /* in a row */
    unsigned sealed;            /* TLS 1.3 sealed records received */
    const uint16_t *groups;     /* the server's groups (IANA numbers), for the hello check */
    size_t ngroups;
    struct tlsio__hello_info info;
};

/* Feeds the next bytes received from the client, in order. Returns 0, or the alert description the handshake must
 * be aborted with (later calls return it again). */
int tlsio__precheck_feed(struct tlsio__precheck *p, const unsigned char *data, size_t n);
void tlsio__precheck_free(struct tlsio__precheck *p);

#endif
