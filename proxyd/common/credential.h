/* proxyd credentials: what an Authorization field says about who is logging in (the account of an NTLM
 * AUTHENTICATE message or of Basic), parsed from an attacker's bytes with every offset and length bounded. */
#ifndef PROXYD_COMMON_CREDENTIAL_H
#define PROXYD_COMMON_CREDENTIAL_H

#include <stddef.h>

/* The longest account key kept (bytes of UTF-8, without the NUL); longer user names are cut here. An AD
 * sAMAccountName has at most 20 characters and a UPN's user part at most 64. */
#define PX_CRED_ACCOUNT_MAX 64

typedef enum px_cred_kind {
    PX_CRED_NONE = 0,   /* no credentials: no Authorization, or a scheme that carries no password (Bearer...) */
    PX_CRED_NTLM_START, /* NTLM NEGOTIATE (type 1): the start of a handshake, never a failed login */
    PX_CRED_NTLM_AUTH,  /* NTLM AUTHENTICATE (type 3), under NTLM or Negotiate (raw or inside SPNEGO) */
    PX_CRED_BASIC,      /* Basic user:password */
    PX_CRED_TOKEN,      /* Negotiate with another token (Kerberos): the account is not readable */
} px_cred_kind;

/* Reads the value of an Authorization field (len bytes). Writes the account key to account (cap bytes, at least
 * PX_CRED_ACCOUNT_MAX + 1; "" when unknown: anonymous NTLM, a malformed message, no user). Never decodes a Basic
 * password: the base64 text is decoded byte by byte up to the colon only. Pure. */
px_cred_kind px_cred_parse(const char *value, size_t len, char *account, size_t cap);

/* The account key of a user name as written (UTF-8 bytes): the user part alone, without `DOMAIN\` before it or
 * `@domain` after it, ASCII and Latin-1 letters folded to lower case, control bytes as '?'. `CONTOSO\Alice`,
 * `alice@contoso.com` and `alice` are one account: the directory locks one account for all of them, so a sprayer
 * must not get a fresh count per spelling. Returns the key's length (0: none). Pure. */
size_t px_cred_account_key(const char *user, size_t len, char *out, size_t cap);

/* Decodes n bytes at byte offset off of the base64 text b64 (len characters; '=' padding allowed at its end) into
 * out, without decoding anything else. 0, or -1 when the range is past the end or a character is not base64. */
int px_b64_range(const char *b64, size_t len, size_t off, size_t n, unsigned char *out);
/* Bytes the base64 text decodes to, or -1 when its length or padding is not base64's. */
long px_b64_decoded_len(const char *b64, size_t len);

#endif
