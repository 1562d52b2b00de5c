/* libtlsio certificate names: extraction of the DNS names a certificate serves (SAN, CN) and the SNI
 * selection among the configured certificates (exact, then one-label wildcard, then the default). */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <mbedtls/oid.h>

#include "internal.h"

static int add_name(struct tlsio__cert *cert, const unsigned char *p, size_t len)
{
    if (len == 0 || len > TLSIO__SNI_MAX || memchr(p, '\0', len) != NULL)
        return TLSIO_OK; /* not a usable DNS name: ignore rather than match garbage */
    char *name = malloc(len + 1);
    if (name == NULL)
        return TLSIO_ENOMEM;
    for (size_t i = 0; i < len; i++)
        name[i] = (char)tolower(p[i]);
    name[len] = '\0';
    char **grown = realloc(cert->names, (cert->nnames + 1) * sizeof *grown);
    if (grown == NULL) {
        free(name);
        return TLSIO_ENOMEM;
    }
    cert->names = grown;
    cert->names[cert->nnames++] = name;
    return TLSIO_OK;
}

int tlsio__cert_names(struct tlsio__cert *cert, const mbedtls_x509_crt *crt)
{
    for (const mbedtls_x509_sequence *san = &crt->subject_alt_names; san != NULL; san = san->next) {
        if (san->buf.p == NULL || san->buf.tag != (MBEDTLS_ASN1_CONTEXT_SPECIFIC | MBEDTLS_X509_SAN_DNS_NAME))
            continue;
        int rc = add_name(cert, san->buf.p, san->buf.len);
        if (rc != TLSIO_OK)
            return rc;
    }
    for (const mbedtls_x509_name *n = &crt->subject; n != NULL; n = n->next) {
        if (n->oid.p != NULL && MBEDTLS_OID_CMP(MBEDTLS_OID_AT_CN, &n->oid) == 0) {
            int rc = add_name(cert, n->val.p, n->val.len);
            if (rc != TLSIO_OK)
                return rc;
        }
    }
    return TLSIO_OK;
}

static int name_exact(const char *pattern, const char *host, size_t len)
{
    return strlen(pattern) == len && strncasecmp(pattern, host, len) == 0;
}

/* "*.example.com" matches "a.example.com" but neither "example.com" nor "a.b.example.com". */
static int name_wild(const char *pattern, const char *host, size_t len)
{
    if (pattern[0] != '*' || pattern[1] != '.')
        return 0;
    const char *dot = memchr(host, '.', len);
    if (dot == NULL || dot == host)
        return 0;
    size_t rest = len - (size_t)(dot - host);
    return name_exact(pattern + 1, dot, rest);
}

static size_t collect(const tlsio_server_settings *s, const char *host, size_t len, int wild, size_t *idx, size_t max)
{
    size_t n = 0;
    for (size_t i = 0; i < s->ncerts && n < max; i++) {
        for (size_t j = 0; j < s->certs[i].nnames; j++) {
            const char *pat = s->certs[i].names[j];
            if (wild ? name_wild(pat, host, len) : name_exact(pat, host, len)) {
                idx[n++] = i;
                break;
            }
        }
    }
    return n;
}

/* Fills idx with up to max certificate indexes serving the name; returns their count, 0 for "the default". */
int tlsio__sni_select(const tlsio_server_settings *s, const char *name, size_t len, size_t *idx, size_t max)
{
    size_t n = collect(s, name, len, 0, idx, max);
    if (n == 0)
        n = collect(s, name, len, 1, idx, max);
    return (int)n;
}
