/* origin test accounts: the known users and their passwords, NTLMv2 verification (MD4 and HMAC-MD5 from codec.c),
 * Basic, and a count of login attempts per user that tests read at /auth/attempts to see what reached the origin. */
#include "auth.h"
#include "codec.h"

#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

/* The directory of the tests: user (sAMAccountName, any case) and password. */
static const struct {
    const char *user, *password;
} known[] = {
    {"alice", "Wonderland1"},
    {"bob", "Builder2"},
    {"carol", "Singer3"},
};

#define ATTEMPT_SLOTS 256
static struct {
    char user[33];
    uint64_t n;
} attempts[ATTEMPT_SLOTS];
static uint64_t attempts_total;
static pthread_mutex_t attempts_lock = PTHREAD_MUTEX_INITIALIZER;

/* The user name as counted: after a `DOMAIN\`, before an `@domain`, lower case, at most 32 bytes. */
static void count_key(const char *user, char out[33])
{
    const char *bs = strrchr(user, '\\');
    if (bs)
        user = bs + 1;
    size_t k = 0;
    for (; user[k] && user[k] != '@' && k < 32; k++)
        out[k] = (char)tolower((unsigned char)user[k]);
    out[k] = 0;
}

void auth_count_attempt(const char *user)
{
    char key[33];
    count_key(user, key);
    pthread_mutex_lock(&attempts_lock);
    attempts_total++;
    for (int i = 0; i < ATTEMPT_SLOTS; i++)
        if (!attempts[i].user[0] || strcmp(attempts[i].user, key) == 0) {
            memcpy(attempts[i].user, key, sizeof(key));
            attempts[i].n++;
            break;
        }
    pthread_mutex_unlock(&attempts_lock);
}

size_t auth_attempts_text(char *out, size_t cap)
{
    pthread_mutex_lock(&attempts_lock);
    int n = snprintf(out, cap, "total %llu\n", (unsigned long long)attempts_total);
    for (int i = 0; i < ATTEMPT_SLOTS && attempts[i].user[0] && n > 0 && (size_t)n < cap; i++)
        n += snprintf(out + n, cap - (size_t)n, "%s %llu\n", attempts[i].user, (unsigned long long)attempts[i].n);
    pthread_mutex_unlock(&attempts_lock);
    return n < 0 ? 0 : (size_t)n < cap ? (size_t)n : cap - 1;
}

const char *auth_password(const char *user)
{
    char key[33];
    count_key(user, key);
    for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
        if (strcmp(known[i].user, key) == 0)
            return known[i].password;
    return NULL;
}

int auth_basic_ok(const char *user, const char *password)
{
    const char *p = auth_password(user);
    return p && strcmp(p, password) == 0;
}

int auth_ntlmv2_ok(const char *password, const unsigned char *user16, size_t ulen, const unsigned char *dom16,
                   size_t dlen, const unsigned char challenge[8], const unsigned char *nt, size_t ntlen)
{
    unsigned char pw16[256], nthash[16], ident[512], v2[16], proof[16], blob[8 + 4096];
    size_t pl = strlen(password);
    if (ntlen <= 16 || pl * 2 > sizeof(pw16) || ulen + dlen > sizeof(ident) || ntlen - 16 > 4096)
        return 0; /* an NTLMv1 response (24 bytes) or an oversize field: no test user logs in that way */
    for (size_t i = 0; i < pl; i++) {
        pw16[2 * i] = (unsigned char)password[i];
        pw16[2 * i + 1] = 0;
    }
    codec_md4(pw16, pl * 2, nthash);
    memcpy(ident, user16, ulen); /* UPPER(user) + domain, UTF-16LE */
    for (size_t i = 0; i + 1 < ulen; i += 2)
        if (ident[i + 1] == 0)
            ident[i] = (unsigned char)toupper(ident[i]);
    memcpy(ident + ulen, dom16, dlen);
    codec_hmac_md5(nthash, 16, ident, ulen + dlen, v2);
    memcpy(blob, challenge, 8); /* NTProofStr: over the challenge and the client's blob */
    memcpy(blob + 8, nt + 16, ntlen - 16);
    codec_hmac_md5(v2, 16, blob, 8 + ntlen - 16, proof);
    return memcmp(proof, nt, 16) == 0;
}
