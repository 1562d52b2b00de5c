/* tlsio: TLS 1.2 and 1.3 termination (server) and origination (client) over a non-blocking fd, mbedTLS 3.6 inside.
 * Owns the public API: settings, per-worker configs, connections, client sessions and error codes. */
#ifndef TLSIO_TLSIO_H
#define TLSIO_TLSIO_H

#include <stddef.h>
#include <sys/types.h>

/*
 * Threading model. A tlsio_server_settings is built once (main thread) and is then immutable and shared by
 * all workers: it holds the certificate list, the policy, the sharded session-id cache and the session-ticket
 * keys (random ones rotated automatically every ticket lifetime, or the fixed set of a ticket key file), all
 * internally locked or immutable. Each worker builds its own
 * tlsio_server_config / tlsio_client_config from it: that holds the random generator and the parsed private
 * keys, and must only be used by that worker's thread. A tlsio_conn belongs to one thread.
 *
 * I/O model. The caller owns the fd (non-blocking); tlsio only send()s/recv()s on it and never closes it.
 * Every I/O call returns TLSIO_WANT_READ or TLSIO_WANT_WRITE when it needs the socket to become readable or
 * writable; the caller waits for that and calls the same function again.
 *
 * Policy by default: TLS 1.2 and 1.3. TLS 1.3: ChaCha20-Poly1305, AES-128-GCM, AES-256-GCM, (EC)DHE for every
 * handshake (resumption is psk_dhe_ke), no 0-RTT. TLS 1.2: ECDHE key exchange with AEAD suites only (the same
 * ciphers, ECDSA or RSA certificates), extended master secret, no renegotiation. Groups X25519, P-256, P-384;
 * signature schemes ECDSA P-256/P-384, RSA-PSS, RSA PKCS#1 v1.5 (TLS 1.2 and certificates). ALPN "http/1.1". A
 * TLS 1.3 server sends one NewSessionTicket per handshake and refuses KeyUpdate and every other post-handshake
 * message (mbedTLS 3.6 implements none). tlsio_policy_text() spells out the exact lists. OCSP stapling is not
 * supported (mbedTLS 3.6 has no server-side OCSP support).
 * The library never prints; private key material never appears in any message.
 */

/* Return codes: WANT_* are not errors; every other negative value is an error for tlsio_strerror(). */
enum {
    TLSIO_OK = 0,
    TLSIO_WANT_READ = -1,  /* wait for the fd to become readable, then call again */
    TLSIO_WANT_WRITE = -2, /* wait for the fd to become writable, then call again (same arguments) */
    TLSIO_ENOMEM = -3,     /* out of memory */
    TLSIO_EINVAL = -4,     /* bad argument or call in the wrong state */
    TLSIO_ECONFIG = -5,    /* configuration rejected: file unreadable, unparsable, key/cert mismatch, bad name */
    TLSIO_ESYSCALL = -6,   /* send()/recv() failed; tlsio_conn_sys_errno() tells why */
    TLSIO_EHANDSHAKE = -7, /* handshake failed: no common version/suite/curve/ALPN, or bad handshake message */
    TLSIO_EVERIFY = -8,    /* peer certificate verification failed; tlsio_conn_error_text() tells why */
    TLSIO_EPROTO = -9,     /* malformed or unauthenticated record, unexpected message */
    TLSIO_EALERT = -10,    /* the peer sent a fatal alert */
    TLSIO_ECRYPTO = -11,   /* internal crypto failure (random generator, signature) */
    TLSIO_EOVERFLOW = -12, /* a fixed-size buffer of the caller is too small */
    TLSIO_ENOTTLS = -13,   /* handshake: the peer's first bytes were plain text (e.g. "HTTP/1.1 400"), not TLS */
};

/* Static English text for a TLSIO_* code; never NULL. */
const char *tlsio_strerror(int code);

/* The TLS library linked in, e.g. "mbedTLS 3.6.6" or "mbedTLS 3.6.6 (SHA-256: libtlsio's, x86-64 SHA extensions)"
 * (static text). */
const char *tlsio_library_version(void);

/* Which of proxyd's mbedTLS patches that library has (README "mbedTLS 3.6"): "with proxyd's patches: 0001 (defect
 * 4: ...) 0002 (defect 8: ...) 0003 (...)", or "without proxyd's patches (...)" for a library built elsewhere (static
 * text). */
const char *tlsio_library_patches(void);

/* Writes what a config with these ciphers/protocols overrides (NULL: defaults) offers, e.g. "protocols TLSv1.2
 * TLSv1.3; TLS 1.3 suites ...; TLS 1.2 suites ...; groups x25519 secp256r1 secp384r1; signature schemes ...".
 * Returns TLSIO_OK, TLSIO_ECONFIG (the overrides are refused; buf holds why) or TLSIO_EOVERFLOW. */
int tlsio_policy_text(char *buf, size_t len, const char *ciphers, const char *protocols);

/* ---------------------------------------------------------------- server side */

/* One certificate: a PEM chain (leaf first) and its PEM private key. Its server names are read from the leaf
 * (SAN DNS names, and the CN). SNI chooses: an exact name, then a wildcard "*.example.com" (one label), then
 * the first certificate of the list. Several certificates may share a name (e.g. one ECDSA, one RSA): the
 * client's suites pick among them. */
struct tlsio_cert_spec {
    const char *cert_path;
    const char *key_path;
};

/* Server options; a zeroed struct (plus certs) means the default policy. Pointers are only read during
 * tlsio_server_settings_new(). */
struct tlsio_server_opts {
    const struct tlsio_cert_spec *certs; /* at least one */
    size_t ncerts;
    const char *ciphers;         /* NULL: default; else mbedTLS suite names separated by ':' ',' or spaces */
    const char *protocols;       /* NULL: both; else "TLSv1.2", "TLSv1.3" or both (TLS 1.0/1.1: warned, ignored) */
    size_t session_cache_bytes;  /* 0: 10 MiB; rounded to whole entries of about 256 bytes */
    unsigned session_timeout;    /* seconds a cached session (and ticket) stays valid; 0: 300 */
    int no_session_cache;        /* nonzero: no session-id resumption */
    int no_session_tickets;      /* nonzero: no ticket resumption */
    const char *ticket_key_file; /* NULL: random ticket keys of this process; else the fleet's key file, below */
};

/* Ticket key file, shared by every machine answering for the same names so that a client resumes on any of
 * them: one or more 80-byte binary records and nothing else; `openssl rand 80 > ticket.key` makes one (the
 * nginx ssl_session_ticket_key layout: a 16-byte key name, a 32-byte AES-256 key, 32 bytes unused here). The
 * FIRST record seals new tickets; every record opens the tickets naming it. To rotate across a fleet: prepend
 * a new record, distribute the file, reload every machine, then drop the oldest record once no ticket under it
 * can still be valid (session_timeout). At most 64 records; names must differ; the file must not be readable
 * by other users. It is read once by tlsio_server_settings_new(); a reload builds new settings. Tickets are
 * AES-256-GCM sealed, valid session_timeout seconds from their issue (wall clock; up to 60 s of clock skew
 * between machines is tolerated), and only open on machines running the same mbedTLS version and build
 * options (others fall back to a full handshake). */

typedef struct tlsio_server_settings tlsio_server_settings;
typedef struct tlsio_server_config tlsio_server_config;

/* Validates opts and loads every certificate and key once. On error returns TLSIO_ECONFIG (or ENOMEM, EINVAL)
 * and writes a message naming the file into err (e.g. "cert.pem: cannot parse certificate: X509 - ...").
 * warn (may be NULL) receives '; '-separated notes about ignored or weak choices, "" when none; the caller
 * logs it. *out is freed with tlsio_server_settings_free() after every config built from it is freed. */
int tlsio_server_settings_new(tlsio_server_settings **out, const struct tlsio_server_opts *opts, char *err,
                              size_t errlen, char *warn, size_t warnlen);
void tlsio_server_settings_free(tlsio_server_settings *settings);

/* Builds one worker's config (own random generator, own parsed keys). Errors as for settings_new. */
int tlsio_server_config_new(tlsio_server_config **out, tlsio_server_settings *settings, char *err, size_t errlen);
void tlsio_server_config_free(tlsio_server_config *config);

/* ---------------------------------------------------------------- client side */

/* Client options toward upstreams; zeroed means: verify against the system CA file, default policy. */
struct tlsio_client_opts {
    const char *ca_path;   /* PEM CA bundle; NULL: /etc/ssl/certs/ca-certificates.crt */
    int verify_none;       /* nonzero: do not verify the peer certificate (explicit opt-out) */
    const char *cert_path; /* optional client certificate chain (PEM) */
    const char *key_path;  /* its private key, required with cert_path */
    const char *ciphers;   /* as for the server */
    const char *protocols; /* as for the server */
    const char *alpn;      /* NULL: "http/1.1"; "" disables ALPN */
};

typedef struct tlsio_client_config tlsio_client_config;

/* One per worker thread. Errors and warnings as for tlsio_server_settings_new(). */
int tlsio_client_config_new(tlsio_client_config **out, const struct tlsio_client_opts *opts, char *err, size_t errlen,
                            char *warn, size_t warnlen);
void tlsio_client_config_free(tlsio_client_config *config);

/* ---------------------------------------------------------------- connections */

typedef struct tlsio_conn tlsio_conn;
typedef struct tlsio_session tlsio_session;

/* A server connection; the config must outlive it. Returns TLSIO_OK or TLSIO_ENOMEM. */
int tlsio_conn_new_server(tlsio_conn **out, tlsio_server_config *config);

/* A client connection. server_name is mandatory (TLSIO_EINVAL if NULL or ""): it is always passed to
 * mbedtls_ssl_set_hostname(), so it is sent as SNI and, unless verify_none, the certificate must match it;
 * there is no way to verify the chain but skip the name (CVE-2025-27809). An IP literal is matched against the
 * certificate's IP address SANs (mbedTLS 3.6). */
int tlsio_conn_new_client(tlsio_conn **out, tlsio_client_config *config, const char *server_name);

/* Frees the connection (not the fd). Sends nothing: call tlsio_close_notify() first for a clean close. */
void tlsio_conn_free(tlsio_conn *conn);

/* Attaches the caller's non-blocking socket (send/recv with MSG_NOSIGNAL; never closed by tlsio). */
void tlsio_conn_set_fd(tlsio_conn *conn, int fd);

/* Drives the handshake: TLSIO_OK when done, TLSIO_WANT_READ/WRITE, or an error (the connection is then dead;
 * tlsio_conn_error_text() has the detail). It reads the socket whenever it needs input, and may read past its last
 * message (the peer's first records): with edge-triggered polling, check tlsio_pending() after TLSIO_OK before
 * waiting for the socket to become readable. */
int tlsio_handshake(tlsio_conn *conn);

/* Reads decrypted bytes: > 0 bytes, 0 at end of stream (close_notify or EOF; see tlsio_conn_clean_close()),
 * TLSIO_WANT_READ/WRITE, or an error. Runs the handshake first if not done. With edge-triggered polling,
 * keep reading until WANT_READ, or check tlsio_pending() before waiting. */
ssize_t tlsio_read(tlsio_conn *conn, void *buf, size_t len);

/* Encrypts and sends: > 0 bytes accepted (may be less than len, at most one 16 KiB record), WANT_READ/WRITE,
 * or an error. After WANT_*, the caller MUST call again with the same buf and len (mbedTLS may already hold
 * part of that data); the bytes are accepted only when the return is > 0. */
ssize_t tlsio_write(tlsio_conn *conn, const void *buf, size_t len);

/* Nonzero when tlsio_read() can progress without new socket input: the count of decrypted bytes held, or 1
 * when only not yet decrypted record bytes are buffered. */
size_t tlsio_pending(const tlsio_conn *conn);

/* Sends close_notify: TLSIO_OK, WANT_WRITE (call again), or an error. */
int tlsio_close_notify(tlsio_conn *conn);

/* Releases the connection's record buffers while it sits idle (keep-alive), if nothing is buffered either
 * way: TLSIO_OK when released (or already idle), TLSIO_EINVAL when not possible now (handshake not done,
 * data pending). The next tlsio_read/write/close_notify reallocates them (may then fail with ENOMEM). */
int tlsio_conn_idle(tlsio_conn *conn);

/* Accessors, valid after the handshake (NULL/0 before). Strings live as long as the connection. */
const char *tlsio_conn_alpn(const tlsio_conn *conn);        /* negotiated protocol, NULL if none */
const char *tlsio_conn_server_name(const tlsio_conn *conn); /* SNI received (server) or sent (client); NULL */
int tlsio_conn_resumed(const tlsio_conn *conn);             /* 1 when the session was resumed */
const char *tlsio_conn_cipher(const tlsio_conn *conn);      /* e.g. "TLS-ECDHE-RSA-WITH-AES-128-GCM-SHA256" */
const char *tlsio_conn_version(const tlsio_conn *conn);     /* e.g. "TLSv1.2" */
int tlsio_conn_clean_close(const tlsio_conn *conn);         /* 1 when the peer sent close_notify */
int tlsio_conn_sys_errno(const tlsio_conn *conn);           /* errno of the last failed send/recv, or 0 */
const char *tlsio_conn_error_text(const tlsio_conn *conn);  /* detail of the last error, "" if none */

/* Client session resumption: when tlsio_conn_session_pending() says so, save the session (*out freed with
 * tlsio_session_free()); before the next handshake to the same upstream, set it. A saved session is immutable
 * and may be set on many connections, from any thread, until freed. TLS 1.2 has a session to save once, after a
 * full handshake; TLS 1.3 one per NewSessionTicket, which the server sends after the handshake (it is read by
 * tlsio_read(), so check again after reading, e.g. when the connection goes back to a keep-alive pool). */
int tlsio_conn_session_pending(const tlsio_conn *conn); /* 1 when save_session would give a new session */
int tlsio_conn_save_session(tlsio_conn *conn, tlsio_session **out);
int tlsio_conn_set_session(tlsio_conn *conn, const tlsio_session *session);
void tlsio_session_free(tlsio_session *session);

#endif
