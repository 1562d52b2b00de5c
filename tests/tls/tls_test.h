/* tests/tls shared helpers: test certificates made with openssl at start-up, a threaded poll() HTTPS test
 * server on loopback, an in-process client/server pump over a socketpair, and external command capture. */
#ifndef TLS_TEST_H
#define TLS_TEST_H

#include <check.h>
#include <pthread.h>
#include <stddef.h>

#include "tlsio/tlsio.h"

extern char tls_dir[256]; /* temp dir holding ca.pem, a.pem/a.key (EC), b.pem/b.key (RSA), evil.pem/evil.key */

/* Path of a file in tls_dir (static buffer rotation: up to 8 live results). */
const char *tls_path(const char *name);
int tls_make_certs(void);
void tls_remove_certs(void);

/* Runs a shell command, captures stdout+stderr into out; returns the exit status (or -1). */
int tls_run(char *out, size_t outlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Settings with certificates a (EC: a.test, *.wild.test) then b (RSA: b.test). */
tlsio_server_settings *tls_settings(int no_cache, int no_tickets);

struct tls_server {
    tlsio_server_settings *settings;
    tlsio_server_config *config;
    int lfd, port, stop[2];
    pthread_t thread;
    pthread_mutex_t mu;
    int handshakes, resumed, failures; /* counts, under mu */
    char last_sni[256], last_alpn[32], last_err[256];
};

/* Starts the server thread on 127.0.0.1 (ephemeral port); it answers one GET per connection with "ok\n". */
void tls_server_start(struct tls_server *s, tlsio_server_settings *settings);
void tls_server_stop(struct tls_server *s);

/* A connected non-blocking AF_UNIX socketpair with small buffers (forces partial writes). */
void tls_socketpair(int fds[2]);

/* Drives both handshakes to completion in one thread; returns the client's final code (server's in *srv). */
int tls_pump_handshake(tlsio_conn *cli, tlsio_conn *srv, int *srv_rc);

/* After tls_pump_handshake(): saves the client's session, reading (and answering nothing) until a TLS 1.3
 * NewSessionTicket has arrived when the version needs it. Returns tlsio_conn_save_session()'s code. */
int tls_save_session(tlsio_conn *cli, tlsio_conn *srv, tlsio_session **out);

TCase *tls_tcase_config(void);
TCase *tls_tcase_conn(void);
TCase *tls_tcase_interop(void);
TCase *tls_tcase_ticket(void);

#endif
