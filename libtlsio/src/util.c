/* libtlsio utilities: message formatting into caller buffers, error strings, the per-owner random generator
 * and the loading of one certificate chain with its private key. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mbedtls/ecp.h>
#include <mbedtls/error.h>
#include <mbedtls/ssl.h>

#include "internal.h"
#include "sha256.h"

const char *tlsio_strerror(int code)
{
    switch (code) {
    case TLSIO_OK: return "success";
    case TLSIO_WANT_READ: return "TLS needs the socket readable";
    case TLSIO_WANT_WRITE: return "TLS needs the socket writable";
    case TLSIO_ENOMEM: return "out of memory";
    case TLSIO_EINVAL: return "invalid argument or state";
    case TLSIO_ECONFIG: return "TLS configuration rejected";
    case TLSIO_ESYSCALL: return "socket send/recv failed";
    case TLSIO_EHANDSHAKE: return "TLS handshake failed";
    case TLSIO_EVERIFY: return "peer certificate verification failed";
    case TLSIO_EPROTO: return "TLS protocol error";
    case TLSIO_EALERT: return "peer sent a fatal TLS alert";
    case TLSIO_ECRYPTO: return "TLS crypto failure";
    case TLSIO_EOVERFLOW: return "buffer too small";
    case TLSIO_ENOTTLS: return "the peer does not speak TLS (it sent plain text)";
    default: return "unknown tlsio error";
    }
}

const char *tlsio_library_version(void)
{
    static const char shani[] = "mbedTLS " MBEDTLS_VERSION_STRING " (SHA-256: libtlsio's, x86-64 SHA extensions)";
    static const char c[] = "mbedTLS " MBEDTLS_VERSION_STRING " (SHA-256: libtlsio's, portable C)";
    static const char own[] = "mbedTLS " MBEDTLS_VERSION_STRING;
    if (tlsio__sha256_impl() == NULL)
        return own;
    return tlsio__sha256_has_shani() ? shani : c;
}

/* Each of proxyd's patches to mbedTLS (scripts/mbedtls-patches, applied by scripts/mbedtls.sh to its private build
 * only) defines a macro in mbedtls/ssl.h (0005: mbedtls/ecp.h): the headers compiled against say which ones the
 * library has. */
#if defined(MBEDTLS_SSL_PROXYD_PATCH_LEGACY_VERSION)
#define TLSIO__PATCH_1 " 0001 (defect 4: legacy_version above {3,3})"
#else
#define TLSIO__PATCH_1 ""
#endif
#if defined(MBEDTLS_SSL_PROXYD_PATCH_TLS12_RSA_PSS)
#define TLSIO__PATCH_2 " 0002 (defect 8: RSA-PSS in TLS 1.2)"
#else
#define TLSIO__PATCH_2 ""
#endif
#if defined(MBEDTLS_SSL_PROXYD_PATCH_TLS12_KEY_BLOCK)
#define TLSIO__PATCH_3 " 0003 (TLS 1.2 key block of the length used)"
#else
#define TLSIO__PATCH_3 ""
#endif
#if defined(MBEDTLS_SSL_PROXYD_PATCH_TLS12_CLIENT_RSA_PSS)
#define TLSIO__PATCH_4 " 0004 (RSA-PSS from TLS 1.2 upstreams)"
#else
#define TLSIO__PATCH_4 ""
#endif
#if defined(MBEDTLS_ECP_PROXYD_PATCH_X25519_HACL)
#define TLSIO__PATCH_5 " 0005 (X25519 on HACL* for TLS 1.3 key shares)"
#else
#define TLSIO__PATCH_5 ""
#endif

const char *tlsio_library_patches(void)
{
    if (sizeof(TLSIO__PATCH_1 TLSIO__PATCH_2 TLSIO__PATCH_3 TLSIO__PATCH_4 TLSIO__PATCH_5) == 1)
        return "without proxyd's patches (defects 4 and 8 remain: README \"mbedTLS 3.6\")";
    return "with proxyd's patches:" TLSIO__PATCH_1 TLSIO__PATCH_2 TLSIO__PATCH_3 TLSIO__PATCH_4 TLSIO__PATCH_5;
}

void tlsio__msg(char *buf, size_t len, const char *fmt, ...)
{
    if (buf == NULL || len == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, len, fmt, ap);
    va_end(ap);
}

/* Appends to a '; '-separated list; truncates silently when full (warnings are advisory). */
void tlsio__append(char *buf, size_t len, const char *fmt, ...)
{
    if (buf == NULL || len == 0)
        return;
    size_t used = strnlen(buf, len);
    if (used + 3 >= len)
        return;
    if (used > 0) {
        memcpy(buf + used, "; ", 3);
        used += 2;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf + used, len - used, fmt, ap);
    va_end(ap);
}

void tlsio__mbed_text(char *buf, size_t len, int mbed_ret)
{
    if (buf == NULL || len == 0)
        return;
    mbedtls_strerror(mbed_ret, buf, len);
}

static pthread_once_t psa_once = PTHREAD_ONCE_INIT;
static psa_status_t psa_status = PSA_ERROR_BAD_STATE;

static void psa_init_once(void)
{
    psa_status = psa_crypto_init();
}

/* PSA (TLS 1.3's crypto, and key parsing in 3.6) is initialised once per process, by the first config built;
 * it is never torn down: configs come and go at reloads while workers still run. */
int tlsio__psa_init(void)
{
    pthread_once(&psa_once, psa_init_once);
    return psa_status == PSA_SUCCESS ? TLSIO_OK : TLSIO_ECRYPTO;
}

int tlsio__rng_seed(mbedtls_entropy_context *entropy, mbedtls_ctr_drbg_context *drbg, const char *pers)
{
    mbedtls_entropy_init(entropy);
    mbedtls_ctr_drbg_init(drbg);
    int ret = mbedtls_ctr_drbg_seed(drbg, mbedtls_entropy_func, entropy, (const unsigned char *)pers, strlen(pers));
    return ret == 0 ? TLSIO_OK : TLSIO_ECRYPTO;
}

char *tlsio__strdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d != NULL)
        memcpy(d, s, n);
    return d;
}

/* Parses the chain and the key and checks they belong together. The key's own text never reaches err. */
int tlsio__load_pair(struct tlsio__keypair *pair, const char *cert_path, const char *key_path,
                     mbedtls_ctr_drbg_context *drbg, char *err, size_t errlen)
{
    char why[128];
    mbedtls_x509_crt_init(&pair->crt);
    mbedtls_pk_init(&pair->key);
    int ret = mbedtls_x509_crt_parse_file(&pair->crt, cert_path);
    if (ret > 0) {
        tlsio__msg(err, errlen, "%s: cannot parse certificate: %d PEM blocks are not valid certificates", cert_path,
                   ret);
        goto fail;
    }
    if (ret != 0) {
        tlsio__mbed_text(why, sizeof why, ret);
        tlsio__msg(err, errlen, "%s: cannot %s certificate: %s", cert_path,
                   ret == MBEDTLS_ERR_PK_FILE_IO_ERROR ? "read" : "parse", why);
        goto fail;
    }
    ret = mbedtls_pk_parse_keyfile(&pair->key, key_path, NULL, mbedtls_ctr_drbg_random, drbg);
    if (ret != 0) {
        tlsio__mbed_text(why, sizeof why, ret);
        tlsio__msg(err, errlen, "%s: cannot %s private key: %s", key_path,
                   ret == MBEDTLS_ERR_PK_FILE_IO_ERROR ? "read" : "parse", why);
        goto fail;
    }
    if (mbedtls_pk_check_pair(&pair->crt.pk, &pair->key, mbedtls_ctr_drbg_random, drbg) != 0) {
        tlsio__msg(err, errlen, "%s: private key does not match certificate %s", key_path, cert_path);
        goto fail;
    }
    return TLSIO_OK;
fail:
    tlsio__free_pair(pair);
    return TLSIO_ECONFIG;
}

void tlsio__free_pair(struct tlsio__keypair *pair)
{
    mbedtls_x509_crt_free(&pair->crt);
    mbedtls_pk_free(&pair->key);
}
