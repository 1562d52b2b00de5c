/* libtlsio policy: which protocol versions, cipher suites, groups and signature schemes every config enables,
 * and the parsing of the operator's ciphers/protocols overrides, which may narrow the default set but never widen it.
 */
#include <stdio.h>
#include <string.h>

#include <mbedtls/ssl_ciphersuites.h>

#include "internal.h"

/* Server preference order: ChaCha20-Poly1305 first, because mbedTLS 3.6's is still the faster cipher here (about
 * 371 MB/s against 329 for AES-128-GCM on one core of the development machine), then AES-GCM for clients that offer
 * nothing else. The TLS 1.3 suites come first (they serve TLS 1.3 handshakes only), then ECDHE with AEAD for 1.2. */
static const char *const default_suites[] = {
    "TLS1-3-CHACHA20-POLY1305-SHA256",
    "TLS1-3-AES-128-GCM-SHA256",
    "TLS1-3-AES-256-GCM-SHA384",
    "TLS-ECDHE-ECDSA-WITH-CHACHA20-POLY1305-SHA256",
    "TLS-ECDHE-RSA-WITH-CHACHA20-POLY1305-SHA256",
    "TLS-ECDHE-ECDSA-WITH-AES-128-GCM-SHA256",
    "TLS-ECDHE-RSA-WITH-AES-128-GCM-SHA256",
    "TLS-ECDHE-ECDSA-WITH-AES-256-GCM-SHA384",
    "TLS-ECDHE-RSA-WITH-AES-256-GCM-SHA384",
};
#define NDEFAULT (sizeof default_suites / sizeof default_suites[0])
#define NTLS13 3 /* the first NTLS13 entries of default_suites are the TLS 1.3 ones */

/* Key exchange groups, preference order (TLS 1.2 curves and TLS 1.3 groups alike). */
const uint16_t tlsio__groups[] = {MBEDTLS_SSL_IANA_TLS_GROUP_X25519, MBEDTLS_SSL_IANA_TLS_GROUP_SECP256R1,
                                  MBEDTLS_SSL_IANA_TLS_GROUP_SECP384R1, MBEDTLS_SSL_IANA_TLS_GROUP_NONE};

/* Signature schemes offered and accepted, preference order. TLS 1.3 never uses the rsa_pkcs1 ones for handshake
 * signatures (mbedTLS skips them there); they stay for TLS 1.2 and for certificate chains. */
const uint16_t tlsio__sig_algs[] = {MBEDTLS_TLS1_3_SIG_ECDSA_SECP256R1_SHA256,
                                    MBEDTLS_TLS1_3_SIG_ECDSA_SECP384R1_SHA384,
                                    MBEDTLS_TLS1_3_SIG_RSA_PSS_RSAE_SHA256,
                                    MBEDTLS_TLS1_3_SIG_RSA_PSS_RSAE_SHA384,
                                    MBEDTLS_TLS1_3_SIG_RSA_PSS_RSAE_SHA512,
                                    MBEDTLS_TLS1_3_SIG_RSA_PKCS1_SHA256,
                                    MBEDTLS_TLS1_3_SIG_RSA_PKCS1_SHA384,
                                    MBEDTLS_TLS1_3_SIG_RSA_PKCS1_SHA512,
                                    MBEDTLS_TLS1_3_SIG_NONE};

static int find_default(const char *name)
{
    for (size_t i = 0; i < NDEFAULT; i++)
        if (strcmp(default_suites[i], name) == 0)
            return (int)i;
    return -1;
}

static void add_unique(struct tlsio__policy *p, size_t *n, int id)
{
    for (size_t i = 0; i < *n; i++)
        if (p->suites[i] == id)
            return;
    if (*n < TLSIO__MAX_SUITES)
        p->suites[(*n)++] = id;
}

/* Appends the default suites of [from, to) that this mbedTLS build knows. */
static void add_defaults(struct tlsio__policy *p, size_t *n, size_t from, size_t to)
{
    for (size_t i = from; i < to; i++) {
        int id = mbedtls_ssl_get_ciphersuite_id(default_suites[i]);
        if (id != 0)
            add_unique(p, n, id);
    }
}

/* One token of the ciphers list: unknown names are errors, known but weak ones are dropped with a warning. */
static int cipher_token(const char *tok, struct tlsio__policy *p, size_t *n, int *has13, char *err, size_t errlen,
                        char *warn, size_t warnlen)
{
    int id = mbedtls_ssl_get_ciphersuite_id(tok);
    if (id == 0 && (strncmp(tok, "TLS-", 4) == 0 || strncmp(tok, "TLS1-3-", 7) == 0)) {
        /* proxyd's mbedTLS build compiles only the suites it may offer: a CBC or static-RSA name is unknown to it
         * but still a suite name, refused by policy as with a system mbedTLS that knows it. */
        tlsio__append(warn, warnlen, "ciphers: %s ignored (only ECDHE with AES-GCM or ChaCha20-Poly1305 allowed)", tok);
        return TLSIO_OK;
    }
    if (id == 0) {
        tlsio__msg(err, errlen,
                   "ciphers: unknown cipher suite '%s' (use mbedTLS names, e.g. "
                   "TLS-ECDHE-RSA-WITH-AES-128-GCM-SHA256 or TLS1-3-AES-128-GCM-SHA256)",
                   tok);
        return TLSIO_ECONFIG;
    }
    int k = find_default(tok);
    if (k < 0) {
        tlsio__append(warn, warnlen, "ciphers: %s ignored (only ECDHE with AES-GCM or ChaCha20-Poly1305 allowed)", tok);
        return TLSIO_OK;
    }
    *has13 |= k < NTLS13;
    add_unique(p, n, id);
    return TLSIO_OK;
}

static size_t count13(const struct tlsio__policy *p, size_t n)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < NTLS13; j++)
            if (p->suites[i] == mbedtls_ssl_get_ciphersuite_id(default_suites[j]))
                k++;
    return k;
}

/* The list names TLS 1.2 suites, TLS 1.3 suites or both; a list without TLS 1.3 suites keeps the three default
 * ones (as OpenSSL keeps its TLS 1.3 "ciphersuites" apart from "cipher_list"). */
static int parse_ciphers(struct tlsio__policy *p, const char *ciphers, char *err, size_t errlen, char *warn,
                         size_t warnlen)
{
    size_t n = 0;
    int has13 = 0;
    const char *s = ciphers;
    while (*s != '\0') {
        size_t len = strcspn(s, ":, \t");
        if (len > 0) {
            char tok[96];
            if (len >= sizeof tok) {
                tlsio__msg(err, errlen, "ciphers: name too long near '%.40s'", s);
                return TLSIO_ECONFIG;
            }
            memcpy(tok, s, len);
            tok[len] = '\0';
            int rc = cipher_token(tok, p, &n, &has13, err, errlen, warn, warnlen);
            if (rc != TLSIO_OK)
                return rc;
        }
        s += len;
        s += strspn(s, ":, \t");
    }
    size_t named = n;
    if (!has13)
        add_defaults(p, &n, 0, NTLS13);
    p->suites[n] = 0;
    size_t n12 = named - (size_t)(has13 ? count13(p, named) : 0);
    if (named == 0 || (p->tls12 && !p->tls13 && n12 == 0)) {
        tlsio__msg(err, errlen, "ciphers: no acceptable cipher suite left in '%s'", ciphers);
        return TLSIO_ECONFIG;
    }
    return TLSIO_OK;
}

static int token_is(const char *p, size_t len, const char *word)
{
    return len == strlen(word) && strncmp(p, word, len) == 0;
}

/* TLS 1.2 and 1.3; TLS 1.0/1.1 (and SSLv3) are refused by policy with a warning. */
static int parse_protocols(struct tlsio__policy *pol, const char *protocols, char *err, size_t errlen, char *warn,
                           size_t warnlen)
{
    pol->tls12 = pol->tls13 = 0;
    const char *p = protocols;
    while (*p != '\0') {
        size_t len = strcspn(p, ":, \t");
        if (token_is(p, len, "TLSv1.2"))
            pol->tls12 = 1;
        else if (token_is(p, len, "TLSv1.3"))
            pol->tls13 = 1;
        else if (token_is(p, len, "TLSv1") || token_is(p, len, "TLSv1.1") || token_is(p, len, "SSLv3"))
            tlsio__append(warn, warnlen, "protocols: %.*s ignored (only TLSv1.2 and TLSv1.3 are supported)", (int)len,
                          p);
        else if (len > 0) {
            tlsio__msg(err, errlen, "protocols: unknown protocol '%.*s'", (int)(len > 40 ? 40 : len), p);
            return TLSIO_ECONFIG;
        }
        p += len;
        p += strspn(p, ":, \t");
    }
    if (!pol->tls12 && !pol->tls13) {
        tlsio__msg(err, errlen, "protocols: '%s' enables no supported protocol (TLSv1.2, TLSv1.3)", protocols);
        return TLSIO_ECONFIG;
    }
    return TLSIO_OK;
}

int tlsio__policy_parse(struct tlsio__policy *p, const char *ciphers, const char *protocols, char *err, size_t errlen,
                        char *warn, size_t warnlen)
{
    p->tls12 = p->tls13 = 1;
    if (protocols != NULL) {
        int rc = parse_protocols(p, protocols, err, errlen, warn, warnlen);
        if (rc != TLSIO_OK)
            return rc;
    }
    if (ciphers != NULL)
        return parse_ciphers(p, ciphers, err, errlen, warn, warnlen);
    size_t n = 0;
    add_defaults(p, &n, 0, NDEFAULT);
    p->suites[n] = 0;
    if (n == 0) {
        tlsio__msg(err, errlen, "this mbedTLS build has none of the default cipher suites");
        return TLSIO_ECONFIG;
    }
    return TLSIO_OK;
}

void tlsio__policy_apply(mbedtls_ssl_config *conf, const struct tlsio__policy *p)
{
    mbedtls_ssl_conf_min_tls_version(conf, p->tls12 ? MBEDTLS_SSL_VERSION_TLS1_2 : MBEDTLS_SSL_VERSION_TLS1_3);
    mbedtls_ssl_conf_max_tls_version(conf, p->tls13 ? MBEDTLS_SSL_VERSION_TLS1_3 : MBEDTLS_SSL_VERSION_TLS1_2);
    mbedtls_ssl_conf_ciphersuites(conf, p->suites);
    mbedtls_ssl_conf_groups(conf, tlsio__groups);
    mbedtls_ssl_conf_sig_algs(conf, tlsio__sig_algs);
#if defined(MBEDTLS_SSL_RENEGOTIATION) /* off in proxyd's build; Debian's has it */
    mbedtls_ssl_conf_renegotiation(conf, MBEDTLS_SSL_RENEGOTIATION_DISABLED);
#endif
    mbedtls_ssl_conf_legacy_renegotiation(conf, MBEDTLS_SSL_LEGACY_NO_RENEGOTIATION);
    mbedtls_ssl_conf_extended_master_secret(conf, MBEDTLS_SSL_EXTENDED_MS_ENABLED);
#if defined(MBEDTLS_SSL_PROTO_TLS1_3)
    /* Resumption only with a fresh (EC)DHE: psk_ke alone would give up forward secrecy. */
    mbedtls_ssl_conf_tls13_key_exchange_modes(conf, MBEDTLS_SSL_TLS1_3_KEY_EXCHANGE_MODE_EPHEMERAL_ALL);
#endif
#if defined(MBEDTLS_SSL_EARLY_DATA)
    mbedtls_ssl_conf_early_data(conf, MBEDTLS_SSL_EARLY_DATA_DISABLED); /* 0-RTT data can be replayed */
#endif
}

static const char *group_name(uint16_t g)
{
    switch (g) {
    case MBEDTLS_SSL_IANA_TLS_GROUP_X25519: return "x25519";
    case MBEDTLS_SSL_IANA_TLS_GROUP_SECP256R1: return "secp256r1";
    case MBEDTLS_SSL_IANA_TLS_GROUP_SECP384R1: return "secp384r1";
    default: return "?";
    }
}

static const char *sig_name(uint16_t s)
{
    switch (s) {
    case MBEDTLS_TLS1_3_SIG_ECDSA_SECP256R1_SHA256: return "ecdsa_secp256r1_sha256";
    case MBEDTLS_TLS1_3_SIG_ECDSA_SECP384R1_SHA384: return "ecdsa_secp384r1_sha384";
    case MBEDTLS_TLS1_3_SIG_RSA_PSS_RSAE_SHA256: return "rsa_pss_rsae_sha256";
    case MBEDTLS_TLS1_3_SIG_RSA_PSS_RSAE_SHA384: return "rsa_pss_rsae_sha384";
    case MBEDTLS_TLS1_3_SIG_RSA_PSS_RSAE_SHA512: return "rsa_pss_rsae_sha512";
    case MBEDTLS_TLS1_3_SIG_RSA_PKCS1_SHA256: return "rsa_pkcs1_sha256";
    case MBEDTLS_TLS1_3_SIG_RSA_PKCS1_SHA384: return "rsa_pkcs1_sha384";
    case MBEDTLS_TLS1_3_SIG_RSA_PKCS1_SHA512: return "rsa_pkcs1_sha512";
    default: return "?";
    }
}

static void put(char *buf, size_t len, const char *a, const char *b)
{
    size_t used = strnlen(buf, len);
    snprintf(buf + used, len - used, "%s%s", a, b);
}

/* Appends the suites of one version (tls13: names starting "TLS1-3-"), each after a space. */
static void suites_text(char *buf, size_t len, const struct tlsio__policy *p, int tls13)
{
    for (size_t i = 0; p->suites[i] != 0; i++) {
        const char *name = mbedtls_ssl_get_ciphersuite_name(p->suites[i]);
        if ((strncmp(name, "TLS1-3-", 7) == 0) == tls13)
            put(buf, len, " ", name);
    }
}

int tlsio_policy_text(char *buf, size_t len, const char *ciphers, const char *protocols)
{
    struct tlsio__policy p;
    char warn[256] = "";
    if (len == 0)
        return TLSIO_EOVERFLOW;
    int rc = tlsio__policy_parse(&p, ciphers, protocols, buf, len, warn, sizeof warn);
    if (rc != TLSIO_OK)
        return rc;
    snprintf(buf, len, "protocols%s%s", p.tls12 ? " TLSv1.2" : "", p.tls13 ? " TLSv1.3" : "");
    if (p.tls13) {
        put(buf, len, "; TLS 1.3 suites", "");
        suites_text(buf, len, &p, 1);
        put(buf, len, " (no 0-RTT)", "");
    }
    if (p.tls12) {
        put(buf, len, "; TLS 1.2 suites", "");
        suites_text(buf, len, &p, 0);
    }
    put(buf, len, "; groups", "");
    for (size_t i = 0; tlsio__groups[i] != MBEDTLS_SSL_IANA_TLS_GROUP_NONE; i++)
        put(buf, len, " ", group_name(tlsio__groups[i]));
    put(buf, len, "; signature schemes", "");
    for (size_t i = 0; tlsio__sig_algs[i] != MBEDTLS_TLS1_3_SIG_NONE; i++)
        put(buf, len, " ", sig_name(tlsio__sig_algs[i]));
    return strnlen(buf, len) + 1 < len ? TLSIO_OK : TLSIO_EOVERFLOW;
}
