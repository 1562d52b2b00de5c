/* tests/tls helpers: certificate generation with the openssl command, command capture, the threaded
 * poll() HTTPS test server and the single-thread handshake pump used by the in-process tests. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tls_test.h"

char tls_dir[256];

const char *tls_path(const char *name)
{
    static char bufs[8][320];
    static int next;
    char *b = bufs[next++ % 8];
    snprintf(b, sizeof bufs[0], "%s/%s", tls_dir, name);
    return b;
}

int tls_run(char *out, size_t outlen, const char *fmt, ...)
{
    char cmd[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    FILE *p = popen(cmd, "r");
    if (p == NULL)
        return -1;
    size_t used = 0;
    size_t n;
    char tmp[4096];
    while ((n = fread(tmp, 1, sizeof tmp, p)) > 0) {
        size_t room = outlen > used + 1 ? outlen - used - 1 : 0;
        size_t take = n < room ? n : room;
        memcpy(out + used, tmp, take);
        used += take;
    }
    if (outlen > 0)
        out[used] = '\0';
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static const char *const cert_script =
    "exec 2>&1; set -e; cd '%s'; Q='-days 2 -nodes';"
    "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 $Q -keyout ca.key -out ca.pem"
    " -subj /CN=tlsio-test-ca -addext basicConstraints=critical,CA:TRUE -addext keyUsage=keyCertSign;"
    "openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout a.key -out a.csr -subj /CN=a.test;"
    "printf 'subjectAltName=DNS:a.test,DNS:*.wild.test\\n' > a.ext;"
    "openssl x509 -req -in a.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 -extfile a.ext -out a.pem;"
    "openssl req -newkey rsa:2048 -nodes -keyout b.key -out b.csr -subj /CN=b.test;"
    "printf 'subjectAltName=DNS:b.test\\n' > b.ext;"
    "openssl x509 -req -in b.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 -extfile b.ext -out b.pem;"
    "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 $Q -keyout evil.key -out evil.pem"
    " -subj /CN=a.test -addext subjectAltName=DNS:a.test;"
    "printf -- '-----BEGIN CERTIFICATE-----\\nnot base64 at all\\n-----END CERTIFICATE-----\\n' > garbage.pem";

int tls_make_certs(void)
{
    snprintf(tls_dir, sizeof tls_dir, "/tmp/tlsio-test-XXXXXX");
    if (mkdtemp(tls_dir) == NULL)
        return -1;
    static char out[16384];
    int st = tls_run(out, sizeof out, cert_script, tls_dir);
    if (st != 0)
        fprintf(stderr, "certificate generation failed (%d):\n%s\n", st, out);
    return st;
}

void tls_remove_certs(void)
{
    char out[256];
    if (tls_dir[0] != '\0')
        tls_run(out, sizeof out, "rm -rf '%s'", tls_dir);
}

tlsio_server_settings *tls_settings(int no_cache, int no_tickets)
{
    struct tlsio_cert_spec certs[2] = {{tls_path("a.pem"), tls_path("a.key")}, {tls_path("b.pem"), tls_path("b.key")}};
    struct tlsio_server_opts o = {
        .certs = certs, .ncerts = 2, .no_session_cache = no_cache, .no_session_tickets = no_tickets};
    tlsio_server_settings *s = NULL;
    char err[256] = "", warn[256] = "";
    int rc = tlsio_server_settings_new(&s, &o, err, sizeof err, warn, sizeof warn);
    ck_assert_msg(rc == TLSIO_OK, "settings: %s (%s)", tlsio_strerror(rc), err);
    ck_assert_str_eq(warn, "");
    return s;
}

void tls_socketpair(int fds[2])
{
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds), 0);
    int small = 4096;
    for (int i = 0; i < 2; i++) {
        setsockopt(fds[i], SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
        setsockopt(fds[i], SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    }
}

int tls_save_session(tlsio_conn *cli, tlsio_conn *srv, tlsio_session **out)
{
    char buf[64];
    for (int i = 0; i < 1000 && !tlsio_conn_session_pending(cli); i++) {
        ssize_t n = tlsio_read(cli, buf, sizeof buf); /* the ticket is consumed; no application data comes */
        if (n != TLSIO_WANT_READ)
            break;
        (void)tlsio_read(srv, buf, sizeof buf); /* lets the server flush anything it still holds */
    }
    return tlsio_conn_save_session(cli, out);
}

int tls_pump_handshake(tlsio_conn *cli, tlsio_conn *srv, int *srv_rc)
{
    int c = TLSIO_WANT_WRITE, s = TLSIO_WANT_READ;
    for (int i = 0;
         i < 20000 && (c == TLSIO_WANT_READ || c == TLSIO_WANT_WRITE || s == TLSIO_WANT_READ || s == TLSIO_WANT_WRITE);
         i++) {
        if (c == TLSIO_WANT_READ || c == TLSIO_WANT_WRITE)
            c = tlsio_handshake(cli);
        if (s == TLSIO_WANT_READ || s == TLSIO_WANT_WRITE)
            s = tlsio_handshake(srv);
        /* One side failed: the other sees the alert or EOF on its next step; stop when both settled. */
    }
    *srv_rc = s;
    return c;
}
