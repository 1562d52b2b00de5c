/* origin /ntlm: an emulation of IIS Windows authentication with the NTLM provider, connection-based like the
 * real one: the challenge belongs to the connection it was sent on, and an authenticated connection stays so.
 * The known users of auth.c are verified as a domain controller would (NTLMv2); any other user passes when its
 * NT response begins with the challenge (the tests that build their own messages). */
#include "auth.h"
#include "codec.h"
#include "origin.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#define NTLM_MAX_BLOB 2048
#define NTLM_TYPE2_LEN 56
#define NTLM_TYPE2_MAX 160
#define NTLM_TYPE3_MIN 64
#define NTLM_FLAG_UNICODE 0x00000001u
#define NTLM_TYPE2_FLAGS 0xE2898215u /* unicode, NTLM, always sign, extended session security, target info... */

static const unsigned char signature[8] = {'N', 'T', 'L', 'M', 'S', 'S', 'P', 0};
static _Atomic uint64_t challenge_seq;

static uint32_t le32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void put_le32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

/* A fresh 8-byte server challenge: unique per handshake within this process (splitmix64 of a counter). */
static void new_challenge(unsigned char out[8])
{
    uint64_t z = atomic_fetch_add(&challenge_seq, 1) + (uint64_t)time(NULL) * 0x9E3779B97F4A7C15u;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9u;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBu;
    z ^= z >> 31;
    for (int i = 0; i < 8; i++)
        out[i] = (unsigned char)(z >> (8 * i));
}

/* Splits "Scheme token" of the Authorization field; the blob is decoded into buf. Returns the blob length, or -1
 * when the field is absent, another scheme, or not an NTLMSSP message. */
static long auth_blob(const http_request *req, unsigned char *buf, int *negotiate)
{
    long i = http_find_field(req->fields, req->nfields, "Authorization", 0);
    if (i < 0)
        return -1;
    http_slice v = req->fields[i].value;
    const char *sp = memchr(v.base, ' ', v.len);
    if (!sp)
        return -1;
    http_slice scheme = http_slice_of(v.base, (size_t)(sp - v.base));
    *negotiate = http_slice_eq_ci(scheme, "Negotiate");
    if (!*negotiate && !http_slice_eq_ci(scheme, "NTLM"))
        return -1;
    long n = codec_b64_decode(sp + 1, v.len - scheme.len - 1, buf, NTLM_MAX_BLOB);
    if (n < 12 || memcmp(buf, signature, 8) != 0)
        return -1; /* Kerberos in SPNEGO, or garbage */
    return n;
}

static void put_le16(unsigned char *p, size_t v)
{
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
}

/* ASCII text as UTF-16LE at p. Returns the bytes written. */
static size_t put_utf16(unsigned char *p, const char *text)
{
    size_t i = 0;
    for (; text[i]; i++) {
        p[2 * i] = (unsigned char)text[i];
        p[2 * i + 1] = 0;
    }
    return 2 * i;
}

/* Appends an AV pair (id, text) at m + *n. */
static void av_pair(unsigned char *m, size_t *n, unsigned id, const char *text)
{
    size_t len = put_utf16(m + *n + 4, text);
    put_le16(m + *n, id);
    put_le16(m + *n + 2, len);
    *n += 4 + len;
}

/* The CHALLENGE_MESSAGE (type 2) for c's current challenge, base64 after "Scheme ": domain CONTOSO, and a
 * TargetInfo as a domain controller's, so that clients answer with NTLMv2 (curl does only then). */
static void write_type2(conn *c, int negotiate, char *out, size_t cap)
{
    unsigned char m[NTLM_TYPE2_MAX] = {0};
    size_t n = NTLM_TYPE2_LEN;
    memcpy(m, signature, 8);
    put_le32(m + 8, 2);
    size_t tl = put_utf16(m + n, "CONTOSO"); /* TargetName */
    put_le16(m + 12, tl);
    put_le16(m + 14, tl);
    put_le32(m + 16, (uint32_t)n);
    n += tl;
    put_le32(m + 20, NTLM_TYPE2_FLAGS);
    memcpy(m + 24, c->ntlm_challenge, 8);
    size_t info = n;
    av_pair(m, &n, 2, "CONTOSO"); /* MsvAvNbDomainName */
    av_pair(m, &n, 1, "ORIGIN");  /* MsvAvNbComputerName */
    av_pair(m, &n, 0, "");        /* MsvAvEOL */
    put_le16(m + 40, n - info);
    put_le16(m + 42, n - info);
    put_le32(m + 44, (uint32_t)info);
    size_t k = (size_t)snprintf(out, cap, "%s ", negotiate ? "Negotiate" : "NTLM");
    (void)codec_b64_encode(m, n, out + k, cap - k);
}

/* The domain field of a type 3 as UTF-16LE into out (OEM bytes widened). Returns its length, or -1. */
static long domain16(const unsigned char *m, size_t n, int unicode, unsigned char *out, size_t cap)
{
    uint32_t len = m[28] | (uint32_t)m[29] << 8, off = le32(m + 32);
    if (off > n || n - off < len || (unicode ? len : 2 * len) > cap)
        return -1;
    if (unicode) {
        memcpy(out, m + off, len);
        return len;
    }
    for (uint32_t i = 0; i < len; i++) {
        out[2 * i] = m[off + i];
        out[2 * i + 1] = 0;
    }
    return 2 * (long)len;
}

/* A known user's NT response, checked as NTLMv2 against c's challenge. */
static int known_user_ok(conn *c, const unsigned char *m, size_t n, int unicode, const char *password)
{
    uint32_t nt_len = m[20] | (uint32_t)m[21] << 8, nt_off = le32(m + 24);
    unsigned char user[2 * sizeof c->ntlm_user], dom[256];
    size_t ul = 0;
    for (size_t i = 0; c->ntlm_user[i]; i++) { /* the name exactly as sent (ASCII, checked by the caller) */
        user[ul++] = (unsigned char)c->ntlm_user[i];
        user[ul++] = 0;
    }
    long dl = domain16(m, n, unicode, dom, sizeof dom);
    return dl >= 0 && auth_ntlmv2_ok(password, user, ul, dom, (size_t)dl, c->ntlm_challenge, m + nt_off, nt_len);
}

/* Checks an AUTHENTICATE_MESSAGE (type 3) against c's challenge and copies the user name; every one is counted as
 * a login attempt. A known user's NTLMv2 response is verified; for any other user the emulation stands in for the
 * HMAC: the NT response must begin with this connection's 8-byte server challenge. */
static int check_type3(conn *c, const unsigned char *m, size_t n)
{
    uint32_t nt_len = m[20] | (uint32_t)m[21] << 8, nt_off = le32(m + 24);
    uint32_t user_len = m[36] | (uint32_t)m[37] << 8, user_off = le32(m + 40);
    int unicode = n >= NTLM_TYPE3_MIN && (le32(m + 60) & NTLM_FLAG_UNICODE) != 0;
    size_t k = 0;
    if (n < NTLM_TYPE3_MIN || nt_len < 24 || nt_off > n || n - nt_off < nt_len)
        return -1;
    if (user_len == 0 || user_off > n || n - user_off < user_len || (unicode && user_len % 2))
        return -1;
    for (uint32_t i = 0; i < user_len; i += unicode ? 2 : 1) {
        unsigned char ch = m[user_off + i];
        if (k + 1 >= sizeof c->ntlm_user || ch < 0x21 || ch > 0x7e || (unicode && m[user_off + i + 1] != 0))
            return -1; /* printable ASCII names only: enough to tell test clients apart */
        c->ntlm_user[k++] = (char)ch;
    }
    c->ntlm_user[k] = 0;
    auth_count_attempt(c->ntlm_user);
    const char *password = auth_password(c->ntlm_user);
    if (password)
        return known_user_ok(c, m, n, unicode, password) ? 0 : -1;
    return memcmp(m + nt_off, c->ntlm_challenge, 8) == 0 ? 0 : -1;
}

void ntlm_step(conn *c, const http_request *req, ntlm_reply *r)
{
    unsigned char blob[NTLM_MAX_BLOB];
    int negotiate = 0;
    long n = auth_blob(req, blob, &negotiate);
    uint32_t type = n >= 12 ? le32(blob + 8) : 0;
    memset(r, 0, sizeof *r);
    r->status = 401;
    if (n < 0 && c->ntlm_state == NTLM_AUTHED) { /* IIS: the connection stays authenticated */
        r->status = 200;
    } else if (type == 1) {
        c->ntlm_state = NTLM_CHALLENGED;
        new_challenge(c->ntlm_challenge);
        write_type2(c, negotiate, r->challenge, sizeof r->challenge);
    } else if (type == 3 && check_type3(c, blob, (size_t)n) == 0 && c->ntlm_state == NTLM_CHALLENGED) {
        c->ntlm_state = NTLM_AUTHED;
        r->status = 200;
    } else {
        c->ntlm_state = NTLM_NONE; /* no credentials, a type 3 this connection was not challenged for, or junk */
        memset(c->ntlm_challenge, 0, sizeof c->ntlm_challenge);
    }
    if (r->status == 200)
        snprintf(r->body, sizeof r->body, "authenticated as %s\n", c->ntlm_user);
    else
        snprintf(r->body, sizeof r->body, "401 Unauthorized\n");
}
