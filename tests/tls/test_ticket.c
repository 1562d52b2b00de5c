/* tests/tls ticket key files: tickets issued by one server resume on another built from the same (or a rotated)
 * key file and not otherwise, expiry, rejected key files, and openssl s_client resuming across two servers. */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tls_test.h"

/* Writes a key file of nrec 80-byte records; record i is derived from seeds[i] (name and secret), and a
 * negative seed keeps the name of -seed but changes the secret (a colliding name from another fleet). The
 * path is copied into a buffer of the caller (tls_path() results are recycled). */
static const char *key_file(char path[320], const char *name, const int *seeds, size_t nrec)
{
    snprintf(path, 320, "%s", tls_path(name));
    unlink(path);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    ck_assert_int_ge(fd, 0);
    for (size_t i = 0; i < nrec; i++) {
        unsigned char rec[80];
        int seed = seeds[i] < 0 ? -seeds[i] : seeds[i];
        for (int j = 0; j < 80; j++)
            rec[j] = (unsigned char)(j < 16 ? seed : seed * 31 + j * 7 + (seeds[i] < 0 ? 101 : 0));
        ck_assert_int_eq(write(fd, rec, sizeof rec), (ssize_t)sizeof rec);
    }
    close(fd);
    return path;
}

static int ticket_settings(tlsio_server_settings **out, const char *keyfile, unsigned timeout, int no_tickets,
                           char *err, char *warn)
{
    struct tlsio_cert_spec certs[2] = {{tls_path("a.pem"), tls_path("a.key")}, {tls_path("b.pem"), tls_path("b.key")}};
    struct tlsio_server_opts o = {.certs = certs,
                                  .ncerts = 2,
                                  .no_session_cache = 1,
                                  .session_timeout = timeout,
                                  .no_session_tickets = no_tickets,
                                  .ticket_key_file = keyfile};
    err[0] = '\0';
    int rc = tlsio_server_settings_new(out, &o, err, 256, warn, 256);
    ck_assert(rc == TLSIO_OK ? *out != NULL : *out == NULL);
    return rc;
}

/* One server built from a key file: settings plus one worker config. */
struct machine {
    tlsio_server_settings *settings;
    tlsio_server_config *config;
};

static void machine_up(struct machine *m, const char *keyfile, unsigned timeout)
{
    char err[256], warn[256];
    int rc = ticket_settings(&m->settings, keyfile, timeout, 0, err, warn);
    ck_assert_msg(rc == TLSIO_OK, "%s: %s", tlsio_strerror(rc), err);
    ck_assert_str_eq(warn, "");
    ck_assert_int_eq(tlsio_server_config_new(&m->config, m->settings, err, sizeof err), TLSIO_OK);
}

static void machine_down(struct machine *m)
{
    tlsio_server_config_free(m->config);
    tlsio_server_settings_free(m->settings);
}

/* One handshake from the client config to the machine, offering in (may be NULL); saves the client's session
 * into *out when out is not NULL. Returns 1 when both sides report a resumed session, 0 for a full one. */
static int connect_once(tlsio_client_config *ccfg, struct machine *m, const tlsio_session *in, tlsio_session **out)
{
    int fds[2];
    tls_socketpair(fds);
    tlsio_conn *cli, *srv;
    ck_assert_int_eq(tlsio_conn_new_client(&cli, ccfg, "b.test"), TLSIO_OK);
    ck_assert_int_eq(tlsio_conn_new_server(&srv, m->config), TLSIO_OK);
    tlsio_conn_set_fd(cli, fds[0]);
    tlsio_conn_set_fd(srv, fds[1]);
    if (in != NULL)
        ck_assert_int_eq(tlsio_conn_set_session(cli, in), TLSIO_OK);
    int src, crc = tls_pump_handshake(cli, srv, &src);
    ck_assert_msg(crc == TLSIO_OK, "client: %s: %s", tlsio_strerror(crc), tlsio_conn_error_text(cli));
    ck_assert_msg(src == TLSIO_OK, "server: %s: %s", tlsio_strerror(src), tlsio_conn_error_text(srv));
    int resumed = tlsio_conn_resumed(cli);
    ck_assert_int_eq(tlsio_conn_resumed(srv), resumed);
    if (out != NULL)
        ck_assert_int_eq(tls_save_session(cli, srv, out), TLSIO_OK);
    tlsio_conn_free(cli);
    tlsio_conn_free(srv);
    close(fds[0]);
    close(fds[1]);
    return resumed;
}

static tlsio_client_config *client_cfg(void)
{
    struct tlsio_client_opts o = {.ca_path = tls_path("ca.pem")};
    tlsio_client_config *c = NULL;
    char err[256], warn[256];
    ck_assert_int_eq(tlsio_client_config_new(&c, &o, err, sizeof err, warn, sizeof warn), TLSIO_OK);
    return c;
}

/* Key sets by seed: the issuing server's file, then the resuming server's file. */
static const struct {
    int issuer[2], resumer[2];
    int resumed;
} cross_cases[] = {
    {{1, 0}, {1, 0}, 1},  /* the same file on both machines */
    {{1, 0}, {2, 0}, 0},  /* another fleet */
    {{1, 0}, {2, 1}, 1},  /* rotation: the resumer already prepended key 2, still opens key 1 */
    {{2, 1}, {1, 0}, 0},  /* ...and seals with key 2, which a machine not yet updated cannot open */
    {{1, 0}, {-1, 0}, 0}, /* same key name, other secret: authentication fails */
    {{3, 1}, {4, 3}, 1},  /* two rotations in a row: the resumer's second key is the issuer's first */
};

START_TEST(ticket_resumes_on_other_machine)
{
    int ni = cross_cases[_i].issuer[1] ? 2 : 1, nr = cross_cases[_i].resumer[1] ? 2 : 1;
    struct machine a, b;
    char pa[320], pb[320];
    machine_up(&a, key_file(pa, "issuer.key", cross_cases[_i].issuer, (size_t)ni), 0);
    machine_up(&b, key_file(pb, "resumer.key", cross_cases[_i].resumer, (size_t)nr), 0);
    tlsio_client_config *ccfg = client_cfg();
    tlsio_session *sess;
    ck_assert_int_eq(connect_once(ccfg, &a, NULL, &sess), 0);
    ck_assert_int_eq(connect_once(ccfg, &a, sess, NULL), 1); /* the issuer always takes its own ticket */
    ck_assert_int_eq(connect_once(ccfg, &b, sess, NULL), cross_cases[_i].resumed);
    tlsio_session_free(sess);
    tlsio_client_config_free(ccfg);
    machine_down(&a);
    machine_down(&b);
}
END_TEST

START_TEST(expired_ticket_is_refused)
{
    static const int seeds[1] = {5};
    char path[320];
    key_file(path, "short.key", seeds, 1);
    struct machine a, b;
    machine_up(&a, path, 1);
    machine_up(&b, path, 1);
    tlsio_client_config *ccfg = client_cfg();
    tlsio_session *sess;
    ck_assert_int_eq(connect_once(ccfg, &a, NULL, &sess), 0);
    ck_assert_int_eq(connect_once(ccfg, &b, sess, NULL), 1);
    sleep(3);
    ck_assert_int_eq(connect_once(ccfg, &b, sess, NULL), 0);
    ck_assert_int_eq(connect_once(ccfg, &a, sess, NULL), 0);
    tlsio_session_free(sess);
    tlsio_client_config_free(ccfg);
    machine_down(&a);
    machine_down(&b);
}
END_TEST

static void write_raw(const char *path, size_t len, mode_t mode)
{
    unlink(path);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    ck_assert_int_ge(fd, 0);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)(i * 13 + i / 80);
        ck_assert_int_eq(write(fd, &c, 1), 1);
    }
    close(fd);
    ck_assert_int_eq(chmod(path, mode), 0);
}

enum bad_kind { BAD_MISSING, BAD_SIZE, BAD_DIR, BAD_DUP };

static const struct {
    enum bad_kind kind;
    size_t len;
    mode_t mode;
    const char *err_has;
} bad_cases[] = {
    {BAD_MISSING, 0, 0600, ": cannot read ticket key file: No such file or directory"},
    {BAD_SIZE, 0, 0600, "is 0 bytes; it must be a multiple of 80 bytes (openssl rand 80)"},
    {BAD_SIZE, 48, 0600, "is 48 bytes; it must be a multiple of 80 bytes (openssl rand 80)"},
    {BAD_SIZE, 161, 0600, "is 161 bytes; it must be a multiple of 80 bytes (openssl rand 80)"},
    {BAD_SIZE, 65 * 80, 0600, "at most 64 keys"},
    {BAD_SIZE, 80, 0644, "is readable by other users; refusing it"},
    {BAD_SIZE, 80, 0604, "is readable by other users; refusing it"},
    {BAD_DIR, 0, 0700, "is not a regular file"},
    {BAD_DUP, 0, 0600, "ticket keys 1 and 3 have the same name"},
};

START_TEST(bad_key_file_rejected)
{
    char path[320], err[256], warn[256];
    snprintf(path, sizeof path, "%s", tls_path("bad-ticket.key"));
    rmdir(path);
    unlink(path);
    if (bad_cases[_i].kind == BAD_SIZE)
        write_raw(path, bad_cases[_i].len, bad_cases[_i].mode);
    if (bad_cases[_i].kind == BAD_DIR)
        ck_assert_int_eq(mkdir(path, bad_cases[_i].mode), 0);
    if (bad_cases[_i].kind == BAD_DUP) {
        static const int seeds[3] = {7, 8, -7};
        key_file(path, "bad-ticket.key", seeds, 3);
    }
    tlsio_server_settings *s = NULL;
    ck_assert_int_eq(ticket_settings(&s, path, 0, 0, err, warn), TLSIO_ECONFIG);
    ck_assert_msg(strncmp(err, path, strlen(path)) == 0, "error does not start with the file name: %s", err);
    ck_assert_msg(strstr(err, bad_cases[_i].err_has) != NULL, "%s", err);
    /* With tickets off the file is not read at all, only noted. */
    ck_assert_int_eq(ticket_settings(&s, path, 0, 1, err, warn), TLSIO_OK);
    ck_assert_msg(strstr(warn, "ticket key file ignored: session tickets are off") != NULL, "%s", warn);
    tlsio_server_settings_free(s);
    rmdir(path);
}
END_TEST

static char out[65536];

static int s_client(const struct tls_server *s, const char *version, const char *sess_flag)
{
    return tls_run(out, sizeof out,
                   "printf 'GET / HTTP/1.0\\r\\n\\r\\n' | timeout 20 openssl s_client -ign_eof %s -connect "
                   "127.0.0.1:%d -CAfile '%s' -servername a.test %s '%s' 2>&1",
                   version, s->port, tls_path("ca.pem"), sess_flag, tls_path("fleet.sess"));
}

/* openssl rand makes the files as an operator would; A issues, B (same or other file) is offered the ticket, in
 * TLS 1.2 (RFC 5077 ticket) and TLS 1.3 (NewSessionTicket after the handshake, PSK with (EC)DHE). */
START_TEST(openssl_resumes_across_fleet)
{
    int same = _i % 2 == 0;
    const char *flag = _i < 2 ? "-tls1_2" : "-tls1_3", *name = _i < 2 ? "TLSv1.2" : "TLSv1.3";
    ck_assert_int_eq(tls_run(out, sizeof out, "umask 077 && openssl rand 80 > '%s' && openssl rand 160 > '%s' 2>&1",
                             tls_path("fleet1.key"), tls_path("fleet2.key")),
                     0);
    char err[256], warn[256], fa[320], fb[320], want[64];
    snprintf(fa, sizeof fa, "%s", tls_path("fleet1.key"));
    snprintf(fb, sizeof fb, "%s", tls_path(same ? "fleet1.key" : "fleet2.key"));
    tlsio_server_settings *sa, *sb;
    ck_assert_int_eq(ticket_settings(&sa, fa, 0, 0, err, warn), TLSIO_OK);
    ck_assert_int_eq(ticket_settings(&sb, fb, 0, 0, err, warn), TLSIO_OK);
    struct tls_server a, b;
    tls_server_start(&a, sa);
    tls_server_start(&b, sb);
    ck_assert_int_eq(s_client(&a, flag, "-sess_out"), 0);
    snprintf(want, sizeof want, "New, %s", name);
    ck_assert_msg(strstr(out, want) != NULL, "%s", out);
    ck_assert_msg(strstr(out, "TLS session ticket lifetime hint: 300") != NULL, "%s", out);
    ck_assert_int_eq(s_client(&b, flag, "-sess_in"), 0);
    snprintf(want, sizeof want, "%s, %s", same ? "Reused" : "New", name);
    ck_assert_msg(strstr(out, want) != NULL, "%s", out);
    tls_server_stop(&a);
    tls_server_stop(&b);
    ck_assert_int_eq(a.handshakes, 1);
    ck_assert_int_eq(b.handshakes, 1);
    ck_assert_int_eq(b.resumed, same);
    tlsio_server_settings_free(sa);
    tlsio_server_settings_free(sb);
}
END_TEST

TCase *tls_tcase_ticket(void)
{
    TCase *tc = tcase_create("ticket");
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, ticket_resumes_on_other_machine, 0, (int)(sizeof cross_cases / sizeof cross_cases[0]));
    tcase_add_test(tc, expired_ticket_is_refused);
    tcase_add_loop_test(tc, bad_key_file_rejected, 0, (int)(sizeof bad_cases / sizeof bad_cases[0]));
    tcase_add_loop_test(tc, openssl_resumes_across_fleet, 0, 4);
    return tc;
}
