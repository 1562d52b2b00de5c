/* proxyd streams: the socket-side logic the client and the upstream connection share (reads with the short-read
 * rule, writes of iovec batches, the pending block for what the socket did not take). Body bytes go from an input
 * block straight to the kernel; only what a socket refuses is copied. */
#include "common/stream.h"

#include <http/http.h>

#include <errno.h>
#include <string.h>
#include <unistd.h>

void px_stream_init(px_stream *s, int fd, wire_io_cb cb, void *owner, wire_pool *in_pool, wire_pool *out_pool)
{
    memset(s, 0, sizeof(*s));
    wire_io_init(&s->io, fd, cb, owner);
    s->in_pool = in_pool;
    s->out_pool = out_pool;
}

int px_stream_watch(px_stream *s, wire_loop *loop)
{
    return wire_io_start(loop, &s->io, WIRE_READ | WIRE_WRITE | WIRE_RDHUP | WIRE_EDGE);
}

void px_stream_on_events(px_stream *s, unsigned events)
{
    if (events & (WIRE_READ | WIRE_RDHUP | WIRE_HUP | WIRE_ERROR))
        s->ready_read = 1;
    if (events & (WIRE_RDHUP | WIRE_HUP | WIRE_ERROR))
        s->hup = 1;
    if (events & (WIRE_WRITE | WIRE_HUP | WIRE_ERROR))
        s->ready_write = 1;
}

static void out_release(px_stream *s)
{
    if (s->out.buf)
        wire_pool_put(s->out_pool, s->out.buf);
    s->out.buf = NULL;
    s->out.off = s->out.len = 0;
}

void px_stream_close(px_stream *s, wire_loop *loop, int reset)
{
    wire_io_stop(loop, &s->io);
    if (s->tls)
        tlsio_conn_free(s->tls);
    s->tls = NULL;
    if (reset)
        wire_set_linger0(s->io.fd);
    close(s->io.fd);
    if (s->in.base)
        wire_pool_put(s->in_pool, s->in.base);
    memset(&s->in, 0, sizeof(s->in));
    out_release(s);
}

/* The handshake reads the socket whatever ready_read says, and its read-ahead may take the peer's next records along
 * with the last handshake message (a client's first request often rides with its Finished). epoll reports a
 * socket's state at epoll_wait, not the edge: when those bytes arrived after epoll_wait found the socket writable
 * only, and were read before this wake-up ended, their EPOLLIN is never reported. The bytes then sit in libtlsio
 * and no event will come for them: a finished handshake with input pending marks the stream readable. */
int px_stream_handshake(px_stream *s)
{
    int r = tlsio_handshake(s->tls);
    if (r == TLSIO_WANT_READ)
        s->ready_read = 0;
    else if (r == TLSIO_WANT_WRITE)
        s->ready_write = 0;
    else if (r == TLSIO_OK && tlsio_pending(s->tls))
        s->ready_read = 1;
    return r;
}

int px_stream_alloc_in(px_stream *s, size_t in_cap)
{
    if (s->in.base)
        return 0;
    char *b = wire_pool_get(s->in_pool);
    if (!b)
        return -ENOMEM;
    s->in.base = b;
    s->in.cap = in_cap;
    s->in.start = s->in.end = 0;
    return 0;
}

void px_stream_release_in(px_stream *s)
{
    if (s->in.base && s->in.end == 0) {
        wire_pool_put(s->in_pool, s->in.base);
        memset(&s->in, 0, sizeof(s->in));
    }
}

/* mbedTLS codes as the -errno values the callers handle. */
static ssize_t tls_status(tlsio_conn *tls, ssize_t n)
{
    if (n >= 0)
        return n;
    if (n == TLSIO_WANT_READ || n == TLSIO_WANT_WRITE)
        return -EAGAIN;
    if (n == TLSIO_ESYSCALL && tlsio_conn_sys_errno(tls))
        return -tlsio_conn_sys_errno(tls);
    return -EPROTO;
}

ssize_t px_stream_read_into(px_stream *s, void *buf, size_t len)
{
    if (!s->ready_read || len == 0)
        return 0;
    ssize_t n = s->tls ? tls_status(s->tls, tlsio_read(s->tls, buf, len)) : wire_read(s->io.fd, buf, len);
    if (n == -EAGAIN) {
        s->ready_read = 0;
        return 0;
    }
    if (n <= 0) {
        s->ready_read = 0;
        s->eof = 1;
        return -1;
    }
    /* Edge-triggered: a short plain read drained the socket. TLS may hold decrypted bytes; a hang-up is
     * reported once, so the next read must still see the end. */
    if ((size_t)n < len && !s->tls && !s->hup)
        s->ready_read = 0;
    return n;
}

ssize_t px_stream_read(px_stream *s)
{
    ssize_t n = px_stream_read_into(s, wire_buf_tail(&s->in), wire_buf_room(&s->in));
    if (n > 0)
        s->in.end += (size_t)n;
    return n;
}

int px_stream_flush(px_stream *s)
{
    px_out *out = &s->out;
    while (out->len) {
        ssize_t n = s->tls ? tls_status(s->tls, tlsio_write(s->tls, out->buf + out->off, out->len))
                           : wire_write(s->io.fd, out->buf + out->off, out->len);
        if (n == -EAGAIN) {
            s->ready_write = 0;
            return 0;
        }
        if (n < 0)
            return (int)n;
        out->off += (size_t)n;
        out->len -= (size_t)n;
    }
    out_release(s);
    return 1;
}

void px_batch_add(px_batch *b, const void *p, size_t n)
{
    if (n == 0)
        return;
    b->iov[b->n].iov_base = (void *)(uintptr_t)p;
    b->iov[b->n].iov_len = n;
    b->n++;
    b->total += n;
}

void px_batch_add_chunk(px_batch *b, const void *p, size_t n)
{
    if (n == 0)
        return;
    char *h = b->hdr[b->nhdr++];
    size_t hl = http_chunk_header(h, n);
    px_batch_add(b, h, hl);
    px_batch_add(b, p, n);
    px_batch_add(b, "\r\n", 2);
}

/* Copies the batch, less its first skip bytes, behind what is pending. */
static int out_append(px_stream *s, const px_batch *b, size_t skip)
{
    px_out *out = &s->out;
    if (!out->buf) {
        out->buf = wire_pool_get(s->out_pool);
        if (!out->buf)
            return -ENOMEM;
        out->off = out->len = 0;
    }
    if (out->off) {
        memmove(out->buf, out->buf + out->off, out->len);
        out->off = 0;
    }
    for (int i = 0; i < b->n; i++) {
        size_t l = b->iov[i].iov_len;
        if (skip >= l) {
            skip -= l;
            continue;
        }
        l -= skip;
        if (out->len + l > s->out_pool->block_size)
            return -ENOBUFS; /* cannot happen while output is produced only when nothing is pending */
        memcpy(out->buf + out->len, (char *)b->iov[i].iov_base + skip, l);
        out->len += l;
        skip = 0;
    }
    return 0;
}

static ssize_t tls_write(px_stream *s, const px_batch *b)
{
    int pending = s->out.len != 0;
    int rc = out_append(s, b, 0);
    if (rc < 0)
        return rc;
    if (pending)
        return 0;
    rc = px_stream_flush(s);
    return rc < 0 ? rc : rc == 1 ? (ssize_t)b->total : 0;
}

static ssize_t plain_write(px_stream *s, const px_batch *b)
{
    ssize_t n = 0;
    if (s->io.fd >= 0 && s->out.len == 0) {
        n = wire_writev(s->io.fd, b->iov, b->n);
        if (n == -EAGAIN)
            n = 0;
        else if (n < 0)
            return n;
        if ((size_t)n == b->total)
            return n;
    }
    int rc = out_append(s, b, (size_t)n);
    return rc < 0 ? rc : n;
}

ssize_t px_stream_write(px_stream *s, const px_batch *b)
{
    if (b->total == 0)
        return 0;
    ssize_t n = s->tls ? tls_write(s, b) : plain_write(s, b);
    if (n >= 0 && (size_t)n < b->total)
        s->ready_write = 0;
    return n;
}
