/* tests/proxyd: auth_guard's pure pieces of common/ — the account of an Authorization field (NTLM AUTHENTICATE
 * messages and Basic, hostile ones included: offsets out of range, overflowing lengths, odd UTF-16, huge and
 * non-ASCII names, input right before a guard page), the account key every spelling maps to, and the shared table
 * (sliding windows on a fake clock, blocks, a success clearing its pair, eviction within a fixed size). */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "common/authguard.h"
#include "common/credential.h"

static const char b64chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Standard base64 with padding into out. */
static size_t b64(const unsigned char *p, size_t n, char *out)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned)p[i] << 16 | (i + 1 < n ? (unsigned)p[i + 1] << 8 : 0) | (i + 2 < n ? p[i + 2] : 0);
        out[k++] = b64chars[v >> 18 & 63];
        out[k++] = b64chars[v >> 12 & 63];
        out[k++] = i + 1 < n ? b64chars[v >> 6 & 63] : '=';
        out[k++] = i + 2 < n ? b64chars[v & 63] : '=';
    }
    out[k] = 0;
    return k;
}

static void put16(unsigned char *p, size_t v)
{
    p[0] = (unsigned char)v, p[1] = (unsigned char)(v >> 8);
}

static void put32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

/* A type 3 with the user field (ulen bytes at uoff, taken from user) and flags; n bytes in all. */
static size_t type3(unsigned char *m, size_t cap, const void *user, size_t ulen, uint32_t uoff, uint32_t flags)
{
    size_t n = 64 + 24;
    memset(m, 0, cap);
    memcpy(m, "NTLMSSP\0\3\0\0\0", 12);
    put16(m + 20, 24), put16(m + 22, 24), put32(m + 24, 64);
    put16(m + 28, 0), put32(m + 32, (uint32_t)n);
    put16(m + 36, ulen), put16(m + 38, ulen), put32(m + 40, uoff);
    put32(m + 60, flags);
    if (user && uoff == n && n + ulen <= cap) {
        memcpy(m + n, user, ulen);
        n += ulen;
    }
    return n;
}

/* Parses "SCHEME " + base64 of the message: the kind, the account in acc. */
static px_cred_kind parse_msg(const char *scheme, const unsigned char *m, size_t n, char *acc)
{
    static char text[65536];
    size_t k = (size_t)sprintf(text, "%s ", scheme);
    k += b64(m, n, text + k);
    return px_cred_parse(text, k, acc, PX_CRED_ACCOUNT_MAX + 1);
}

static size_t utf16(const char *ascii, unsigned char *out)
{
    size_t i = 0;
    for (; ascii[i]; i++)
        out[2 * i] = (unsigned char)ascii[i], out[2 * i + 1] = 0;
    return 2 * i;
}

/* ---------------------------------------------------------------- base64 by range */

START_TEST(b64_ranges)
{
    unsigned char out[16];
    ck_assert_int_eq(px_b64_decoded_len("TWFu", 4), 3);
    ck_assert_int_eq(px_b64_decoded_len("TWE=", 4), 2);
    ck_assert_int_eq(px_b64_decoded_len("TQ==", 4), 1);
    ck_assert_int_eq(px_b64_decoded_len("TWE", 3), 2); /* unpadded */
    ck_assert_int_eq(px_b64_decoded_len("T", 1), -1);
    ck_assert_int_eq(px_b64_decoded_len("T===", 4), -1);
    ck_assert_int_eq(px_b64_decoded_len("TW=", 3), -1);
    ck_assert_int_eq(px_b64_range("TWFuTWFu", 8, 2, 3, out), 0);
    ck_assert(memcmp(out, "nMa", 3) == 0);
    ck_assert_int_eq(px_b64_range("TWFuTWFu", 8, 4, 3, out), -1); /* past the end */
    ck_assert_int_eq(px_b64_range("TWFuTWFu", 8, SIZE_MAX, 2, out), -1);
    ck_assert_int_eq(px_b64_range("TW!uTWFu", 8, 0, 2, out), -1); /* not base64 */
}
END_TEST

/* ---------------------------------------------------------------- Basic */

START_TEST(basic_accounts)
{
    char acc[PX_CRED_ACCOUNT_MAX + 1], text[2048], val[1600];
    static const struct {
        const char *cred, *account;
    } cases[] = {
        {"CONTOSO\\Alice:secret", "alice"},
        {"alice@Contoso.COM:x:y", "alice"},
        {"bob:", "bob"},
        {":password", ""},
        {"no colon here", ""},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t k = (size_t)sprintf(text, "Basic ");
        k += b64((const unsigned char *)cases[i].cred, strlen(cases[i].cred), text + k);
        ck_assert_int_eq(px_cred_parse(text, k, acc, sizeof(acc)), PX_CRED_BASIC);
        ck_assert_msg(strcmp(acc, cases[i].account) == 0, "%s: \"%s\"", cases[i].cred, acc);
    }
    ck_assert_int_eq(px_cred_parse("basic   Ym9iOnB3  ", 18, acc, sizeof(acc)), PX_CRED_BASIC);
    ck_assert_str_eq(acc, "bob");
    ck_assert_int_eq(px_cred_parse("Basic %%%%", 10, acc, sizeof(acc)), PX_CRED_BASIC);
    ck_assert_str_eq(acc, "");
    memset(val, 'a', 1000); /* a user longer than any account: none */
    strcpy(val + 1000, ":pw");
    size_t k = (size_t)sprintf(text, "Basic ");
    k += b64((const unsigned char *)val, strlen(val), text + k);
    ck_assert_int_eq(px_cred_parse(text, k, acc, sizeof(acc)), PX_CRED_BASIC);
    ck_assert_str_eq(acc, "");
    ck_assert_int_eq(px_cred_parse("Bearer abc", 10, acc, sizeof(acc)), PX_CRED_NONE);
    ck_assert_int_eq(px_cred_parse("", 0, acc, sizeof(acc)), PX_CRED_NONE);
}
END_TEST

/* ---------------------------------------------------------------- NTLM */

START_TEST(ntlm_accounts)
{
    unsigned char m[8192], u[4096];
    char acc[PX_CRED_ACCOUNT_MAX + 1];
    static const unsigned char type1[] = "NTLMSSP\0\1\0\0\0\7\202\10\242";
    ck_assert_int_eq(parse_msg("NTLM", type1, 16, acc), PX_CRED_NTLM_START);
    size_t ul = utf16("Alice", u);
    ck_assert_int_eq(parse_msg("NTLM", m, type3(m, sizeof m, u, ul, 88, 1), acc), PX_CRED_NTLM_AUTH);
    ck_assert_str_eq(acc, "alice");
    ck_assert_int_eq(parse_msg("Negotiate", m, type3(m, sizeof m, u, ul, 88, 1), acc), PX_CRED_NTLM_AUTH);
    ck_assert_str_eq(acc, "alice");
    /* OEM (no unicode flag): bytes as sent. */
    ck_assert_int_eq(parse_msg("NTLM", m, type3(m, sizeof m, "BOB@contoso.com", 15, 88, 2), acc), PX_CRED_NTLM_AUTH);
    ck_assert_str_eq(acc, "bob");
    /* Inside SPNEGO: the signature is found further in. */
    unsigned char sp[200];
    size_t n = type3(m, sizeof m, u, ul, 88, 1);
    memset(sp, 0xa1, 40);
    memcpy(sp + 40, m, n);
    ck_assert_int_eq(parse_msg("Negotiate", sp, 40 + n, acc), PX_CRED_NTLM_AUTH);
    ck_assert_str_eq(acc, "alice");
    /* Kerberos (no NTLMSSP), junk, a type 2 from a client: another token, no account. */
    ck_assert_int_eq(parse_msg("Negotiate", sp, 40, acc), PX_CRED_TOKEN);
    ck_assert_int_eq(px_cred_parse("NTLM", 4, acc, sizeof(acc)), PX_CRED_TOKEN);
    ck_assert_int_eq(px_cred_parse("NTLM !!!!", 9, acc, sizeof(acc)), PX_CRED_TOKEN);
    m[8] = 2;
    ck_assert_int_eq(parse_msg("NTLM", m, n, acc), PX_CRED_TOKEN);
}
END_TEST

/* Offsets and lengths an attacker chooses: never read outside the message, never an account from garbage. */
START_TEST(ntlm_hostile)
{
    unsigned char m[8192], u[4096];
    char acc[PX_CRED_ACCOUNT_MAX + 1];
    size_t ul = utf16("mallory", u);
    size_t n = type3(m, sizeof m, u, ul, 88, 1);
    put32(m + 40, (uint32_t)n); /* the field starts at the end */
    ck_assert_int_eq(parse_msg("NTLM", m, n, acc), PX_CRED_NTLM_AUTH);
    ck_assert_str_eq(acc, "");
    put32(m + 40, 0xFFFFFFF0u); /* offset + length overflows 32 bits */
    put16(m + 36, 0x20);
    ck_assert_int_eq(parse_msg("NTLM", m, n, acc), PX_CRED_NTLM_AUTH);
    ck_assert_str_eq(acc, "");
    n = type3(m, sizeof m, u, ul, 88, 1);
    put16(m + 36, 0xFFFF); /* longer than the message */
    ck_assert_int_eq(parse_msg("NTLM", m, n, acc), PX_CRED_NTLM_AUTH);
    ck_assert_str_eq(acc, "");
    n = type3(m, sizeof m, u, ul - 1, 88, 1); /* half a UTF-16 unit */
    ck_assert_int_eq(parse_msg("NTLM", m, n, acc), PX_CRED_NTLM_AUTH);
    ck_assert_str_eq(acc, "");
    ck_assert_int_eq(parse_msg("NTLM", m, 63, acc), PX_CRED_NTLM_AUTH); /* shorter than the fixed part */
    ck_assert_str_eq(acc, "");
    /* A huge name: read up to PX_CRED_FIELD_MAX bytes, the key cut at PX_CRED_ACCOUNT_MAX. */
    memset(u, 0, sizeof u);
    for (int i = 0; i < 2000; i++)
        u[2 * i] = 'z';
    n = type3(m, sizeof m, u, 4000, 88, 1);
    ck_assert_int_eq(parse_msg("NTLM", m, n, acc), PX_CRED_NTLM_AUTH);
    ck_assert_uint_eq(strlen(acc), PX_CRED_ACCOUNT_MAX);
    ck_assert_int_eq(acc[0], 'z');
}
END_TEST

/* UTF-16 beyond ASCII: Latin-1 capitals folded, a surrogate pair as 4 bytes of UTF-8, a lone surrogate as '?'. */
START_TEST(ntlm_non_ascii)
{
    unsigned char m[512];
    char acc[PX_CRED_ACCOUNT_MAX + 1];
    static const unsigned char olaf[] = {0xD6, 0, 'L', 0, 'a', 0, 'f', 0}; /* ÖLaf */
    ck_assert_int_eq(parse_msg("NTLM", m, type3(m, sizeof m, olaf, 8, 88, 1), acc), PX_CRED_NTLM_AUTH);
    ck_assert_str_eq(acc, "\xc3\xb6laf");
    static const unsigned char emoji[] = {'x', 0, 0x3D, 0xD8, 0x00, 0xDE, 'y', 0}; /* x U+1F600 y */
    ck_assert_int_eq(parse_msg("NTLM", m, type3(m, sizeof m, emoji, 8, 88, 1), acc), PX_CRED_NTLM_AUTH);
    ck_assert_str_eq(acc, "x\xf0\x9f\x98\x80y");
    static const unsigned char lone[] = {'a', 0, 0x00, 0xDC, 0x3D, 0xD8}; /* a, low surrogate, high at the end */
    ck_assert_int_eq(parse_msg("NTLM", m, type3(m, sizeof m, lone, 6, 88, 1), acc), PX_CRED_NTLM_AUTH);
    ck_assert_str_eq(acc, "a??");
    static const unsigned char ctl[] = {'b', 0, 1, 0, 0x7F, 0}; /* control characters */
    ck_assert_int_eq(parse_msg("NTLM", m, type3(m, sizeof m, ctl, 6, 88, 1), acc), PX_CRED_NTLM_AUTH);
    ck_assert_str_eq(acc, "b??");
}
END_TEST

/* The field's text is the last thing before a PROT_NONE page: any read past its end faults. */
START_TEST(guard_page)
{
    long pg = sysconf(_SC_PAGESIZE);
    char *map = mmap(NULL, (size_t)pg * 2, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    ck_assert(map != MAP_FAILED);
    ck_assert_int_eq(mprotect(map + pg, (size_t)pg, PROT_NONE), 0);
    unsigned char m[512], u[64];
    char acc[PX_CRED_ACCOUNT_MAX + 1], text[1024];
    size_t n = type3(m, sizeof m, u, utf16("eve", u), 88, 1);
    for (size_t cut = 0; cut <= n; cut++) { /* every truncation of the message */
        size_t k = (size_t)sprintf(text, "NTLM ");
        k += b64(m, cut, text + k);
        char *at = map + pg - k;
        memcpy(at, text, k);
        px_cred_parse(at, k, acc, sizeof(acc));
        if (cut == n)
            ck_assert_str_eq(acc, "eve");
    }
    const char *basic = "Basic ZXZlOnNlY3JldA=="; /* eve:secret */
    char *at = map + pg - strlen(basic);
    memcpy(at, basic, strlen(basic));
    for (size_t cut = 0; cut <= strlen(basic); cut++)
        px_cred_parse(at + strlen(basic) - cut, cut, acc, sizeof(acc));
    px_cred_parse(at, strlen(basic), acc, sizeof(acc));
    ck_assert_str_eq(acc, "eve");
    munmap(map, (size_t)pg * 2);
}
END_TEST

/* Random header fields over a valid message: ASan and UBSan watch every read. */
START_TEST(ntlm_random_fields)
{
    unsigned char m[600], u[64];
    char acc[PX_CRED_ACCOUNT_MAX + 1];
    srand(17);
    for (int i = 0; i < 20000; i++) {
        size_t n = type3(m, sizeof m, u, utf16("rand", u), 88, 1);
        for (int k = 0; k < 6; k++)
            m[12 + rand() % 52] = (unsigned char)rand();
        n = (size_t)(rand() % (int)n) + 1;
        parse_msg(rand() % 2 ? "NTLM" : "Negotiate", m, n, acc);
        ck_assert_uint_le(strlen(acc), PX_CRED_ACCOUNT_MAX);
    }
}
END_TEST

/* ---------------------------------------------------------------- account keys */

START_TEST(account_keys)
{
    static const struct {
        const char *in, *key;
    } cases[] = {
        {"CONTOSO\\Alice", "alice"},
        {"alice@Contoso.com", "alice"},
        {"ALICE", "alice"},
        {"contoso.local\\ALICE", "alice"},
        {"a\\b\\Carol", "carol"},
        {"CONTOSO\\dave@contoso.com", "dave"},
        {"\xc3\x80"
         "B",
         "\xc3\xa0"
         "b"},
        {"\xc3\x97x", "\xc3\x97x"}, /* U+00D7 is no letter */
        {"", ""},
        {"CONTOSO\\", ""},
        {"@contoso.com", ""},
    };
    char out[PX_CRED_ACCOUNT_MAX + 1];
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t n = px_cred_account_key(cases[i].in, strlen(cases[i].in), out, sizeof(out));
        ck_assert_msg(strcmp(out, cases[i].key) == 0, "%s: \"%s\"", cases[i].in, out);
        ck_assert_uint_eq(n, strlen(cases[i].key));
    }
    /* A Latin-1 lead byte before a NUL: the NUL is a control byte, never copied into the key (found by fuzzing). */
    ck_assert_uint_eq(px_cred_account_key("\xc3\0x", 3, out, sizeof(out)), 3);
    ck_assert_str_eq(out, "\xc3?x");
    char small[4];
    ck_assert_uint_eq(px_cred_account_key("abcdef", 6, small, sizeof(small)), 3);
    ck_assert_str_eq(small, "abc");
}
END_TEST

/* ---------------------------------------------------------------- the table */

#define MIN 60000ull
static const px_ag_limit acc5 = {5, 15 * MIN}, cli20 = {20, 15 * MIN};

static px_ip ip4(unsigned a, unsigned b)
{
    px_ip ip = {PX_IP_V4, {203, 0, (uint8_t)a, (uint8_t)b}};
    return ip;
}

START_TEST(account_blocks_then_window_ends)
{
    px_ag_table *t = px_ag_table_new(1024, 4, 7);
    px_ip c = ip4(1, 1);
    px_ag_verdict v;
    uint64_t now = 1000 * MIN;
    for (int i = 1; i <= 4; i++) {
        px_ag_fail(t, "alice", &c, &acc5, &cli20, now + (uint64_t)i, &v);
        ck_assert_uint_eq(v.account_fails, (uint32_t)i);
        ck_assert_uint_eq(v.started | v.blocked, 0);
    }
    px_ag_fail(t, "alice", &c, &acc5, &cli20, now + 5, &v);
    ck_assert_uint_eq(v.started, PX_AG_BY_ACCOUNT);
    ck_assert_uint_eq(v.blocked, PX_AG_BY_ACCOUNT);
    px_ag_check(t, "alice", &c, &acc5, &cli20, now + MIN, &v);
    ck_assert_uint_eq(v.blocked, PX_AG_BY_ACCOUNT);
    ck_assert_uint_eq(v.retry_ms, 15 * MIN + 5 - MIN);
    px_ip other = ip4(9, 9);
    px_ag_check(t, "alice", &other, &acc5, &cli20, now + MIN, &v); /* an account block holds for every client */
    ck_assert_uint_eq(v.blocked, PX_AG_BY_ACCOUNT);
    px_ag_check(t, "bob", &c, &acc5, &cli20, now + MIN, &v);
    ck_assert_uint_eq(v.blocked, 0);
    ck_assert_uint_eq(px_ag_list_blocked(t, now + MIN, NULL, NULL), 1);
    px_ag_check(t, "alice", &c, &acc5, &cli20, now + 16 * MIN, &v); /* the block is over: lifted, fresh window */
    ck_assert_uint_eq(v.blocked, 0);
    ck_assert_uint_eq(v.ended, PX_AG_BY_ACCOUNT);
    ck_assert_uint_eq(v.account_fails, 0);
    px_ag_fail(t, "alice", &c, &acc5, &cli20, now + 16 * MIN, &v);
    ck_assert_uint_eq(v.account_fails, 1);
    ck_assert_uint_eq(atomic_load(&px_ag_table_stats(t)->blocks[0]), 1);
    ck_assert_uint_eq(atomic_load(&px_ag_table_stats(t)->unblocks[0]), 1);
    px_ag_table_unref(t);
}
END_TEST

/* The previous window counts for the part of it still inside the last window's length. */
START_TEST(window_slides)
{
    px_ag_table *t = px_ag_table_new(1024, 4, 7);
    px_ip c = ip4(1, 2);
    px_ag_verdict v;
    const px_ag_limit w = {100, 10 * MIN};
    uint64_t start = 500 * MIN; /* a window boundary */
    for (int i = 0; i < 4; i++)
        px_ag_fail(t, "carol", &c, &w, &w, start + 1000, &v);
    ck_assert_uint_eq(v.account_fails, 4);
    px_ag_check(t, "carol", &c, &w, &w, start + 10 * MIN + 5 * MIN, &v); /* half of the previous window inside */
    ck_assert_uint_eq(v.account_fails, 2);
    px_ag_check(t, "carol", &c, &w, &w, start + 10 * MIN + 15 * MIN / 2, &v); /* a quarter */
    ck_assert_uint_eq(v.account_fails, 1);
    px_ag_check(t, "carol", &c, &w, &w, start + 20 * MIN, &v); /* two windows on: forgotten */
    ck_assert_uint_eq(v.account_fails, 0);
    px_ag_table_unref(t);
}
END_TEST

/* A client over its threshold is blocked for every account; the account that was sprayed is not (yet). */
START_TEST(client_blocks_every_account)
{
    px_ag_table *t = px_ag_table_new(1024, 4, 7);
    px_ip c = ip4(2, 2);
    px_ag_verdict v;
    char name[16];
    for (int i = 0; i < 20; i++) {
        snprintf(name, sizeof name, "user%02d", i);
        px_ag_fail(t, name, &c, &acc5, &cli20, 1000, &v);
    }
    ck_assert_uint_eq(v.started, PX_AG_BY_CLIENT);
    ck_assert_uint_eq(v.client_fails, 20);
    px_ag_check(t, "anyone", &c, &acc5, &cli20, 2000, &v);
    ck_assert_uint_eq(v.blocked, PX_AG_BY_CLIENT);
    px_ip d = ip4(2, 3);
    px_ag_check(t, "user00", &d, &acc5, &cli20, 2000, &v);
    ck_assert_uint_eq(v.blocked, 0);
    ck_assert_int_eq(px_ag_clear(t, NULL, &c, 3000), 1);
    ck_assert_int_eq(px_ag_clear(t, NULL, &c, 3000), 0);
    ck_assert_int_eq(px_ag_clear(t, "nobody", NULL, 3000), -1);
    px_ag_check(t, "anyone", &c, &acc5, &cli20, 3000, &v);
    ck_assert_uint_eq(v.blocked, 0);
    px_ag_table_unref(t);
}
END_TEST

/* A success takes its pair's failures off the account and the client; other clients' failures stay. */
START_TEST(success_clears_pair)
{
    px_ag_table *t = px_ag_table_new(1024, 4, 7);
    px_ip c = ip4(3, 3), d = ip4(3, 4);
    px_ag_verdict v;
    for (int i = 0; i < 3; i++)
        px_ag_fail(t, "erin", &c, &acc5, &cli20, 1000, &v);
    px_ag_fail(t, "erin", &d, &acc5, &cli20, 1000, &v);
    ck_assert_uint_eq(v.account_fails, 4);
    px_ag_succeed(t, "erin", &c, &acc5, &cli20, 2000);
    px_ag_check(t, "erin", &c, &acc5, &cli20, 2000, &v);
    ck_assert_uint_eq(v.account_fails, 1);
    ck_assert_uint_eq(v.client_fails, 0);
    px_ag_succeed(t, "erin", &c, &acc5, &cli20, 2000); /* nothing left to clear */
    ck_assert_uint_eq(atomic_load(&px_ag_table_stats(t)->successes), 1);
    px_ag_table_unref(t);
}
END_TEST

/* A fixed size: many accounts evict the least recently used, blocked entries last; memory is what was reported. */
START_TEST(eviction_keeps_blocks)
{
    px_ag_table *t = px_ag_table_new(64, 1, 7);
    px_ip none = {0};
    const px_ag_limit one = {1, 15 * MIN}, many = {1000, 15 * MIN};
    px_ag_verdict v;
    char name[32];
    size_t bytes = px_ag_table_bytes(t);
    ck_assert_uint_eq(px_ag_table_capacity(t), 64);
    ck_assert_uint_lt(bytes, 64 * 160 + 4096);
    px_ag_fail(t, "victim", &none, &one, &many, 1000, &v);
    ck_assert_uint_eq(v.started, PX_AG_BY_ACCOUNT);
    for (int i = 0; i < 10000; i++) {
        snprintf(name, sizeof name, "spray%d", i);
        px_ag_fail(t, name, &none, &many, &many, 1000, &v);
    }
    ck_assert_uint_eq(px_ag_table_count(t), 64);
    px_ag_check(t, "victim", &none, &one, &many, 2000, &v);
    ck_assert_uint_eq(v.blocked, PX_AG_BY_ACCOUNT);
    ck_assert_uint_eq(atomic_load(&px_ag_table_stats(t)->evicted_blocked), 0);
    /* A table full of blocks gives the oldest up, and says so. */
    for (int i = 0; i < 200; i++) {
        snprintf(name, sizeof name, "blocked%d", i);
        px_ag_fail(t, name, &none, &one, &one, 3000, &v);
    }
    ck_assert_uint_eq(px_ag_table_count(t), 64);
    ck_assert_uint_gt(atomic_load(&px_ag_table_stats(t)->evicted_blocked), 0);
    ck_assert_uint_le(px_ag_list_blocked(t, 3000, NULL, NULL), 64);
    ck_assert_uint_eq(px_ag_table_bytes(t), bytes);
    px_ag_table_unref(t);
}
END_TEST

static void count_visit(void *arg, const char *account, const px_ip *ip, uint32_t fails, uint64_t left_ms)
{
    int *n = arg;
    ck_assert((account == NULL) != (ip == NULL));
    ck_assert_uint_ge(fails, 1);
    ck_assert_uint_gt(left_ms, 0);
    (*n)++;
}

START_TEST(list_blocked)
{
    px_ag_table *t = px_ag_table_new(256, 2, 7);
    const px_ag_limit one = {1, MIN};
    px_ip c = ip4(4, 4);
    px_ag_verdict v;
    px_ag_fail(t, "frank", &c, &one, &one, 10, &v);
    ck_assert_uint_eq(v.started, PX_AG_BY_ACCOUNT | PX_AG_BY_CLIENT);
    int n = 0;
    ck_assert_uint_eq(px_ag_list_blocked(t, 20, count_visit, &n), 2); /* the pair entry is not listed */
    ck_assert_int_eq(n, 2);
    ck_assert_uint_eq(px_ag_list_blocked(t, MIN + 10, count_visit, &n), 0);
    px_ag_table_unref(t);
}
END_TEST

static Suite *authguard_suite(void)
{
    Suite *s = suite_create("proxyd_authguard");
    TCase *tc = tcase_create("credentials");
    tcase_add_test(tc, b64_ranges);
    tcase_add_test(tc, basic_accounts);
    tcase_add_test(tc, ntlm_accounts);
    tcase_add_test(tc, ntlm_hostile);
    tcase_add_test(tc, ntlm_non_ascii);
    tcase_add_test(tc, guard_page);
    tcase_add_test(tc, ntlm_random_fields);
    tcase_add_test(tc, account_keys);
    suite_add_tcase(s, tc);
    tc = tcase_create("table");
    tcase_add_test(tc, account_blocks_then_window_ends);
    tcase_add_test(tc, window_slides);
    tcase_add_test(tc, client_blocks_every_account);
    tcase_add_test(tc, success_clears_pair);
    tcase_add_test(tc, eviction_keeps_blocks);
    tcase_add_test(tc, list_blocked);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(authguard_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
