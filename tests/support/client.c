/* tests/support client: blocking TCP to 127.0.0.1 and reading exactly one HTTP/1.1 response with libhttp.
 * Bytes are peeked before they are consumed so that a following pipelined response stays in the socket. */
#include "support.h"

#include <http/http.h>

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_FIELDS 128

int ts_connect(int port)
{
    struct sockaddr_in sa = {
        .sin_family = AF_INET, .sin_port = htons((uint16_t)port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    struct timeval tv = {TS_IO_TIMEOUT_MS / 1000, (TS_IO_TIMEOUT_MS % 1000) * 1000};
    int one = 1, fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    while (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
        if (errno != EINTR) {
            close(fd);
            return -1;
        }
    }
    return fd;
}

int ts_send(int fd, const void *p, size_t n)
{
    const char *s = p;
    while (n > 0) {
        ssize_t k = send(fd, s, n, MSG_NOSIGNAL);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return -1;
        s += k;
        n -= (size_t)k;
    }
    return 0;
}

/* Waits (bounded) for input, then recv with flags. Returns the byte count, 0 at end of file, -1 on error or
 * timeout; ECONNRESET counts as end of file. */
static ssize_t recv_some(int fd, void *buf, size_t n, int flags)
{
    struct pollfd pfd = {.fd = fd, .events = POLLIN};
    int r;
    while ((r = poll(&pfd, 1, TS_IO_TIMEOUT_MS)) < 0 && errno == EINTR) {
    }
    if (r <= 0)
        return -1;
    for (;;) {
        ssize_t k = recv(fd, buf, n, flags);
        if (k >= 0)
            return k;
        if (errno == ECONNRESET)
            return 0;
        if (errno != EINTR)
            return -1;
    }
}

static int recv_exact(int fd, void *buf, size_t n)
{
    char *p = buf;
    while (n > 0) {
        ssize_t k = recv_some(fd, p, n, 0);
        if (k <= 0)
            return -1;
        p += k;
        n -= (size_t)k;
    }
    return 0;
}

/* Reads the head into r->head, consuming no byte past it. Returns 0 or -1. */
static int read_head(int fd, ts_response *r, http_response *resp, unsigned flags)
{
    http_limits lim = {.max_head = sizeof r->head - 1, .max_fields = MAX_FIELDS};
    size_t have = 0;
    for (;;) {
        if (have == sizeof r->head - 1)
            return -1;
        ssize_t n = recv_some(fd, r->head + have, sizeof r->head - 1 - have, MSG_PEEK);
        if (n <= 0)
            return -1;
        long h = http_parse_response(r->head, have + (size_t)n, have, resp, &lim, flags);
        if (h < 0 && h != HTTP_INCOMPLETE)
            return -1;
        /* Incomplete: every peeked byte belongs to this head. Complete: take exactly the rest of it. */
        size_t take = h == HTTP_INCOMPLETE ? (size_t)n : (size_t)h - have;
        if (recv_exact(fd, r->head + have, take) < 0)
            return -1;
        have += take;
        if (h > 0) {
            r->head_len = (size_t)h;
            r->head[h] = '\0';
            r->status = resp->status;
            return 0;
        }
    }
}

/* Appends to the growing body. Returns 0 or -1 over TS_MAX_BODY or out of memory. */
static int body_append(ts_response *r, size_t *cap, const char *p, size_t n)
{
    if (r->body_len + n + 1 > *cap) {
        size_t want = *cap ? *cap : 4096;
        while (want < r->body_len + n + 1)
            want *= 2;
        if (want > TS_MAX_BODY + 1)
            return -1;
        char *b = realloc(r->body, want);
        if (!b)
            return -1;
        r->body = b;
        *cap = want;
    }
    memcpy(r->body + r->body_len, p, n);
    r->body_len += n;
    r->body[r->body_len] = '\0';
    return 0;
}

static int read_length(int fd, ts_response *r, uint64_t n)
{
    if (n > TS_MAX_BODY || !(r->body = malloc((size_t)n + 1)))
        return -1;
    r->body_len = (size_t)n;
    r->body[n] = '\0';
    return recv_exact(fd, r->body, (size_t)n);
}

static void sleep_1ms(void)
{
    struct timespec ts = {0, 1000000};
    nanosleep(&ts, NULL);
}

/* Decodes a chunked body, consuming exactly the bytes the decoder accepted. */
static int read_chunked(int fd, ts_response *r)
{
    http_chunked d;
    char buf[16384];
    size_t cap = 0;
    int stalls = 0;
    memset(&d, 0, sizeof d);
    http_chunked_init(&d, 0, 0);
    if (body_append(r, &cap, "", 0) < 0)
        return -1;
    while (!d.done) {
        ssize_t n = recv_some(fd, buf, sizeof buf, MSG_PEEK);
        size_t pos = 0;
        if (n <= 0)
            return -1;
        while (pos < (size_t)n && !d.done) {
            http_slice span;
            long c = http_chunked_decode(&d, buf + pos, (size_t)n - pos, &span);
            if (c < 0 || body_append(r, &cap, span.base, span.len) < 0)
                return -1;
            if (c == 0)
                break;
            pos += (size_t)c;
        }
        if (pos == 0 && ++stalls > TS_IO_TIMEOUT_MS)
            return -1; /* the decoder wants more than the peer sends */
        if (pos == 0)
            sleep_1ms();
        else if (recv_exact(fd, buf, pos) < 0)
            return -1;
    }
    return 0;
}

static int read_to_close(int fd, ts_response *r)
{
    char buf[16384];
    size_t cap = 0;
    if (body_append(r, &cap, "", 0) < 0)
        return -1;
    for (;;) {
        ssize_t n = recv_some(fd, buf, sizeof buf, 0);
        if (n < 0)
            return -1;
        if (n == 0)
            return 0;
        if (body_append(r, &cap, buf, (size_t)n) < 0)
            return -1;
    }
}

/* Whether the peer closed after the response: awaited when it announced close, else only a look. */
static int peer_closed(int fd, int announced)
{
    char c;
    ssize_t n = announced ? recv_some(fd, &c, 1, MSG_PEEK) : recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
    if (n == 0 || (n < 0 && !announced && errno == ECONNRESET))
        return 1;
    return 0;
}

int ts_read_response(int fd, ts_response *r, int head_request)
{
    http_field fields[MAX_FIELDS];
    http_response resp = {.fields = fields, .fields_cap = MAX_FIELDS};
    int rc = -1;
    memset(r, 0, sizeof *r);
    if (read_head(fd, r, &resp, head_request ? HTTP_RESP_TO_HEAD : 0) < 0)
        return -1;
    switch (resp.body) {
    case HTTP_BODY_NONE: rc = read_length(fd, r, 0); break;
    case HTTP_BODY_LENGTH: rc = read_length(fd, r, resp.content_length); break;
    case HTTP_BODY_CHUNKED: rc = read_chunked(fd, r); break;
    case HTTP_BODY_CLOSE:
        rc = read_to_close(fd, r);
        r->closed = 1;
        break;
    }
    if (rc < 0) {
        ts_response_free(r);
        return -1;
    }
    if (resp.body != HTTP_BODY_CLOSE)
        r->closed = peer_closed(fd, !resp.keep_alive || resp.must_close);
    return 0;
}

void ts_response_free(ts_response *r)
{
    free(r->body);
    r->body = NULL;
    r->body_len = 0;
}

int ts_request(int port, const char *raw, ts_response *r)
{
    int fd = ts_connect(port), rc = -1;
    memset(r, 0, sizeof *r);
    if (fd < 0)
        return -1;
    if (ts_send(fd, raw, strlen(raw)) == 0)
        rc = ts_read_response(fd, r, strncmp(raw, "HEAD ", 5) == 0);
    close(fd);
    return rc;
}

const char *ts_header(const ts_response *r, const char *name)
{
    static _Thread_local char value[sizeof r->head];
    http_field fields[MAX_FIELDS];
    http_response resp = {.fields = fields, .fields_cap = MAX_FIELDS};
    http_limits lim = {.max_head = sizeof r->head, .max_fields = MAX_FIELDS};
    if (r->head_len == 0 || http_parse_response(r->head, r->head_len, 0, &resp, &lim, 0) <= 0)
        return NULL;
    long i = http_find_field(fields, resp.nfields, name, 0);
    if (i < 0)
        return NULL;
    memcpy(value, fields[i].value.base, fields[i].value.len);
    value[fields[i].value.len] = '\0';
    return value;
}
