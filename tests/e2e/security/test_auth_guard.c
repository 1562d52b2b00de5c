/* End-to-end tests of auth_guard (issue 17, item 3): real NTLM clients (curl --ntlm, python requests_ntlm) and Basic
 * (curl -u) spray wrong passwords through proxyd to the origin, which verifies NTLMv2 for its known users and counts
 * every login attempt that reaches it (/auth/attempts). Clients are told apart by loopback source addresses. */
#include "../../../bench/origin/codec.h"
#include "../ops/ops.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static px_env env;

#define GLOBAL2 "[global]\nworkers = 2\nerror_log = @LOG@\nlog_level = info\npid_file = @DIR@/proxyd.pid\n"
#define GUARDED(account, client, extra)                                                                                \
    GLOBAL2 "[upstream o]\nserver = 127.0.0.1:@O0@\nkeepalive = 4\nntlm = on\n"                                        \
            "[status]\nlisten = 127.0.0.1:@PORT2@\n"                                                                   \
            "[server s]\nlisten = 127.0.0.1:@PORT@\nproxy_pass = o\nauth_guard = on\n"                                 \
            "auth_guard_account = " account "\nauth_guard_client = " client "\nauth_guard_trusted = 127.0.0.3\n" extra

/* requests_ntlm (ntlm-auth) needs MD4, which OpenSSL 3 keeps in its legacy provider. */
static const char openssl_cnf[] = "openssl_conf = openssl_init\n[openssl_init]\nproviders = provider_sect\n"
                                  "[provider_sect]\ndefault = default_sect\nlegacy = legacy_sect\n"
                                  "[default_sect]\nactivate = 1\n[legacy_sect]\nactivate = 1\n";
/* One login per argument USER:PASSWORD, each on a new session; prints the final statuses. */
static const char spray_py[] = "import sys, requests\nfrom requests_ntlm import HttpNtlmAuth\n"
                               "codes = []\nfor a in sys.argv[2:]:\n    u, p = a.rsplit(':', 1)\n"
                               "    r = requests.Session().get(sys.argv[1], auth=HttpNtlmAuth(u, p), timeout=10)\n"
                               "    codes.append(str(r.status_code))\nprint(' '.join(codes))\n";

/* curl from src: the final status of one request (curl --ntlm does the handshake). */
static int curl_code(const char *src, const char *args, const char *url)
{
    char cmd[1024], out[256];
    snprintf(cmd, sizeof cmd, "curl -s --max-time 10 --interface %s %s -w 'CODE=%%{http_code}' -o /dev/null '%s'", src,
             args, url);
    px_run(cmd, out, sizeof out);
    const char *code = strstr(out, "CODE=");
    ck_assert_msg(code != NULL, "curl: %s", out);
    return atoi(code + 5);
}

static int ntlm_login(const char *src, const char *user, const char *password, int port)
{
    char args[256], url[128];
    snprintf(args, sizeof args, "--ntlm -u '%s:%s'", user, password);
    snprintf(url, sizeof url, "http://127.0.0.1:%d/ntlm", port);
    return curl_code(src, args, url);
}

/* Login attempts for user that reached the origin. */
static int origin_attempts(const char *user)
{
    char cmd[256], out[4096], key[64];
    snprintf(cmd, sizeof cmd, "curl -s --max-time 5 http://127.0.0.1:%d/auth/attempts", env.oport[0]);
    ck_assert_int_eq(px_run(cmd, out, sizeof out), 0);
    snprintf(key, sizeof key, "\n%s ", user);
    const char *p = strstr(out, key);
    return p ? atoi(p + strlen(key)) : 0;
}

/* A request to the status listener: its body into out. */
static int status_get(const char *method, const char *path, char *out, size_t cap)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "curl -s --max-time 5 -X %s -w '\\nCODE=%%{http_code}' 'http://127.0.0.1:%d%s'", method,
             env.port2, path);
    px_run(cmd, out, cap);
    const char *code = strstr(out, "CODE=");
    return code ? atoi(code + 5) : 0;
}

/* python requests_ntlm from 127.0.0.1: the statuses of each USER:PASSWORD, space-separated, into out. */
static void python_spray(const char *logins, char *out, size_t cap)
{
    char path[128], cnf[128], cmd[1024];
    snprintf(path, sizeof path, "%s/spray.py", env.dir);
    snprintf(cnf, sizeof cnf, "%s/openssl.cnf", env.dir);
    px_write_file(path, spray_py);
    px_write_file(cnf, openssl_cnf);
    snprintf(cmd, sizeof cmd, "OPENSSL_CONF=%s /usr/bin/python3 %s http://127.0.0.1:%d/ntlm %s 2>&1", cnf, path,
             env.port, logins);
    ck_assert_msg(px_run(cmd, out, cap) == 0, "python: %s", out);
    out[strcspn(out, "\n")] = 0;
}

/* ---------------------------------------------------------------- NTLM with curl */

/* Four accounts, six wrong passwords each from 127.0.0.2: the origin sees three per account, proxyd answers the
 * rest with 429; the trusted 127.0.0.3 still logs in as a blocked account; /auth-guard lists and clears; the block
 * and unblock are logged and counted. */
START_TEST(ntlm_spray_cut_off)
{
    static const char *const accounts[] = {"alice", "bob", "dave", "erin"};
    char out[65536]; /* /metrics is large: every server, upstream and histogram */
    px_env_init(&env, 1);
    px_proxy_start(&env, GUARDED("3/15m", "100/15m", ""));
    for (int round = 0; round < 6; round++)
        for (int a = 0; a < 4; a++) {
            char user[64];
            snprintf(user, sizeof user, "CONTOSO\\%s", accounts[a]);
            int code = ntlm_login("127.0.0.2", user, "wrong", env.port);
            ck_assert_msg(code == (round < 3 ? 401 : 429), "%s round %d: %d", accounts[a], round, code);
        }
    for (int a = 0; a < 4; a++)
        ck_assert_msg(origin_attempts(accounts[a]) == 3, "%s: %d attempts reached the origin", accounts[a],
                      origin_attempts(accounts[a]));
    /* Other spellings of a blocked account are the same account. */
    ck_assert_int_eq(ntlm_login("127.0.0.2", "Alice@contoso.com", "Wonderland1", env.port), 429);
    ck_assert_int_eq(ntlm_login("127.0.0.2", "alice", "Wonderland1", env.port), 429);
    ck_assert_int_eq(origin_attempts("alice"), 3);
    /* Inside: never blocked, never counted. */
    ck_assert_int_eq(ntlm_login("127.0.0.3", "CONTOSO\\alice", "Wonderland1", env.port), 200);
    ck_assert_int_eq(ntlm_login("127.0.0.3", "CONTOSO\\bob", "nope", env.port), 401);
    ck_assert(ops_file_has(env.log,
                           "auth_guard: account blocked for 900s after 3 failed logins (max 3): account "
                           "\"alice\"",
                           2000));
    ck_assert_int_eq(ops_file_count(env.log, "auth_guard: account blocked for"), 4); /* one line per block */
    ck_assert_msg(!ops_file_has(env.log, "wrong", 0), "a password reached the error log");
    ck_assert_int_eq(status_get("GET", "/auth-guard", out, sizeof out), 200);
    ck_assert_msg(strstr(out, "account alice failures=") && strstr(out, "account erin failures="), "%s", out);
    ck_assert_int_eq(status_get("POST", "/auth-guard/clear?account=CONTOSO%5CAlice", out, sizeof out), 200);
    ck_assert_msg(strstr(out, "unblocked"), "%s", out);
    ck_assert(ops_file_has(env.log, "auth_guard: account \"alice\" unblocked through", 2000));
    ck_assert_int_eq(ntlm_login("127.0.0.2", "CONTOSO\\alice", "Wonderland1", env.port), 200);
    ck_assert_int_eq(status_get("GET", "/auth-guard", out, sizeof out), 200);
    ck_assert_msg(!strstr(out, "account alice ") && strstr(out, "account bob "), "%s", out);
    ck_assert_int_eq(status_get("GET", "/metrics", out, sizeof out), 200);
    ck_assert_msg(strstr(out, "proxyd_auth_guard_blocks_total{kind=\"account\"} 4\n"), "%s", out);
    ck_assert_msg(strstr(out, "proxyd_auth_guard_failures_total 12\n"), "%s", out);
    ck_assert_msg(strstr(out, "proxyd_auth_guard_unblocks_total{kind=\"account\"} 1\n"), "%s", out);
    ck_assert_int_eq(px_proxy_stop(&env), 0);
    px_env_done(&env);
}
END_TEST

/* ---------------------------------------------------------------- NTLM with requests_ntlm */

/* auth_guard_client = 5: after five failures from one address, any account from it is refused (even a right
 * password); the origin saw five attempts in all. Another address is not affected. */
START_TEST(requests_ntlm_client_blocked)
{
    char out[1024];
    px_env_init(&env, 1);
    px_proxy_start(&env, GUARDED("100/15m", "5/15m", ""));
    python_spray("CONTOSO\\\\u1:x CONTOSO\\\\u2:x CONTOSO\\\\u3:x CONTOSO\\\\u4:x CONTOSO\\\\u5:x CONTOSO\\\\u6:x "
                 "CONTOSO\\\\carol:Singer3",
                 out, sizeof out);
    ck_assert_str_eq(out, "401 401 401 401 401 429 429");
    ck_assert_int_eq(origin_attempts("u6") + origin_attempts("carol"), 0);
    ck_assert(ops_file_has(env.log, "auth_guard: client blocked for 900s after 5 failed logins", 2000));
    ck_assert_int_eq(ntlm_login("127.0.0.2", "CONTOSO\\carol", "Singer3", env.port), 200);
    ck_assert_int_eq(px_proxy_stop(&env), 0);
    px_env_done(&env);
}
END_TEST

/* The spray: 20 accounts, wrong passwords, five rounds from one address through requests_ntlm, with
 * auth_guard_account = 3 and auth_guard_client = 50. Rounds 1 and 2 reach the directory (40 failures); in round 3
 * the first ten accounts reach their third failure, which is also the address's 50th: from then on everything from
 * that address is refused. The origin saw 3 attempts for accounts 1-10, 2 for 11-20: 50 in all. */
START_TEST(twenty_accounts_one_address)
{
    char out[1024], logins[512], want[128];
    px_env_init(&env, 1);
    px_proxy_start(&env, GUARDED("3/15m", "50/15m", ""));
    for (int round = 0; round < 5; round++) {
        size_t n = 0;
        for (int a = 1; a <= 20; a++)
            n += (size_t)snprintf(logins + n, sizeof logins - n, "%sCONTOSO\\\\s%02d:x", a > 1 ? " " : "", a);
        python_spray(logins, out, sizeof out);
        n = 0;
        for (int a = 1; a <= 20; a++) {
            int through = round < 2 || (round == 2 && a <= 10);
            n += (size_t)snprintf(want + n, sizeof want - n, "%s%s", a > 1 ? " " : "", through ? "401" : "429");
        }
        ck_assert_msg(strcmp(out, want) == 0, "round %d: %s, expected %s", round + 1, out, want);
    }
    int total = 0;
    for (int a = 1; a <= 20; a++) {
        char user[16];
        snprintf(user, sizeof user, "s%02d", a);
        int got = origin_attempts(user);
        ck_assert_msg(got == (a <= 10 ? 3 : 2), "%s: %d attempts reached the origin", user, got);
        total += got;
    }
    ck_assert_int_eq(total, 50);
    ck_assert(ops_file_has(env.log, "auth_guard: client blocked for 900s after 50 failed logins", 2000));
    ck_assert_int_eq(px_proxy_stop(&env), 0);
    px_env_done(&env);
}
END_TEST

/* A user who mistypes twice, then logs in, then mistypes twice again is never blocked (auth_guard_account = 3):
 * the success cleared the pair's failures. */
START_TEST(requests_ntlm_success_clears)
{
    char out[1024];
    px_env_init(&env, 1);
    px_proxy_start(&env, GUARDED("3/15m", "100/15m", ""));
    python_spray("CONTOSO\\\\bob:b1 CONTOSO\\\\bob:b2 CONTOSO\\\\bob:Builder2 CONTOSO\\\\bob:b3 CONTOSO\\\\bob:b4 "
                 "CONTOSO\\\\bob:Builder2",
                 out, sizeof out);
    ck_assert_str_eq(out, "401 401 200 401 401 200");
    ck_assert_int_eq(origin_attempts("bob"), 6);
    ck_assert_int_eq(ops_file_count(env.log, "auth_guard: account blocked"), 0);
    /* Without a success between them, the third failure blocks. */
    python_spray("CONTOSO\\\\bob:b5 CONTOSO\\\\bob:b6 CONTOSO\\\\bob:b7 CONTOSO\\\\bob:Builder2", out, sizeof out);
    ck_assert_str_eq(out, "401 401 401 429");
    ck_assert_int_eq(px_proxy_stop(&env), 0);
    px_env_done(&env);
}
END_TEST

/* ---------------------------------------------------------------- Basic */

/* Basic with auth_guard_answer = 401: after three failures for bob, proxyd answers 401 itself (no challenge); the
 * origin sees three attempts; the right password from outside is refused too; a trusted client gets through. */
START_TEST(basic_spray_answer_401)
{
    char url[128];
    px_env_init(&env, 1);
    px_proxy_start(&env, GUARDED("3/15m", "100/15m", "auth_guard_answer = 401\n"));
    snprintf(url, sizeof url, "http://127.0.0.1:%d/basic", env.port);
    for (int i = 0; i < 5; i++)
        ck_assert_int_eq(curl_code("127.0.0.2", "-u 'CONTOSO\\bob:bad'", url), 401);
    ck_assert_int_eq(origin_attempts("bob"), 3);
    ck_assert_int_eq(curl_code("127.0.0.2", "-u 'bob:Builder2'", url), 401);
    ck_assert_int_eq(origin_attempts("bob"), 3);
    ck_assert_int_eq(curl_code("127.0.0.3", "-u 'bob:Builder2'", url), 200);
    ck_assert_int_eq(curl_code("127.0.0.2", "-u 'carol:Singer3'", url), 200);
    ck_assert_msg(!ops_file_has(env.log, "bad", 0) && !ops_file_has(env.log, "Builder2", 0), "password logged");
    ck_assert_int_eq(px_proxy_stop(&env), 0);
    px_env_done(&env);
}
END_TEST

/* ---------------------------------------------------------------- NTLM pinning */

static void put16(unsigned char *p, size_t v)
{
    p[0] = (unsigned char)v, p[1] = (unsigned char)(v >> 8);
}

static void put32(unsigned char *p, size_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

/* "Authorization: NTLM <type 3 for user>" (unicode, an NT response that proves nothing). */
static void type3_field(const char *user, char *out, size_t cap)
{
    unsigned char m[256] = {0};
    size_t ul = strlen(user) * 2, nt_off = 64, user_off = 64 + 24;
    memcpy(m, "NTLMSSP\0\3\0\0\0", 12);
    put16(m + 20, 24), put16(m + 22, 24), put32(m + 24, nt_off);
    put16(m + 36, ul), put16(m + 38, ul), put32(m + 40, user_off);
    put32(m + 60, 0xE2888215u);
    for (size_t i = 0; user[i]; i++)
        m[user_off + 2 * i] = (unsigned char)user[i];
    int k = snprintf(out, cap, "Authorization: NTLM ");
    ck_assert_int_gt(codec_b64_encode(m, user_off + ul, out + k, cap - (size_t)k), 0);
}

/* On one client connection: a type 1 is answered with the origin's challenge (the connection is pinned to its
 * upstream connection), then a type 3 for a blocked account is answered 429 by proxyd, which closes the client
 * connection and the pinned one; the origin never sees the attempt. */
START_TEST(pinned_connection_closed_on_block)
{
    char req[1024], auth[512];
    ts_response r;
    px_env_init(&env, 1);
    px_proxy_start(&env, GUARDED("2/15m", "100/15m", ""));
    for (int i = 0; i < 2; i++)
        ck_assert_int_eq(ntlm_login("127.0.0.1", "CONTOSO\\dave", "x", env.port), 401);
    ck_assert_int_eq(origin_attempts("dave"), 2);
    int fd = ts_connect(env.port);
    ck_assert_int_ge(fd, 0);
    snprintf(req, sizeof req,
             "GET /ntlm HTTP/1.1\r\nHost: h\r\nAuthorization: NTLM "
             "TlRMTVNTUAABAAAAB4IIogAAAAAAAAAAAAAAAAAAAAAGAbEdAAAADw==\r\n\r\n");
    ck_assert_int_eq(ts_send(fd, req, strlen(req)), 0);
    ck_assert_int_eq(ts_read_response(fd, &r, 0), 0);
    ck_assert_int_eq(r.status, 401);
    ck_assert_msg(ts_header(&r, "WWW-Authenticate") && !strncmp(ts_header(&r, "WWW-Authenticate"), "NTLM ", 5),
                  "no challenge: %s", r.head);
    ts_response_free(&r);
    type3_field("dave", auth, sizeof auth);
    snprintf(req, sizeof req, "GET /ntlm HTTP/1.1\r\nHost: h\r\n%s\r\n\r\n", auth);
    ck_assert_int_eq(ts_send(fd, req, strlen(req)), 0);
    ck_assert_int_eq(ts_read_response(fd, &r, 0), 0);
    ck_assert_int_eq(r.status, 429);
    ck_assert_msg(ts_header(&r, "Retry-After") != NULL, "%s", r.head);
    ck_assert_msg(r.closed, "the client connection stayed open: %s", r.head);
    ts_response_free(&r);
    close(fd);
    ck_assert_int_eq(origin_attempts("dave"), 2);
    ck_assert_int_eq(px_proxy_stop(&env), 0);
    px_env_done(&env);
}
END_TEST

static Suite *auth_guard_suite(void)
{
    Suite *s = suite_create("security_auth_guard");
    TCase *tc = tcase_create("auth_guard");
    tcase_set_timeout(tc, 90);
    tcase_add_test(tc, ntlm_spray_cut_off);
    tcase_add_test(tc, requests_ntlm_client_blocked);
    tcase_add_test(tc, twenty_accounts_one_address);
    tcase_add_test(tc, requests_ntlm_success_clears);
    tcase_add_test(tc, basic_spray_answer_401);
    tcase_add_test(tc, pinned_connection_closed_on_block);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(auth_guard_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
