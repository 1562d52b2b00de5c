/* libtlsio client side: the per-worker configuration used toward TLS upstreams (trust anchors, optional
 * client certificate, ALPN, policy). Peer verification is on unless explicitly disabled. */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define SYSTEM_CA "/etc/ssl/certs/ca-certificates.crt"

void tlsio_client_config_free(tlsio_client_config *cfg)
{
    if (cfg == NULL)
        return;
    mbedtls_ssl_config_free(&cfg->conf);
    mbedtls_x509_crt_free(&cfg->ca);
    if (cfg->has_pair)
        tlsio__free_pair(&cfg->pair);
    free(cfg->alpn);
    mbedtls_ctr_drbg_free(&cfg->drbg);
    mbedtls_entropy_free(&cfg->entropy);
    free(cfg);
}

static int load_ca(tlsio_client_config *cfg, const char *path, char *err, size_t errlen)
{
    char why[128];
    mbedtls_x509_crt_init(&cfg->ca);
    int ret = mbedtls_x509_crt_parse_file(&cfg->ca, path);
    if (ret < 0 || (ret > 0 && cfg->ca.version == 0)) {
        tlsio__mbed_text(why, sizeof why, ret < 0 ? ret : MBEDTLS_ERR_X509_INVALID_FORMAT);
        tlsio__msg(err, errlen, "%s: cannot %s CA certificates: %s", path,
                   ret == MBEDTLS_ERR_PK_FILE_IO_ERROR ? "read" : "parse", why);
        return TLSIO_ECONFIG;
    }
    /* ret > 0: some blocks of a system bundle did not parse; the others are usable, as curl does. */
    cfg->has_ca = 1;
    mbedtls_ssl_conf_ca_chain(&cfg->conf, &cfg->ca, NULL);
    return TLSIO_OK;
}

static int setup_alpn(tlsio_client_config *cfg, const char *alpn, char *err, size_t errlen)
{
    if (alpn == NULL)
        alpn = "http/1.1";
    if (alpn[0] == '\0')
        return TLSIO_OK;
    if (strlen(alpn) > 255) {
        tlsio__msg(err, errlen, "alpn: protocol name too long");
        return TLSIO_EINVAL;
    }
    cfg->alpn = tlsio__strdup(alpn);
    if (cfg->alpn == NULL)
        return TLSIO_ENOMEM;
    cfg->alpn_list[0] = cfg->alpn;
    cfg->alpn_list[1] = NULL;
    return mbedtls_ssl_conf_alpn_protocols(&cfg->conf, cfg->alpn_list) == 0 ? TLSIO_OK : TLSIO_EINVAL;
}

static int setup_client(tlsio_client_config *cfg, const struct tlsio_client_opts *o, char *err, size_t errlen,
                        char *warn, size_t warnlen)
{
    int rc = tlsio__policy_parse(&cfg->policy, o->ciphers, o->protocols, err, errlen, warn, warnlen);
    if (rc != TLSIO_OK)
        return rc;
    if (mbedtls_ssl_config_defaults(&cfg->conf, MBEDTLS_SSL_IS_CLIENT, MBEDTLS_SSL_TRANSPORT_STREAM,
                                    MBEDTLS_SSL_PRESET_DEFAULT) != 0) {
        tlsio__msg(err, errlen, "cannot initialise the TLS configuration");
        return TLSIO_ECRYPTO;
    }
    tlsio__policy_apply(&cfg->conf, &cfg->policy);
    mbedtls_ssl_conf_rng(&cfg->conf, mbedtls_ctr_drbg_random, &cfg->drbg);
    mbedtls_ssl_conf_session_tickets(&cfg->conf, MBEDTLS_SSL_SESSION_TICKETS_ENABLED);
#if defined(MBEDTLS_SSL_PROTO_TLS1_3) && MBEDTLS_VERSION_NUMBER >= 0x03060100
    /* TLS 1.3 resumption toward upstreams: tlsio_read() notes each ticket for tlsio_conn_session_pending(). */
    mbedtls_ssl_conf_tls13_enable_signal_new_session_tickets(&cfg->conf,
                                                             MBEDTLS_SSL_TLS1_3_SIGNAL_NEW_SESSION_TICKETS_ENABLED);
#endif
    if (o->verify_none) {
        mbedtls_ssl_conf_authmode(&cfg->conf, MBEDTLS_SSL_VERIFY_NONE);
        tlsio__append(warn, warnlen, "peer certificate verification is disabled");
    } else {
        mbedtls_ssl_conf_authmode(&cfg->conf, MBEDTLS_SSL_VERIFY_REQUIRED);
        rc = load_ca(cfg, o->ca_path ? o->ca_path : SYSTEM_CA, err, errlen);
        if (rc != TLSIO_OK)
            return rc;
    }
    if (o->cert_path != NULL || o->key_path != NULL) {
        if (o->cert_path == NULL || o->key_path == NULL) {
            tlsio__msg(err, errlen, "client certificate: both a certificate and a key file are required");
            return TLSIO_EINVAL;
        }
        rc = tlsio__load_pair(&cfg->pair, o->cert_path, o->key_path, &cfg->drbg, err, errlen);
        if (rc != TLSIO_OK)
            return rc;
        cfg->has_pair = 1;
        if (mbedtls_ssl_conf_own_cert(&cfg->conf, &cfg->pair.crt, &cfg->pair.key) != 0)
            return TLSIO_ENOMEM;
    }
    return setup_alpn(cfg, o->alpn, err, errlen);
}

int tlsio_client_config_new(tlsio_client_config **out, const struct tlsio_client_opts *o, char *err, size_t errlen,
                            char *warn, size_t warnlen)
{
    static const struct tlsio_client_opts zero_opts;
    *out = NULL;
    tlsio__msg(warn, warnlen, "%s", "");
    tlsio_client_config *cfg = calloc(1, sizeof *cfg);
    if (cfg == NULL) {
        tlsio__msg(err, errlen, "out of memory");
        return TLSIO_ENOMEM;
    }
    mbedtls_ssl_config_init(&cfg->conf);
    int rc = tlsio__psa_init();
    if (rc == TLSIO_OK)
        rc = tlsio__rng_seed(&cfg->entropy, &cfg->drbg, "tlsio client worker");
    if (rc != TLSIO_OK)
        tlsio__msg(err, errlen, "cannot initialise the random generator or PSA crypto");
    else
        rc = setup_client(cfg, o ? o : &zero_opts, err, errlen, warn, warnlen);
    if (rc != TLSIO_OK) {
        tlsio_client_config_free(cfg);
        return rc;
    }
    *out = cfg;
    return TLSIO_OK;
}
