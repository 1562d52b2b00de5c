/* proxyd's mbedTLS 3.6 build configuration: scripts/mbedtls.sh builds Debian's mbedtls source with it on systems
 * whose own mbedTLS is older than 3.6. Only what libtlsio uses is enabled; README.md "mbedTLS" explains each choice. */
#ifndef PROXYD_MBEDTLS_CONFIG_H
#define PROXYD_MBEDTLS_CONFIG_H

/* Platform */
#define MBEDTLS_HAVE_ASM
#define MBEDTLS_HAVE_TIME
#define MBEDTLS_HAVE_TIME_DATE
#define MBEDTLS_FS_IO
#define MBEDTLS_THREADING_C /* shared session cache and ticket keys, and PSA's key store across workers */
#define MBEDTLS_THREADING_PTHREAD
#define MBEDTLS_ERROR_C
#define MBEDTLS_VERSION_C
#define MBEDTLS_PLATFORM_C
#define MBEDTLS_DEPRECATED_REMOVED

/* Random generation */
#define MBEDTLS_ENTROPY_C
#define MBEDTLS_CTR_DRBG_C
#define MBEDTLS_HMAC_DRBG_C

/* Symmetric: AES-GCM and ChaCha20-Poly1305 only (the only suites offered); AES-NI where the CPU has it */
#define MBEDTLS_AES_C
#define MBEDTLS_AESNI_C
#define MBEDTLS_GCM_C
#define MBEDTLS_CHACHA20_C
#define MBEDTLS_POLY1305_C
#define MBEDTLS_CHACHAPOLY_C
#define MBEDTLS_CIPHER_C

/* Hashes: SHA-256/384 for the suites and TLS 1.3's HKDF; SHA-1 and SHA-512 for certificate chains */
#define MBEDTLS_MD_C
#define MBEDTLS_SHA1_C
#define MBEDTLS_SHA224_C
#define MBEDTLS_SHA256_C
#define MBEDTLS_SHA384_C
#define MBEDTLS_SHA512_C
#define MBEDTLS_HKDF_C
/* SHA-256's block function from libtlsio/src/sha256.c: the x86-64 SHA extensions where the CPU has them (mbedTLS
 * accelerates Armv8 only): 318 -> 62 ns a block here, and a resumed TLS 1.2 handshake runs some 115 blocks (README
 * "Performance"). Valgrind has no SHA extensions, so callgrind counts the portable C. */
#if defined(__x86_64__)
#define MBEDTLS_SHA256_PROCESS_ALT
#endif

/* Public key: ECDSA and ECDHE on X25519, P-256, P-384; RSA with PKCS#1 v1.5 and PSS */
#define MBEDTLS_BIGNUM_C
#define MBEDTLS_ECP_C
#define MBEDTLS_ECP_NIST_OPTIM
#define MBEDTLS_ECP_DP_SECP256R1_ENABLED
#define MBEDTLS_ECP_DP_SECP384R1_ENABLED
#define MBEDTLS_ECP_DP_CURVE25519_ENABLED
#define MBEDTLS_ECDH_C
/* X25519 from HACL* (formally verified, constant time; mbedTLS's 3rdparty/everest): 16.2 -> 2.1 million instructions
 * for a TLS 1.2 ECDHE, 8.0 -> 1.1 for a TLS 1.3 key agreement (README, bench/handshake_cost.sh). */
#define MBEDTLS_ECDH_VARIANT_EVEREST_ENABLED
#define MBEDTLS_ECDSA_C
#define MBEDTLS_ECDSA_DETERMINISTIC
#define MBEDTLS_RSA_C
#define MBEDTLS_PKCS1_V15
#define MBEDTLS_PKCS1_V21
#define MBEDTLS_GENPRIME
#define MBEDTLS_PK_C
#define MBEDTLS_PK_PARSE_C
#define MBEDTLS_PK_WRITE_C
#define MBEDTLS_PK_PARSE_EC_EXTENDED
#define MBEDTLS_PK_PARSE_EC_COMPRESSED

/* PSA: TLS 1.3 runs on it; TLS 1.2 keeps the legacy ECDH/ECDSA paths (MBEDTLS_USE_PSA_CRYPTO off, as Debian) */
#define MBEDTLS_PSA_CRYPTO_C
#define MBEDTLS_PSA_CRYPTO_CLIENT
/* Every TLS 1.3 handshake in progress holds its ephemeral key in PSA's key store: a fixed store (32 slots) lets 32
 * half-open handshakes refuse every other one ("out of memory"); the dynamic one grows with the connections, which
 * max_connections bounds (as Debian's and mbedTLS's default configurations do). tests/tls/hostile d9. */
#define MBEDTLS_PSA_KEY_STORE_DYNAMIC

/* Certificates */
#define MBEDTLS_ASN1_PARSE_C
#define MBEDTLS_ASN1_WRITE_C
#define MBEDTLS_OID_C
#define MBEDTLS_BASE64_C
#define MBEDTLS_PEM_PARSE_C
#define MBEDTLS_X509_USE_C
#define MBEDTLS_X509_CRT_PARSE_C
#define MBEDTLS_X509_RSASSA_PSS_SUPPORT

/* TLS: 1.2 and 1.3, stream only, both sides */
#define MBEDTLS_SSL_TLS_C
#define MBEDTLS_SSL_SRV_C
#define MBEDTLS_SSL_CLI_C
#define MBEDTLS_SSL_PROTO_TLS1_2
#define MBEDTLS_SSL_PROTO_TLS1_3
#define MBEDTLS_SSL_TLS1_3_COMPATIBILITY_MODE
#define MBEDTLS_SSL_TLS1_3_KEY_EXCHANGE_MODE_EPHEMERAL_ENABLED
#define MBEDTLS_SSL_TLS1_3_KEY_EXCHANGE_MODE_PSK_EPHEMERAL_ENABLED /* resumption keeps forward secrecy */
#define MBEDTLS_KEY_EXCHANGE_ECDHE_ECDSA_ENABLED
#define MBEDTLS_KEY_EXCHANGE_ECDHE_RSA_ENABLED
#define MBEDTLS_SSL_EXTENDED_MASTER_SECRET
#define MBEDTLS_SSL_SERVER_NAME_INDICATION
#define MBEDTLS_SSL_ALPN
#define MBEDTLS_SSL_SESSION_TICKETS
#define MBEDTLS_SSL_TICKET_C
#define MBEDTLS_SSL_KEEP_PEER_CERTIFICATE
#define MBEDTLS_SSL_ALL_ALERT_MESSAGES
#define MBEDTLS_SSL_KEYING_MATERIAL_EXPORT
/* Off on purpose: MBEDTLS_SSL_EARLY_DATA (0-RTT data can be replayed), MBEDTLS_SSL_RENEGOTIATION,
 * MBEDTLS_SSL_PROTO_DTLS and MBEDTLS_SSL_VARIABLE_BUFFER_LENGTH (README). */

#endif
