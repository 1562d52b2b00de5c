/* tests/e2e/lync helpers: self-signed certificates made with openssl at test time, and a TLS client pipe through
 * `openssl s_client` so that the tests need no TLS library of their own. */
#ifndef LYNC_UTIL_H
#define LYNC_UTIL_H

#include <stddef.h>
#include <sys/types.h>

/* Writes DIR/NAME.crt and DIR/NAME.key: a P-256 self-signed certificate with CN and SAN name. ck_asserts. */
void lync_make_cert(const char *dir, const char *name);

/* A running `openssl s_client -quiet -connect 127.0.0.1:port -servername name`: write to `in`, read from `out`. */
typedef struct lync_tls {
    pid_t pid;
    int in, out;
} lync_tls;

/* Starts the client (ck_asserts). */
void lync_tls_open(lync_tls *t, int port, const char *name);

/* Closes the pipes and reaps the client. */
void lync_tls_close(lync_tls *t);

/* Reads exactly n bytes from fd within timeout_ms. Returns 0, or -1 on timeout, error or end of file. */
int lync_read_full(int fd, void *p, size_t n, int timeout_ms);

/* Reads an HTTP head (through the blank line) byte by byte into buf (NUL-terminated). Returns its length or -1. */
long lync_read_head(int fd, char *buf, size_t cap, int timeout_ms);

/* Writes all n bytes. Returns 0 or -1. */
int lync_write_full(int fd, const void *p, size_t n);

#endif
