/* tests/tls idle memory probe: heap bytes per handshaken, idle server connection, before and after
 * tlsio_conn_idle(), measured with mallinfo2() over N connections on socketpairs, TLS 1.2 or 1.3 (the client's
 * protocols). Prints, asserts nothing; build it without sanitizers for meaningful figures. */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "tlsio/tlsio.h"

static size_t heap(void)
{
    struct mallinfo2 m = mallinfo2();
    return m.uordblks + m.hblkhd;
}

static int pump(tlsio_conn *c, tlsio_conn *s)
{
    int rc = TLSIO_WANT_WRITE, rs = TLSIO_WANT_READ;
    for (int i = 0; i < 10000 && (rc < 0 || rs < 0); i++) {
        if (rc == TLSIO_WANT_READ || rc == TLSIO_WANT_WRITE)
            rc = tlsio_handshake(c);
        if (rs == TLSIO_WANT_READ || rs == TLSIO_WANT_WRITE)
            rs = tlsio_handshake(s);
        if ((rc < 0 && rc != TLSIO_WANT_READ && rc != TLSIO_WANT_WRITE) ||
            (rs < 0 && rs != TLSIO_WANT_READ && rs != TLSIO_WANT_WRITE))
            return -1;
    }
    return rc == 0 && rs == 0 ? 0 : -1;
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: %s cert.pem key.pem ca.pem [N [TLSv1.2|TLSv1.3]]\n", argv[0]);
        return 2;
    }
    int n = argc > 4 ? atoi(argv[4]) : 200;
    char err[256];
    struct tlsio_cert_spec spec = {argv[1], argv[2]};
    struct tlsio_server_opts so = {.certs = &spec, .ncerts = 1, .session_cache_bytes = 256 * 1024};
    struct tlsio_client_opts co = {.ca_path = argv[3], .protocols = argc > 5 ? argv[5] : NULL};
    tlsio_server_settings *set;
    tlsio_server_config *scfg;
    tlsio_client_config *ccfg;
    if (tlsio_server_settings_new(&set, &so, err, sizeof err, NULL, 0) != 0 ||
        tlsio_server_config_new(&scfg, set, err, sizeof err) != 0 ||
        tlsio_client_config_new(&ccfg, &co, err, sizeof err, NULL, 0) != 0) {
        fprintf(stderr, "config: %s\n", err);
        return 1;
    }
    tlsio_conn **srv = calloc((size_t)n, sizeof *srv), **cli = calloc((size_t)n, sizeof *cli);
    int(*fds)[2] = calloc((size_t)n, sizeof *fds);
    size_t before = heap();
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int i = 0; i < n; i++) {
        socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, fds[i]);
        tlsio_conn_new_server(&srv[i], scfg);
        tlsio_conn_set_fd(srv[i], fds[i][1]);
        tlsio_conn_new_client(&cli[i], ccfg, "a.test");
        tlsio_conn_set_fd(cli[i], fds[i][0]);
        if (pump(cli[i], srv[i]) != 0) {
            fprintf(stderr, "handshake %d failed: %s\n", i, tlsio_conn_error_text(cli[i]));
            return 1;
        }
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    /* Measure the server side alone: free the clients first. */
    for (int i = 0; i < n; i++)
        tlsio_conn_free(cli[i]);
    size_t after_hs = heap();
    int idled = 0;
    for (int i = 0; i < n; i++)
        idled += tlsio_conn_idle(srv[i]) == 0;
    size_t after_idle = heap();
    printf("connections: %d (idle accepted %d), %s\n", n, idled, n > 0 ? tlsio_conn_version(srv[0]) : "");
    printf("handshakes/s (client+server in one thread, ECDSA P-256): %.0f\n", n / secs);
    printf("bytes per server connection after handshake: %zd\n", (ssize_t)(after_hs - before) / n);
    printf("bytes per server connection after tlsio_conn_idle: %zd\n", (ssize_t)(after_idle - before) / n);
    for (int i = 0; i < n; i++) {
        tlsio_conn_free(srv[i]);
        close(fds[i][0]);
        close(fds[i][1]);
    }
    free(srv);
    free(cli);
    free(fds);
    tlsio_client_config_free(ccfg);
    tlsio_server_config_free(scfg);
    tlsio_server_settings_free(set);
    return 0;
}
