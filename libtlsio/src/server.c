/* libtlsio server side: the shared settings (certificates and their names, policy, session cache, ticket
 * keys) and the per-worker mbedtls_ssl_config built from them, with SNI certificate selection. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "internal.h"

#define DEFAULT_CACHE_BYTES (10u * 1024 * 1024)
#define DEFAULT_TIMEOUT 300u

/* mbedTLS 3.6 takes a non-const array (const char **); it is only read. */
static const char *server_alpn[] = {"http/1.1", NULL};

static void free_certs(tlsio_server_settings *s)
{
    for (size_t i = 0; i < s->ncerts; i++) {
        free(s->certs[i].cert_path);
        free(s->certs[i].key_path);
        for (size_t j = 0; j < s->certs[i].nnames; j++)
            free(s->certs[i].names[j]);
        free(s->certs[i].names);
    }
    free(s->certs);
    s->certs = NULL;
}

void tlsio_server_settings_free(tlsio_server_settings *s)
{
    if (s == NULL)
        return;
    free_certs(s);
    tlsio__cache_free(s->cache);
    if (s->tickets) {
        mbedtls_ssl_ticket_free(&s->ticket);
        mbedtls_ssl_ticket_free(&s->ticket_noems);
    }
    tlsio__ticket_keys_free(s->ticket_keys);
    mbedtls_ctr_drbg_free(&s->drbg);
    mbedtls_entropy_free(&s->entropy);
    free(s);
}

/* Loads one certificate to check it (errors name the file) and to learn its names; the keys are dropped. */
static int load_cert(tlsio_server_settings *s, const struct tlsio_cert_spec *spec, char *err, size_t errlen)
{
    struct tlsio__cert *c = &s->certs[s->ncerts];
    if (spec->cert_path == NULL || spec->key_path == NULL) {
        tlsio__msg(err, errlen, "certificate %zu: both a certificate and a key file are required", s->ncerts + 1);
        return TLSIO_EINVAL;
    }
    struct tlsio__keypair pair;
    int rc = tlsio__load_pair(&pair, spec->cert_path, spec->key_path, &s->drbg, err, errlen);
    if (rc != TLSIO_OK)
        return rc;
    c->cert_path = tlsio__strdup(spec->cert_path);
    c->key_path = tlsio__strdup(spec->key_path);
    s->ncerts++; /* counted now so free_certs() releases the partial entry */
    rc = c->cert_path && c->key_path ? tlsio__cert_names(c, &pair.crt) : TLSIO_ENOMEM;
    tlsio__free_pair(&pair);
    if (rc != TLSIO_OK)
        tlsio__msg(err, errlen, "%s: out of memory", spec->cert_path);
    return rc;
}

/* The default group: the first certificate and any later one for the same primary name (ECDSA + RSA). */
static void mark_defaults(tlsio_server_settings *s)
{
    const struct tlsio__cert *first = &s->certs[0];
    for (size_t i = 0; i < s->ncerts; i++) {
        const struct tlsio__cert *c = &s->certs[i];
        s->certs[i].is_default =
            i == 0 || (first->nnames > 0 && c->nnames > 0 && strcasecmp(first->names[0], c->names[0]) == 0);
    }
}

/* Tickets: sealed with the fleet's key file when one is given, else with random keys mbedTLS rotates. */
static int setup_tickets(tlsio_server_settings *s, const struct tlsio_server_opts *o, char *err, size_t errlen,
                         char *warn, size_t warnlen)
{
    if (o->no_session_tickets) {
        if (o->ticket_key_file != NULL)
            tlsio__append(warn, warnlen, "%s: ticket key file ignored: session tickets are off", o->ticket_key_file);
        return TLSIO_OK;
    }
    if (o->ticket_key_file != NULL)
        return tlsio__ticket_keys_load(&s->ticket_keys, o->ticket_key_file, s->timeout, err, errlen);
    mbedtls_ssl_ticket_init(&s->ticket);
    mbedtls_ssl_ticket_init(&s->ticket_noems);
    s->tickets = 1;
    if (mbedtls_ssl_ticket_setup(&s->ticket, mbedtls_ctr_drbg_random, &s->drbg, MBEDTLS_CIPHER_AES_256_GCM,
                                 s->timeout) != 0 ||
        mbedtls_ssl_ticket_setup(&s->ticket_noems, mbedtls_ctr_drbg_random, &s->drbg, MBEDTLS_CIPHER_AES_256_GCM,
                                 s->timeout) != 0) {
        tlsio__msg(err, errlen, "cannot set up session ticket keys");
        return TLSIO_ECRYPTO;
    }
    return TLSIO_OK;
}

static int setup_resumption(tlsio_server_settings *s, const struct tlsio_server_opts *o, char *err, size_t errlen,
                            char *warn, size_t warnlen)
{
    s->timeout = o->session_timeout ? o->session_timeout : DEFAULT_TIMEOUT;
    if (!o->no_session_cache) {
        s->cache = tlsio__cache_new(o->session_cache_bytes ? o->session_cache_bytes : DEFAULT_CACHE_BYTES, s->timeout);
        if (s->cache == NULL) {
            tlsio__msg(err, errlen, "session cache: out of memory");
            return TLSIO_ENOMEM;
        }
    }
    return setup_tickets(s, o, err, errlen, warn, warnlen);
}

int tlsio_server_settings_new(tlsio_server_settings **out, const struct tlsio_server_opts *o, char *err, size_t errlen,
                              char *warn, size_t warnlen)
{
    *out = NULL;
    tlsio__msg(warn, warnlen, "%s", "");
    if (o == NULL || o->certs == NULL || o->ncerts == 0) {
        tlsio__msg(err, errlen, "no certificate configured");
        return TLSIO_EINVAL;
    }
    tlsio_server_settings *s = calloc(1, sizeof *s);
    if (s == NULL || (s->certs = calloc(o->ncerts, sizeof *s->certs)) == NULL) {
        free(s);
        tlsio__msg(err, errlen, "out of memory");
        return TLSIO_ENOMEM;
    }
    int rc = tlsio__psa_init();
    if (rc != TLSIO_OK)
        tlsio__msg(err, errlen, "cannot initialise PSA crypto");
    /* Seeds the generator of the ticket keys and of the key checks below (main thread only). */
    if (rc == TLSIO_OK && (rc = tlsio__rng_seed(&s->entropy, &s->drbg, "tlsio settings")) != TLSIO_OK)
        tlsio__msg(err, errlen, "cannot seed the random generator");
    if (rc == TLSIO_OK)
        rc = tlsio__policy_parse(&s->policy, o->ciphers, o->protocols, err, errlen, warn, warnlen);
    for (size_t i = 0; rc == TLSIO_OK && i < o->ncerts; i++)
        rc = load_cert(s, &o->certs[i], err, errlen);
    if (rc == TLSIO_OK)
        rc = setup_resumption(s, o, err, errlen, warn, warnlen);
    if (rc != TLSIO_OK) {
        tlsio_server_settings_free(s);
        return rc;
    }
    mark_defaults(s);
    *out = s;
    return TLSIO_OK;
}

/* mbedTLS SNI callback: records the name on the connection and offers the matching certificates. */
static int on_sni(void *arg, mbedtls_ssl_context *ssl, const unsigned char *name, size_t len)
{
    tlsio_server_config *cfg = arg;
    tlsio_conn *conn = (tlsio_conn *)(void *)ssl; /* ssl is the first member of tlsio_conn */
    if (len == 0 || len > TLSIO__SNI_MAX || memchr(name, '\0', len) != NULL)
        return -1; /* mbedTLS answers with a fatal alert */
    free(conn->server_name);
    conn->server_name = malloc(len + 1);
    if (conn->server_name == NULL)
        return -1;
    memcpy(conn->server_name, name, len);
    conn->server_name[len] = '\0';
    size_t idx[8];
    int n = tlsio__sni_select(cfg->settings, conn->server_name, len, idx, 8);
    for (int i = 0; i < n; i++) {
        struct tlsio__keypair *p = &cfg->pairs[idx[i]];
        if (mbedtls_ssl_set_hs_own_cert(ssl, &p->crt, &p->key) != 0)
            return -1;
    }
    return 0; /* no match: the configured defaults serve */
}

void tlsio_server_config_free(tlsio_server_config *cfg)
{
    if (cfg == NULL)
        return;
    mbedtls_ssl_config_free(&cfg->conf);
    for (size_t i = 0; cfg->pairs != NULL && i < cfg->settings->ncerts; i++)
        tlsio__free_pair(&cfg->pairs[i]);
    free(cfg->pairs);
    mbedtls_ctr_drbg_free(&cfg->drbg);
    mbedtls_entropy_free(&cfg->entropy);
    free(cfg);
}

static int load_pairs(tlsio_server_config *cfg, char *err, size_t errlen)
{
    const tlsio_server_settings *s = cfg->settings;
    for (size_t i = 0; i < s->ncerts; i++) {
        int rc = tlsio__load_pair(&cfg->pairs[i], s->certs[i].cert_path, s->certs[i].key_path, &cfg->drbg, err, errlen);
        if (rc != TLSIO_OK) {
            while (i-- > 0)
                tlsio__free_pair(&cfg->pairs[i]);
            free(cfg->pairs);
            cfg->pairs = NULL;
            return rc;
        }
        if (s->certs[i].is_default &&
            mbedtls_ssl_conf_own_cert(&cfg->conf, &cfg->pairs[i].crt, &cfg->pairs[i].key) != 0) {
            tlsio__msg(err, errlen, "out of memory");
            for (size_t j = 0; j <= i; j++)
                tlsio__free_pair(&cfg->pairs[j]);
            free(cfg->pairs);
            cfg->pairs = NULL;
            return TLSIO_ENOMEM;
        }
    }
    return TLSIO_OK;
}

static int setup_conf(tlsio_server_config *cfg, char *err, size_t errlen)
{
    tlsio_server_settings *s = cfg->settings;
    mbedtls_ssl_config *conf = &cfg->conf;
    if (mbedtls_ssl_config_defaults(conf, MBEDTLS_SSL_IS_SERVER, MBEDTLS_SSL_TRANSPORT_STREAM,
                                    MBEDTLS_SSL_PRESET_DEFAULT) != 0) {
        tlsio__msg(err, errlen, "cannot initialise the TLS configuration");
        return TLSIO_ECRYPTO;
    }
    tlsio__policy_apply(conf, &s->policy);
    mbedtls_ssl_conf_rng(conf, mbedtls_ctr_drbg_random, &cfg->drbg);
    mbedtls_ssl_conf_sni(conf, on_sni, cfg);
    if (mbedtls_ssl_conf_alpn_protocols(conf, server_alpn) != 0)
        return TLSIO_ECONFIG;
    if (s->cache != NULL)
        mbedtls_ssl_conf_session_cache(conf, s->cache, tlsio__cache_get, tlsio__cache_set);
    if (s->tickets)
        mbedtls_ssl_conf_session_tickets_cb(conf, tlsio__ticket_write_default, tlsio__ticket_parse_default, s);
    else if (s->ticket_keys != NULL)
        mbedtls_ssl_conf_session_tickets_cb(conf, tlsio__ticket_write, tlsio__ticket_parse, s->ticket_keys);
#if defined(MBEDTLS_SSL_PROTO_TLS1_3)
    /* TLS 1.3 tickets per full or resumed handshake: a fixed count, whatever the client asks. */
    mbedtls_ssl_conf_new_session_tickets(conf, s->tickets || s->ticket_keys ? TLSIO__TLS13_TICKETS : 0);
#endif
    return TLSIO_OK;
}

int tlsio_server_config_new(tlsio_server_config **out, tlsio_server_settings *s, char *err, size_t errlen)
{
    *out = NULL;
    tlsio_server_config *cfg = calloc(1, sizeof *cfg);
    if (cfg == NULL || (cfg->pairs = calloc(s->ncerts, sizeof *cfg->pairs)) == NULL) {
        free(cfg);
        tlsio__msg(err, errlen, "out of memory");
        return TLSIO_ENOMEM;
    }
    cfg->settings = s;
    mbedtls_ssl_config_init(&cfg->conf);
    (void)tlsio__psa_init(); /* done by tlsio_server_settings_new() already */
    int rc = tlsio__rng_seed(&cfg->entropy, &cfg->drbg, "tlsio server worker");
    if (rc != TLSIO_OK)
        tlsio__msg(err, errlen, "cannot seed the random generator");
    if (rc == TLSIO_OK)
        rc = setup_conf(cfg, err, errlen);
    if (rc == TLSIO_OK)
        rc = load_pairs(cfg, err, errlen);
    if (rc != TLSIO_OK) {
        tlsio_server_config_free(cfg);
        return rc;
    }
    *out = cfg;
    return TLSIO_OK;
}
