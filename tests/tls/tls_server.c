/* tests/tls test server: a poll() loop in its own thread on 127.0.0.1 that terminates TLS with libtlsio and
 * answers one request per connection with a fixed HTTP response, recording what each handshake negotiated. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tls_test.h"

#define MAXC 32
static const char response[] = "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: close\r\n\r\nok\n";

enum phase { PH_HANDSHAKE, PH_READ, PH_WRITE, PH_CLOSE };

struct sconn {
    int fd;
    tlsio_conn *tls;
    enum phase phase;
    char req[4096];
    size_t req_len, sent;
    short events;
};

static void record_handshake(struct tls_server *s, tlsio_conn *t)
{
    pthread_mutex_lock(&s->mu);
    s->handshakes++;
    s->resumed += tlsio_conn_resumed(t);
    const char *sni = tlsio_conn_server_name(t);
    const char *alpn = tlsio_conn_alpn(t);
    snprintf(s->last_sni, sizeof s->last_sni, "%s", sni ? sni : "");
    snprintf(s->last_alpn, sizeof s->last_alpn, "%s", alpn ? alpn : "");
    pthread_mutex_unlock(&s->mu);
}

static void record_failure(struct tls_server *s, tlsio_conn *t, int rc)
{
    pthread_mutex_lock(&s->mu);
    s->failures++;
    snprintf(s->last_err, sizeof s->last_err, "%s: %s", tlsio_strerror(rc), tlsio_conn_error_text(t));
    pthread_mutex_unlock(&s->mu);
}

/* Advances one connection as far as it can go; returns 0 to keep it, -1 to drop it. */
static int step(struct tls_server *s, struct sconn *c)
{
    for (;;) {
        ssize_t r;
        switch (c->phase) {
        case PH_HANDSHAKE:
            r = tlsio_handshake(c->tls);
            if (r == TLSIO_OK) {
                record_handshake(s, c->tls);
                c->phase = PH_READ;
            }
            break;
        case PH_READ:
            if (c->req_len + 1 >= sizeof c->req)
                return -1;
            r = tlsio_read(c->tls, c->req + c->req_len, sizeof c->req - 1 - c->req_len);
            if (r == 0)
                return -1;
            if (r > 0) {
                c->req_len += (size_t)r;
                c->req[c->req_len] = '\0';
                if (strstr(c->req, "\r\n\r\n") != NULL)
                    c->phase = PH_WRITE;
            }
            break;
        case PH_WRITE:
            r = tlsio_write(c->tls, response + c->sent, sizeof response - 1 - c->sent);
            if (r > 0 && (c->sent += (size_t)r) == sizeof response - 1)
                c->phase = PH_CLOSE;
            break;
        case PH_CLOSE:
            r = tlsio_close_notify(c->tls);
            if (r == TLSIO_OK)
                return -1;
            break;
        }
        if (r == TLSIO_WANT_READ || r == TLSIO_WANT_WRITE) {
            c->events = r == TLSIO_WANT_READ ? POLLIN : POLLOUT;
            return 0;
        }
        if (r < 0) {
            record_failure(s, c->tls, (int)r);
            return -1;
        }
    }
}

static void drop(struct sconn *c)
{
    tlsio_conn_free(c->tls);
    close(c->fd);
    c->fd = -1;
}

static void accept_one(struct tls_server *s, struct sconn *conns)
{
    int fd = accept4(s->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0)
        return;
    for (int i = 0; i < MAXC; i++) {
        if (conns[i].fd >= 0)
            continue;
        memset(&conns[i], 0, sizeof conns[i]);
        conns[i].fd = fd;
        if (tlsio_conn_new_server(&conns[i].tls, s->config) != TLSIO_OK) {
            conns[i].fd = -1;
            break;
        }
        tlsio_conn_set_fd(conns[i].tls, fd);
        if (step(s, &conns[i]) < 0)
            drop(&conns[i]);
        return;
    }
    close(fd);
}

static void *server_main(void *arg)
{
    struct tls_server *s = arg;
    struct sconn conns[MAXC];
    for (int i = 0; i < MAXC; i++)
        conns[i].fd = -1;
    for (;;) {
        struct pollfd p[MAXC + 2];
        int map[MAXC + 2], n = 2;
        p[0] = (struct pollfd){.fd = s->stop[0], .events = POLLIN};
        p[1] = (struct pollfd){.fd = s->lfd, .events = POLLIN};
        for (int i = 0; i < MAXC; i++)
            if (conns[i].fd >= 0) {
                map[n] = i;
                p[n++] = (struct pollfd){.fd = conns[i].fd, .events = conns[i].events};
            }
        if (poll(p, (nfds_t)n, 1000) < 0)
            continue;
        if (p[0].revents)
            break;
        if (p[1].revents)
            accept_one(s, conns);
        for (int k = 2; k < n; k++)
            if (p[k].revents && step(s, &conns[map[k]]) < 0)
                drop(&conns[map[k]]);
    }
    for (int i = 0; i < MAXC; i++)
        if (conns[i].fd >= 0)
            drop(&conns[i]);
    return NULL;
}

void tls_server_start(struct tls_server *s, tlsio_server_settings *settings)
{
    memset(s, 0, sizeof *s);
    s->settings = settings;
    char err[256];
    int rc = tlsio_server_config_new(&s->config, settings, err, sizeof err);
    ck_assert_msg(rc == TLSIO_OK, "config: %s", err);
    pthread_mutex_init(&s->mu, NULL);
    ck_assert_int_eq(pipe(s->stop), 0);
    s->lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    ck_assert_int_eq(bind(s->lfd, (struct sockaddr *)&a, sizeof a), 0);
    ck_assert_int_eq(listen(s->lfd, 64), 0);
    socklen_t alen = sizeof a;
    getsockname(s->lfd, (struct sockaddr *)&a, &alen);
    s->port = ntohs(a.sin_port);
    ck_assert_int_eq(pthread_create(&s->thread, NULL, server_main, s), 0);
}

void tls_server_stop(struct tls_server *s)
{
    ck_assert_int_eq(write(s->stop[1], "x", 1), 1);
    pthread_join(s->thread, NULL);
    close(s->lfd);
    close(s->stop[0]);
    close(s->stop[1]);
    tlsio_server_config_free(s->config);
    pthread_mutex_destroy(&s->mu);
}
