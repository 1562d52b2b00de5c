/* tests/e2e/security recording origin: accept thread, one blocking thread per connection, libhttp parsing of what
 * arrives (Content-Length and chunked bodies decoded), and the normal or hostile answer chosen by path. */
#include "recorder.h"

#include "http/http.h"

#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

typedef struct rec_worker {
    recorder *r;
    int idx;
    pthread_t thread;
} rec_worker;

static rec_worker workers[REC_MAX_CONNS]; /* one recorder per test process */

/* Parsing state of one connection. */
typedef struct rec_parse {
    size_t off;  /* parsed bytes of raw */
    int in_body; /* 0: waiting for a head */
    http_body kind;
    uint64_t left; /* Content-Length bytes still to come */
    http_chunked chunked;
    rec_req *req;
} rec_parse;

static void send_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t k = send(fd, p, n, MSG_NOSIGNAL);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return;
        p += k;
        n -= (size_t)k;
    }
}

static void copy_slice(char *dst, size_t cap, http_slice s)
{
    size_t n = s.len < cap - 1 ? s.len : cap - 1;
    memcpy(dst, s.base, n);
    dst[n] = 0;
}

static void body_append(rec_req *q, const char *p, size_t n)
{
    size_t room = q->body_len < sizeof q->body ? sizeof q->body - q->body_len : 0;
    memcpy(q->body + q->body_len, p, n < room ? n : room);
    q->body_len += n;
}

/* Answers a complete request; returns 0 to keep the connection, -1 to close it (after a reset when asked). */
static int answer(int fd, const char *path)
{
    static const char clte[] = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"
                               "0\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nsmuggled!";
    static const char twocl[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 31\r\n\r\n"
                                "okHTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nsmuggled!";
    static const char trailing[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n"
                                   "okHTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nsmuggled!";
    static const char garbage[] = "SSH-2.0-OpenSSH_9.2 this is not HTTP\r\n\r\n";
    static const char nocontent[] = "HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n";
    if (strcmp(path, "/early") == 0)
        return 0;                        /* answered when its head arrived (process) */
    if (strncmp(path, "/rst", 4) == 0) { /* read the request, then reset without a byte of answer */
        struct linger lg = {1, 0};
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
        return -1;
    }
    if (strcmp(path, "/manychunks") == 0) {
        char out[1024];
        size_t n = (size_t)snprintf(out, sizeof out, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
        for (int i = 0; i < 120; i++) /* more one-byte chunks than one write batch of proxyd holds */
            n += (size_t)snprintf(out + n, sizeof out - n, "1\r\n%c\r\n", 'a' + i % 26);
        n += (size_t)snprintf(out + n, sizeof out - n, "0\r\n\r\n");
        send_all(fd, out, n);
    } else if (strcmp(path, "/manyfields") == 0) {
        char out[4096];
        size_t n = (size_t)snprintf(out, sizeof out, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n");
        for (int i = 0; i < 120; i++)
            n += (size_t)snprintf(out + n, sizeof out - n, "X-F-%d: %d\r\n", i, i);
        n += (size_t)snprintf(out + n, sizeof out - n, "\r\nok");
        send_all(fd, out, n);
    } else if (strcmp(path, "/204cl") == 0)
        send_all(fd, nocontent, sizeof nocontent - 1);
    else if (strcmp(path, "/h/clte") == 0)
        send_all(fd, clte, sizeof clte - 1);
    else if (strcmp(path, "/h/twocl") == 0)
        send_all(fd, twocl, sizeof twocl - 1);
    else if (strcmp(path, "/h/trailing") == 0)
        send_all(fd, trailing, sizeof trailing - 1);
    else if (strcmp(path, "/garbage") == 0) {
        send_all(fd, garbage, sizeof garbage - 1);
        return -1;
    } else if (strcmp(path, "/reset") == 0) {
        static char part[1000];
        static const char head[] = "HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n";
        struct linger lg = {1, 0};
        memset(part, 'r', sizeof part);
        send_all(fd, head, sizeof head - 1);
        send_all(fd, part, sizeof part);
        struct timespec ts = {0, 50 * 1000 * 1000};
        nanosleep(&ts, NULL); /* let proxyd forward the partial body before the reset */
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
        return -1;
    } else {
        char out[512];
        int body = snprintf(out, sizeof out, "ok:%s", path);
        int n = snprintf(out, sizeof out, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\nok:%s", body, path);
        send_all(fd, out, (size_t)n < sizeof out ? (size_t)n : sizeof out - 1);
    }
    return 0;
}

/* Parses a head at p->off. Returns 1 when one was consumed, 0 when incomplete, -1 on error or /noread. */
static int parse_head(recorder *r, rec_conn *c, int idx, rec_parse *p)
{
    http_field fields[64];
    http_request req = {.fields = fields, .fields_cap = 64};
    long n = http_parse_request(c->raw + p->off, (c->bytes < REC_CONN_CAP ? c->bytes : REC_CONN_CAP) - p->off, 0, &req,
                                NULL);
    if (n == HTTP_INCOMPLETE)
        return 0;
    if (n < 0 || r->nreqs >= REC_MAX_REQS) {
        c->error = n < 0 ? (int)n : -1000;
        return -1;
    }
    rec_req *q = &r->reqs[r->nreqs++];
    memset(q, 0, sizeof *q);
    q->conn = idx;
    copy_slice(q->path, sizeof q->path, req.target);
    copy_slice(q->host, sizeof q->host, req.host);
    c->heads++;
    p->off += (size_t)n;
    p->in_body = 1;
    p->kind = req.body;
    p->left = req.body == HTTP_BODY_LENGTH ? req.content_length : 0;
    memset(&p->chunked, 0, sizeof p->chunked);
    p->req = q;
    return strcmp(q->path, "/noread") == 0 ? -1 : 1;
}

/* Consumes body bytes at p->off. Returns 1 when the body is complete, 0 when more is needed, -1 on error. */
static int parse_body(rec_conn *c, rec_parse *p)
{
    size_t avail = (c->bytes < REC_CONN_CAP ? c->bytes : REC_CONN_CAP) - p->off;
    if (p->kind == HTTP_BODY_LENGTH) {
        size_t take = p->left < avail ? (size_t)p->left : avail;
        body_append(p->req, c->raw + p->off, take);
        p->off += take;
        p->left -= take;
        return p->left == 0;
    }
    if (p->kind != HTTP_BODY_CHUNKED)
        return 1;
    while (!p->chunked.done) {
        http_slice data;
        long n = http_chunked_decode(&p->chunked, c->raw + p->off, avail, &data);
        if (n < 0) {
            c->error = (int)n;
            return -1;
        }
        if (n == 0)
            return 0;
        body_append(p->req, data.base, data.len);
        p->off += (size_t)n;
        avail -= (size_t)n;
    }
    return 1;
}

/* Parses and answers everything complete in the buffer. Returns -1 when the connection must end. */
static int process(recorder *r, rec_conn *c, int idx, rec_parse *p)
{
    for (;;) {
        char path[256];
        pthread_mutex_lock(&r->mu);
        int fresh = !p->in_body;
        int rc = p->in_body ? 1 : parse_head(r, c, idx, p);
        if (fresh && rc == 1 && strcmp(p->req->path, "/early") == 0) {
            /* answers before reading the body, as an origin refusing an upload does */
            static const char denied[] = "HTTP/1.1 401 Unauthorized\r\nContent-Length: 6\r\n\r\ndenied";
            send_all(c->fd, denied, sizeof denied - 1);
        }
        if (rc == 1)
            rc = parse_body(c, p);
        if (rc == 1) {
            p->req->complete = 1;
            c->complete++;
            p->in_body = 0;
            snprintf(path, sizeof path, "%s", p->req->path);
        }
        pthread_mutex_unlock(&r->mu);
        if (rc <= 0)
            return rc;
        if (answer(c->fd, path) < 0)
            return -1;
    }
}

/* A /noread connection: waits, without reading, until the peer goes away or the recorder stops. */
static void hold_unread(recorder *r, int fd)
{
    while (!__atomic_load_n(&r->stopping, __ATOMIC_ACQUIRE)) {
        struct pollfd pfd = {.fd = fd, .events = POLLRDHUP};
        if (poll(&pfd, 1, 100) > 0 && (pfd.revents & (POLLRDHUP | POLLHUP | POLLERR)))
            return;
    }
}

static void *conn_main(void *arg)
{
    rec_worker *wk = arg;
    recorder *r = wk->r;
    rec_conn *c = &r->conns[wk->idx];
    rec_parse p = {0};
    char tmp[16384];
    for (;;) {
        ssize_t n = recv(c->fd, tmp, sizeof tmp, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        pthread_mutex_lock(&r->mu);
        size_t room = c->bytes < REC_CONN_CAP ? REC_CONN_CAP - c->bytes : 0;
        memcpy(c->raw + c->bytes, tmp, (size_t)n < room ? (size_t)n : room);
        c->bytes += (size_t)n;
        pthread_mutex_unlock(&r->mu);
        if (process(r, c, wk->idx, &p) < 0) {
            if (!c->error && p.req && strcmp(p.req->path, "/noread") == 0)
                hold_unread(r, c->fd);
            break;
        }
    }
    pthread_mutex_lock(&r->mu);
    c->eof = 1;
    pthread_mutex_unlock(&r->mu);
    shutdown(c->fd, SHUT_RDWR);
    return NULL;
}

static void *accept_main(void *arg)
{
    recorder *r = arg;
    for (;;) {
        int fd = accept(r->lfd, NULL, NULL);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            return NULL; /* the listener was shut down */
        }
        pthread_mutex_lock(&r->mu);
        int idx = r->stopping || r->nconns >= REC_MAX_CONNS ? -1 : r->nconns++;
        pthread_mutex_unlock(&r->mu);
        if (idx < 0) {
            close(fd);
            continue;
        }
        r->conns[idx].fd = fd;
        r->conns[idx].raw = malloc(REC_CONN_CAP);
        ck_assert_ptr_nonnull(r->conns[idx].raw);
        workers[idx] = (rec_worker){.r = r, .idx = idx};
        ck_assert_int_eq(pthread_create(&workers[idx].thread, NULL, conn_main, &workers[idx]), 0);
    }
}

void rec_start(recorder *r)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    memset(r, 0, sizeof *r);
    pthread_mutex_init(&r->mu, NULL);
    r->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ck_assert_int_ge(r->lfd, 0);
    ck_assert_int_eq(bind(r->lfd, (struct sockaddr *)&a, sizeof a), 0);
    ck_assert_int_eq(listen(r->lfd, 128), 0);
    ck_assert_int_eq(getsockname(r->lfd, (struct sockaddr *)&a, &len), 0);
    r->port = ntohs(a.sin_port);
    ck_assert_int_eq(pthread_create(&r->acceptor, NULL, accept_main, r), 0);
}

void rec_stop(recorder *r)
{
    pthread_mutex_lock(&r->mu);
    __atomic_store_n(&r->stopping, 1, __ATOMIC_RELEASE);
    int n = r->nconns;
    pthread_mutex_unlock(&r->mu);
    shutdown(r->lfd, SHUT_RDWR);
    pthread_join(r->acceptor, NULL);
    close(r->lfd);
    pthread_mutex_lock(&r->mu);
    n = r->nconns;
    pthread_mutex_unlock(&r->mu);
    for (int i = 0; i < n; i++) {
        shutdown(r->conns[i].fd, SHUT_RDWR);
        pthread_join(workers[i].thread, NULL);
        close(r->conns[i].fd);
        free(r->conns[i].raw);
    }
    pthread_mutex_destroy(&r->mu);
}

int rec_wait_all_closed(recorder *r, int ms)
{
    for (int waited = 0;; waited += 10) {
        int open = 0;
        pthread_mutex_lock(&r->mu);
        for (int i = 0; i < r->nconns; i++)
            open += !r->conns[i].eof;
        pthread_mutex_unlock(&r->mu);
        if (!open)
            return 1;
        if (waited >= ms)
            return 0;
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
}

int rec_nconns(recorder *r)
{
    pthread_mutex_lock(&r->mu);
    int n = r->nconns;
    pthread_mutex_unlock(&r->mu);
    return n;
}

int rec_nreqs(recorder *r)
{
    pthread_mutex_lock(&r->mu);
    int n = r->nreqs;
    pthread_mutex_unlock(&r->mu);
    return n;
}
