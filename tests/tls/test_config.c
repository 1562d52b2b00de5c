/* tests/tls config: loading errors name the file and never leak key bytes; cipher and protocol overrides
 * narrow the policy, warn about what they drop and reject what leaves nothing; client config errors. */
#include <stdio.h>
#include <string.h>

#include "tls_test.h"

static int server_settings(const char *cert, const char *key, const char *ciphers, const char *protocols, char *err,
                           char *warn)
{
    struct tlsio_cert_spec spec = {cert, key};
    struct tlsio_server_opts o = {.certs = &spec, .ncerts = 1, .ciphers = ciphers, .protocols = protocols};
    tlsio_server_settings *s = NULL;
    err[0] = '\0';
    int rc = tlsio_server_settings_new(&s, &o, err, 256, warn, 256);
    ck_assert(rc == TLSIO_OK ? s != NULL : s == NULL);
    tlsio_server_settings_free(s);
    return rc;
}

START_TEST(missing_and_garbage_files)
{
    char err[256], warn[256];
    ck_assert_int_eq(server_settings(tls_path("nope.pem"), tls_path("a.key"), NULL, NULL, err, warn), TLSIO_ECONFIG);
    ck_assert_msg(strstr(err, "nope.pem: cannot read certificate") != NULL, "%s", err);
    ck_assert_int_eq(server_settings(tls_path("garbage.pem"), tls_path("a.key"), NULL, NULL, err, warn), TLSIO_ECONFIG);
    ck_assert_msg(strstr(err, "garbage.pem: cannot parse certificate: ") != NULL, "%s", err);
    ck_assert_int_eq(server_settings(tls_path("a.pem"), tls_path("b.key"), NULL, NULL, err, warn), TLSIO_ECONFIG);
    ck_assert_msg(strstr(err, "b.key: private key does not match") != NULL, "%s", err);
}
END_TEST

START_TEST(bad_key_not_echoed)
{
    char path[320], err[256], warn[256];
    snprintf(path, sizeof path, "%s", tls_path("bad.key"));
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs("-----BEGIN PRIVATE KEY-----\nSECRETMATERIAL\n-----END PRIVATE KEY-----\n", f);
    fclose(f);
    ck_assert_int_eq(server_settings(tls_path("a.pem"), path, NULL, NULL, err, warn), TLSIO_ECONFIG);
    ck_assert_msg(strstr(err, "bad.key: cannot parse private key") != NULL, "%s", err);
    ck_assert(strstr(err, "SECRET") == NULL);
}
END_TEST

static const struct {
    const char *ciphers, *protocols;
    int rc;
    const char *warn_has; /* NULL: no warning expected */
} policy_cases[] = {
    {"TLS-ECDHE-RSA-WITH-AES-128-GCM-SHA256", NULL, TLSIO_OK, NULL},
    {"TLS-ECDHE-ECDSA-WITH-CHACHA20-POLY1305-SHA256, TLS-ECDHE-ECDSA-WITH-AES-256-GCM-SHA384", "TLSv1.2", TLSIO_OK,
     NULL},
    {"TLS-ECDHE-RSA-WITH-AES-128-CBC-SHA256:TLS-ECDHE-RSA-WITH-AES-128-GCM-SHA256", NULL, TLSIO_OK,
     "TLS-ECDHE-RSA-WITH-AES-128-CBC-SHA256 ignored"},
    {"TLS-RSA-WITH-AES-128-GCM-SHA256", NULL, TLSIO_ECONFIG, "TLS-RSA-WITH-AES-128-GCM-SHA256 ignored"},
    {"NOT-A-SUITE", NULL, TLSIO_ECONFIG, NULL},
    {"", NULL, TLSIO_ECONFIG, NULL},
    {NULL, "TLSv1.1 TLSv1.2", TLSIO_OK, "TLSv1.1 ignored"},
    {NULL, "TLSv1.1", TLSIO_ECONFIG, "TLSv1.1 ignored"},
    {NULL, "SSLv2", TLSIO_ECONFIG, NULL},
};

START_TEST(policy_overrides)
{
    char err[256], warn[256];
    int rc = server_settings(tls_path("a.pem"), tls_path("a.key"), policy_cases[_i].ciphers, policy_cases[_i].protocols,
                             err, warn);
    ck_assert_msg(rc == policy_cases[_i].rc, "case %d: %s (%s)", _i, tlsio_strerror(rc), err);
    if (policy_cases[_i].warn_has != NULL)
        ck_assert_msg(strstr(warn, policy_cases[_i].warn_has) != NULL, "case %d warn: %s", _i, warn);
    else
        ck_assert_str_eq(warn, "");
    if (rc != TLSIO_OK)
        ck_assert(err[0] != '\0');
}
END_TEST

START_TEST(client_config_errors)
{
    char err[256] = "", warn[256] = "";
    tlsio_client_config *c = NULL;
    struct tlsio_client_opts o = {.ca_path = tls_path("nope-ca.pem")};
    ck_assert_int_eq(tlsio_client_config_new(&c, &o, err, sizeof err, warn, sizeof warn), TLSIO_ECONFIG);
    ck_assert_msg(strstr(err, "nope-ca.pem: cannot read CA") != NULL, "%s", err);
    ck_assert_ptr_null(c);
    struct tlsio_client_opts half = {.ca_path = tls_path("ca.pem"), .cert_path = tls_path("a.pem")};
    ck_assert_int_eq(tlsio_client_config_new(&c, &half, err, sizeof err, warn, sizeof warn), TLSIO_EINVAL);
    struct tlsio_client_opts none = {.verify_none = 1};
    ck_assert_int_eq(tlsio_client_config_new(&c, &none, err, sizeof err, warn, sizeof warn), TLSIO_OK);
    ck_assert_msg(strstr(warn, "verification is disabled") != NULL, "%s", warn);
    tlsio_conn *conn = NULL;
    ck_assert_int_eq(tlsio_conn_new_client(&conn, c, NULL), TLSIO_EINVAL);
    ck_assert_int_eq(tlsio_conn_new_client(&conn, c, ""), TLSIO_EINVAL);
    ck_assert_ptr_null(conn);
    tlsio_client_config_free(c);
}
END_TEST

START_TEST(strerror_covers_codes)
{
    for (int code = TLSIO_OK; code >= TLSIO_EOVERFLOW; code--)
        ck_assert_str_ne(tlsio_strerror(code), "unknown tlsio error");
    ck_assert_str_eq(tlsio_strerror(-999), "unknown tlsio error");
}
END_TEST

TCase *tls_tcase_config(void)
{
    TCase *tc = tcase_create("config");
    tcase_add_test(tc, missing_and_garbage_files);
    tcase_add_test(tc, bad_key_not_echoed);
    tcase_add_loop_test(tc, policy_overrides, 0, (int)(sizeof policy_cases / sizeof policy_cases[0]));
    tcase_add_test(tc, client_config_errors);
    tcase_add_test(tc, strerror_covers_codes);
    return tc;
}
