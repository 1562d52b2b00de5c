/* proxyd credentials: base64 decoded by range (a byte is decoded only when asked for, so a Basic password never
 * is), NTLM NEGOTIATE/AUTHENTICATE recognised, the user name of an AUTHENTICATE message read through its bounded
 * security buffer, UTF-16LE or OEM, and the account key every spelling of a user name maps to. */
#include "common/credential.h"

#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "common/constants.h"

#define NTLM_SIG_LEN 8
#define NTLM_HEAD_MIN 12   /* signature and message type */
#define NTLM_AUTH_HEAD 64  /* AUTHENTICATE up to and with NegotiateFlags */
#define NTLM_USER_FIELD 36 /* UserName security buffer: length (2), maximum (2), offset (4) */
#define NTLM_FLAGS_FIELD 60
#define NTLM_UNICODE 0x00000001u /* NTLMSSP_NEGOTIATE_UNICODE: names are UTF-16LE, else OEM */
#define SCAN_CHUNK 256

static const unsigned char ntlm_sig[NTLM_SIG_LEN] = {'N', 'T', 'L', 'M', 'S', 'S', 'P', 0};

/* ---------------------------------------------------------------- base64 by range */

static int b64_val(unsigned char ch)
{
    if (ch >= 'A' && ch <= 'Z')
        return ch - 'A';
    if (ch >= 'a' && ch <= 'z')
        return ch - 'a' + 26;
    if (ch >= '0' && ch <= '9')
        return ch - '0' + 52;
    if (ch == '+')
        return 62;
    if (ch == '/')
        return 63;
    return -1;
}

/* Characters before the padding, or -1 when the padding is malformed. */
static long b64_chars(const char *b64, size_t len)
{
    size_t n = len;
    while (n && len - n < 2 && b64[n - 1] == '=')
        n--;
    if ((len != n && len % 4) || n % 4 == 1 || (n && b64[n - 1] == '='))
        return -1; /* padding only completes a quad; one character alone cannot carry a byte */
    return (long)n;
}

long px_b64_decoded_len(const char *b64, size_t len)
{
    long n = b64_chars(b64, len);
    return n < 0 ? -1 : n / 4 * 3 + (n % 4 ? n % 4 - 1 : 0);
}

/* px_b64_range with the decoded length dl already known (-1: malformed). */
static int range_known(const char *b64, long dl, size_t off, size_t n, unsigned char *out)
{
    if (dl < 0 || off > (size_t)dl || n > (size_t)dl - off)
        return -1;
    for (size_t i = 0; i < n; i++) {
        size_t bit = (off + i) * 8, k = bit / 6; /* the byte's bits span characters k and k + 1 */
        int hi = b64_val((unsigned char)b64[k]), lo = b64_val((unsigned char)b64[k + 1]);
        if (hi < 0 || lo < 0)
            return -1;
        out[i] = (unsigned char)(((unsigned)hi << 6 | (unsigned)lo) >> (4 - bit % 6));
    }
    return 0;
}

int px_b64_range(const char *b64, size_t len, size_t off, size_t n, unsigned char *out)
{
    return range_known(b64, px_b64_decoded_len(b64, len), off, n, out);
}

/* ---------------------------------------------------------------- account keys */

/* Appends the UTF-8 of code point cp to out (cap bytes, one kept for the NUL); stops at the cap. */
static size_t put_utf8(char *out, size_t k, size_t cap, uint32_t cp)
{
    unsigned char b[4];
    size_t n;
    if (cp < 0x80) {
        b[0] = (unsigned char)cp;
        n = 1;
    } else if (cp < 0x800) {
        b[0] = (unsigned char)(0xC0 | cp >> 6);
        b[1] = (unsigned char)(0x80 | (cp & 0x3F));
        n = 2;
    } else if (cp < 0x10000) {
        b[0] = (unsigned char)(0xE0 | cp >> 12);
        b[1] = (unsigned char)(0x80 | (cp >> 6 & 0x3F));
        b[2] = (unsigned char)(0x80 | (cp & 0x3F));
        n = 3;
    } else {
        b[0] = (unsigned char)(0xF0 | cp >> 18);
        b[1] = (unsigned char)(0x80 | (cp >> 12 & 0x3F));
        b[2] = (unsigned char)(0x80 | (cp >> 6 & 0x3F));
        b[3] = (unsigned char)(0x80 | (cp & 0x3F));
        n = 4;
    }
    if (k + n >= cap)
        return k; /* cut at a character boundary */
    memcpy(out + k, b, n);
    return k + n;
}

/* UTF-16LE (len even) to UTF-8; an unpaired surrogate becomes '?'. Returns the bytes written (NUL after). */
static size_t utf16le_to_utf8(const unsigned char *p, size_t len, char *out, size_t cap)
{
    size_t k = 0;
    for (size_t i = 0; i + 1 < len; i += 2) {
        uint32_t u = p[i] | (uint32_t)p[i + 1] << 8;
        if (u >= 0xD800 && u < 0xDC00 && i + 3 < len) {
            uint32_t v = p[i + 2] | (uint32_t)p[i + 3] << 8;
            if (v >= 0xDC00 && v < 0xE000) {
                u = 0x10000 + ((u - 0xD800) << 10) + (v - 0xDC00);
                i += 2;
            }
        }
        if (u >= 0xD800 && u < 0xE000)
            u = '?';
        k = put_utf8(out, k, cap, u);
    }
    out[k] = 0;
    return k;
}

size_t px_cred_account_key(const char *user, size_t len, char *out, size_t cap)
{
    const char *bs = NULL, *at = NULL;
    for (size_t i = 0; i < len; i++)
        if (user[i] == '\\')
            bs = user + i;
    if (bs) { /* DOMAIN\user: the user */
        len -= (size_t)(bs + 1 - user);
        user = bs + 1;
    }
    for (size_t i = 0; i < len; i++)
        if (user[i] == '@')
            at = user + i;
    if (at) /* user@domain (a UPN): the user */
        len = (size_t)(at - user);
    size_t k = 0;
    for (size_t i = 0; i < len && k + 1 < cap; i++) {
        unsigned char ch = (unsigned char)user[i];
        if (ch >= 'A' && ch <= 'Z')
            ch = (unsigned char)(ch + 32);
        else if (ch == 0xC3 && i + 1 < len && k + 2 < cap && ((unsigned char)user[i + 1] & 0xC0) == 0x80) {
            unsigned char nx = (unsigned char)user[i + 1]; /* U+00C0..U+00DE but U+00D7: Latin-1 capitals */
            out[k++] = (char)ch;
            out[k++] = (char)(nx >= 0x80 && nx <= 0x9E && nx != 0x97 ? nx + 32 : nx);
            i++;
            continue;
        } else if (ch < 0x20 || ch == 0x7F)
            ch = '?';
        out[k++] = (char)ch;
    }
    out[k] = 0;
    return k;
}

/* ---------------------------------------------------------------- NTLM */

static uint32_t le32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* The account of the AUTHENTICATE message at byte base of the token (mlen bytes from there). */
static void ntlm_account(const char *b64, size_t len, size_t base, size_t mlen, char *account, size_t cap)
{
    unsigned char h[NTLM_AUTH_HEAD], raw[PX_CRED_FIELD_MAX];
    char user[PX_CRED_FIELD_MAX * 2 + 1]; /* a UTF-16 unit becomes at most 3 bytes of UTF-8, a pair 4 */
    account[0] = 0;
    if (mlen < NTLM_AUTH_HEAD || px_b64_range(b64, len, base, NTLM_AUTH_HEAD, h) < 0)
        return;
    uint32_t ulen = h[NTLM_USER_FIELD] | (uint32_t)h[NTLM_USER_FIELD + 1] << 8, uoff = le32(h + NTLM_USER_FIELD + 4);
    int unicode = (le32(h + NTLM_FLAGS_FIELD) & NTLM_UNICODE) != 0;
    if (uoff > mlen || ulen > mlen - uoff || (unicode && ulen % 2))
        return; /* outside the message, or half a UTF-16 unit: no account a directory would read either */
    size_t n = ulen < sizeof(raw) ? ulen : sizeof(raw) & ~(size_t)1;
    if (px_b64_range(b64, len, base + uoff, n, raw) < 0)
        return;
    size_t ul = n;
    if (unicode)
        ul = utf16le_to_utf8(raw, n, user, sizeof(user));
    else
        memcpy(user, raw, n); /* OEM: bytes as sent */
    px_cred_account_key(user, ul, account, cap);
}

/* Where "NTLMSSP\0" begins in the token: 0 for a raw NTLM message, further inside SPNEGO. -1: not found within
 * PX_CRED_SCAN_MAX bytes. */
static long ntlm_find(const char *b64, size_t len, size_t dl)
{
    unsigned char buf[SCAN_CHUNK];
    size_t limit = dl < PX_CRED_SCAN_MAX ? dl : PX_CRED_SCAN_MAX;
    for (size_t off = 0; off + NTLM_SIG_LEN <= limit; off += SCAN_CHUNK - NTLM_SIG_LEN) {
        size_t n = limit - off < SCAN_CHUNK ? limit - off : SCAN_CHUNK;
        if (px_b64_range(b64, len, off, n, buf) < 0)
            return -1;
        for (size_t i = 0; i + NTLM_SIG_LEN <= n; i++)
            if (buf[i] == 'N' && memcmp(buf + i, ntlm_sig, NTLM_SIG_LEN) == 0)
                return (long)(off + i);
        if (n < SCAN_CHUNK)
            break;
    }
    return -1;
}

/* NTLM or Negotiate: a handshake start, an AUTHENTICATE (account read), or another token. */
static px_cred_kind ntlm_parse(const char *b64, size_t len, int negotiate, char *account, size_t cap)
{
    unsigned char h[NTLM_HEAD_MIN];
    long dl = px_b64_decoded_len(b64, len);
    long at = dl < NTLM_HEAD_MIN ? -1 : negotiate ? ntlm_find(b64, len, (size_t)dl) : 0;
    if (at < 0 || dl - at < NTLM_HEAD_MIN || px_b64_range(b64, len, (size_t)at, NTLM_HEAD_MIN, h) < 0 ||
        memcmp(h, ntlm_sig, NTLM_SIG_LEN) != 0)
        return PX_CRED_TOKEN; /* Kerberos, or junk the origin will refuse: counted for the client only */
    uint32_t type = le32(h + NTLM_SIG_LEN);
    if (type == 1)
        return PX_CRED_NTLM_START;
    if (type != 3)
        return PX_CRED_TOKEN;
    ntlm_account(b64, len, (size_t)at, (size_t)(dl - at), account, cap);
    return PX_CRED_NTLM_AUTH;
}

/* ---------------------------------------------------------------- Basic */

static void basic_account(const char *b64, size_t len, char *account, size_t cap)
{
    char user[PX_CRED_FIELD_MAX];
    long dl = px_b64_decoded_len(b64, len);
    for (size_t i = 0; dl > 0 && i < (size_t)dl && i < sizeof(user); i++) {
        unsigned char ch;
        if (range_known(b64, dl, i, 1, &ch) < 0)
            break;
        if (ch == ':') { /* the password after it is never decoded */
            px_cred_account_key(user, i, account, cap);
            return;
        }
        user[i] = (char)ch;
    }
    account[0] = 0; /* no colon within reach: no account a directory would take */
}

px_cred_kind px_cred_parse(const char *v, size_t len, char *account, size_t cap)
{
    account[0] = 0;
    size_t s = 0;
    while (s < len && v[s] != ' ' && v[s] != '\t')
        s++;
    size_t t = s;
    while (t < len && (v[t] == ' ' || v[t] == '\t'))
        t++;
    size_t e = len;
    while (e > t && (v[e - 1] == ' ' || v[e - 1] == '\t'))
        e--;
    const char *tok = v + t;
    size_t tlen = e - t;
    if (s == 5 && strncasecmp(v, "Basic", 5) == 0) {
        basic_account(tok, tlen, account, cap);
        return PX_CRED_BASIC;
    }
    if (s == 4 && strncasecmp(v, "NTLM", 4) == 0)
        return ntlm_parse(tok, tlen, 0, account, cap);
    if (s == 9 && strncasecmp(v, "Negotiate", 9) == 0)
        return ntlm_parse(tok, tlen, 1, account, cap);
    return PX_CRED_NONE;
}
