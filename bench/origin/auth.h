/* origin test accounts: known users with passwords, NTLMv2 and Basic verification, and the count of login attempts
 * that reached the origin (/auth/attempts), for the auth_guard tests. */
#ifndef ORIGIN_AUTH_H
#define ORIGIN_AUTH_H

#include <stddef.h>
#include <stdint.h>

/* Counts one login attempt (NTLM type 3 or Basic) for user (DOMAIN\ and @domain dropped, lower case). */
void auth_count_attempt(const char *user);
/* "total N\n" then "user N\n" per user, into out. Returns the length. */
size_t auth_attempts_text(char *out, size_t cap);
/* The password of a known user (DOMAIN\user or user@domain, any case), or NULL. */
const char *auth_password(const char *user);
/* Whether user:password is a known user's. */
int auth_basic_ok(const char *user, const char *password);
/* Whether the NTLMv2 response nt (NTProofStr then the client's blob) proves password for the user and domain
 * fields as sent (UTF-16LE) and the server challenge. */
int auth_ntlmv2_ok(const char *password, const unsigned char *user16, size_t ulen, const unsigned char *dom16,
                   size_t dlen, const unsigned char challenge[8], const unsigned char *nt, size_t ntlen);

#endif
